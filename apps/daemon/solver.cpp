#include "apps/daemon/solver.hpp"

#include <exception>

#include "optimizer/solvers.hpp"

namespace vpp::daemon {

controller::SolveResult solve_request(const controller::SolveRequest& request, config::SolverKind solver, int threads) {
  controller::SolveResult r;
  r.request_id = request.id;
  if (!request.problem) {
    r.error = "solve request without a problem";
    return r;
  }
  try {
    Result<optimizer::Plan> plan = Error{""};
    if (solver == config::SolverKind::clp) {
      plan = optimizer::solve_clp(*request.problem);
    } else {
      optimizer::DecomposedOptions o;
      o.threads = threads;
      o.initial_prices = request.warm_prices;
      plan = optimizer::solve_decomposed(*request.problem, o);
    }
    if (plan) {
      r.plan = std::make_shared<optimizer::Plan>(std::move(plan).value());
    } else {
      r.error = plan.error();
    }
  } catch (const std::exception& e) {
    // A solver failure (e.g. out of memory on a huge fleet) is a failed solve, not a dead daemon.
    r.error = std::string("solver failed: ") + e.what();
  }
  return r;
}

}  // namespace vpp::daemon
