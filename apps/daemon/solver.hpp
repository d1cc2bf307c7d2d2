#pragma once
// Answers the core's solve requests with the optimizer, as vppd's solver worker runs them: the
// decomposed solver (warm-started from the request's coordination prices, `threads` site solves
// in parallel; the plan does not depend on the thread count) or the whole LP in CLP.
#include "config/config.hpp"
#include "controller/core.hpp"

namespace vpp::daemon {

controller::SolveResult solve_request(const controller::SolveRequest& request, config::SolverKind solver, int threads);

}  // namespace vpp::daemon
