#pragma once
// Telemetry, commands, acks and grid signals as the controller core sees them. They mirror
// proto/vpp.proto (proto/convert.hpp maps between the two); units and signs as documented there.
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/time.hpp"

namespace vpp {

enum class Quality { unspecified, good, uncertain, bad, stale };

struct Telemetry {
  std::string site_id;
  std::string asset_id;
  TimePoint time{};
  Quality quality = Quality::good;
  std::optional<double> p_kw;
  std::optional<double> q_kvar;
  std::optional<double> soc_pct;
  std::optional<double> indoor_temp_c;
  std::optional<double> setpoint_c;
  std::optional<double> available_kw;
  std::optional<double> energy_kwh;

  bool operator==(const Telemetry&) const = default;
};

enum class SetpointKind {
  unspecified,
  pv_limit_kw,
  pv_limit_pct,
  battery_p_kw,
  hvac_setpoint_offset_c,
  hvac_power_cap_kw,
  load_curtail_pct,
  ev_current_limit_a,
  ev_p_kw,
};

struct Command {
  std::string command_id;
  std::string site_id;
  std::string asset_id;
  SetpointKind kind = SetpointKind::unspecified;
  double value = 0;
  TimePoint issued{};
  TimePoint expires{};
  std::string reason;

  bool operator==(const Command&) const = default;
};

enum class AckStatus { unspecified, accepted, rejected, expired };

struct CommandAck {
  std::string command_id;
  std::string site_id;
  std::string asset_id;
  AckStatus status = AckStatus::unspecified;
  TimePoint time{};
  std::string detail;

  bool operator==(const CommandAck&) const = default;
};

struct CurtailmentEvent {
  std::string event_id;
  std::string program;
  TimePoint start{};
  Duration duration{};
  // Exactly one of the two targets is set.
  std::optional<double> target_reduction_kw;
  std::optional<double> import_cap_kw;
  Duration ramp{};
  int priority = 0;
  std::vector<std::string> site_ids;  // empty = whole fleet

  TimePoint end() const { return start + duration; }
  bool operator==(const CurtailmentEvent&) const = default;
};

struct SeriesPoint {
  TimePoint start{};
  double value = 0;
  bool operator==(const SeriesPoint&) const = default;
};

struct PriceSeries {
  std::string currency;
  Duration interval{};
  std::vector<SeriesPoint> import_price;
  std::vector<SeriesPoint> export_price;
  bool operator==(const PriceSeries&) const = default;
};

struct CarbonSeries {
  Duration interval{};
  std::vector<SeriesPoint> intensity_kg_per_kwh;
  bool operator==(const CarbonSeries&) const = default;
};

struct RegulationSignal {
  TimePoint time{};
  double value = 0;
  double capacity_kw = 0;
  bool operator==(const RegulationSignal&) const = default;
};

struct CancelEvent {
  std::string event_id;
  bool operator==(const CancelEvent&) const = default;
};

struct GridSignal {
  TimePoint received{};
  std::string source;
  std::variant<CurtailmentEvent, PriceSeries, CarbonSeries, RegulationSignal, CancelEvent> signal;
  bool operator==(const GridSignal&) const = default;
};

// Value of a piecewise-constant series at t (nullopt before the first point or past the last
// point's interval).
std::optional<double> value_at(const std::vector<SeriesPoint>& series, Duration interval, TimePoint t);

}  // namespace vpp
