#pragma once
// The communication channel between the simulated devices and the strategy: a fixed one-way
// delay and independent per-message loss, down (commands) and up (telemetry, acks). Losses
// come from the channel's own seeded stream, drawn in message order, so a run is repeatable.
#include <cstdint>
#include <optional>

#include "model/time.hpp"
#include "sim/rng.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim {

struct ChannelCounters {
  std::uint64_t commands_sent = 0, commands_lost = 0;
  std::uint64_t uplink_sent = 0, uplink_lost = 0;
};

class Channel {
 public:
  Channel(const ChannelConfig& cfg, std::uint64_t seed) : cfg_(cfg), rng_(hash3(seed, 0xC4A77E1, 0)) {}

  // Arrival time of a command sent at `sent`, or nullopt if it is lost.
  std::optional<TimePoint> down(TimePoint sent) {
    ++counters_.commands_sent;
    if (cfg_.command_loss > 0 && rng_.bernoulli(cfg_.command_loss)) {
      ++counters_.commands_lost;
      return std::nullopt;
    }
    return sent + cfg_.delay;
  }
  // Same for telemetry and acknowledgements.
  std::optional<TimePoint> up(TimePoint sent) {
    ++counters_.uplink_sent;
    if (cfg_.uplink_loss > 0 && rng_.bernoulli(cfg_.uplink_loss)) {
      ++counters_.uplink_lost;
      return std::nullopt;
    }
    return sent + cfg_.delay;
  }

  Duration delay() const { return cfg_.delay; }
  const ChannelCounters& counters() const { return counters_; }

 private:
  ChannelConfig cfg_;
  Rng rng_;
  ChannelCounters counters_;
};

}  // namespace vpp::sim
