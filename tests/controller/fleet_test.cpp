#include "controller/fleet.hpp"

#include <gtest/gtest.h>

#include "fixtures.hpp"

namespace vpp::controller {
namespace {

using namespace std::chrono_literals;
using testing::office;
using testing::reading;
using testing::t0;

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override { fleet.enrol(office()); }
  GateResult send(const std::string& asset, TimePoint t, auto&& fill, TimePoint now) {
    auto r = reading("office", asset, t);
    fill(r);
    return fleet.ingest(r, now);
  }
  Fleet fleet;
};

TEST_F(FleetTest, AcceptsPlausibleReadingsAndBringsAssetsOnline) {
  auto r = send("bat", t0, [](Telemetry& x) { x.p_kw = 100; x.soc_pct = 50; }, t0);
  EXPECT_EQ(r.outcome, GateOutcome::accepted) << r.reason;
  EXPECT_TRUE(r.came_online);
  const auto& a = fleet.asset(r.asset);
  ASSERT_TRUE(a.last);
  EXPECT_EQ(a.last->soc_pct, 50);
  EXPECT_TRUE(a.online);
  EXPECT_EQ(fleet.online_assets(), 1u);
}

TEST_F(FleetTest, UnknownAssetIsRejectedByName) {
  auto r = fleet.ingest(reading("office", "windmill", t0), t0);
  EXPECT_EQ(r.outcome, GateOutcome::rejected);
  EXPECT_EQ(r.reason, "unknown asset office/windmill");
  EXPECT_EQ(r.asset, kNone);
}

TEST_F(FleetTest, GatesPhysicallyImpossibleValues) {
  EXPECT_EQ(send("bat", t0, [](Telemetry& x) { x.p_kw = 900; }, t0).reason,
            "power 900.00 kW outside the physically possible [-575.00, 575.00] kW");
  EXPECT_EQ(send("bat", t0, [](Telemetry& x) { x.soc_pct = 130; }, t0).reason, "SoC 130.00 % outside [0, 100]");
  EXPECT_EQ(send("pv", t0, [](Telemetry& x) { x.p_kw = -50; }, t0).outcome, GateOutcome::rejected);
  EXPECT_EQ(send("hvac", t0, [](Telemetry& x) { x.indoor_temp_c = 95; }, t0).reason,
            "indoor temperature 95.0 degC outside [-30, 60]");
  // Nothing gated reached the state.
  EXPECT_FALSE(fleet.asset(fleet.find_asset("office", "bat")).last);
}

TEST_F(FleetTest, GatesSocJumpsThatNoPowerFlowExplains) {
  ASSERT_EQ(send("bat", t0, [](Telemetry& x) { x.p_kw = 100; x.soc_pct = 50; }, t0).outcome, GateOutcome::accepted);
  // 100 kW for 60 s moves a 1000 kWh battery by ~0.2 %: 40 % is a jump.
  auto r = send("bat", t0 + 60s, [](Telemetry& x) { x.p_kw = 100; x.soc_pct = 10; }, t0 + 60s);
  EXPECT_EQ(r.outcome, GateOutcome::rejected);
  EXPECT_NE(r.reason.find("SoC jumped 40.00 %"), std::string::npos) << r.reason;
  // A move that 500 kW over an hour explains is fine.
  r = send("bat", t0 + 3600s, [](Telemetry& x) { x.p_kw = 500; x.soc_pct = 3; }, t0 + 3600s);
  EXPECT_EQ(r.outcome, GateOutcome::accepted) << r.reason;
}

TEST_F(FleetTest, GatesClockSkewStaleAndOutOfOrderReadings) {
  EXPECT_EQ(send("meter", t0 + 5min, [](Telemetry& x) { x.p_kw = 1; }, t0).reason,
            "timestamp 300 s in the future (clock skew)");
  EXPECT_EQ(send("meter", t0 - 1h, [](Telemetry& x) { x.p_kw = 1; }, t0).reason, "stale: measured 3600 s ago");
  ASSERT_EQ(send("meter", t0, [](Telemetry& x) { x.p_kw = 1; }, t0).outcome, GateOutcome::accepted);
  EXPECT_EQ(send("meter", t0 - 10s, [](Telemetry& x) { x.p_kw = 2; }, t0).reason,
            "out of order: not newer than the last accepted reading");
}

TEST_F(FleetTest, GatesFrozenMeterValues) {
  GateResult r;
  for (int i = 0; i < 25; ++i) {
    const auto t = t0 + std::chrono::seconds(10 * i);
    r = send("meter", t, [](Telemetry& x) { x.p_kw = 812.5; }, t);
    if (r.outcome == GateOutcome::rejected) break;
  }
  EXPECT_EQ(r.outcome, GateOutcome::rejected);
  EXPECT_EQ(r.reason, "frozen: 20 identical readings in a row");
  // A changing value is accepted again.
  r = send("meter", t0 + 300s, [](Telemetry& x) { x.p_kw = 800.1; }, t0 + 300s);
  EXPECT_EQ(r.outcome, GateOutcome::accepted);
}

TEST_F(FleetTest, KeepsLastKnownFieldsAcrossPartialReports) {
  send("bat", t0, [](Telemetry& x) { x.p_kw = 10; x.soc_pct = 60; }, t0);
  send("bat", t0 + 10s, [](Telemetry& x) { x.p_kw = 20; }, t0 + 10s);
  const auto& a = fleet.asset(fleet.find_asset("office", "bat"));
  EXPECT_EQ(a.last->p_kw, 20);
  EXPECT_EQ(a.last->soc_pct, 60);
}

TEST_F(FleetTest, AssetsThatStopReportingGoOffline) {
  send("bat", t0, [](Telemetry& x) { x.soc_pct = 60; }, t0);
  send("meter", t0, [](Telemetry& x) { x.p_kw = 500; }, t0);
  send("meter", t0 + 4min, [](Telemetry& x) { x.p_kw = 501; }, t0 + 4min);
  EXPECT_TRUE(fleet.sweep_offline(t0 + 4min, 5min).empty());
  const auto gone = fleet.sweep_offline(t0 + 6min, 5min);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(fleet.asset(gone[0]).asset.id, "bat");
  EXPECT_FALSE(fleet.asset(gone[0]).online);
  EXPECT_EQ(fleet.site_import_kw(0), 501);
  // It comes back with its next good reading.
  auto r = send("bat", t0 + 7min, [](Telemetry& x) { x.soc_pct = 60; }, t0 + 7min);
  EXPECT_TRUE(r.came_online);
}

TEST_F(FleetTest, UnenrolledSitesAcceptNothing) {
  EXPECT_TRUE(fleet.unenrol("office"));
  EXPECT_FALSE(fleet.unenrol("office"));
  auto r = send("meter", t0, [](Telemetry& x) { x.p_kw = 1; }, t0);
  EXPECT_EQ(r.reason, "site office is not enrolled");
  fleet.enrol(office());
  EXPECT_EQ(send("meter", t0, [](Telemetry& x) { x.p_kw = 1; }, t0).outcome, GateOutcome::accepted);
}

}  // namespace
}  // namespace vpp::controller
