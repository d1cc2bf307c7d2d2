// CoreReportSource over a real controller core: shed estimate and storage from its fleet state,
// hand-checked against the office fixture's ratings.
#include <gtest/gtest.h>

#include "adapters/openadr/core_report_source.hpp"
#include "tests/controller/fixtures.hpp"

namespace vpp::openadr {
namespace {

using controller::testing::office;
using controller::testing::reading;
using controller::testing::t0;

TEST(CoreReportSource, ShedAndStorageFromTheFleetState) {
  controller::Core core(controller::Settings{});
  core.handle(controller::EnrolSite{office("office")}, t0);
  auto send = [&](const char* asset, auto fill) {
    Telemetry r = reading("office", asset, t0);
    fill(r);
    core.handle(r, t0);
  };
  send("meter", [](Telemetry& r) { r.p_kw = 900; });
  send("bat", [](Telemetry& r) { r.p_kw = 100; r.soc_pct = 60; });     // discharging 100 of 500 kW
  send("light", [](Telemetry& r) { r.p_kw = 80; });                    // may curtail 50 %
  send("hvac", [](Telemetry& r) { r.p_kw = 200; r.indoor_temp_c = 25; });  // site allows 30 %
  CoreReportSource src(core);
  // 400 (battery up to 500 kW) + 40 (half the lighting) + 60 (30 % of the HVAC) = 500 kW.
  ASSERT_TRUE(src.load_shed_available_kw("office", t0));
  EXPECT_DOUBLE_EQ(*src.load_shed_available_kw("office", t0), 500.0);
  auto st = src.storage("office", t0);
  ASSERT_TRUE(st);
  EXPECT_DOUBLE_EQ(*st->soc_pct, 60.0);
  EXPECT_DOUBLE_EQ(*st->charge_level_kwh, 600.0);
  EXPECT_DOUBLE_EQ(*st->usable_capacity_kwh, 900.0);  // 5..95 % of 1000 kWh
  EXPECT_DOUBLE_EQ(*st->max_discharge_kw, 500.0);
  // At the reserve (20 %) the battery adds nothing (a second core: SoC cannot jump 40 % in seconds).
  controller::Core low(controller::Settings{});
  low.handle(controller::EnrolSite{office("office")}, t0);
  Telemetry b = reading("office", "bat", t0);
  b.p_kw = 0;
  b.soc_pct = 20;
  low.handle(b, t0);
  Telemetry l = reading("office", "light", t0);
  l.p_kw = 80;
  low.handle(l, t0);
  EXPECT_DOUBLE_EQ(*CoreReportSource(low).load_shed_available_kw("office", t0), 40.0);
  // Unknown sites, events and a missing store give nothing, never a made-up zero.
  EXPECT_FALSE(src.load_shed_available_kw("nowhere", t0));
  EXPECT_FALSE(src.storage("nowhere", t0));
  EXPECT_FALSE(src.settlement("no-such-event", t0));
  EXPECT_FALSE(src.usage_kw("office", t0 - std::chrono::hours(1), t0));
}

// An interval is reported only once the core has settled it (kSettlementGrace after its end):
// until then a meter reading lost at its end still changes its mean.
TEST(CoreReportSource, SettlementOnlyOfIntervalsTheCoreHasSettled) {
  using namespace std::chrono_literals;
  controller::Core core(controller::Settings{});
  core.handle(controller::EnrolSite{office("office")}, t0 - 1h);
  auto meter = [&](TimePoint t, double kw, Duration late = Duration::zero()) {
    Telemetry r = reading("office", "meter", t);
    r.p_kw = kw;
    core.handle(r, t + late);
    core.handle(controller::Tick{}, t + late);
  };
  for (TimePoint t = t0 - 1h; t < t0; t += 1min) meter(t, 900);
  CurtailmentEvent e;
  e.event_id = "ev";
  e.start = t0;
  e.duration = 30min;
  e.import_cap_kw = 800;
  core.handle(GridSignal{t0 - 1h, "test", e}, t0 - 1h);
  // 850 kW each minute, 1000 kW at t0+14min; the reading at the end of the interval (t0+15min)
  // is lost, the next one (t0+16min) arrives 30 s late.
  for (TimePoint t = t0; t < t0 + 14min; t += 1min) meter(t, 850);
  meter(t0 + 14min, 1000);
  CoreReportSource src(core);
  // At t0+16min the core's live report already counts interval 0, from its first 14 minutes.
  auto live = core.report("ev", t0 + 16min);
  ASSERT_TRUE(live);
  ASSERT_EQ(live->fleet.size(), 1u);
  EXPECT_DOUBLE_EQ(live->fleet[0].metered_kw, 850.0);
  // The source holds it back until the core has settled it.
  auto early = src.settlement("ev", t0 + 16min);
  ASSERT_TRUE(early);
  EXPECT_TRUE(early->fleet.empty());
  EXPECT_TRUE(early->sites.at("office").empty());
  meter(t0 + 16min, 700, 30s);
  EXPECT_TRUE(src.settlement("ev", t0 + 15min + controller::kSettlementGrace - 1s)->fleet.empty());
  // Settled: the 1000 kW held over the interval's last minute counts; the core's own figures.
  const TimePoint at = t0 + 15min + controller::kSettlementGrace;
  auto settled = src.settlement("ev", at);
  ASSERT_TRUE(settled);
  ASSERT_EQ(settled->fleet.size(), 1u);
  const auto core_now = core.report("ev", at);
  EXPECT_EQ(settled->fleet[0], core_now->fleet[0]);
  EXPECT_EQ(settled->sites.at("office").at(0), core_now->sites.at("office").at(0));
  EXPECT_DOUBLE_EQ(settled->fleet[0].metered_kw, (14 * 850.0 + 1000.0) / 15);
}

}  // namespace
}  // namespace vpp::openadr
