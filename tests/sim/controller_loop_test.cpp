// The controller core driving the simulated fleet, closed loop: events delivered safely, an
// asset silenced mid-event replaced by others, recordings that replay byte for byte, what-ifs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/replay.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim {
namespace {

// Twelve generated buildings over a working afternoon, with a one-hour event at 10 % of the
// uncontrolled peak announced an hour ahead, metered history for baselines, and some loss on
// the channel. Extra YAML (faults) is appended.
std::string scenario(const std::string& extra = "") {
  return R"(name: loop
seed: 5
start: "2026-07-07T08:00:00+08:00"
duration: 9h
step: 1m
warmup: 1d
utc_offset: "+08:00"
location: {latitude: 39.8, longitude: 116.47}
strategy: controller
history_days: 5
control:
  period: 1m
  telemetry_period: 1m
  channel: {delay: 2s, command_loss: 0.01, uplink_loss: 0.01}
weather:
  temperature:
    daily_cycle: {min_c: 26, max_c: 35}
  irradiance: {model: clear_sky}
fleet:
  sites: 12
  mix: {office: 0.5, mall: 0.25, school: 0.25}
  pv: {penetration: 0.5}
  battery: {penetration: 0.6, power_share_of_peak: 0.2, hours: 2}
  flexible_load: {penetration: 0.5}
tariff:
  currency: CNY
  prices: {valley: 0.54, flat: 0.81, peak: 1.12, sharp: 1.26}
  periods:
    - {band: valley, start: "23:00", end: "07:00"}
    - {band: flat, start: "07:00", end: "10:00"}
    - {band: peak, start: "10:00", end: "13:00"}
    - {band: flat, start: "13:00", end: "17:00"}
    - {band: peak, start: "17:00", end: "22:00"}
    - {band: flat, start: "22:00", end: "23:00"}
events:
  - {id: ev, start: "2026-07-07T14:00:00+08:00", duration: 1h, notice: 4h, target_pct_of_baseline_peak: 10}
controller:
  planning: {zone_capacitance_factor: 0.25, delivery_margin: 0.2}
)" + extra;
}

Scenario load(const std::string& text) {
  auto sc = load_scenario_text(text, "loop.yaml");
  EXPECT_TRUE(sc) << (sc ? "" : sc.error());
  return *sc;
}

RunResult run(const Scenario& sc, const std::string& strategy, RunOptions opt = {}) {
  opt.strategy = strategy;
  auto r = run_scenario(sc, opt);
  EXPECT_TRUE(r) << (r ? "" : r.error());
  return *r;
}

TEST(ControllerLoop, DeliversTheEventInsideEveryLimit) {
  const auto sc = load(scenario());
  const auto ctl = run(sc, "controller");
  const auto none = run(sc, "uncontrolled");
  ASSERT_EQ(ctl.events.size(), 1u);
  EXPECT_GE(ctl.events[0].delivered_ratio, 0.9);
  EXPECT_GE(ctl.events[0].min_interval_ratio, 0.8);
  EXPECT_NEAR(none.events[0].delivered_ratio, 0.0, 1e-9);
  EXPECT_EQ(ctl.kpis.rating_violations, 0u);
  EXPECT_EQ(ctl.kpis.reserve_violations, 0u);
  EXPECT_LE(ctl.kpis.max_comfort_excursion_c, 1.0);
  // The settlement baseline exists and its error against the counterfactual is reported.
  EXPECT_TRUE(ctl.events[0].baseline_error_pct.has_value());
  EXPECT_TRUE(ctl.events[0].rebound_peak_kw.has_value());
}

TEST(ControllerLoop, AnAssetSilencedMidEventIsReplacedAndTheEventStillDelivered) {
  const auto base = load(scenario());
  // Silence the site whose battery is largest, for the second half of the event.
  std::string site;
  double largest = 0;
  for (const auto& s : run(base, "uncontrolled").sites) {
    for (const auto& a : s.assets) {
      if (const auto* b = a.get<BatterySpec>(); b && b->max_discharge_kw > largest) {
        largest = b->max_discharge_kw;
        site = s.id;
      }
    }
  }
  ASSERT_FALSE(site.empty());
  const auto faulty = load(scenario("faults:\n  - {site: " + site + ", asset: battery, from: \"2026-07-07T14:30:00+08:00\", "
                                    "to: \"2026-07-07T16:00:00+08:00\"}\n"));
  const auto r = run(faulty, "controller");
  EXPECT_GE(r.events[0].delivered_ratio, 0.85);
  bool reported = false;
  for (const auto& n : r.notes) reported = reported || n.find("asset_offline") != std::string::npos;
  EXPECT_TRUE(reported) << "the core should have taken the silent battery out";
  EXPECT_EQ(r.kpis.reserve_violations, 0u);
}

TEST(ControllerLoop, ARecordingReplaysToByteIdenticalOutputs) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "vpp_loop_record";
  std::filesystem::create_directories(dir);
  RunOptions opt;
  opt.record_path = (dir / "inputs.bin").string();
  opt.outputs_path = (dir / "outputs.bin").string();
  const auto sc = load(scenario());
  run(sc, "controller", opt);
  ReplayOptions ro;
  ro.recording = opt.record_path;
  ro.outputs = (dir / "replayed.bin").string();
  ro.expected = opt.outputs_path;
  const auto r = replay(ro);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->mismatches.empty()) << r->mismatches.front();
  EXPECT_GT(r->inputs, 1000u);
  EXPECT_GT(r->solves, 5u);
  auto bytes = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  EXPECT_EQ(bytes(dir / "outputs.bin"), bytes(dir / "replayed.bin"));
  // Stepping to a moment shows the core's state there.
  ro.stop_at = *parse_utc("2026-07-07T14:30:00+08:00");
  ro.expected.clear();
  const auto mid = replay(ro);
  ASSERT_TRUE(mid);
  EXPECT_NE(mid->state.find("event ev: active"), std::string::npos) << mid->state;
}

TEST(ControllerLoop, ACorruptRecordingIsAnErrorNotACrash) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "vpp_corrupt.bin";
  std::ofstream(path, std::ios::binary) << std::string("\x05garbage-not-a-recording", 24);
  ReplayOptions ro;
  ro.recording = path.string();
  const auto r = replay(ro);
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().empty());
}

TEST(ControllerLoop, WhatIfFilesAreValidatedWithFileLineAndField) {
  const auto sc = load(scenario());
  const auto path = std::filesystem::path(::testing::TempDir()) / "whatif.yaml";
  std::ofstream(path) << "controller:\n  planning:\n    delivery_margin: 7\nweather: {}\n";
  const auto r = apply_overrides(sc, path.string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(path.string() + ":3:22: controller.planning.delivery_margin: must be <= 1"), std::string::npos)
      << r.error();
  EXPECT_NE(r.error().find(path.string() + ":4:1: weather: unknown key"), std::string::npos) << r.error();
  std::ofstream(path) << "controller:\n  scheduling: {rebound_stages: 1}\n";
  const auto ok = apply_overrides(sc, path.string());
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->controller.scheduling.rebound_stages, 1);
  EXPECT_EQ(ok->controller.planning.delivery_margin, 0.2);  // the scenario's own, kept
}

}  // namespace
}  // namespace vpp::sim
