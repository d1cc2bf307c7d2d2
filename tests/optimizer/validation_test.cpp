// Malformed input gets an error naming the field; never a crash. Determinism across threads.
#include <cmath>

#include "optimizer/random_fleet.hpp"
#include "tests/optimizer/helpers.hpp"

namespace vpp::optimizer {
namespace {

Problem small() {
  Problem p = test::hourly(2, {1.0, 1.0});
  SiteProblem s = test::site("s", 2, 5);
  BatteryAsset b;
  b.id = "b";
  b.capacity_kwh = 10;
  b.soc_max_kwh = 10;
  b.max_charge_kw = b.max_discharge_kw = 2;
  s.batteries.push_back(b);
  p.sites.push_back(s);
  return p;
}

void expect_error(const Problem& p, const std::string& needle) {
  auto a = solve_clp(p);
  auto b = solve_decomposed(p);
  ASSERT_FALSE(a.ok());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(a.error().find(needle), std::string::npos) << a.error();
  EXPECT_EQ(a.error(), b.error());
}

TEST(Validation, RejectsMalformedInputNamingTheField) {
  {
    Problem p = small();
    p.signals.import_price[1] = NAN;
    expect_error(p, "signals.import_price: value nan at interval 1 is not a finite number");
  }
  {
    Problem p = small();
    p.sites[0].base_load_kw.pop_back();
    expect_error(p, "site 's'.base_load_kw: has 1 values, horizon has 2");
  }
  {
    Problem p = small();
    p.sites[0].batteries[0].capacity_kwh = -5;
    expect_error(p, "site 's' asset 'b'.capacity_kwh: value -5 must be > 0");
  }
  {
    Problem p = small();
    p.sites[0].batteries[0].charge_efficiency = 1.5;
    expect_error(p, "charge_efficiency");
  }
  {
    Problem p = small();
    p.sites.push_back(p.sites[0]);
    expect_error(p, "duplicate site id 's'");
  }
  {
    Problem p = small();
    p.signals.export_price[0] = 2.0;
    expect_error(p, "export price 2 exceeds import price");
  }
  {
    Problem p = small();
    p.horizon.steps = 0;
    expect_error(p, "horizon.steps");
  }
  {
    Problem p = small();
    p.signals.reduction_kw = {5.0, std::nullopt};
    expect_error(p, "signals.baseline_kw");
  }
  {
    Problem p = small();
    HvacZone z;
    z.id = "z";
    p.sites[0].hvac.push_back(z);  // R = C = 0, no series
    auto r = solve_decomposed(p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("r_k_per_kw"), std::string::npos);
    EXPECT_NE(r.error().find("outdoor_temp_c: has 0 values"), std::string::npos);
  }
}

TEST(Validation, EmptyFleetGivesAnEmptyPlan) {
  Problem p = test::hourly(2, {1.0, 1.0});
  auto [clp, dec] = test::solve_both(p);
  EXPECT_TRUE(dec.sites.empty());
  EXPECT_EQ(dec.objective.total, 0);
}

TEST(Determinism, DecomposedIdenticalForAnyThreadCount) {
  RandomFleetOptions o;
  o.sites = 80;
  o.seed = 11;
  o.event_fraction = 0.15;
  Problem p = random_fleet(o);
  DecomposedOptions one, two;
  one.threads = 1;
  two.threads = 2;
  auto a = solve_decomposed(p, one);
  auto b = solve_decomposed(p, two);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->objective.total, b->objective.total);  // bitwise
  EXPECT_EQ(a->coordination_price_per_kwh, b->coordination_price_per_kwh);
  for (std::size_t i = 0; i < a->sites.size(); ++i) {
    EXPECT_EQ(a->sites[i].import_kw, b->sites[i].import_kw);
    for (std::size_t k = 0; k < a->sites[i].batteries.size(); ++k)
      EXPECT_EQ(a->sites[i].batteries[k].p_kw, b->sites[i].batteries[k].p_kw);
  }
  // And the generator itself is deterministic.
  Problem q = random_fleet(o);
  EXPECT_EQ(q.sites[7].base_load_kw, p.sites[7].base_load_kw);
}

}  // namespace
}  // namespace vpp::optimizer
