// Scenario loading: the demo, its data, and bad scenarios failing with file:line:column: field.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "sim/fleet_gen.hpp"
#include "sim/scenario.hpp"
#include "sim/signals.hpp"

namespace vpp::sim {
namespace {

const std::string kDemo = std::string(VPP_SOURCE_DIR) + "/config/scenarios/demo.yaml";

// Lines 1..13; tests append from line 14.
const std::string kBase = R"(name: tiny
seed: 3
start: "2026-07-07T00:00:00+08:00"
duration: 6h
step: 5m
warmup: 1d
utc_offset: "+08:00"
location: {latitude: 39.8, longitude: 116.47}
weather:
  temperature:
    daily_cycle: {min_c: 26, max_c: 35}
  irradiance:
    model: clear_sky
)";

const std::string kFleet = R"(fleet:
  sites: 4
  mix: {office: 1}
)";  // lines 14..16

std::string errors(const std::string& text) {
  auto r = load_scenario_text(text, "bad.yaml");
  return r.ok() ? std::string("(loaded)") : r.error();
}

TEST(Scenario, MinimalScenarioLoads) {
  auto r = load_scenario_text(kBase + kFleet, "tiny.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->name, "tiny");
  EXPECT_EQ(r->steps(), 72u);
  EXPECT_EQ(r->warmup_steps(), 288u);
  EXPECT_EQ(r->utc_offset_minutes, 480);
  EXPECT_EQ(r->strategy, "uncontrolled");
  ASSERT_TRUE(r->fleet);
  EXPECT_EQ(r->fleet->sites, 4);
  EXPECT_EQ(r->fleet->mix[0], 1.0);
}

TEST(Scenario, DemoDescribesTwoHundredBuildingsInBeijingOnAHotJulyWeekday) {
  auto r = load_scenario_file(kDemo);
  ASSERT_TRUE(r.ok()) << r.error();
  const Scenario& sc = *r;
  EXPECT_EQ(sc.start, *parse_utc("2026-07-07T00:00:00+08:00"));
  EXPECT_EQ(sc.duration, std::chrono::hours(24));
  ASSERT_TRUE(sc.fleet);
  EXPECT_EQ(sc.fleet->sites, 200);
  const auto setup = make_fleet(sc, sc.seed);
  ASSERT_EQ(setup.sites.size(), 200u);
  int types[5] = {};
  for (const auto& s : setup.sites) ++types[static_cast<int>(s.type)];
  EXPECT_EQ(types[0], 90);  // 45 % offices
  EXPECT_EQ(types[4], 10);  // 5 % data centres
  // One 2-hour afternoon event, announced 4 hours ahead, asking for 20 % of the baseline peak.
  ASSERT_EQ(sc.events.size(), 1u);
  EXPECT_EQ(sc.events[0].duration, std::chrono::hours(2));
  EXPECT_EQ(sc.events[0].announced, *parse_utc("2026-07-07T10:00:00+08:00"));
  EXPECT_EQ(sc.events[0].pct_of_baseline_peak, 20.0);
  // Beijing's summer bands: valley at night, sharp peak 11-13 and 16-17, peak 17-22, flat 13-16.
  auto band = [&](const char* t) { return tariff_band(sc.tariff, *parse_utc(t), sc.utc_offset_minutes); };
  EXPECT_EQ(band("2026-07-07T03:00:00+08:00"), TariffBand::valley);
  EXPECT_EQ(band("2026-07-07T23:30:00+08:00"), TariffBand::valley);
  EXPECT_EQ(band("2026-07-07T08:00:00+08:00"), TariffBand::flat);
  EXPECT_EQ(band("2026-07-07T10:15:00+08:00"), TariffBand::peak);
  EXPECT_EQ(band("2026-07-07T11:30:00+08:00"), TariffBand::sharp);
  EXPECT_EQ(band("2026-07-07T14:00:00+08:00"), TariffBand::flat);
  EXPECT_EQ(band("2026-07-07T16:30:00+08:00"), TariffBand::sharp);
  EXPECT_EQ(band("2026-07-07T18:00:00+08:00"), TariffBand::peak);
  // The sharp peak applies in July and August only.
  EXPECT_EQ(band("2026-09-07T11:30:00+08:00"), TariffBand::peak);
  EXPECT_DOUBLE_EQ(import_price(sc.tariff, *parse_utc("2026-07-07T11:30:00+08:00"), 480), 1.25946975);
}

TEST(Scenario, DemoHourlyDataAreTheReferenceFilesValues) {
  const YAML::Node demo = YAML::LoadFile(kDemo);
  const YAML::Node weather = YAML::LoadFile(std::string(VPP_SOURCE_DIR) + "/config/scenarios/data/beijing-summer-weather.yaml");
  const YAML::Node tariff = YAML::LoadFile(std::string(VPP_SOURCE_DIR) + "/config/scenarios/data/beijing-tou-tariff.yaml");
  const YAML::Node day = weather["tmy_hot_weekday"];
  auto same = [](const YAML::Node& a, const YAML::Node& b) {
    if (a.size() != 24 || b.size() != 24) return false;
    for (std::size_t i = 0; i < 24; ++i) {
      if (a[i].as<double>() != b[i].as<double>()) return false;
    }
    return true;
  };
  EXPECT_TRUE(same(demo["weather"]["temperature"]["hourly_c"], day["dry_bulb_C"]));
  EXPECT_TRUE(same(demo["weather"]["dew_point_hourly_c"], day["dew_point_C"]));
  EXPECT_TRUE(same(demo["weather"]["irradiance"]["hourly_ghi_w_m2"], day["ghi_W_m2"]));
  const YAML::Node prices = tariff["prices"]["single_part_1_10kV_2026_07"];
  for (const char* b : {"valley", "flat", "peak", "sharp"}) {
    EXPECT_EQ(demo["tariff"]["prices"][b].as<double>(), prices[b].as<double>()) << b;
  }
  EXPECT_EQ(demo["location"]["latitude"].as<double>(), weather["location"]["latitude_deg"].as<double>());
  // The demo's bands hour by hour are the file's summer_hourly_band.
  auto sc = load_scenario_file(kDemo);
  ASSERT_TRUE(sc.ok());
  const YAML::Node hourly = tariff["summer_hourly_band"];
  for (int h = 0; h < 24; ++h) {
    char t[40];
    std::snprintf(t, sizeof t, "2026-07-07T%02d:30:00+08:00", h);
    EXPECT_EQ(std::string(to_string(tariff_band(sc->tariff, *parse_utc(t), 480))), hourly[h].as<std::string>()) << h;
  }
}

TEST(Scenario, DefaultPeriodsAreWholeSteps) {
  // With 5-minute steps the 1-minute control and telemetry defaults become 5 minutes, whether
  // or not a control section is given; the 15-minute output interval stays.
  for (const std::string extra : {"", "control: {channel: {delay: 1s}}\n", "output: {}\n"}) {
    auto r = load_scenario_text(kBase + kFleet + extra, "tiny.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->control_period, std::chrono::minutes(5));
    EXPECT_EQ(r->telemetry_period, std::chrono::minutes(5));
    EXPECT_EQ(r->output_interval, std::chrono::minutes(15));
  }
  std::string ten = kBase + kFleet;
  ten.replace(ten.find("step: 5m"), 8, "step: 10m");
  auto r = load_scenario_text(ten, "tiny.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->output_interval, std::chrono::minutes(20));
}

TEST(BadScenario, UnknownBuildingTypeInTheMix) {
  EXPECT_EQ(errors(kBase + "fleet:\n  sites: 4\n  mix: {office: 0.5, factory: 0.5}\n"),
            "bad.yaml:16:22: fleet.mix.factory: unknown building type 'factory' (expected one of: office, mall, "
            "school, hospital, data_centre)\n");
}

TEST(BadScenario, UnknownBuildingTypeOfAListedSite) {
  EXPECT_EQ(errors(kBase + "sites:\n  - id: s1\n    type: factory\n"),
            "bad.yaml:16:11: sites[0].type: unknown value 'factory' (expected one of: office, mall, school, hospital, "
            "data_centre)\n");
}

TEST(BadScenario, NegativeSizes) {
  EXPECT_EQ(errors(kBase + R"(sites:
  - id: s1
    type: office
    assets:
      - id: b1
        kind: battery
        capacity_kwh: -5
        max_charge_kw: 10
        max_discharge_kw: 10
)"),
            "bad.yaml:20:23: sites[0].assets[0].capacity_kwh: must be > 0 (found -5)\n");
  EXPECT_EQ(errors(kBase + R"(fleet:
  sites: 4
  mix: {office: 1}
  pv: {penetration: 0.5, kwp_per_m2: -0.2}
  battery: {hours: -2}
)"),
            "bad.yaml:17:38: fleet.pv.kwp_per_m2: must be > 0 (found -0.2)\n"
            "bad.yaml:18:20: fleet.battery.hours: must be > 0 (found -2)\n");
  EXPECT_EQ(errors(kBase + "fleet:\n  sites: -3\n  mix: {office: 1}\n"),
            "bad.yaml:15:10: fleet.sites: must be >= 1 (found -3)\n");
  EXPECT_EQ(errors(kBase + "sites:\n  - {id: s1, type: office, base_load_peak_kw: -10}\n"),
            "bad.yaml:15:47: sites[0].base_load_peak_kw: must be >= 0 (found -10)\n");
}

TEST(BadScenario, EventOutsideTheSimulatedPeriod) {
  EXPECT_EQ(errors(kBase + kFleet + R"(events:
  - id: late
    start: "2026-07-08T14:00:00+08:00"
    duration: 2h
    target_kw: 100
)"),
            "bad.yaml:19:12: events[0].start: window 2026-07-08 14:00 +08:00 .. 2026-07-08 16:00 +08:00 lies outside "
            "the simulated period 2026-07-07 00:00 +08:00 .. 2026-07-07 06:00 +08:00\n");
  // Running past the end is outside too.
  EXPECT_NE(errors(kBase + kFleet +
                   "events:\n  - {id: e, start: \"2026-07-07T05:00:00+08:00\", duration: 2h, target_kw: 1}\n")
                .find("events[0].start: window 2026-07-07 05:00 +08:00 .. 2026-07-07 07:00 +08:00 lies outside"),
            std::string::npos);
}

TEST(BadScenario, OverlappingEventsOnTheSameSites) {
  EXPECT_EQ(errors(kBase + kFleet + R"(events:
  - {id: a, start: "2026-07-07T02:00:00+08:00", duration: 2h, target_kw: 100}
  - {id: b, start: "2026-07-07T03:00:00+08:00", duration: 1h, target_kw: 300}
)"),
            "bad.yaml:19:20: events[1].start: overlaps events[0] ('a', 2026-07-07 02:00 +08:00 for 2h) on the same "
            "sites: contradictory targets for one interval\n");
  // Back to back is fine; so are simultaneous events on different sites.
  EXPECT_EQ(errors(kBase + kFleet + R"(events:
  - {id: a, start: "2026-07-07T02:00:00+08:00", duration: 2h, target_kw: 100}
  - {id: b, start: "2026-07-07T04:00:00+08:00", duration: 1h, target_kw: 300}
  - {id: c, start: "2026-07-07T01:00:00+08:00", duration: 1h, target_kw: 10, sites: [site-001]}
  - {id: d, start: "2026-07-07T01:00:00+08:00", duration: 1h, target_kw: 10, sites: [site-002]}
)"),
            "(loaded)");
}

TEST(BadScenario, OverlappingTariffPeriodsAndGaps) {
  EXPECT_EQ(errors(kBase + kFleet + R"(tariff:
  prices: {valley: 0.5, flat: 0.8, peak: 1.1}
  periods:
    - {band: valley, start: "23:00", end: "07:00"}
    - {band: flat, start: "06:00", end: "23:00"}
)"),
            "bad.yaml:21:27: tariff.periods[1].start: overlaps tariff.periods[0] (valley 23:00-07:00) at 06:00: one "
            "band per hour\n");
  EXPECT_EQ(errors(kBase + kFleet + R"(tariff:
  prices: {valley: 0.5, flat: 0.8, peak: 1.1}
  periods:
    - {band: valley, start: "23:00", end: "07:00"}
    - {band: flat, start: "08:00", end: "23:00"}
)"),
            "bad.yaml:20:5: tariff.periods: no band covers 07:00-08:00 local: the periods must cover the day\n");
}

TEST(BadScenario, OverlappingHeatwaveAndColdSnap) {
  const std::string text = R"(name: tiny
start: "2026-07-07T00:00:00+08:00"
duration: 6h
location: {latitude: 39.8, longitude: 116.47}
weather:
  temperature:
    daily_cycle: {min_c: 26, max_c: 35}
    overrides:
      - {kind: heatwave, start: "2026-07-07T00:00:00+08:00", end: "2026-07-07T04:00:00+08:00", delta_c: 3}
      - {kind: cold_snap, start: "2026-07-07T03:00:00+08:00", end: "2026-07-07T05:00:00+08:00", delta_c: -5}
      - {kind: heatwave, start: "2026-07-07T05:00:00+08:00", end: "2026-07-07T06:00:00+08:00", delta_c: -1}
  irradiance: {model: clear_sky}
fleet: {sites: 2, mix: {office: 1}}
)";
  EXPECT_EQ(errors(text),
            "bad.yaml:10:34: weather.temperature.overrides[1].start: overlaps weather.temperature.overrides[0]: two "
            "overrides may not change the same hours\n"
            "bad.yaml:11:105: weather.temperature.overrides[2].delta_c: a heatwave needs delta_c > 0\n");
}

TEST(BadScenario, EveryProblemIsReportedAtOnce) {
  const std::string e = errors(kBase + R"(strategy: clever
fleet:
  sites: 4
  mix: {office: 0.5, school: 0.4}
  penetrations: 3
events:
  - {id: e, start: "2026-07-07T01:00:00+08:00", duration: 1h, sites: [nowhere]}
)");
  EXPECT_NE(e.find("bad.yaml:14:11: strategy: unknown strategy 'clever' (expected one of: controller, rule, uncontrolled)\n"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("bad.yaml:17:8: fleet.mix: shares must sum to 1 (found 0.9)\n"), std::string::npos) << e;
  EXPECT_NE(e.find("bad.yaml:18:3: fleet.penetrations: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("events[0].target_kw: give exactly one of target_kw, target_pct_of_baseline_peak and import_cap_kw"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("bad.yaml:20:71: events[0].sites[0]: unknown site 'nowhere'\n"), std::string::npos) << e;
}

TEST(BadScenario, WrongShapesAndValuesAreErrorsNotCrashes) {
  const std::string broken[] = {
      "",
      "42",
      "[1, 2]",
      kBase + "fleet: 5\n",
      kBase + "fleet: {sites: 2, mix: [office]}\n",
      kBase + "fleet: {sites: 2, mix: {office: .nan}}\n",
      kBase + "fleet: {sites: 2.5, mix: {office: 1}}\n",
      kBase + kFleet + "events: {x: 1}\n",
      kBase + kFleet + "events: [5]\n",
      kBase + kFleet + "tariff: {prices: {flat: 1}, periods: 3}\n",
      kBase + kFleet + "tariff: {prices: {flat: 1}, periods: [{band: flat, start: '25:00', end: '07:00'}]}\n",
      kBase + kFleet + "tariff: {prices: {flat: 1}, periods: [{band: flat, start: '00:10', end: '00:10'}]}\n",
      kBase + kFleet + "carbon: {method: hourly, hourly_kg_per_kwh: [0.5, 0.5]}\n",
      kBase + kFleet + "carbon: {method: derived, kg_per_kwh: 0.5}\n",
      kBase + kFleet + "control: {channel: {command_loss: 1.5}}\n",
      kBase + kFleet + "output: {interval: -5m}\n",
      kBase + kFleet + "sites: [{id: a b, type: office}]\n",
      kBase + kFleet + "sites: [{id: site-001, type: office}]\n",  // clashes with a generated id
      kBase + kFleet + "events: [{id: e, start: yesterday, duration: 1h, target_kw: 1}]\n",
      kBase + kFleet + "events: [{id: e, start: \"2026-07-07T01:00:00+08:00\", duration: 1h, target_kw: 1, "
                       "announced: \"2026-07-07T02:00:00+08:00\"}]\n",
  };
  for (const auto& text : broken) {
    const std::string e = errors(text);
    EXPECT_EQ(e.rfind("bad.yaml:", 0), 0u) << "for:\n" << text << "\ngot: " << e;
  }
}

TEST(BadScenario, StepsPeriodsAndSyntax) {
  std::string text = kBase + kFleet;
  text.replace(text.find("duration: 6h"), 12, "duration: 7m");
  EXPECT_EQ(errors(text), "bad.yaml:4:11: duration: must be a whole number of steps (step 5m)\n");
  EXPECT_EQ(errors(kBase + kFleet + "control: {period: 7m}\n"),
            "bad.yaml:17:19: control.period: must be a whole number of steps (step 5m)\n");
  EXPECT_EQ(errors("name: [unclosed\n"), "bad.yaml:2:1: YAML syntax error: end of sequence flow not found\n");
  EXPECT_EQ(errors(kBase), "bad.yaml:1:1: sites: the scenario needs a fleet, sites, or both\n");
  auto missing = load_scenario_file("/nonexistent/scenario.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), "/nonexistent/scenario.yaml:1:1: cannot read file");
}

}  // namespace
}  // namespace vpp::sim
