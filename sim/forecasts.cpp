#include "sim/forecasts.hpp"

#include <algorithm>
#include <cmath>

#include "sim/building_models.hpp"
#include "sim/kpi.hpp"
#include "sim/rng.hpp"

namespace vpp::sim {
namespace {

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 86'400'000;

struct LocalTime {
  int hour;
  int iso_weekday;
};

LocalTime local_time(TimePoint t, int utc_offset_minutes) {
  const std::int64_t ms = to_unix_ms(t) + static_cast<std::int64_t>(utc_offset_minutes) * 60'000;
  const std::int64_t day = ms >= 0 ? ms / kDayMs : (ms - kDayMs + 1) / kDayMs;
  return {static_cast<int>((ms - day * kDayMs) / kHourMs), static_cast<int>(((day + 3) % 7 + 7) % 7) + 1};
}

}  // namespace

ScenarioForecasts::ScenarioForecasts(const WeatherConfig& weather, const Location& location, int utc_offset_minutes,
                                     const std::vector<Site>& sites, const std::vector<SiteLoadModel>& loads,
                                     TimePoint begin, TimePoint end, std::uint64_t seed)
    : weather_(weather), location_(location), utc_offset_(utc_offset_minutes), begin_(begin) {
  // Forecast error: AR(1), 1 K std, 6 h correlation, hourly, from the forecast's own stream.
  Rng rng(hash3(seed, 0xF0CA57, 0));
  const double phi = std::exp(-1.0 / 6.0);
  const std::size_t hours = static_cast<std::size_t>((end - begin) / std::chrono::hours(1)) + 2;
  double e = rng.normal();
  for (std::size_t h = 0; h < hours; ++h) {
    error_c_.push_back(e);
    e = phi * e + std::sqrt(1 - phi * phi) * rng.normal();
  }
  for (std::size_t i = 0; i < sites.size(); ++i) {
    SiteInfo info{sites[i].type, loads[i], 0, {}, {}};
    double area = 0;
    for (const auto& a : sites[i].assets) {
      if (const auto* l = a.get<FlexibleLoadSpec>()) {
        info.flexible_kw += l->rated_kw;
        info.flexible[a.id] = l->rated_kw;
      }
      if (const auto* pv = a.get<PvSpec>()) pv_.emplace(sites[i].id + '\x1f' + a.id, *pv);
      if (const auto* h = a.get<HvacZoneSpec>()) {
        info.zone_share[a.id] = h->floor_area_m2;
        area += h->floor_area_m2;
      }
    }
    for (auto& [id, share] : info.zone_share) share = area > 0 ? share / area : 0;
    sites_.emplace(sites[i].id, std::move(info));
  }
}

double ScenarioForecasts::outdoor_temp_c(TimePoint t) const {
  const auto h = (t - begin_) / std::chrono::hours(1);
  const double err = error_c_.empty() ? 0.0
                                      : error_c_[static_cast<std::size_t>(std::clamp<std::int64_t>(
                                            h, 0, static_cast<std::int64_t>(error_c_.size()) - 1))];
  return temperature_profile_c(weather_, t, utc_offset_) + err;
}

double ScenarioForecasts::clear_sky_ghi_w_m2(TimePoint t) const {
  const auto sun = sun_position(t, location_.latitude_deg, location_.longitude_deg);
  return clear_sky_ineichen(sun.zenith_deg, location_.altitude_m, weather_.linke_turbidity,
                            extraterrestrial_normal_w_m2(day_of_year(t)))
      .ghi;
}

double ScenarioForecasts::expected_ghi_w_m2(TimePoint t) const {
  return sim::expected_ghi_w_m2(weather_, location_, t, utc_offset_);
}

double ScenarioForecasts::pv_expected_kw(std::string_view site_id, std::string_view asset_id, TimePoint t) const {
  const auto it = pv_.find(std::string(site_id) + '\x1f' + std::string(asset_id));
  if (it == pv_.end()) return 0;
  const PvSpec& pv = it->second;
  const auto sun = sun_position(t, location_.latitude_deg, location_.longitude_deg);
  const double i0 = extraterrestrial_normal_w_m2(day_of_year(t));
  const auto sky = sky_terms(sun, erbs_split(expected_ghi_w_m2(t), sun.cos_zenith, i0));
  const double poa = poa_w_m2(plane_coefficients(pv.tilt_deg, pv.azimuth_deg, weather_.albedo), sky);
  const FleetOptions defaults;
  const double t_cell = outdoor_temp_c(t) + (defaults.noct_c - 20.0) / 800.0 * poa;
  const double dc = pv.dc_peak_kw * poa / 1000.0 * (1.0 + pv.temp_coeff_per_c * (t_cell - 25.0)) * (1.0 - defaults.pv_system_loss);
  return std::clamp(dc * defaults.inverter_efficiency, 0.0, pv.rated_kw);
}

double ScenarioForecasts::base_load_kw(std::string_view site_id, TimePoint t) const {
  const auto it = sites_.find(site_id);
  if (it == sites_.end()) return 0;
  const auto lt = local_time(t, utc_offset_);
  const SiteInfo& s = it->second;
  const double occ = occupancy(s.type, lt.hour, lt.iso_weekday);
  return (s.load.base_peak_kw + s.flexible_kw) * (s.load.standby_fraction + (1.0 - s.load.standby_fraction) * occ);
}

double ScenarioForecasts::flexible_load_kw(std::string_view site_id, std::string_view asset_id, TimePoint t) const {
  const auto it = sites_.find(site_id);
  if (it == sites_.end()) return 0;
  const auto f = it->second.flexible.find(asset_id);
  if (f == it->second.flexible.end()) return 0;
  const auto lt = local_time(t, utc_offset_);
  const SiteInfo& s = it->second;
  const double occ = occupancy(s.type, lt.hour, lt.iso_weekday);
  return f->second * (s.load.standby_fraction + (1.0 - s.load.standby_fraction) * occ);
}

double ScenarioForecasts::zone_gains_kw(std::string_view site_id, std::string_view asset_id, TimePoint t) const {
  const auto it = sites_.find(site_id);
  if (it == sites_.end()) return 0;
  const SiteInfo& s = it->second;
  const auto z = s.zone_share.find(asset_id);
  if (z == s.zone_share.end()) return 0;
  const auto lt = local_time(t, utc_offset_);
  const double occ = occupancy(s.type, lt.hour, lt.iso_weekday);
  // As the fleet model: every electric kW inside ends up as heat, people add their sensible
  // heat, and the zone's share of the site's solar aperture sees the expected GHI.
  const double internal = base_load_kw(site_id, t) + s.load.people_gain_kw * occ;
  return z->second * (internal + s.load.solar_aperture_m2 * expected_ghi_w_m2(t) * 0.001);
}

bool ScenarioForecasts::occupied(std::string_view site_id, TimePoint t) const {
  const auto it = sites_.find(site_id);
  if (it == sites_.end()) return false;
  const auto lt = local_time(t, utc_offset_);
  return sim::hvac_scheduled(it->second.type, lt.hour, lt.iso_weekday) &&
         occupancy(it->second.type, lt.hour, lt.iso_weekday) >= kOccupiedFraction;
}

bool ScenarioForecasts::hvac_scheduled(std::string_view site_id, TimePoint t) const {
  const auto it = sites_.find(site_id);
  if (it == sites_.end()) return false;
  const auto lt = local_time(t, utc_offset_);
  return sim::hvac_scheduled(it->second.type, lt.hour, lt.iso_weekday);
}

}  // namespace vpp::sim
