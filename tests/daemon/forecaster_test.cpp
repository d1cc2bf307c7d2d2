// The daemon's forecaster: temperature cycle, clear-sky PV and its measured index, the base-load
// profile from roll-ups, persistence, HVAC gains. Numbers checked by hand in the comments.
#include <gtest/gtest.h>

#include <cmath>

#include "apps/daemon/forecaster.hpp"
#include "tests/daemon/fixtures.hpp"

namespace vpp::daemon::test {
namespace {

constexpr double kPi = 3.14159265358979323846;

controller::Settings beijing(Duration interval = 15min, int steps = 96) {
  auto s = settings();
  s.interval = interval;
  s.horizon_steps = steps;
  s.utc_offset_minutes = 480;
  return s;
}

config::OutdoorTemperatureCycle cycle() {
  config::OutdoorTemperatureCycle c;
  c.min_c = 24;
  c.max_c = 34;
  c.min_minute = 5 * 60;
  c.max_minute = 15 * 60;
  return c;
}

TEST(ForecastConfig, OutdoorTemperatureCycleIsReadAndChecked) {
  auto ok = config::load_config_text(
      "forecast:\n  outdoor_temp:\n    min_c: 24\n    max_c: 35\n    min_at: \"05:30\"\n    max_at: \"15:00\"\n", "f.yaml");
  ASSERT_TRUE(ok.ok()) << ok.error();
  ASSERT_TRUE(ok->forecast.outdoor_temp);
  EXPECT_EQ(ok->forecast.outdoor_temp->max_c, 35);
  EXPECT_EQ(ok->forecast.outdoor_temp->min_minute, 330);
  EXPECT_EQ(ok->forecast.outdoor_temp->max_minute, 900);
  EXPECT_FALSE(config::load_config_text("sites: []\n", "f.yaml")->forecast.outdoor_temp);
  auto bad = config::load_config_text(
      "forecast:\n  outdoor_temp:\n    min_c: 30\n    max_c: 20\n    min_at: \"25:00\"\n    max_at: \"15:00\"\n    wind: 3\n",
      "f.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("f.yaml:4:12: forecast.outdoor_temp.max_c: must be at least min_c"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("f.yaml:5:13: forecast.outdoor_temp.min_at: must be a local time HH:MM, found '25:00'"),
            std::string::npos)
      << bad.error();
  EXPECT_NE(bad.error().find("forecast.outdoor_temp.wind: unknown key"), std::string::npos) << bad.error();
  auto missing = config::load_config_text("forecast:\n  outdoor_temp:\n    min_c: 20\n", "f.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("forecast.outdoor_temp.max_c"), std::string::npos) << missing.error();
}

TEST(Forecaster, TemperatureFollowsTheDailyCycle) {
  Forecaster f(beijing(), cycle());
  // Local = UTC+8.
  EXPECT_NEAR(*f.outdoor_temp_c(at("2026-07-07T21:00:00Z")), 24.0, 1e-9);  // 05:00 minimum
  EXPECT_NEAR(*f.outdoor_temp_c(at("2026-07-08T07:00:00Z")), 34.0, 1e-9);  // 15:00 maximum
  EXPECT_NEAR(*f.outdoor_temp_c(at("2026-07-08T02:00:00Z")), 29.0, 1e-9);  // 10:00: half-way up
  // 20:00: 5 of the 14 falling hours: 34 - 10 (1 - cos(5 pi / 14)) / 2
  EXPECT_NEAR(*f.outdoor_temp_c(at("2026-07-08T12:00:00Z")), 34 - 10 * (1 - std::cos(5 * kPi / 14)) / 2, 1e-9);
  Forecaster none(beijing(), std::nullopt);
  EXPECT_FALSE(none.outdoor_temp_c(at("2026-07-08T02:00:00Z")));
}

TEST(Forecaster, ClearSkyPvAtNoonAndNight) {
  Forecaster f(beijing(), std::nullopt);
  Site s = site();
  PvSpec pv;
  pv.rated_kw = 100;
  pv.dc_peak_kw = 110;
  pv.tilt_deg = 20;
  // Beijing near the solstice at local solar noon (~12:15 local): ~950 W/m2 on a 20 deg south
  // plane; cells at 25 + 25/800 x 950 = 55 degC lose 12 %; 14 % system and 4 % inverter losses:
  // 110 x 0.95 x 0.88 x 0.86 x 0.96 = 76 kW.
  const double noon = f.clear_sky_pv_kw(s, pv, at("2026-06-21T04:15:00Z"));
  EXPECT_GT(noon, 65);
  EXPECT_LT(noon, 88);
  EXPECT_EQ(f.clear_sky_pv_kw(s, pv, at("2026-06-21T16:00:00Z")), 0.0);  // local midnight
  // Only the inverter rating bounds it: a 300 kWp array on a 100 kW inverter clips.
  pv.dc_peak_kw = 300;
  EXPECT_DOUBLE_EQ(f.clear_sky_pv_kw(s, pv, at("2026-06-21T04:15:00Z")), 100.0);
}

TEST(Forecaster, PvForecastIsScaledByTheMeasuredClearSkyIndex) {
  const auto s = beijing();
  Forecaster f(s, std::nullopt);
  Site site_with_pv = site();
  PvSpec pv;
  pv.rated_kw = 100;
  pv.dc_peak_kw = 110;
  site_with_pv.assets.push_back(Asset{"pv", "pv", pv});
  controller::Fleet fleet(s.gating);
  fleet.enrol(site_with_pv);
  const TimePoint now = at("2026-06-21T04:07:00Z");
  const double model = f.clear_sky_pv_kw(site_with_pv, pv, now);
  Telemetry t{"s1", "pv", now, Quality::good, model / 2};
  t.available_kw = model / 2;  // half of clear sky: a hazy day
  ASSERT_EQ(fleet.ingest(t, now).outcome, controller::GateOutcome::accepted);
  const auto fc = f.build(now, fleet);
  EXPECT_EQ(fc->start, at("2026-06-21T04:00:00Z"));  // the 12:00-12:15 local interval
  EXPECT_EQ(fc->steps, 96);
  const auto& v = fc->sites.at("s1").pv_kw.at("pv");
  ASSERT_EQ(v.size(), 96u);
  EXPECT_NEAR(v[0], 0.5 * f.clear_sky_pv_kw(site_with_pv, pv, fc->start + 7min + 30s), 1e-9);
  EXPECT_NEAR(v[4], 0.5 * f.clear_sky_pv_kw(site_with_pv, pv, fc->start + 67min + 30s), 1e-9);
  // At night a reading says nothing about clouds: no index (clear sky is assumed).
  EXPECT_FALSE(f.pv_index(site_with_pv, fleet.asset(fleet.find_asset("s1", "pv")), at("2026-06-21T16:00:00Z")));
}

TEST(Forecaster, BaseLoadProfileFromRollups) {
  Site s = site();
  s.assets.push_back(Asset{"pv", "pv", PvSpec{100}});
  s.assets.push_back(Asset{"hvac", "hvac", HvacZoneSpec{300}});
  // 10:00-10:15 local (02:00Z at +08:00) on two days: base = meter + PV + discharge - HVAC.
  auto r = [](const char* asset, const char* t, double kw) { return store::Rollup{"s1", asset, 900, at(t), 10, kw, kw, kw}; };
  std::map<std::string, std::vector<store::Rollup>> rollups;
  rollups["meter"] = {r("meter", "2026-07-06T02:00:00Z", 500), r("meter", "2026-07-07T02:00:00Z", 600)};
  rollups["pv"] = {r("pv", "2026-07-06T02:00:00Z", 100), r("pv", "2026-07-07T02:00:00Z", 100)};
  rollups["battery"] = {r("battery", "2026-07-06T02:00:00Z", 50)};  // not reporting the second day: 0
  rollups["hvac"] = {r("hvac", "2026-07-06T02:00:00Z", 200), r("hvac", "2026-07-07T02:00:00Z", 200)};
  // A PV reading without a meter reading at its time is ignored.
  rollups["pv"].push_back(r("pv", "2026-07-07T03:00:00Z", 80));
  const auto p = base_load_profile(s, rollups, 480);
  // Day 1: 500 + 100 + 50 - 200 = 450; day 2: 600 + 100 + 0 - 200 = 500; mean 475.
  EXPECT_NEAR(p.kw[40], 475.0, 1e-9);
  EXPECT_TRUE(std::isnan(p.kw[44]));
  EXPECT_EQ(p.days, 2);
  int known = 0;
  for (double x : p.kw) known += std::isnan(x) ? 0 : 1;
  EXPECT_EQ(known, 1);
}

TEST(Forecaster, BaseLoadFromProfileElsePersistenceAndGainsByFloorArea) {
  const auto s = beijing(15min, 8);
  Forecaster f(s, cycle());
  Site st = site();
  HvacZoneSpec a{100}, b{100};
  a.floor_area_m2 = 1000;
  b.floor_area_m2 = 3000;
  st.assets.push_back(Asset{"zone-a", "a", a});
  st.assets.push_back(Asset{"zone-b", "b", b});
  controller::Fleet fleet(s.gating);
  fleet.enrol(st);
  const TimePoint now = at("2026-07-08T02:05:00Z");  // 10:05 local
  // Now: meter 300 kW, battery discharging 20 kW, zones drawing 40 + 60 kW: base 300 + 20 - 100 = 220.
  ASSERT_EQ(fleet.ingest(meter(now, 300), now).outcome, controller::GateOutcome::accepted);
  ASSERT_EQ(fleet.ingest(battery(now, 20, 50), now).outcome, controller::GateOutcome::accepted);
  ASSERT_EQ(fleet.ingest(Telemetry{"s1", "zone-a", now, Quality::good, 40.0}, now).outcome, controller::GateOutcome::accepted);
  ASSERT_EQ(fleet.ingest(Telemetry{"s1", "zone-b", now, Quality::good, 60.0}, now).outcome, controller::GateOutcome::accepted);
  EXPECT_NEAR(*Forecaster::present_base_load_kw(fleet, 0), 220.0, 1e-9);
  LoadProfile p;
  p.kw[41] = 400;  // 10:15-10:30 local
  p.days = 5;
  f.set_profile("s1", p);
  const auto fc = f.build(now, fleet);
  const auto& sf = fc->sites.at("s1");
  ASSERT_EQ(sf.base_load_kw.size(), 8u);
  EXPECT_NEAR(sf.base_load_kw[0], 220.0, 1e-9);  // 10:00: no profile value, persistence
  EXPECT_NEAR(sf.base_load_kw[1], 400.0, 1e-9);  // 10:15: the typical day
  EXPECT_NEAR(sf.gains_kw.at("zone-a")[1], 100.0, 1e-9);   // a quarter of the floor area
  EXPECT_NEAR(sf.gains_kw.at("zone-b")[1], 300.0, 1e-9);
  ASSERT_EQ(fc->outdoor_temp_c.size(), 8u);
  EXPECT_NEAR(fc->outdoor_temp_c[0], *f.outdoor_temp_c(at("2026-07-08T02:07:30Z")), 1e-12);
}

TEST(Forecaster, NoReadingsAndNoProfileLeaveTheSeriesToTheCore) {
  const auto s = beijing(15min, 4);
  Forecaster f(s, std::nullopt);
  controller::Fleet fleet(s.gating);
  fleet.enrol(site());
  const auto fc = f.build(at("2026-07-08T02:05:00Z"), fleet);
  EXPECT_TRUE(fc->sites.at("s1").base_load_kw.empty());
  EXPECT_TRUE(fc->outdoor_temp_c.empty());
}

}  // namespace
}  // namespace vpp::daemon::test
