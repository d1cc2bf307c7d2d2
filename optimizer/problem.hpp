#pragma once
// The dispatch problem the optimizer solves: a fleet snapshot, forecasts and grid signals over a
// horizon of T intervals of dt. Sign conventions follow model/asset.hpp: site import positive,
// battery discharge positive, PV generation positive, loads positive. Prices are per kWh of
// energy in the interval; a kW held for one interval of dt hours is dt kWh.
//
// The controller builds this from enrolment (model::Site), telemetry and forecasts. Units here
// are the optimizer's own (kWh for battery state, not percent) so that it needs nothing but
// model/ and a solver.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "model/result.hpp"
#include "model/time.hpp"

namespace vpp::optimizer {

inline constexpr double kNoLimit = std::numeric_limits<double>::infinity();

struct Horizon {
  TimePoint start{};
  Duration step{std::chrono::minutes(15)};
  int steps = 96;

  double dt_h() const { return to_seconds(step) / 3600.0; }
};

// Grid signals, one value per interval (vectors of length steps).
struct Signals {
  std::vector<double> import_price;        // currency/kWh
  std::vector<double> export_price;        // currency/kWh paid for export; must be <= import price
  std::vector<double> carbon_kg_per_kwh;   // grid intensity, charged on import only; empty = 0
  double carbon_price_per_kg = 0;          // currency/kg CO2
  // Fleet coupling, both optional per interval (empty vector = none in any interval). The fleet's
  // net import sum_s x_s,t must stay below import_cap_kw[t] and below baseline_kw[t] -
  // reduction_kw[t]; what it cannot meet is shortfall, charged shortfall_penalty_per_kwh.
  std::vector<std::optional<double>> import_cap_kw;
  std::vector<std::optional<double>> reduction_kw;
  std::vector<double> baseline_kw;         // fleet baseline, required where reduction_kw is set
  // 5 CNY/kWh is the fixed payment of Shanghai's DR programme (reference/grid-data/
  // demand-response-programs.yaml); missing a commitment should cost at least what it pays.
  double shortfall_penalty_per_kwh = 5.0;
};

struct PvAsset {
  std::string id;
  double rated_kw = 0;
  std::vector<double> forecast_kw;         // available AC power per interval, 0..rated_kw
};

struct BatteryAsset {
  std::string id;
  double capacity_kwh = 0;
  double soc_kwh = 0;                      // live state; may lie outside [soc_min, soc_max]
  double max_charge_kw = 0;
  double max_discharge_kw = 0;
  double charge_efficiency = 0.95;
  double discharge_efficiency = 0.95;
  double soc_min_kwh = 0;                  // soft lower bound (with reserve: max of the two)
  double soc_max_kwh = 0;                  // soft upper bound; hard bounds are [0, capacity]
  double reserve_kwh = 0;                  // site manager's reserve, soft
  std::optional<double> terminal_soc_kwh;  // soft: SoC at the end of the horizon >= this
  double self_discharge_per_h = 0;         // fraction of stored energy lost per hour
  double cycle_cost_per_kwh = 0;           // degradation cost per kWh discharged
  double soc_penalty_per_kwh_h = 2.0;      // below reserve/min or above max, per kWh per hour
  double terminal_penalty_per_kwh = 2.0;   // per kWh short of the terminal target
};

enum class HvacMode { cooling, heating };

// 1R1C zone: C dT/dt = (T_out - T)/R + gains - (+) COP * P_electric (cooling (heating)).
struct HvacZone {
  std::string id;
  HvacMode mode = HvacMode::cooling;
  double r_k_per_kw = 0;                   // envelope + ventilation resistance, K/kW
  double c_kwh_per_k = 0;                  // thermal capacitance, kWh/K
  double temp_c = 24;                      // live indoor temperature; may lie outside the band
  double max_electric_kw = 0;
  // Intervals in which the plant may run (its building's schedule); empty = always. Outside
  // them the electric power is 0 and the zone floats.
  std::vector<std::uint8_t> plant_available;
  double max_electric_at(int t) const {
    return plant_available.empty() || plant_available[static_cast<std::size_t>(t)] ? max_electric_kw : 0.0;
  }
  std::vector<double> outdoor_temp_c;      // per interval
  std::vector<double> gains_kw;            // solar + internal thermal gains per interval
  std::vector<double> cop;                 // per interval (depends on outdoor temperature)
  std::vector<double> comfort_min_c;       // per interval; relax outside occupancy
  std::vector<double> comfort_max_c;
  double discomfort_penalty_per_kh = 5.0;  // currency per degree-hour outside the band
};

// A flexible load: its own consumption power_kw[t] (on top of the site's base load). A share may be
// curtailed (shed, at a cost) and up to shift_max_kwh deferred and recovered later at up to
// shift_max_kw; deferral and curtailment each draw on their own allowance, so consumption never
// goes negative: curtail <= share * P, defer <= (1 - share) * P.
struct FlexibleLoad {
  std::string id;
  std::vector<double> power_kw;
  double curtailable_share = 0;            // 0..1
  double curtail_cost_per_kwh = 1.0;       // value of lost load to the site
  double shift_max_kwh = 0;                // backlog capacity; 0 = not shiftable
  double shift_max_kw = 0;                 // max deferral and recovery rate
  double backlog_kwh = 0;                  // energy already deferred (live state)
  double backlog_penalty_per_kwh = 2.0;    // per kWh still deferred at the end of the horizon
};

struct SiteProblem {
  std::string id;
  std::vector<double> base_load_kw;        // uncontrolled consumption forecast per interval
  std::vector<PvAsset> pv;
  std::vector<BatteryAsset> batteries;
  std::vector<HvacZone> hvac;
  std::vector<FlexibleLoad> flexible;
  double import_limit_kw = kNoLimit;       // soft: excess charged limit_penalty_per_kwh
  double export_limit_kw = 0;              // magnitude; 0 = no export, kNoLimit = unlimited
  double limit_penalty_per_kwh = 10.0;
  // Intervals in which the site offers flexibility (empty = always). Outside them batteries hold
  // 0 kW and flexible loads are neither curtailed nor shifted: the aggregator touches nothing the
  // site did not offer. PV and HVAC stay optimised for the site's own cost and comfort, as its own
  // inverter export control and thermostat would.
  std::vector<std::uint8_t> available;
  bool excluded = false;                   // opted out or offline: left out of the plan
};

struct Problem {
  Horizon horizon;
  Signals signals;
  std::vector<SiteProblem> sites;
};

// Structural validation: vector lengths, NaN/inf, non-positive capacities or physics parameters,
// duplicate ids. Returns one error naming every problem found (site, asset, field), or ok.
// Contradictory but well-formed input (reserve above capacity, comfort band the HVAC cannot hold,
// events beyond the fleet's flexibility) is not an error: solvers plan best-effort and report it.
Result<bool> validate(const Problem& problem);

// Per-interval fleet import ceiling: min(import cap, baseline - reduction); nullopt where no
// coupling applies.
std::vector<std::optional<double>> fleet_cap_kw(const Problem& problem);

}  // namespace vpp::optimizer
