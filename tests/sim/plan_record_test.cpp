// The plan vppd keeps for a restart (PlanRecord): a solved plan survives the round trip with
// every setpoint, fleet figure and price, and a record whose series do not fit its horizon is
// refused naming the series.
#include <gtest/gtest.h>

#include "optimizer/random_fleet.hpp"
#include "optimizer/solvers.hpp"
#include "sim/recording.hpp"

namespace vpp::sim {
namespace {

TEST(PlanRecord, ASolvedPlanSurvivesTheRoundTrip) {
  const auto problem = optimizer::random_fleet({.sites = 12, .steps = 24, .seed = 3});
  const auto solved = optimizer::solve_decomposed(problem);
  ASSERT_TRUE(solved.ok()) << solved.error();
  const auto& plan = *solved;
  ASSERT_FALSE(plan.sites.empty());
  std::string bytes = plan_to_record(plan).SerializeAsString();
  vpp::v1::PlanRecord rec;
  ASSERT_TRUE(rec.ParseFromString(bytes));
  auto back = plan_from_record(rec);
  ASSERT_TRUE(back.ok()) << back.error();
  const auto& b = **back;
  EXPECT_EQ(b.horizon.start, plan.horizon.start);
  EXPECT_EQ(b.horizon.step, plan.horizon.step);
  EXPECT_EQ(b.horizon.steps, plan.horizon.steps);
  EXPECT_EQ(b.coordination_price_per_kwh, plan.coordination_price_per_kwh);
  EXPECT_EQ(b.fleet_import_kw, plan.fleet_import_kw);
  EXPECT_EQ(b.fleet_cap_kw, plan.fleet_cap_kw);
  EXPECT_EQ(b.shortfall_kw, plan.shortfall_kw);
  EXPECT_EQ(b.excluded_sites, plan.excluded_sites);
  ASSERT_EQ(b.sites.size(), plan.sites.size());
  for (std::size_t i = 0; i < plan.sites.size(); ++i) {
    const auto& x = plan.sites[i];
    const auto& y = b.sites[i];
    EXPECT_EQ(y.id, x.id);
    EXPECT_EQ(y.import_kw, x.import_kw);
    ASSERT_EQ(y.batteries.size(), x.batteries.size());
    for (std::size_t k = 0; k < x.batteries.size(); ++k) {
      EXPECT_EQ(y.batteries[k].p_kw, x.batteries[k].p_kw);
      EXPECT_EQ(y.batteries[k].soc_kwh, x.batteries[k].soc_kwh);
    }
    ASSERT_EQ(y.pv.size(), x.pv.size());
    for (std::size_t k = 0; k < x.pv.size(); ++k) EXPECT_EQ(y.pv[k].limit_kw, x.pv[k].limit_kw);
    ASSERT_EQ(y.hvac.size(), x.hvac.size());
    for (std::size_t k = 0; k < x.hvac.size(); ++k) EXPECT_EQ(y.hvac[k].temp_c, x.hvac[k].temp_c);
    ASSERT_EQ(y.flexible.size(), x.flexible.size());
    for (std::size_t k = 0; k < x.flexible.size(); ++k) EXPECT_EQ(y.flexible[k].curtail_kw, x.flexible[k].curtail_kw);
  }
  // As a core input, through the recording too.
  const auto in = to_record(controller::Input{controller::RestorePlan{"fleet", *back}}, plan.horizon.start);
  auto again = from_record(in);
  ASSERT_TRUE(again.ok()) << again.error();
  const auto& rp = std::get<controller::RestorePlan>(*again);
  EXPECT_EQ(rp.group, "fleet");
  EXPECT_EQ(digest(*rp.plan), digest(b));
}

TEST(PlanRecord, SeriesThatDoNotFitTheHorizonAreRefusedByName) {
  const auto problem = optimizer::random_fleet({.sites = 3, .steps = 8, .seed = 1});
  const auto solved = optimizer::solve_decomposed(problem);
  ASSERT_TRUE(solved.ok()) << solved.error();
  const auto& plan = *solved;
  auto rec = plan_to_record(plan);
  rec.mutable_sites(0)->mutable_import_kw()->mutable_v()->RemoveLast();
  auto back = plan_from_record(rec);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().find(plan.sites[0].id + " import_kw: 7 values for 8 intervals"), std::string::npos) << back.error();
  rec.Clear();
  EXPECT_FALSE(plan_from_record(rec).ok());  // no horizon
}

}  // namespace
}  // namespace vpp::sim
