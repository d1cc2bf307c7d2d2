#pragma once
// Key performance indicators of a run, from per-step fleet figures. Definitions (kpis.json):
//  energy_import_kwh   sum over sites and steps of max(net, 0) * dt (each site is metered on
//                      its own; one site's export does not offset another's import)
//  energy_export_kwh   sum over sites and steps of max(-net, 0) * dt
//  cost                sum over steps of import * import price - export * export price
//  co2_kg              sum over steps of import * grid carbon intensity (exports not credited)
//  peak_import_kw      highest step-average fleet net import (sum of the sites' nets), >= 0
//  green_share         (PV used on site + import * grid green fraction) / consumption, where
//                      PV used on site = PV - export, consumption = import - export + PV, and
//                      grid green fraction = 1 - intensity / fossil-only intensity
//  comfort_violation_degree_hours
//                      sum over zones and steps when the building is occupied (occupancy at
//                      least kOccupiedFraction of design) and its HVAC is scheduled, of the air
//                      temperature's distance outside the site's comfort band (K) * dt (h)
//  max_comfort_excursion_c  largest such distance
//  reserve_violations  times a battery fell more than 0.5 points below its site's reserve
//  rating_violations   commands refused because they were beyond an asset's ratings
//  events[]            per curtailment event: requested_kwh = target kW * duration (import cap:
//                      the baseline energy above the cap), delivered_kwh = baseline energy -
//                      actual energy of the event's sites over its window, delivered_ratio =
//                      delivered / requested, min_interval_ratio = the worst 15-minute
//                      settlement interval's ratio (Beijing's DSM platform meters in 15 min).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/time.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim {

// A building counts as occupied, for comfort, from a quarter of its design occupancy (E: below
// that an office or school holds only cleaners and early arrivals, and the plant may still be
// pulling the building down from the night).
inline constexpr double kOccupiedFraction = 0.25;

struct Kpis {
  double energy_import_kwh = 0;
  double energy_export_kwh = 0;
  double cost = 0;
  double co2_kg = 0;
  double peak_import_kw = 0;
  double green_share = 0;
  double comfort_violation_degree_hours = 0;
  double max_comfort_excursion_c = 0;
  std::uint64_t reserve_violations = 0;
  std::uint64_t rating_violations = 0;
  double pv_generation_kwh = 0;
  double consumption_kwh = 0;
};

// What one pass measured, step by step, summed over the fleet.
struct PassTotals {
  std::vector<double> import_kwh;   // [step]
  std::vector<double> export_kwh;
  std::vector<double> pv_kwh;
  std::vector<double> net_kw;       // fleet net import, step average
  double comfort_degree_hours = 0;
  double max_comfort_excursion_c = 0;
  std::uint64_t reserve_violations = 0;
  std::uint64_t rating_violations = 0;
};

// `price`, `export_price`, `carbon`: per step, same length as the pass.
Kpis compute_kpis(const PassTotals& p, std::span<const double> price, std::span<const double> export_price,
                  std::span<const double> carbon, const CarbonConfig& carbon_cfg);

struct EventResult {
  std::string id;
  std::string program;
  TimePoint start{};
  Duration duration{};
  std::optional<double> target_kw;       // reduction asked for
  std::optional<double> import_cap_kw;
  std::string target_basis;              // how the target was set
  double requested_kwh = 0;
  double delivered_kwh = 0;
  double delivered_ratio = 0;
  double min_interval_ratio = 0;
  // Highest fleet import in the hour after the event: with the strategy, and uncontrolled.
  std::optional<double> rebound_peak_kw;
  std::optional<double> baseline_rebound_peak_kw;
  // The strategy's settlement baseline against the uncontrolled run (the true counterfactual)
  // over the event, in percent of the truth; only for strategies that settle (the controller).
  std::optional<double> baseline_error_pct;
};

// Delivery over an event's window from the step averages of the event's sites' aggregate net
// import, baseline and actual (same length: the window's steps), settled in intervals of
// `settlement_steps` steps (the last may be shorter).
void evaluate_event(EventResult& e, std::span<const double> baseline_kw, std::span<const double> actual_kw,
                    double dt_s, std::size_t settlement_steps);

}  // namespace vpp::sim
