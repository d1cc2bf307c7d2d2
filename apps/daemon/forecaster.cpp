#include "apps/daemon/forecaster.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "sim/solar.hpp"

namespace vpp::daemon {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Local quarter hour of `t` (0..95).
int quarter_of_day(TimePoint t, int utc_offset_minutes) {
  const auto local = t + std::chrono::minutes(utc_offset_minutes);
  const auto since_midnight = local - std::chrono::floor<std::chrono::days>(local);
  return static_cast<int>(since_midnight / std::chrono::minutes(15)) % kQuarterHours;
}

double local_hours(TimePoint t, int utc_offset_minutes) {
  const auto local = t + std::chrono::minutes(utc_offset_minutes);
  return to_seconds(local - std::chrono::floor<std::chrono::days>(local)) / 3600.0;
}

// The sign of an asset's P in the site balance: meter = base + loads - generation - discharge,
// so base = meter + PV + battery discharge - HVAC - flexible - EV.
double base_sign(AssetKind k) {
  switch (k) {
    case AssetKind::site_meter:
    case AssetKind::pv:
    case AssetKind::battery: return 1;
    case AssetKind::hvac_zone:
    case AssetKind::flexible_load:
    case AssetKind::ev_charger: return -1;
  }
  return 0;
}

}  // namespace

LoadProfile base_load_profile(const Site& site, const std::map<std::string, std::vector<store::Rollup>>& rollups,
                              int utc_offset_minutes) {
  const Asset* meter = nullptr;
  for (const auto& a : site.assets) {
    if (a.kind() == AssetKind::site_meter) meter = &a;
  }
  LoadProfile out;
  if (!meter) return out;
  const auto m = rollups.find(meter->id);
  if (m == rollups.end()) return out;
  // Base load per quarter-hour start where the meter has a reading.
  std::map<TimePoint, double> base;
  for (const auto& r : m->second) {
    if (r.resolution_s == 900 && r.count > 0) base[r.start] = r.mean_kw;
  }
  for (const auto& a : site.assets) {
    if (&a == meter) continue;
    const auto it = rollups.find(a.id);
    if (it == rollups.end()) continue;
    for (const auto& r : it->second) {
      auto b = base.find(r.start);
      if (b != base.end() && r.resolution_s == 900 && r.count > 0) b->second += base_sign(a.kind()) * r.mean_kw;
    }
  }
  std::array<double, kQuarterHours> sum{};
  std::array<int, kQuarterHours> n{};
  std::set<std::int64_t> days;
  for (const auto& [t, kw] : base) {
    const int q = quarter_of_day(t, utc_offset_minutes);
    sum[static_cast<std::size_t>(q)] += kw;
    ++n[static_cast<std::size_t>(q)];
    days.insert(std::chrono::floor<std::chrono::days>(t + std::chrono::minutes(utc_offset_minutes)).time_since_epoch().count());
  }
  for (std::size_t q = 0; q < sum.size(); ++q) {
    if (n[q] > 0) out.kw[q] = sum[q] / n[q];
  }
  out.days = static_cast<int>(days.size());
  return out;
}

Forecaster::Forecaster(const controller::Settings& settings, std::optional<config::OutdoorTemperatureCycle> temperature,
                       ForecasterOptions options)
    : settings_(settings), temperature_(temperature), options_(options) {}

const LoadProfile* Forecaster::profile(const std::string& site_id) const {
  const auto it = profiles_.find(site_id);
  return it == profiles_.end() ? nullptr : &it->second;
}

std::optional<double> Forecaster::outdoor_temp_c(TimePoint t) const {
  if (!temperature_) return std::nullopt;
  // Half-cosines from the minimum up to the maximum and back down, as the simulator's daily
  // cycle (sim/weather.cpp), with the rise allowed to wrap past midnight.
  const auto& c = *temperature_;
  const double min_h = c.min_minute / 60.0, max_h = c.max_minute / 60.0;
  const double rise = std::fmod(max_h - min_h + 24.0, 24.0);
  const double s = std::fmod(local_hours(t, settings_.utc_offset_minutes) - min_h + 24.0, 24.0);
  if (s <= rise) return c.min_c + (c.max_c - c.min_c) * (1 - std::cos(kPi * s / rise)) / 2;
  return c.max_c - (c.max_c - c.min_c) * (1 - std::cos(kPi * (s - rise) / (24.0 - rise))) / 2;
}

double Forecaster::clear_sky_pv_kw(const Site& site, const PvSpec& pv, TimePoint t) const {
  const auto sun = sim::sun_position(t, site.latitude_deg, site.longitude_deg);
  if (sun.cos_zenith <= 0) return 0;
  const double i0 = sim::extraterrestrial_normal_w_m2(sim::day_of_year(t));
  const auto irr = sim::clear_sky_ineichen(sun.zenith_deg, 0.0, options_.linke_turbidity, i0);
  const double poa =
      sim::poa_w_m2(sim::plane_coefficients(pv.tilt_deg, pv.azimuth_deg, options_.albedo), sim::sky_terms(sun, irr));
  // Cell temperature by the NOCT model (cell - air rises by (NOCT - 20) K at 800 W/m2).
  const double t_air = outdoor_temp_c(t).value_or(25.0);
  const double t_cell = t_air + (options_.noct_c - 20.0) / 800.0 * poa;
  const double dc_peak = pv.dc_peak_kw > 0 ? pv.dc_peak_kw : pv.rated_kw * options_.dc_ac_ratio;
  const double dc = dc_peak * poa / 1000.0 * (1.0 + pv.temp_coeff_per_c * (t_cell - 25.0)) * (1.0 - options_.system_loss);
  return std::clamp(dc * options_.inverter_efficiency, 0.0, pv.rated_kw);
}

