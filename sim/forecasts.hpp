#pragma once
// Forecasts a strategy may use in a scenario, built from what a real operator could know, not
// from the simulation's ground truth:
//  - temperature: the scenario's deterministic daily profile (with announced heatwaves or cold
//    snaps) plus a seeded forecast error, an AR(1) process with 1 K standard deviation and 6 h
//    correlation (E: day-ahead 2 m temperature forecasts typically err by 1-2 K);
//  - irradiance: clear sky (exact) and the expected GHI without the stochastic cloud process;
//  - PV: the PV model on expected GHI and the forecast temperature;
//  - base load: each site's noise-free occupancy schedule times its peak (a historical mean).
#include <map>
#include <string>
#include <vector>

#include "sim/fleet.hpp"
#include "sim/strategy.hpp"
#include "sim/weather.hpp"

namespace vpp::sim {

class ScenarioForecasts final : public Forecasts {
 public:
  // `sites` and `loads` as built by make_fleet; the error process covers [begin, end) hourly.
  ScenarioForecasts(const WeatherConfig& weather, const Location& location, int utc_offset_minutes,
                    const std::vector<Site>& sites, const std::vector<SiteLoadModel>& loads, TimePoint begin,
                    TimePoint end, std::uint64_t seed);

  double outdoor_temp_c(TimePoint t) const override;
  double clear_sky_ghi_w_m2(TimePoint t) const override;
  double expected_ghi_w_m2(TimePoint t) const override;
  double pv_expected_kw(std::string_view site_id, std::string_view asset_id, TimePoint t) const override;
  double base_load_kw(std::string_view site_id, TimePoint t) const override;
  double flexible_load_kw(std::string_view site_id, std::string_view asset_id, TimePoint t) const override;
  double zone_gains_kw(std::string_view site_id, std::string_view asset_id, TimePoint t) const override;
  bool occupied(std::string_view site_id, TimePoint t) const override;
  bool hvac_scheduled(std::string_view site_id, TimePoint t) const override;

 private:
  WeatherConfig weather_;
  Location location_;
  int utc_offset_;
  TimePoint begin_;
  std::vector<double> error_c_;   // hourly forecast error from begin_
  struct SiteInfo {
    BuildingType type;
    SiteLoadModel load;
    double flexible_kw;
    std::map<std::string, double, std::less<>> flexible;    // asset -> rated kW
    std::map<std::string, double, std::less<>> zone_share;  // asset -> share of the floor area
  };
  std::map<std::string, SiteInfo, std::less<>> sites_;
  std::map<std::string, PvSpec, std::less<>> pv_;   // "site\x1f" "asset"
};

}  // namespace vpp::sim
