#pragma once
// The dispatch plan: setpoints per asset and interval, fleet totals, the coordination prices that
// explain them, the objective broken down, violations with messages, and solver statistics.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "optimizer/problem.hpp"

namespace vpp::optimizer {

struct BatteryPlan {
  std::string id;
  std::vector<double> p_kw;        // discharge positive, charge negative (net of both)
  std::vector<double> charge_kw;   // >= 0
  std::vector<double> discharge_kw;  // >= 0
  std::vector<double> soc_kwh;     // at the END of each interval
};

struct PvPlan {
  std::string id;
  std::vector<double> limit_kw;    // active power limit = generation used, 0..forecast
};

struct HvacPlan {
  std::string id;
  std::vector<double> electric_kw;
  std::vector<double> temp_c;      // indoor temperature at the END of each interval
};

struct FlexPlan {
  std::string id;
  std::vector<double> curtail_kw;
  std::vector<double> defer_kw;
  std::vector<double> recover_kw;
  std::vector<double> backlog_kwh;  // at the END of each interval
};

struct SitePlan {
  std::string id;
  std::vector<double> import_kw;   // net at the connection point, import positive
  std::vector<BatteryPlan> batteries;
  std::vector<PvPlan> pv;
  std::vector<HvacPlan> hvac;
  std::vector<FlexPlan> flexible;
};

enum class ViolationKind {
  comfort_low,
  comfort_high,
  soc_below_reserve,   // below max(reserve, soc_min)
  soc_above_max,
  terminal_soc,
  import_limit,
  export_limit,
  backlog_left,        // deferred energy not recovered by the end of the horizon
  fleet_shortfall,
};
const char* to_string(ViolationKind k);

struct Violation {
  ViolationKind kind;
  std::string site_id;   // empty for fleet_shortfall
  std::string asset_id;  // empty for site-level and fleet violations
  int interval = 0;      // last interval for terminal conditions
  double amount = 0;     // K, kWh or kW as the kind implies
  std::string message;
};

struct ObjectiveBreakdown {
  double energy_cost = 0;       // import at import price minus export at export price
  double carbon_cost = 0;
  double curtailment_cost = 0;  // flexible-load shedding
  double degradation_cost = 0;  // battery cycling
  double discomfort_penalty = 0;
  double soc_penalty = 0;       // reserve/min/max and terminal SoC
  double limit_penalty = 0;     // site import/export limits
  double backlog_penalty = 0;
  double shortfall_penalty = 0;
  double total = 0;
};

struct SolverStats {
  std::string solver;            // "clp-dual", "clp-barrier", "decomposed"
  std::string status;            // "optimal", "iteration limit", ...
  int iterations = 0;            // simplex/barrier iterations or price-coordination rounds
  double primal_residual_kw = 0; // max over intervals of fleet import above the cap (before shortfall)
  double duality_gap = 0;        // (objective - lower_bound) / |objective|
  double lower_bound = 0;        // certified lower bound on the optimum (dual value)
  std::size_t variables = 0;
  std::size_t constraints = 0;
  double build_s = 0;
  double solve_s = 0;
};

struct Plan {
  Horizon horizon;
  std::vector<SitePlan> sites;                     // in problem order, excluded sites left out
  std::vector<std::string> excluded_sites;
  std::vector<double> fleet_import_kw;
  std::vector<std::optional<double>> fleet_cap_kw;
  std::vector<double> shortfall_kw;
  std::vector<double> coordination_price_per_kwh;  // dual of the fleet coupling, >= 0
  ObjectiveBreakdown objective;
  std::vector<Violation> violations;
  std::vector<std::string> messages;               // diagnoses naming site and constraint
  SolverStats stats;
};

// Recomputes from the setpoints every derived figure of a plan: site imports, fleet totals,
// shortfall, violations with messages and the objective breakdown. Solvers call it last.
void finalize_plan(const Problem& problem, Plan& plan);

// Diagnoses contradictory but well-formed input before solving (reserve above capacity, comfort
// band the HVAC cannot hold, live state outside bounds, ...). One message each, naming the site,
// the asset and the constraint.
std::vector<std::string> diagnose(const Problem& problem);

struct CheckReport {
  bool ok = true;
  std::vector<std::string> errors;  // each names site, asset, interval and constraint
  double objective = 0;             // recomputed independently of the solver
  double max_error = 0;             // largest constraint residual found
};

// Independent re-verification of every hard constraint of a plan against its problem (bounds,
// SoC, thermal and backlog dynamics, site balance, availability, fleet coupling with shortfall)
// and recomputation of the objective, which must match plan.objective.total within tolerance
// (relative to its magnitude).
CheckReport check(const Problem& problem, const Plan& plan, double tolerance = 1e-6);

}  // namespace vpp::optimizer
