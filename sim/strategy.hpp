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

struct Scenario;

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
  // The site's non-HVAC load (flexible loads included) as the historical mean for that hour
  // (no noise), kW.
  virtual double base_load_kw(std::string_view site_id, TimePoint t) const = 0;
  // One flexible load's expected consumption without curtailment, kW.
  virtual double flexible_load_kw(std::string_view site_id, std::string_view asset_id, TimePoint t) const = 0;
  // Heat gains of an HVAC zone (internal: electric loads and people; solar on expected GHI), kW.
  virtual double zone_gains_kw(std::string_view site_id, std::string_view asset_id, TimePoint t) const = 0;
  // Whether the site is occupied with its HVAC scheduled (comfort applies), from its schedule.
  virtual bool occupied(std::string_view site_id, TimePoint t) const = 0;
  // Whether the building's HVAC plant runs at all then (its schedule); outside it, commands
  // cannot make it cool.
  virtual bool hvac_scheduled(std::string_view site_id, TimePoint t) const = 0;
};

// One site's metered load over a past day, as a utility's meter data would give it: interval
// averages of the site's net import, local calendar day.
struct MeteredDay {
  std::string site_id;
  std::chrono::sys_days local_day{};
  bool working_day = true;
  Duration interval{};
  std::vector<double> kw;
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
  std::span<const MeteredDay> history;  // earlier days, oldest first (empty without history)
  const Scenario* scenario = nullptr;   // the whole scenario, for strategies with settings
  std::string record_path;              // where to record the strategy's inputs, if it can
  std::string outputs_path;             // where to write its output stream, if it can
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
  // The strategy's own settlement baseline of an event (fleet kW per 15-minute interval from
  // the event's start), if it computes one: the runner compares it with the true counterfactual.
  virtual std::vector<double> settlement_baseline_kw(std::string_view /*event_id*/) const { return {}; }
  // Called once after the run, for strategies that keep files open or want to add notes.
  virtual std::vector<std::string> finish() { return {}; }
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
