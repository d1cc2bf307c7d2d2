// Sun, sky and weather: published reference values and hand-checked numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/building_models.hpp"
#include "sim/solar.hpp"
#include "sim/weather.hpp"

namespace vpp::sim {
namespace {

TimePoint at(const char* s) { return *parse_utc(s); }

constexpr double kBeijingLat = 39.80, kBeijingLon = 116.47;

TEST(SunPosition, DeclinationAtTheJuneSolsticeIsTheObliquity) {
  // Obliquity of the ecliptic in 2026 is 23.436 deg.
  const auto p = sun_position(at("2026-06-21T08:00:00Z"), 0, 0);
  EXPECT_NEAR(p.declination_deg, 23.44, 0.02);
}

TEST(SunPosition, BeijingSolarNoonOnSevenJuly) {
  // Scan the day for the highest sun. Declination on 7 July is about +22.6 deg, so the noon
  // zenith is 39.80 - 22.6 = 17.2 deg; the equation of time is about -5 min, so solar noon falls
  // at 12:00 + (120 - 116.47) * 4 min + 5 min = about 12:19 local (04:19 UTC).
  double best_z = 180;
  TimePoint best_t{};
  for (int m = 3 * 60; m < 6 * 60; ++m) {
    const auto t = at("2026-07-07T00:00:00Z") + std::chrono::minutes(m);
    const auto p = sun_position(t, kBeijingLat, kBeijingLon);
    if (p.zenith_deg < best_z) {
      best_z = p.zenith_deg;
      best_t = t;
    }
  }
  EXPECT_NEAR(best_z, 17.2, 0.2);
  EXPECT_GE(best_t, at("2026-07-07T04:15:00Z"));
  EXPECT_LE(best_t, at("2026-07-07T04:23:00Z"));
  const auto noon = sun_position(best_t, kBeijingLat, kBeijingLon);
  EXPECT_NEAR(noon.azimuth_deg, 180.0, 1.0);
  EXPECT_NEAR(noon.equation_of_time_min, -4.9, 0.5);
  // Morning sun in the east, afternoon sun in the west; below the horizon at local midnight.
  EXPECT_LT(sun_position(at("2026-07-07T00:00:00Z"), kBeijingLat, kBeijingLon).azimuth_deg, 120);
  EXPECT_GT(sun_position(at("2026-07-07T09:00:00Z"), kBeijingLat, kBeijingLon).azimuth_deg, 240);
  EXPECT_GT(sun_position(at("2026-07-06T16:00:00Z"), kBeijingLat, kBeijingLon).zenith_deg, 90);
}

TEST(ClearSky, IneichenNoonInBeijingInJulyIsPlausible) {
  const TimePoint noon = at("2026-07-07T04:19:00Z");
  const auto sun = sun_position(noon, kBeijingLat, kBeijingLon);
  const double i0 = extraterrestrial_normal_w_m2(day_of_year(noon));
  // Near aphelion the extraterrestrial irradiance is about 3.3 % below the 1367 W/m2 constant.
  EXPECT_NEAR(i0, 1322, 5);
  const auto cs = clear_sky_ineichen(sun.zenith_deg, 32, 3.8, i0);
  // The IWEC file's clearest hour that day averaged 956 W/m2.
  EXPECT_GT(cs.ghi, 900);
  EXPECT_LT(cs.ghi, 1000);
  EXPECT_GT(cs.dni, 750);
  EXPECT_LT(cs.dni, 950);
  EXPECT_NEAR(cs.dhi, cs.ghi - cs.dni * sun.cos_zenith, 1e-9);
  EXPECT_GT(cs.dhi, 50);
  // A hazier sky lets less through.
  EXPECT_LT(clear_sky_ineichen(sun.zenith_deg, 32, 6.0, i0).ghi, cs.ghi);
  // Nothing with the sun below the horizon.
  EXPECT_EQ(clear_sky_ineichen(95, 32, 3.8, i0).ghi, 0.0);
}

TEST(Erbs, OvercastIsAlmostAllDiffuseAndTheSplitConservesGhi) {
  // kt = 100 / (1000 * 1) = 0.1 <= 0.22: DF = 1 - 0.09 * 0.1 = 0.991.
  const auto s = erbs_split(100, 1.0, 1000);
  EXPECT_NEAR(s.dhi, 99.1, 1e-9);
  EXPECT_NEAR(s.dni, 0.9, 1e-9);
  // kt > 0.8: DF = 0.165.
  const auto c = erbs_split(850, 1.0, 1000);
  EXPECT_NEAR(c.dhi, 0.165 * 850, 1e-9);
  for (double ghi : {50.0, 300.0, 600.0, 900.0}) {
    const auto x = erbs_split(ghi, 0.8, 1322);
    EXPECT_NEAR(x.dhi + x.dni * 0.8, ghi, 1e-9);
  }
}

TEST(PlaneOfArray, HorizontalPlaneSeesGhiAndATiltedOneFacingTheSunSeesMore) {
  const TimePoint t = at("2026-07-07T01:00:00Z");  // 09:00 local
  const auto sun = sun_position(t, kBeijingLat, kBeijingLon);
  const auto irr = erbs_split(600, sun.cos_zenith, extraterrestrial_normal_w_m2(day_of_year(t)));
  const auto sky = sky_terms(sun, irr);
  EXPECT_NEAR(poa_w_m2(plane_coefficients(0, 180, 0.2), sky), 600.0, 1e-9);
  // A plane facing the morning sun gets more than one facing away from it.
  EXPECT_GT(poa_w_m2(plane_coefficients(30, 90, 0.2), sky), poa_w_m2(plane_coefficients(30, 270, 0.2), sky));
  // A vertical north wall in the morning of a summer day still sees the sky and the ground.
  EXPECT_GT(poa_w_m2(plane_coefficients(90, 0, 0.2), sky), 0.0);
}

WeatherConfig hourly_weather() {
  WeatherConfig w;
  w.temperature_source = WeatherConfig::TemperatureSource::hourly;
  for (int h = 0; h < 24; ++h) w.hourly_temp_c[static_cast<std::size_t>(h)] = 20.0 + h;  // value at hour h+1
  w.irradiance_source = WeatherConfig::IrradianceSource::hourly;
  w.hourly_ghi_w_m2 = {0, 0, 0, 0, 0, 21, 153, 358, 557, 735, 872, 942, 956, 912, 753, 509, 235, 190, 83, 9, 0, 0, 0, 0};
  w.linke_turbidity = 3.8;
  return w;
}

TEST(Weather, HourlyTemperaturesAreHourEndingValuesInterpolated) {
  const auto w = hourly_weather();
  // Hour ending 14 (index 13) is the value at 14:00 local: 33; at 14:30 halfway to 34.
  EXPECT_DOUBLE_EQ(temperature_profile_c(w, at("2026-07-07T14:00:00+08:00"), 480), 33.0);
  EXPECT_DOUBLE_EQ(temperature_profile_c(w, at("2026-07-07T14:30:00+08:00"), 480), 33.5);
  // Midnight is the previous day's hour ending 24 (index 23).
  EXPECT_DOUBLE_EQ(temperature_profile_c(w, at("2026-07-07T00:00:00+08:00"), 480), 43.0);
}

TEST(Weather, OverridesAddTheirDeltaInsideTheirWindowOnly) {
  auto w = hourly_weather();
  w.overrides.push_back({"heatwave", at("2026-07-07T12:00:00+08:00"), at("2026-07-07T18:00:00+08:00"), 4.0});
  EXPECT_DOUBLE_EQ(temperature_profile_c(w, at("2026-07-07T14:00:00+08:00"), 480), 37.0);
  // The window is [start, end): at 18:00 the profile alone (hour ending 18, index 17: 37).
  EXPECT_DOUBLE_EQ(temperature_profile_c(w, at("2026-07-07T18:00:00+08:00"), 480), 37.0);
  EXPECT_DOUBLE_EQ(temperature_profile_c(w, at("2026-07-07T11:00:00+08:00"), 480), 30.0);
}

TEST(Weather, DailyCycleHitsItsMinimumAndMaximumAtTheirHours) {
  WeatherConfig w;
  w.min_c = 24;
  w.max_c = 34;
  w.min_hour = 5;
  w.max_hour = 15;
  EXPECT_NEAR(temperature_profile_c(w, at("2026-07-07T05:00:00Z"), 0), 24.0, 1e-12);
  EXPECT_NEAR(temperature_profile_c(w, at("2026-07-07T15:00:00Z"), 0), 34.0, 1e-12);
  EXPECT_NEAR(temperature_profile_c(w, at("2026-07-07T10:00:00Z"), 0), 29.0, 1e-12);  // half way up
}

TEST(Weather, HourlyGhiIsSpreadLikeTheClearSkyAndKeepsEachHoursEnergy) {
  const auto w = hourly_weather();
  const Location loc{kBeijingLat, kBeijingLon, 32};
  const WeatherSeries s(w, {loc}, at("2026-07-07T00:00:00+08:00"), std::chrono::minutes(1), 1440, 480, 7);
  for (int hour : {8, 10, 12, 14}) {  // local clock hours; the hourly value is hour ending hour+1
    double sum = 0;
    for (int m = 0; m < 60; ++m) sum += s.sky(static_cast<std::size_t>(hour * 60 + m))[0].ghi;
    EXPECT_NEAR(sum / 60.0, w.hourly_ghi_w_m2[static_cast<std::size_t>(hour)], 0.01 * w.hourly_ghi_w_m2[static_cast<std::size_t>(hour)])
        << "hour " << hour;
  }
  // Dark at night, whatever the data say.
  EXPECT_EQ(s.sky(60)[0].ghi, 0.0);
}

TEST(Weather, CloudProcessIsSeededAndCoversTheConfiguredShareOfTime) {
  WeatherConfig w;
  w.clouds.cover = 0.3;
  w.clouds.cloudy_index = 0.4;
  w.clouds.variability = 0.0;
  const Location loc{kBeijingLat, kBeijingLon, 32};
  const std::size_t n = 60 * 24 * 60;  // 60 days of minutes
  const WeatherSeries a(w, {loc}, at("2026-06-01T00:00:00Z"), std::chrono::minutes(1), n, 480, 11);
  const WeatherSeries b(w, {loc}, at("2026-06-01T00:00:00Z"), std::chrono::minutes(1), n, 480, 11);
  const WeatherSeries c(w, {loc}, at("2026-06-01T00:00:00Z"), std::chrono::minutes(1), n, 480, 12);
  std::size_t cloudy = 0, same = 0, differ = 0;
  for (std::size_t k = 0; k < n; ++k) {
    cloudy += a.clear_sky_index(k) < 0.7 ? 1 : 0;
    same += a.clear_sky_index(k) == b.clear_sky_index(k) ? 1 : 0;
    differ += a.clear_sky_index(k) != c.clear_sky_index(k) ? 1 : 0;
  }
  EXPECT_EQ(same, n);
  EXPECT_GT(differ, n / 10);
  EXPECT_NEAR(static_cast<double>(cloudy) / static_cast<double>(n), 0.3, 0.05);
}

TEST(Plant, CopFallsAsItGetsHotterOutside) {
  // Air-cooled DX: 1.21 at 25 C, 1.15 at 28 C, so 1.18 at 26.5 C; rated (1.00) at 35 C.
  EXPECT_NEAR(cop_ratio(PlantType::air_cooled_dx, 26.5, 20), 1.18, 1e-12);
  EXPECT_NEAR(cop_ratio(PlantType::air_cooled_dx, 35, 20), 1.0, 1e-12);
  EXPECT_NEAR(capacity_ratio(PlantType::air_cooled_dx, 38), 0.97, 1e-12);
  // Beyond the table the end value holds.
  EXPECT_NEAR(cop_ratio(PlantType::air_cooled_dx, 45, 20), 0.89, 1e-12);
  // Water-cooled: condenser water = wet bulb + 4.5 K; rated at 29.4 C condenser water.
  EXPECT_NEAR(cop_ratio(PlantType::water_cooled_chiller, 35, 24.9), 1.0, 1e-12);
  EXPECT_GT(cop_ratio(PlantType::water_cooled_chiller, 30, 20), cop_ratio(PlantType::water_cooled_chiller, 35, 26));
  double last = 10;
  for (double t = 20; t <= 40; t += 1) {
    const double r = cop_ratio(PlantType::air_cooled_dx, t, 20);
    EXPECT_LE(r, last);
    last = r;
  }
}

TEST(Plant, StullWetBulbMatchesThePublishedExample) {
  // Stull (2011): 20 C at 50 % relative humidity gives a wet bulb of 13.7 C.
  EXPECT_NEAR(wet_bulb_stull_c(20, 50), 13.7, 0.1);
  EXPECT_NEAR(relative_humidity_pct(20, 20), 100.0, 1e-9);
  // Beijing's 0.4 % design: 34.9 C dry bulb with a 22.2 C mean coincident wet bulb is, by the
  // psychrometric equations at sea-level pressure, a 16.2 C dew point; our chain (Magnus, then
  // Stull) gets the wet bulb back within Stull's stated 1 K.
  EXPECT_NEAR(wet_bulb_stull_c(34.9, relative_humidity_pct(34.9, 16.2)), 22.2, 1.0);
}

}  // namespace
}  // namespace vpp::sim
