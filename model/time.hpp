#pragma once
// Time in vpp: UTC instants as integer milliseconds since the Unix epoch, durations as
// std::chrono integers. Never double seconds.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vpp {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::sys_time<Duration>;

inline constexpr TimePoint from_unix_ms(std::int64_t ms) { return TimePoint{Duration{ms}}; }
inline constexpr std::int64_t to_unix_ms(TimePoint t) { return t.time_since_epoch().count(); }

// Seconds as double, for physics that integrates over a step (dt_s). Not for storing time.
inline constexpr double to_seconds(Duration d) { return static_cast<double>(d.count()) / 1000.0; }

// "2026-07-07T06:30:00Z" (milliseconds shown only when non-zero).
std::string format_utc(TimePoint t);

// Parses RFC 3339 / ISO 8601 date-times: "2026-07-07T14:30:00Z", "2026-07-07T14:30:00.250Z",
// "2026-07-07T14:30:00+08:00", "2026-07-07 14:30:00+08:00". A zone (Z or an offset) is required.
std::optional<TimePoint> parse_utc(std::string_view text);

// "15m", "900s", "2h", "1h30m", "250ms", "1d". Returns nullopt on anything else or on a
// negative value.
std::optional<Duration> parse_duration(std::string_view text);
std::string format_duration(Duration d);

}  // namespace vpp
