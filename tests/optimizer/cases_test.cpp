// Hand-checkable cases with known optima, each solved by CLP and by the decomposed solver.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/optimizer/helpers.hpp"

namespace vpp::optimizer {
namespace {

using test::hourly;
using test::site;
using test::solve_both;

// Two-price tariff: 0.5 for two hours, then 1.0 for two. A 9 kWh battery (90 % each way) starting
// empty charges 10 kWh from the grid when cheap (storing 9) and delivers 8.1 kWh when dear; no
// export is allowed, and the 10 kW base load absorbs it.
// Cost = base 10*0.5*2 + 10*1*2 = 30, + 10*0.5 charged, - 8.1*1 saved = 26.9.
TEST(Cases, BatteryArbitrageTwoPriceTariff) {
  Problem p = hourly(4, {0.5, 0.5, 1.0, 1.0});
  SiteProblem s = site("s", 4, 10);
  BatteryAsset b;
  b.id = "b";
  b.capacity_kwh = 9;
  b.max_charge_kw = b.max_discharge_kw = 10;
  b.charge_efficiency = b.discharge_efficiency = 0.9;
  b.soc_min_kwh = 0;
  b.soc_max_kwh = 9;
  s.batteries.push_back(b);
  p.sites.push_back(s);
  auto [clp, dec] = solve_both(p);
  for (const Plan* plan : {&clp, &dec}) {
    EXPECT_NEAR(plan->objective.total, 26.9, 1e-9) << plan->stats.solver;
    const auto& bp = plan->sites[0].batteries[0];
    EXPECT_NEAR(bp.charge_kw[0] + bp.charge_kw[1], 10, 1e-9);
    EXPECT_NEAR(bp.discharge_kw[2] + bp.discharge_kw[3], 8.1, 1e-9);
    EXPECT_NEAR(bp.discharge_kw[0] + bp.discharge_kw[1] + bp.charge_kw[2] + bp.charge_kw[3], 0, 1e-9);
    EXPECT_NEAR(bp.soc_kwh[3], 0, 1e-9);
  }
}

// 1R1C zone, R = 1 K/kW, C = 10 kWh/K (a = e^-0.1), 30 C outside, COP 1, 10 kW, band [20, 26],
// starting at 26. Power costs 0.1 for two hours, then 1.0. Without HVAC the zone would reach
// 30 - 4 a^4 at the end; cooling in hour 1 lowers the end temperature by (1-a) a^2 per kW and in
// hour 0 by (1-a) a^3, so the optimum runs hour 1 at full 10 kW, hour 0 just enough to end at 26,
// and nothing in the expensive hours.
TEST(Cases, HvacPreCoolsBeforePricePeakWithinBand) {
  Problem p = hourly(4, {0.1, 0.1, 1.0, 1.0});
  SiteProblem s = site("s", 4, 0);
  HvacZone z;
  z.id = "z";
  z.r_k_per_kw = 1;
  z.c_kwh_per_k = 10;
  z.temp_c = 26;
  z.max_electric_kw = 10;
  z.outdoor_temp_c.assign(4, 30);
  z.gains_kw.assign(4, 0);
  z.cop.assign(4, 1);
  z.comfort_min_c.assign(4, 20);
  z.comfort_max_c.assign(4, 26);
  z.discomfort_penalty_per_kh = 100;
  s.hvac.push_back(z);
  p.sites.push_back(s);
  const double a = std::exp(-0.1);
  const double free_end = 30 - 4 * std::pow(a, 4);
  const double p1 = 10;
  const double p0 = (free_end - 26 - (1 - a) * a * a * p1) / ((1 - a) * a * a * a);
  auto [clp, dec] = solve_both(p);
  for (const Plan* plan : {&clp, &dec}) {
    const auto& hp = plan->sites[0].hvac[0];
    EXPECT_NEAR(hp.electric_kw[0], p0, 1e-6) << plan->stats.solver;
    EXPECT_NEAR(hp.electric_kw[1], p1, 1e-6);
    EXPECT_NEAR(hp.electric_kw[2], 0, 1e-6);
    EXPECT_NEAR(hp.electric_kw[3], 0, 1e-6);
    EXPECT_NEAR(hp.temp_c[3], 26, 1e-6);
    for (double t : hp.temp_c) EXPECT_LE(t, 26 + 1e-6);
    EXPECT_NEAR(plan->objective.total, 0.1 * (p0 + p1), 1e-6);
    EXPECT_TRUE(plan->violations.empty());
  }
}

// 30 kW of PV on a 10 kW load. With a 5 kW export limit, 15 kW is used and 15 kW curtailed;
// without one, all 30 kW are used.
TEST(Cases, PvCurtailedOnlyUnderExportCap) {
  for (double limit : {5.0, kNoLimit}) {
    Problem p = hourly(2, {1.0, 1.0}, 0.3);
    SiteProblem s = site("s", 2, 10);
    s.pv.push_back({"pv", 40, {30, 30}});
    s.export_limit_kw = limit;
    p.sites.push_back(s);
    auto [clp, dec] = solve_both(p);
    double used = std::isfinite(limit) ? 15 : 30;
    for (const Plan* plan : {&clp, &dec}) {
      EXPECT_NEAR(plan->sites[0].pv[0].limit_kw[0], used, 1e-9) << plan->stats.solver << " limit " << limit;
      EXPECT_NEAR(plan->sites[0].import_kw[1], 10 - used, 1e-9);
      EXPECT_NEAR(plan->objective.total, 2 * -0.3 * (used - 10), 1e-9);
    }
  }
}

// Two sites with 10 kW of sheddable load each, at 1 and 3 CNY/kWh; the grid asks for 5 kW
// below a 40 kW baseline in hour 1. The cheap site sheds all 5 kW; the dear one nothing.
Problem event_problem(double reduction_kw) {
  Problem p = hourly(2, {0.5, 0.5});
  p.signals.baseline_kw = {40, 40};
  p.signals.reduction_kw = {std::nullopt, reduction_kw};
  for (int i = 0; i < 2; ++i) {
    SiteProblem s = site(i == 0 ? "cheap" : "dear", 2, 10);
    FlexibleLoad f;
    f.id = "load";
    f.power_kw = {10, 10};
    f.curtailable_share = 1.0;
    f.curtail_cost_per_kwh = i == 0 ? 1.0 : 3.0;
    s.flexible.push_back(f);
    p.sites.push_back(s);
  }
  return p;
}

TEST(Cases, EventMetByCheapestFlexibilityFirst) {
  Problem p = event_problem(5);
  auto [clp, dec] = solve_both(p);
  for (const Plan* plan : {&clp, &dec}) {
    EXPECT_NEAR(plan->sites[0].flexible[0].curtail_kw[1], 5, 1e-9) << plan->stats.solver;
    EXPECT_NEAR(plan->sites[1].flexible[0].curtail_kw[1], 0, 1e-9);
    EXPECT_NEAR(plan->sites[0].flexible[0].curtail_kw[0], 0, 1e-9);
    EXPECT_NEAR(plan->shortfall_kw[1], 0, 1e-9);
    EXPECT_NEAR(plan->fleet_import_kw[1], 35, 1e-9);
    // 40 kW at 0.5 in hour 0; 35 kW at 0.5 plus 5 kWh shed at 1.0 in hour 1.
    EXPECT_NEAR(plan->objective.total, 20 + 17.5 + 5, 1e-9);
  }
  // The coordination price explains it: shedding at the cheap site pays (1.0 - 0.5 saved), at the
  // dear one it would not (3.0 - 0.5).
  EXPECT_GE(clp.coordination_price_per_kwh[1], 0.5 - 1e-9);
  EXPECT_LE(clp.coordination_price_per_kwh[1], 2.5 + 1e-9);
}

TEST(Cases, EventBeyondFleetFlexibilityReportedAsShortfall) {
  Problem p = event_problem(30);
  auto [clp, dec] = solve_both(p);
  for (const Plan* plan : {&clp, &dec}) {
    EXPECT_NEAR(plan->sites[0].flexible[0].curtail_kw[1], 10, 1e-9) << plan->stats.solver;
    EXPECT_NEAR(plan->sites[1].flexible[0].curtail_kw[1], 10, 1e-9);
    EXPECT_NEAR(plan->shortfall_kw[1], 10, 1e-9);
    EXPECT_NEAR(plan->objective.shortfall_penalty, 10 * 5.0, 1e-9);
    bool reported = false;
    for (const auto& v : plan->violations)
      reported = reported || (v.kind == ViolationKind::fleet_shortfall && v.interval == 1 &&
                              std::abs(v.amount - 10) < 1e-9 && v.message.find("interval 1") != std::string::npos);
    EXPECT_TRUE(reported);
  }
  EXPECT_NEAR(clp.coordination_price_per_kwh[1], 5.0, 1e-9);  // the shortfall penalty sets the price
}

// Live state outside bounds: a battery below its reserve recharges (and the violation is reported
// per interval); a contradictory reserve above capacity still gets a plan and a message.
TEST(Cases, LiveStateOutsideBoundsStillPlannedAndDiagnosed) {
  Problem p = hourly(3, {1.0, 1.0, 1.0});
  SiteProblem s = site("s", 3, 5);
  BatteryAsset b;
  b.id = "b";
  b.capacity_kwh = 10;
  b.max_charge_kw = b.max_discharge_kw = 2;
  b.charge_efficiency = b.discharge_efficiency = 1.0;
  b.soc_min_kwh = 0;
  b.soc_max_kwh = 10;
  b.reserve_kwh = 5;
  b.soc_kwh = 1;           // 4 kWh below the reserve
  b.soc_penalty_per_kwh_h = 3;  // more than the 1.0 energy costs: recharge at full power
  s.batteries.push_back(b);
  BatteryAsset bad = b;
  bad.id = "bad";
  bad.reserve_kwh = 12;    // above capacity: contradictory
  bad.soc_kwh = 10;
  s.batteries.push_back(bad);
  p.sites.push_back(s);
  auto [clp, dec] = solve_both(p);
  for (const Plan* plan : {&clp, &dec}) {
    const auto& bp = plan->sites[0].batteries[0];
    EXPECT_NEAR(bp.soc_kwh[0], 3, 1e-9) << plan->stats.solver;
    EXPECT_NEAR(bp.soc_kwh[1], 5, 1e-9);
    int reserve_violations = 0;
    for (const auto& v : plan->violations)
      if (v.kind == ViolationKind::soc_below_reserve && v.asset_id == "b") ++reserve_violations;
    EXPECT_EQ(reserve_violations, 1);  // only the first interval (3 kWh < 5)
    bool told = false;
    for (const auto& m : plan->messages)
      told = told || (m.find("site 's' battery 'bad'") != std::string::npos && m.find("above capacity") != std::string::npos);
    EXPECT_TRUE(told);
    // The contradictory battery keeps full (closest to its impossible reserve).
    EXPECT_NEAR(plan->sites[0].batteries[1].soc_kwh[2], 10, 1e-9);
  }
}

// A comfort band the HVAC cannot hold: the plan runs flat out, reports the excess per interval,
// and the diagnosis names the site, zone and constraint.
TEST(Cases, ComfortBandBeyondHvacCapacityDiagnosed) {
  Problem p = hourly(3, {1.0, 1.0, 1.0});
  SiteProblem s = site("s", 3, 0);
  HvacZone z;
  z.id = "z";
  z.r_k_per_kw = 1;
  z.c_kwh_per_k = 1;
  z.temp_c = 24;
  z.max_electric_kw = 2;  // holds at most 30 - 2 = 28 C in steady state
  z.outdoor_temp_c.assign(3, 30);
  z.gains_kw.assign(3, 0);
  z.cop.assign(3, 1);
  z.comfort_min_c.assign(3, 22);
  z.comfort_max_c.assign(3, 25);
  s.hvac.push_back(z);
  p.sites.push_back(s);
  auto [clp, dec] = solve_both(p);
  for (const Plan* plan : {&clp, &dec}) {
    for (double kw : plan->sites[0].hvac[0].electric_kw) EXPECT_NEAR(kw, 2, 1e-9);
    EXPECT_GT(plan->objective.discomfort_penalty, 0);
    bool told = false;
    for (const auto& m : plan->messages)
      told = told || (m.find("zone 'z'") != std::string::npos && m.find("cannot be held") != std::string::npos);
    EXPECT_TRUE(told);
  }
}

// Outside availability batteries hold and loads are not curtailed, even at a price peak.
TEST(Cases, OutsideAvailabilityAssetsHold) {
  Problem p = hourly(3, {0.1, 2.0, 2.0});
  SiteProblem s = site("s", 3, 10);
  BatteryAsset b;
  b.id = "b";
  b.capacity_kwh = 10;
  b.soc_kwh = 10;
  b.soc_max_kwh = 10;
  b.max_charge_kw = b.max_discharge_kw = 5;
  s.batteries.push_back(b);
  s.available = {1, 0, 1};
  p.sites.push_back(s);
  auto [clp, dec] = solve_both(p);
  for (const Plan* plan : {&clp, &dec}) {
    EXPECT_NEAR(plan->sites[0].batteries[0].p_kw[1], 0, 1e-12) << plan->stats.solver;
    EXPECT_NEAR(plan->sites[0].batteries[0].p_kw[2], 5, 1e-9);
  }
}

TEST(Cases, ExcludedSitesAreLeftOut) {
  Problem p = event_problem(5);
  p.sites[0].excluded = true;
  p.sites[0].base_load_kw.clear();  // nothing of an excluded site is read
  auto [clp, dec] = solve_both(p);
  for (const Plan* plan : {&clp, &dec}) {
    ASSERT_EQ(plan->sites.size(), 1u);
    EXPECT_EQ(plan->sites[0].id, "dear");
    EXPECT_EQ(plan->excluded_sites, std::vector<std::string>{"cheap"});
  }
}

TEST(Cases, ExportMpsWritesTheLp) {
  Problem p = event_problem(5);
  std::string path = ::testing::TempDir() + "/vpp_event.mps";
  auto r = export_mps(p, path);
  ASSERT_TRUE(r.ok()) << r.error();
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("ROWS"), std::string::npos);
  EXPECT_NE(text.find("COLUMNS"), std::string::npos);
  EXPECT_FALSE(export_mps(p, "/nonexistent-dir/x.mps").ok());
}

}  // namespace
}  // namespace vpp::optimizer