std::optional<double> Forecaster::pv_index(const Site& site, const controller::AssetState& a, TimePoint now) const {
  const auto* pv = a.asset.get<PvSpec>();
  if (!pv || !a.last || now - a.last->time > options_.pv_index_max_age) return std::nullopt;
  // What the panels could give: the available power if reported (a curtailed inverter's P is
  // what it was allowed), else P.
  const double measured = !std::isnan(a.last->available_kw) ? a.last->available_kw : a.last->p_kw;
  if (std::isnan(measured)) return std::nullopt;
  const double model = clear_sky_pv_kw(site, *pv, a.last->time);
  if (model < options_.min_model_share * pv->rated_kw) return std::nullopt;  // night, dawn, dusk
  return std::clamp(measured / model, 0.0, options_.pv_index_max);
}

std::optional<double> Forecaster::present_base_load_kw(const controller::Fleet& fleet, controller::SiteIndex si) {
  const auto import = fleet.site_import_kw(si);
  if (!import) return std::nullopt;
  double base = *import;
  for (auto ai : fleet.site(si).assets) {
    const auto& a = fleet.asset(ai);
    if (a.asset.kind() == AssetKind::site_meter || !a.online || !a.last || std::isnan(a.last->p_kw)) continue;
    base += base_sign(a.asset.kind()) * a.last->p_kw;
  }
  return std::max(0.0, base);
}

std::shared_ptr<controller::Forecast> Forecaster::build(TimePoint now, const controller::Fleet& fleet) const {
  auto f = std::make_shared<controller::Forecast>();
  const Duration step = settings_.interval;
  const std::int64_t off = static_cast<std::int64_t>(settings_.utc_offset_minutes) * 60'000;
  const std::int64_t ms = to_unix_ms(now);
  // The same interval grid as the core's plans (local time).
  f->start = from_unix_ms(ms - (((ms + off) % step.count()) + step.count()) % step.count());
  f->step = step;
  f->steps = settings_.horizon_steps;
  const auto T = static_cast<std::size_t>(f->steps);
  auto mid = [&](std::size_t k) { return f->start + step * static_cast<std::int64_t>(k) + step / 2; };
  if (temperature_) {
    f->outdoor_temp_c.resize(T);
    for (std::size_t k = 0; k < T; ++k) f->outdoor_temp_c[k] = *outdoor_temp_c(mid(k));
  }
  for (controller::SiteIndex si = 0; si < fleet.sites().size(); ++si) {
    const auto& ss = fleet.site(si);
    if (!ss.enrolled) continue;
    const Site& site = ss.site;
    controller::SiteForecast sf;
    // PV: clear sky times the latest clear-sky index.
    for (auto ai : ss.assets) {
      const auto& a = fleet.asset(ai);
      const auto* pv = a.asset.get<PvSpec>();
      if (!pv) continue;
      const double index = pv_index(site, a, now).value_or(1.0);
      auto& v = sf.pv_kw[a.asset.id];
      v.resize(T);
      for (std::size_t k = 0; k < T; ++k) v[k] = std::min(pv->rated_kw, index * clear_sky_pv_kw(site, *pv, mid(k)));
    }
    // Base load: the typical day, persistence where it has nothing.
    const LoadProfile* p = profile(site.id);
    const auto present = present_base_load_kw(fleet, si);
    bool any = present.has_value();
    if (p) any = any || std::any_of(p->kw.begin(), p->kw.end(), [](double x) { return !std::isnan(x); });
    if (any) {
      double fallback = present.value_or(0);
      if (!present) {
        // No reading now: the profile's own mean stands in where it has gaps.
        double s = 0;
        int n = 0;
        for (double x : p->kw) {
          if (!std::isnan(x)) s += x, ++n;
        }
        fallback = s / n;
      }
      sf.base_load_kw.resize(T);
      for (std::size_t k = 0; k < T; ++k) {
        const double typical = p ? p->kw[static_cast<std::size_t>(quarter_of_day(mid(k), settings_.utc_offset_minutes))]
                                 : std::numeric_limits<double>::quiet_NaN();
        sf.base_load_kw[k] = std::max(0.0, std::isnan(typical) ? fallback : typical);
      }
    }
    // HVAC gains: the zone's floor share of the base load (zones without an area share evenly).
    double area = 0;
    int zones = 0;
    for (const auto& a : site.assets) {
      if (const auto* hz = a.get<HvacZoneSpec>()) {
        area += hz->floor_area_m2;
        ++zones;
      }
    }
    if (zones > 0 && !sf.base_load_kw.empty()) {
      for (const auto& a : site.assets) {
        const auto* hz = a.get<HvacZoneSpec>();
        if (!hz) continue;
        const double share = area > 0 ? hz->floor_area_m2 / area : 1.0 / zones;
        auto& g = sf.gains_kw[a.id];
        g.resize(T);
        for (std::size_t k = 0; k < T; ++k) g[k] = share * sf.base_load_kw[k];
      }
    }
    f->sites[site.id] = std::move(sf);
  }
  return f;
}

}  // namespace vpp::daemon
