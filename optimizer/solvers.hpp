#pragma once
// The two dispatch solvers behind one shape: (problem, options) -> Result<Plan>. An error is
// returned only for malformed input (see validate()); contradictory input still gets a plan.
#include <string>
#include <vector>

#include "optimizer/plan.hpp"
#include "optimizer/problem.hpp"

namespace vpp::optimizer {

enum class ClpMethod { dual_simplex, barrier };

struct ClpOptions {
  ClpMethod method = ClpMethod::dual_simplex;
  // Barrier only: cross over to a vertex (exact duals and setpoints on their bounds). Without it
  // the interior solution is optimal to CLP's barrier tolerance and much faster on large fleets.
  bool crossover = true;
  std::string export_mps;  // when set, the LP is written there (free MPS) before solving
  double max_seconds = 0;  // 0 = no limit
};

// The whole fleet LP in COIN-OR CLP: the reference.
Result<Plan> solve_clp(const Problem& problem, const ClpOptions& options = {});

// Size of the fleet LP (what solve_clp builds), without building it.
struct LpSize {
  std::size_t variables = 0;
  std::size_t constraints = 0;
};
LpSize lp_size(const Problem& problem);

// Writes the fleet LP as free MPS without solving it (for HiGHS and other solvers).
Result<bool> export_mps(const Problem& problem, const std::string& path);

// Warm start: the coordination prices of an earlier plan (e.g. the last re-plan, shifted).
struct DecomposedOptions {
  int threads = 0;                       // 0 = hardware concurrency
  int max_iterations = 60;
  // Relative primal-dual gap to stop at. The gap is certified (up to the block-coordinate site
  // solves, see decomposed.cpp), so 0.25 % keeps plans well within 0.5 % of the optimum.
  double gap_tolerance = 2.5e-3;
  double residual_tolerance_kw = 1e-3;   // fleet coupling residual to stop at (with the gap)
  std::vector<double> initial_prices;    // per interval, currency/kWh; empty = zero
  bool trace = false;                    // one line per iteration on stderr (bound, primal, residual)
};

// Price-coordinated decomposition: sites solved independently and in parallel by exact
// dynamic programming on convex piecewise-linear value functions, prices on the fleet coupling
// updated until the primal-dual gap closes. Result independent of the thread count.
Result<Plan> solve_decomposed(const Problem& problem, const DecomposedOptions& options = {});

}  // namespace vpp::optimizer
