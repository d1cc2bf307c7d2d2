#pragma once
// How a control strategy plugs into the simulator: by messages only. On every control tick the
// runner hands a strategy whatever arrived through the communication channel since its last
// tick (telemetry, command acknowledgements, grid signals, each at the time it arrived, never
// before) and sends the commands it returns down the same channel. This is the surface the
// controller core sees in vppd, so `--strategy controller` needs no change to the runner: add
// a Strategy that wraps the core and register it in strategy_registry.cpp.
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/messages.hpp"
#include "model/result.hpp"
#include "model/site.hpp"
#include "model/time.hpp"

namespace vpp::sim {

// What a strategy may know about the future. Implementations must not leak the simulation's
// ground truth: the scenario implementation (ScenarioForecasts, forecasts.hpp) uses the
// weather's deterministic profile plus a seeded forecast error, climatological cloudiness
// and the noise-free occupancy schedules.
class Forecasts {
 public:
  virtual ~Forecasts() = default;
  // Outdoor dry bulb, C.
  virtual double outdoor_temp_c(TimePoint t) const = 0;
  // Clear-sky GHI at the fleet's location, W/m2 (astronomy is predictable).
  virtual double clear_sky_ghi_w_m2(TimePoint t) const = 0;
  // Expected GHI (clear sky times the climatological clear-sky index), W/m2.
  virtual double expected_ghi_w_m2(TimePoint t) const = 0;
  // Expected AC output of a PV asset without a limit, kW; 0 for unknown assets.
  virtual double pv_expected_kw(std::string_view site_id, std::string_view asset_id, TimePoint t) const = 0;
  // The site's non-HVAC load as the historical mean for that hour (no noise), kW.
  virtual double base_load_kw(std::string_view site_id, TimePoint t) const = 0;
};

struct StrategyContext {
  std::span<const Site> sites;      // enrolments, including limits (comfort band, reserve)
  TimePoint start{};
  TimePoint end{};
  Duration step{};                  // physics step
  Duration control_period{};        // time between ticks
  int utc_offset_minutes = 0;       // local time of the fleet (tariffs, schedules)
  const Forecasts* forecasts = nullptr;
  std::uint64_t seed = 0;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string_view name() const = 0;
  virtual void start(const StrategyContext& ctx) = 0;
  // Called at every control tick with what arrived since the previous tick, in arrival order.
  // Returned commands leave at `now`; each should carry an expiry.
  virtual std::vector<Command> tick(TimePoint now, std::span<const Telemetry> telemetry,
                                    std::span<const CommandAck> acks, std::span<const GridSignal> signals) = 0;
};

struct StrategyInfo {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Strategy>()> make;
};

// Every strategy the simulator knows, sorted by name (strategy_registry.cpp).
const std::vector<StrategyInfo>& strategies();
Result<std::unique_ptr<Strategy>> make_strategy(std::string_view name);
std::vector<std::string> strategy_names();

}  // namespace vpp::sim
