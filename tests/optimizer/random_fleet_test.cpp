// Random fleets of 50 to 500 sites: the decomposed plan passes the checker and lands within
// 0.5 % of CLP's objective; both plans pass the checker and CLP's own objective value matches the
// checker's independent recomputation.
#include <gtest/gtest.h>

#include "optimizer/random_fleet.hpp"
#include "optimizer/solvers.hpp"

namespace vpp::optimizer {
namespace {

void expect_checked(const Problem& p, const Plan& plan) {
  auto rep = check(p, plan, 1e-6);
  EXPECT_TRUE(rep.ok) << plan.stats.solver << ": " << (rep.errors.empty() ? "" : rep.errors.front());
}

struct FleetCase {
  int sites;
  std::uint64_t seed;
  double event_fraction;
  double cap_fraction;
};

class RandomFleet : public ::testing::TestWithParam<FleetCase> {};

TEST_P(RandomFleet, DecomposedWithinHalfPercentOfClp) {
  const auto c = GetParam();
  RandomFleetOptions o;
  o.sites = c.sites;
  o.seed = c.seed;
  o.event_fraction = c.event_fraction;
  o.import_cap_fraction = c.cap_fraction;
  Problem p = random_fleet(o);
  auto ref = solve_clp(p);
  ASSERT_TRUE(ref.ok()) << ref.error();
  expect_checked(p, *ref);
  auto rep = check(p, *ref, 1e-6);
  // CLP's own objective value against the independent recomputation.
  EXPECT_NEAR(rep.objective, ref->stats.lower_bound, 1e-6 * std::abs(rep.objective));
  auto dec = solve_decomposed(p);
  ASSERT_TRUE(dec.ok()) << dec.error();
  expect_checked(p, *dec);
  // Both report the size of the same LP.
  EXPECT_EQ(dec->stats.variables, ref->stats.variables);
  EXPECT_EQ(dec->stats.constraints, ref->stats.constraints);
  double gap = (dec->objective.total - ref->objective.total) / std::abs(ref->objective.total);
  EXPECT_LT(gap, 0.005) << "decomposed " << dec->objective.total << " vs CLP " << ref->objective.total;
  // The decomposed lower bound is a true lower bound on CLP's optimum (up to rounding).
  // Up to the block-coordinate site solves, which can stop short at a kink on sites with several
  // state chains (measured below 2e-5 of the objective).
  EXPECT_LE(dec->stats.lower_bound, ref->objective.total * (1 + 1e-4));
  std::printf("sites %d seed %llu: clp %.2f decomposed %.2f gap %.4f%% bound-gap %.4f%% iters %d\n", c.sites,
              static_cast<unsigned long long>(c.seed), ref->objective.total, dec->objective.total, 100 * gap,
              100 * dec->stats.duality_gap, dec->stats.iterations);
}

INSTANTIATE_TEST_SUITE_P(Fleets, RandomFleet,
                         ::testing::Values(FleetCase{50, 1, 0.1, 0}, FleetCase{50, 2, 0.3, 0},
                                           FleetCase{120, 3, 0.15, 0.9}, FleetCase{200, 4, 0.0, 0},
                                           FleetCase{500, 5, 0.1, 0}),
                         [](const ::testing::TestParamInfo<FleetCase>& info) {
                           return "sites" + std::to_string(info.param.sites) + "_seed" +
                                  std::to_string(info.param.seed);
                         });

}  // namespace
}  // namespace vpp::optimizer

namespace vpp::optimizer {
namespace {

// With one state chain per site (battery, or zone) the site dynamic program is exact: each site on
// its own, the decomposed solver (no coupling, so one pass) must match CLP's optimum to rounding.
TEST(RandomFleetSingleChain, DynamicProgramMatchesClpPerSite) {
  for (int kind = 0; kind < 2; ++kind) {
    RandomFleetOptions o;
    o.sites = 15;
    o.seed = 21 + kind;
    o.event_fraction = 0;
    o.hvac_share = kind == 0 ? 0.0 : 1.0;
    o.battery_share = kind == 0 ? 1.0 : 0.0;
    o.flexible_share = 0;
    Problem fleet = random_fleet(o);
    for (const auto& s : fleet.sites) {
      Problem one = fleet;
      one.sites = {s};
      auto a = solve_clp(one);
      auto b = solve_decomposed(one);
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_NEAR(b->objective.total, a->objective.total, 1e-7 * std::abs(a->objective.total))
          << s.id << (kind == 0 ? " (battery)" : " (zone)");
      EXPECT_TRUE(check(one, *b, 1e-7).ok);
    }
  }
}

}  // namespace
}  // namespace vpp::optimizer
