#include "controller/envelope.hpp"

#include <gtest/gtest.h>

#include <random>

#include "fixtures.hpp"

namespace vpp::controller {
namespace {

using namespace std::chrono_literals;
using testing::office;
using testing::reading;
using testing::t0;

class EnvelopeTest : public ::testing::Test {
 protected:
  void SetUp() override { fleet.enrol(office()); }
  // A fresh reading: the asset is re-enrolled first so earlier readings cannot gate it.
  void measure(const std::string& asset, auto&& fill) {
    fleet = Fleet();
    fleet.enrol(office());
    auto r = reading("office", asset, t0);
    fill(r);
    ASSERT_EQ(fleet.ingest(r, r.time).outcome, GateOutcome::accepted);
  }
  EnvelopeResult apply(const std::string& asset, SetpointKind kind, double v, std::optional<double> site_import = {}) {
    EnvelopeInput in;
    in.asset = &fleet.asset(fleet.find_asset("office", asset));
    in.site = &fleet.site(0);
    in.site_import_kw = site_import;
    in.kind = kind;
    in.requested = v;
    in.now = t0;
    in.ttl = 15min;
    return apply_envelope(in);
  }
  Fleet fleet;
};

TEST_F(EnvelopeTest, BatteryClampedToRatingsAndReserveEnergy) {
  measure("bat", [](Telemetry& t) { t.soc_pct = 60; t.p_kw = 0; });
  auto r = apply("bat", SetpointKind::battery_p_kw, 10'000);
  EXPECT_EQ(r.value, 500);
  EXPECT_EQ(r.clamps.names(), std::vector<std::string>{"rating"});
  r = apply("bat", SetpointKind::battery_p_kw, -10'000);
  EXPECT_EQ(r.value, -500);
  // At 21 % SoC with a 20 % reserve only 10 kWh x 0.95 may leave in the 15 min the command lasts.
  measure("bat", [](Telemetry& t) { t.soc_pct = 21; t.p_kw = 0; });
  r = apply("bat", SetpointKind::battery_p_kw, 400);
  EXPECT_NEAR(r.value, 10 * 0.95 / 0.25, 1e-9);
  EXPECT_EQ(r.clamps.names(), std::vector<std::string>{"reserve"});
}

TEST_F(EnvelopeTest, BatteryWithoutSocIsHeldIdle) {
  auto r = apply("bat", SetpointKind::battery_p_kw, 200);
  EXPECT_EQ(r.value, 0);
  EXPECT_EQ(r.clamps.names(), std::vector<std::string>{"soc unknown"});
}

TEST_F(EnvelopeTest, BatteryRespectsSiteImportAndExportLimits) {
  measure("bat", [](Telemetry& t) { t.soc_pct = 60; t.p_kw = 0; });
  // Site imports 200 kW; export is not allowed: discharge at most 200 kW.
  auto r = apply("bat", SetpointKind::battery_p_kw, 450, 200.0);
  EXPECT_EQ(r.value, 200);
  EXPECT_EQ(r.clamps.names(), std::vector<std::string>{"site export limit"});
  // Site imports 2900 kW of a 3000 kW limit: charge at most 100 kW.
  r = apply("bat", SetpointKind::battery_p_kw, -450, 2900.0);
  EXPECT_EQ(r.value, -100);
  EXPECT_EQ(r.clamps.names(), std::vector<std::string>{"site import limit"});
}

TEST_F(EnvelopeTest, HvacCapReleasedWhenTheZoneIsAlreadyTooWarm) {
  measure("hvac", [](Telemetry& t) { t.indoor_temp_c = 27.2; t.p_kw = 300; });
  auto r = apply("hvac", SetpointKind::hvac_power_cap_kw, 50);
  EXPECT_EQ(r.value, 400);
  EXPECT_EQ(r.clamps.names(), std::vector<std::string>{"comfort"});
  measure("hvac", [](Telemetry& t) { t.indoor_temp_c = 26.7; t.p_kw = 300; });
  r = apply("hvac", SetpointKind::hvac_power_cap_kw, 50);
  EXPECT_EQ(r.value, 400);  // within half a kelvin of the limit: released too
  measure("hvac", [](Telemetry& t) { t.indoor_temp_c = 25.0; t.p_kw = 300; });
  r = apply("hvac", SetpointKind::hvac_power_cap_kw, 50);
  EXPECT_EQ(r.value, 50);  // steady and 2 K below: the cap stands
}

TEST_F(EnvelopeTest, HvacCapReleasedWhenTheZoneIsHeadingOutOfTheBand) {
  // 24.0 C, then 24.5 C a minute later: in ten minutes it would be at 29.5 C.
  measure("hvac", [](Telemetry& t) { t.indoor_temp_c = 24.0; t.p_kw = 300; });
  Telemetry next = reading("office", "hvac", t0 + 1min);
  next.indoor_temp_c = 24.5;
  next.p_kw = 100;
  ASSERT_EQ(fleet.ingest(next, t0 + 1min).outcome, GateOutcome::accepted);
  auto r = apply("hvac", SetpointKind::hvac_power_cap_kw, 50);
  EXPECT_EQ(r.value, 400);
  EXPECT_EQ(r.clamps.names(), std::vector<std::string>{"comfort"});
}

TEST_F(EnvelopeTest, OffsetsStayInsideTheComfortBandAndCurtailmentInsideItsShare) {
  auto r = apply("hvac", SetpointKind::hvac_setpoint_offset_c, 5);
  EXPECT_EQ(r.value, 1.5);  // default 25 + 1.5 + half the 1 K deadband = comfort max 27
  r = apply("light", SetpointKind::load_curtail_pct, 80);
  EXPECT_EQ(r.value, 30);  // site allows 30 %, asset 50 %
  r = apply("pv", SetpointKind::pv_limit_kw, -5);
  EXPECT_EQ(r.value, 0);
}

TEST_F(EnvelopeTest, WrongKindsAndNonFiniteValuesAreRefused) {
  auto r = apply("pv", SetpointKind::battery_p_kw, 5);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.refusal, "setpoint kind not valid for a pv");
  r = apply("bat", SetpointKind::battery_p_kw, std::nan(""));
  EXPECT_FALSE(r.allowed);
}

TEST_F(EnvelopeTest, AdversarialRequestsNeverLeaveTheEnvelope) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> any(-1e6, 1e6), soc(0, 100), imp(-500, 3500);
  for (int i = 0; i < 5000; ++i) {
    const double s = soc(rng);
    measure("bat", [&](Telemetry& t) { t.soc_pct = s; t.p_kw = 0; });
    EnvelopeInput in;
    in.asset = &fleet.asset(fleet.find_asset("office", "bat"));
    in.site = &fleet.site(0);
    in.site_import_kw = imp(rng);
    in.kind = SetpointKind::battery_p_kw;
    in.requested = any(rng);
    in.now = t0;
    in.ttl = 15min;
    const auto r = apply_envelope(in);
    ASSERT_TRUE(r.allowed);
    ASSERT_LE(r.value, 500);
    ASSERT_GE(r.value, -500);
    // Run unsupervised for the whole ttl, it stays within [reserve, soc max].
    const double soc_end = s - (r.value > 0 ? r.value / 0.95 : r.value * 0.95) * 0.25 / 1000 * 100;
    ASSERT_GE(soc_end, std::min(s, 20.0) - 1e-9) << "soc " << s << " value " << r.value;
    ASSERT_LE(soc_end, std::max(s, 95.0) + 1e-9) << "soc " << s << " value " << r.value;
  }
}

}  // namespace
}  // namespace vpp::controller
