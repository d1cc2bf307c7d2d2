#include <gtest/gtest.h>

#include "model/building.hpp"
#include "model/messages.hpp"
#include "model/site.hpp"

namespace vpp {
namespace {

TEST(FleetSummary, AddsRatingsByKind) {
  Site a{.id = "a", .assets = {{"pv", "", PvSpec{.rated_kw = 100}},
                               {"b", "", BatterySpec{.capacity_kwh = 200, .max_charge_kw = 50, .max_discharge_kw = 60}},
                               {"h", "", HvacZoneSpec{.rated_electric_kw = 30}}}};
  Site b{.id = "b", .assets = {{"pv", "", PvSpec{.rated_kw = 50}}, {"m", "", SiteMeterSpec{}}}};
  const std::vector<Site> sites{a, b};
  const auto s = summarize(sites);
  EXPECT_EQ(s.sites, 2u);
  EXPECT_EQ(s.assets(AssetKind::pv), 2u);
  EXPECT_EQ(s.assets(AssetKind::site_meter), 1u);
  EXPECT_EQ(s.total_assets(), 5u);
  EXPECT_DOUBLE_EQ(s.pv_kw, 150);
  EXPECT_DOUBLE_EQ(s.battery_kwh, 200);
  EXPECT_DOUBLE_EQ(s.battery_kw, 60);
  EXPECT_DOUBLE_EQ(s.hvac_kw, 30);
}

TEST(Archetype, OfficeZoneTimeConstantIsDaysNotMinutes) {
  // A medium-mass office: tau = R * C = 165 kJ/(K m2) / (0.48 + 1.2 * 0.52) W/(K m2) ~ 41.5 h.
  const auto th = typical_zone_thermal(BuildingType::office, 40000);
  EXPECT_NEAR(th.r_k_per_kw * th.c_kwh_per_k, 165.0 / (0.48 + 1.2 * 0.52) / 3.6, 1e-9);
  EXPECT_GT(th.r_k_per_kw * th.c_kwh_per_k, 24);
}

TEST(Series, ValueAtIsPiecewiseConstant) {
  const auto t0 = from_unix_ms(0);
  const std::vector<SeriesPoint> s{{t0, 1.0}, {t0 + std::chrono::hours(1), 2.0}};
  EXPECT_FALSE(value_at(s, std::chrono::hours(1), t0 - Duration(1)));
  EXPECT_EQ(value_at(s, std::chrono::hours(1), t0), 1.0);
  EXPECT_EQ(value_at(s, std::chrono::hours(1), t0 + std::chrono::minutes(59)), 1.0);
  EXPECT_EQ(value_at(s, std::chrono::hours(1), t0 + std::chrono::minutes(61)), 2.0);
  EXPECT_FALSE(value_at(s, std::chrono::hours(1), t0 + std::chrono::hours(2)));
}

}  // namespace
}  // namespace vpp

namespace vpp {
namespace {

TEST(Archetype, CoolingCopFallsAsItGetsHotter) {
  EXPECT_DOUBLE_EQ(cooling_cop(4.0, 35), 4.0);
  EXPECT_DOUBLE_EQ(cooling_cop(4.0, 30), 4.0 * 1.11);
  EXPECT_NEAR(cooling_cop(4.0, 36.5), 4.0 * 0.97, 1e-12);
  EXPECT_DOUBLE_EQ(cooling_cop(4.0, 10), 4.0 * 1.29);
  EXPECT_DOUBLE_EQ(cooling_cop(4.0, 45), 4.0 * 0.89);
  EXPECT_GT(cooling_cop(4.0, 25), cooling_cop(4.0, 38));
}

}  // namespace
}  // namespace vpp
