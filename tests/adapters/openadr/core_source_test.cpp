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

}  // namespace
}  // namespace vpp::openadr
