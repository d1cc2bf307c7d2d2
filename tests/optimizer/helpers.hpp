#pragma once
// Small hand-made problems for the optimizer tests.
#include <gtest/gtest.h>

#include "optimizer/solvers.hpp"

namespace vpp::optimizer::test {

// T intervals of one hour, flat prices, no coupling.
inline Problem hourly(int T, std::vector<double> import_price, double export_price = 0.0) {
  Problem p;
  p.horizon.steps = T;
  p.horizon.step = std::chrono::hours(1);
  p.signals.import_price = std::move(import_price);
  p.signals.export_price.assign(T, export_price);
  return p;
}

inline SiteProblem site(const std::string& id, int T, double base_kw) {
  SiteProblem s;
  s.id = id;
  s.base_load_kw.assign(T, base_kw);
  return s;
}

// Both solvers, each checked by the independent checker.
inline std::pair<Plan, Plan> solve_both(const Problem& p) {
  auto a = solve_clp(p);
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error());
  auto b = solve_decomposed(p);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error());
  for (const Plan* plan : {&*a, &*b}) {
    auto rep = check(p, *plan, 1e-7);
    EXPECT_TRUE(rep.ok) << plan->stats.solver << ": " << (rep.errors.empty() ? "" : rep.errors.front());
  }
  return {std::move(*a), std::move(*b)};
}

}  // namespace vpp::optimizer::test
