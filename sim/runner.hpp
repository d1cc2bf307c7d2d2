#pragma once
// Runs a scenario on the virtual clock, in two passes over identical exogenous inputs (same seed,
// same weather, same load noise):
//  1. the uncontrolled baseline: thermostats and self-consumption only. It resolves event targets
//     given as a share of the baseline peak, feeds the derived carbon-intensity curve, and is what
//     delivery is measured against;
//  2. the chosen strategy, fed through the communication channel (delay, loss) with telemetry,
//     acks and grid signals at the times they arrive, its commands sent back the same way.
// Both passes start with a warm-up (default 2 days of the same weather, no strategy) so that
// building masses start the period in a periodic steady state; batteries are then set to the
// initial state of charge.
#include <cstdint>
#include <array>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/result.hpp"
#include "sim/channel.hpp"
#include "sim/fleet.hpp"
#include "sim/kpi.hpp"
#include "sim/scenario.hpp"
#include "sim/strategy.hpp"

namespace vpp::sim {

struct RunOptions {
  std::optional<std::uint64_t> seed;       // overrides the scenario's
  std::optional<std::string> strategy;     // overrides the scenario's
  bool per_site_series = true;             // keep per-site interval series (timeseries.csv)
  double initial_soc_pct = 50;
  // A strategy object instead of one from the registry (tests, embedding); its name() is used.
  std::function<std::unique_ptr<Strategy>()> strategy_factory;
  // Recording of the strategy's inputs and outputs (the controller's; see sim/recording.hpp).
  std::string record_path;
  std::string outputs_path;
  // Called now and then with the fraction done (0..1) and the phase.
  std::function<void(double, std::string_view)> progress;
};

// Interval averages (kW, C) for one site or the fleet.
struct IntervalValues {
  double net_kw = 0, baseline_net_kw = 0, pv_kw = 0, battery_kw = 0, hvac_kw = 0, load_kw = 0;
  double soc_pct = std::numeric_limits<double>::quiet_NaN();         // end of interval
  double indoor_temp_c = std::numeric_limits<double>::quiet_NaN();   // floor-area weighted
};

struct RunResult {
  std::string scenario;
  std::string strategy;
  std::uint64_t seed = 0;
  std::string currency;
  std::size_t steps = 0;
  Duration step{};
  int utc_offset_minutes = 0;
  std::vector<Site> sites;

  Kpis kpis;
  Kpis baseline_kpis;
  std::vector<EventResult> events;
  ChannelCounters channel;
  FleetCounters fleet_counters;
  std::vector<std::string> notes;   // how targets were resolved, etc.

  // Output intervals.
  Duration interval{};
  std::vector<TimePoint> interval_start;
  std::vector<IntervalValues> fleet;                  // [interval]
  std::vector<IntervalValues> per_site;               // [interval * sites + site], may be empty
  std::vector<double> outdoor_temp_c, ghi_w_m2, price, carbon_kg_per_kwh;   // [interval]
  std::vector<std::array<double, kBuildingTypeCount>> indoor_by_type_c;     // [interval], NaN if none
  std::array<double, kBuildingTypeCount> comfort_min_by_type{}, comfort_max_by_type{};
  std::array<bool, kBuildingTypeCount> type_present{};
};

Result<RunResult> run_scenario(const Scenario& sc, const RunOptions& opt);

}  // namespace vpp::sim
