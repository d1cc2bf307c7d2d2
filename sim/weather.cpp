#include "sim/weather.hpp"

#include <algorithm>
#include <cmath>

#include "sim/building_models.hpp"
#include "sim/rng.hpp"

namespace vpp::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Local time of day in hours [0, 24).
double local_hours(TimePoint t, int utc_offset_minutes) {
  const std::int64_t ms = to_unix_ms(t) + static_cast<std::int64_t>(utc_offset_minutes) * 60'000;
  const std::int64_t day_ms = 86'400'000;
  const std::int64_t in_day = ((ms % day_ms) + day_ms) % day_ms;
  return static_cast<double>(in_day) / 3'600'000.0;
}

// Hour-ending profile value at integral local hour h in 0..24 (h = 0 is the previous day's 24:00).
double at_hour(const std::array<double, 24>& v, int h) { return v[static_cast<std::size_t>((h + 23) % 24)]; }

double interpolate_hourly(const std::array<double, 24>& v, double hours) {
  const int h0 = static_cast<int>(std::floor(hours));
  const double f = hours - h0;
  return at_hour(v, h0) + f * (at_hour(v, h0 + 1) - at_hour(v, h0));
}

double daily_cycle(const WeatherConfig& w, double x) {
  const double rise = w.max_hour - w.min_hour;  // hours from minimum to maximum
  double s = x - w.min_hour;
  if (s < 0) s += 24;
  if (s <= rise) return w.min_c + (w.max_c - w.min_c) * (1 - std::cos(kPi * s / rise)) / 2;
  return w.max_c - (w.max_c - w.min_c) * (1 - std::cos(kPi * (s - rise) / (24 - rise))) / 2;
}

double clear_ghi(const Location& loc, TimePoint t, double linke) {
  const auto sun = sun_position(t, loc.latitude_deg, loc.longitude_deg);
  return clear_sky_ineichen(sun.zenith_deg, loc.altitude_m, linke, extraterrestrial_normal_w_m2(day_of_year(t))).ghi;
}

// Mean clear-sky GHI over the local clock hour that contains t (12 five-minute midpoints).
double hour_mean_clear_ghi(const Location& loc, TimePoint t, int utc_offset_minutes, double linke) {
  const std::int64_t off_ms = static_cast<std::int64_t>(utc_offset_minutes) * 60'000;
  const std::int64_t local_ms = to_unix_ms(t) + off_ms;
  const std::int64_t hour_ms = 3'600'000;
  const std::int64_t local_hour_start = local_ms - (((local_ms % hour_ms) + hour_ms) % hour_ms);
  const TimePoint hour_start = from_unix_ms(local_hour_start - off_ms);
  double sum = 0;
  for (int i = 0; i < 12; ++i) sum += clear_ghi(loc, hour_start + std::chrono::seconds(150 + 300 * i), linke);
  return sum / 12.0;
}

// Hourly GHI spread over its hour like the clear sky: kc of the hour times clear-sky GHI now.
double spread_hourly_ghi(const WeatherConfig& w, const Location& loc, TimePoint t, int utc_offset_minutes,
                         double hour_mean_clear) {
  const int hour = static_cast<int>(std::floor(local_hours(t, utc_offset_minutes)));
  const double measured = w.hourly_ghi_w_m2[static_cast<std::size_t>(hour)];  // hour ending hour+1
  if (measured <= 0) return 0;
  const double cs = clear_ghi(loc, t, w.linke_turbidity);
  if (hour_mean_clear < 1.0) return 0;  // twilight: no beam to scale from
  // The clear-sky index of an hour rarely exceeds ~1.3 (cloud enhancement); the cap keeps a
  // turbidity mismatch at dawn from inflating a few W/m2 into a spike.
  const double kc = std::min(measured / hour_mean_clear, 1.3);
  return kc * cs;
}

double override_delta(const WeatherConfig& w, TimePoint t) {
  double d = 0;
  for (const auto& o : w.overrides) {
    if (t >= o.start && t < o.end) d += o.delta_c;
  }
  return d;
}

}  // namespace

double temperature_profile_c(const WeatherConfig& w, TimePoint t, int utc_offset_minutes) {
  const double h = local_hours(t, utc_offset_minutes);
  const double base = w.temperature_source == WeatherConfig::TemperatureSource::hourly
                          ? interpolate_hourly(w.hourly_temp_c, h)
                          : daily_cycle(w, h);
  return base + override_delta(w, t);
}

double dew_point_c(const WeatherConfig& w, TimePoint t, int utc_offset_minutes) {
  if (!w.dew_point_hourly) return w.dew_point_c;
  return interpolate_hourly(w.hourly_dew_point_c, local_hours(t, utc_offset_minutes));
}

