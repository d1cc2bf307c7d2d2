#pragma once
// Message counters of one adapter, for /metrics: messages in and out, and rejections by reason.
// Every rejection is counted; the first one of each (reason, source) pair is logged at warn
// level with its detail and later ones at debug, so a flood of bad input cannot flood the log
// while each distinct problem is still reported once.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace vpp::adapters {

// Rejection reasons shared by the adapters (label values in /metrics).
namespace reason {
inline constexpr std::string_view malformed = "malformed_payload";   // not JSON / not protobuf / bad fields
inline constexpr std::string_view oversized = "oversized_payload";
inline constexpr std::string_view unknown_device = "unknown_device";
inline constexpr std::string_view unknown_topic = "unknown_topic";
inline constexpr std::string_view wrong_type = "wrong_type";
inline constexpr std::string_view non_finite = "non_finite";
inline constexpr std::string_view topic_mismatch = "topic_mismatch";  // payload ids differ from the topic's
inline constexpr std::string_view seq_gap = "seq_gap";
inline constexpr std::string_view before_birth = "before_birth";
inline constexpr std::string_view unknown_alias = "unknown_alias";
inline constexpr std::string_view stale_death = "stale_death";        // NDEATH whose bdSeq is not the current one
inline constexpr std::string_view duplicate_ack = "duplicate_ack";
inline constexpr std::string_view unknown_command = "unknown_command";  // ack for a command we never sent
inline constexpr std::string_view modbus_exception = "modbus_exception";
inline constexpr std::string_view timeout = "timeout";
inline constexpr std::string_view connection = "connection";
inline constexpr std::string_view verify_failed = "write_verify_failed";
inline constexpr std::string_view unsupported = "unsupported";
}  // namespace reason

class AdapterCounters {
 public:
  explicit AdapterCounters(std::string name) : name_(std::move(name)) {}

  void count_in() { in_.fetch_add(1, std::memory_order_relaxed); }
  void count_out() { out_.fetch_add(1, std::memory_order_relaxed); }
  // Counts and logs (see the header comment). `source` is a topic or device id.
  void reject(std::string_view why, std::string_view source, std::string_view detail);

  std::uint64_t in() const { return in_.load(std::memory_order_relaxed); }
  std::uint64_t out() const { return out_.load(std::memory_order_relaxed); }
  std::uint64_t rejected(std::string_view why) const;
  std::uint64_t rejected_total() const;
  std::map<std::string, std::uint64_t> rejections() const;  // sorted by reason

 private:
  std::string name_;
  std::atomic<std::uint64_t> in_{0};
  std::atomic<std::uint64_t> out_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t, std::less<>> rejected_;
  std::set<std::pair<std::string, std::string>> logged_;
};

}  // namespace vpp::adapters