double expected_ghi_w_m2(const WeatherConfig& w, const Location& loc, TimePoint t, int utc_offset_minutes) {
  const double mean_kc = (1 - w.clouds.cover) + w.clouds.cover * w.clouds.cloudy_index;
  if (w.irradiance_source == WeatherConfig::IrradianceSource::hourly) {
    return mean_kc *
           spread_hourly_ghi(w, loc, t, utc_offset_minutes, hour_mean_clear_ghi(loc, t, utc_offset_minutes, w.linke_turbidity));
  }
  return mean_kc * clear_ghi(loc, t, w.linke_turbidity);
}

WeatherSeries::WeatherSeries(const WeatherConfig& cfg, std::vector<Location> locations, TimePoint begin,
                             Duration step, std::size_t steps, int utc_offset_minutes, std::uint64_t seed)
    : cfg_(cfg), locations_(std::move(locations)), begin_(begin), step_(step), steps_(steps), utc_offset_(utc_offset_minutes) {
  const std::size_t nl = locations_.size();
  t_out_.resize(steps_);
  wet_bulb_.resize(steps_);
  kc_.resize(steps_);
  sky_.resize(steps_ * nl);
  clear_ghi_.resize(steps_ * nl);

  const double dt_s = to_seconds(step_);
  Rng rng(hash3(seed, 0x57EA7E5, 1));  // the weather's own stream
  const auto& cl = cfg_.clouds;
  const bool always_cloudy = cl.cover >= 1.0, never_cloudy = cl.cover <= 0.0;
  const double p_to_clear = std::min(1.0, dt_s / std::max(1.0, to_seconds(cl.mean_cloudy)));
  const double mean_clear_s = never_cloudy || always_cloudy ? 1.0 : to_seconds(cl.mean_cloudy) * (1 - cl.cover) / cl.cover;
  const double p_to_cloudy = std::min(1.0, dt_s / std::max(1.0, mean_clear_s));
  const double phi_kc = std::exp(-dt_s / std::max(1.0, to_seconds(cl.correlation)));
  const double phi_t = std::exp(-dt_s / 3600.0);
  bool cloudy = always_cloudy || (!never_cloudy && rng.bernoulli(cl.cover));
  double kc_fluct = cl.variability * rng.normal();
  double t_noise = cfg_.temperature_noise_std_c * rng.normal();

  std::vector<std::int64_t> cached_hour(nl, INT64_MIN);
  std::vector<double> cached_mean(nl, 0.0);
  for (std::size_t k = 0; k < steps_; ++k) {
    const TimePoint mid = time(k) + step_ / 2;
    if (k > 0) {
      if (!never_cloudy && !always_cloudy) cloudy = cloudy ? !rng.bernoulli(p_to_clear) : rng.bernoulli(p_to_cloudy);
      kc_fluct = phi_kc * kc_fluct + std::sqrt(1 - phi_kc * phi_kc) * cl.variability * rng.normal();
      t_noise = phi_t * t_noise + std::sqrt(1 - phi_t * phi_t) * cfg_.temperature_noise_std_c * rng.normal();
    }
    const double kc = std::clamp((cloudy ? cl.cloudy_index : 1.0) + kc_fluct, 0.05, 1.3);
    kc_[k] = kc;
    const double t_out = temperature_profile_c(cfg_, mid, utc_offset_) + t_noise;
    t_out_[k] = t_out;
    const double rh = relative_humidity_pct(t_out, dew_point_c(cfg_, mid, utc_offset_));
    wet_bulb_[k] = wet_bulb_stull_c(t_out, rh);
    const double i0 = extraterrestrial_normal_w_m2(day_of_year(mid));
    for (std::size_t l = 0; l < nl; ++l) {
      const auto& loc = locations_[l];
      const auto sun = sun_position(mid, loc.latitude_deg, loc.longitude_deg);
      const double cs = clear_sky_ineichen(sun.zenith_deg, loc.altitude_m, cfg_.linke_turbidity, i0).ghi;
      double ghi;
      if (cfg_.irradiance_source == WeatherConfig::IrradianceSource::hourly) {
        const std::int64_t hour_key =
            (to_unix_ms(mid) + static_cast<std::int64_t>(utc_offset_) * 60'000) / 3'600'000;
        if (hour_key != cached_hour[l]) {
          cached_hour[l] = hour_key;
          cached_mean[l] = hour_mean_clear_ghi(loc, mid, utc_offset_, cfg_.linke_turbidity);
        }
        ghi = kc * spread_hourly_ghi(cfg_, loc, mid, utc_offset_, cached_mean[l]);
      } else {
        ghi = kc * cs;
      }
      clear_ghi_[k * nl + l] = cs;
      sky_[k * nl + l] = sky_terms(sun, erbs_split(ghi, sun.cos_zenith, i0));
    }
  }
}

}  // namespace vpp::sim
