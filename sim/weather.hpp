#pragma once
// Weather for a simulated period: outdoor dry bulb and wet bulb, and the sky terms every PV plane
// at a location needs, precomputed once per location and step (mid-step values, so a step's
// average is second-order accurate). The stochastic parts (cloud process, temperature noise)
// are generated once, in time order, from the seed; everything else is a pure function of time,
// so forecasts can use the same profiles without the noise.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/time.hpp"
#include "sim/solar.hpp"

namespace vpp::sim {

struct Location {
  double latitude_deg = 0;
  double longitude_deg = 0;
  double altitude_m = 0;
  bool operator==(const Location&) const = default;
};

// A heatwave (delta_c > 0) or a cold snap (delta_c < 0) added to the daily profile over
// [start, end).
struct TemperatureOverride {
  std::string kind;  // "heatwave" or "cold_snap"
  TimePoint start{};
  TimePoint end{};
  double delta_c = 0;
};

// Regional cloudiness as a clear-sky index kc = GHI / GHI_clear: a two-state (clear / cloudy)
// Markov chain with exponential sojourn times, in the spirit of Morf's stochastic two-state
// solar irradiance model (STSIM, Solar Energy, 2011; cited from memory), plus an AR(1)
// fluctuation of the index within each state.
struct CloudModel {
  double cover = 0;                      // long-run fraction of time under cloud, 0..1
  double cloudy_index = 0.4;             // mean kc under cloud
  Duration mean_cloudy{std::chrono::minutes(30)};
  double variability = 0;                // std of the kc fluctuation
  Duration correlation{std::chrono::minutes(10)};
};

struct WeatherConfig {
  enum class TemperatureSource { hourly, daily_cycle };
  TemperatureSource temperature_source = TemperatureSource::daily_cycle;
  // Hourly dry bulb, hour ending 1..24 local standard time (EPW convention): index 0 is the
  // value at 01:00, index 23 the value at 24:00. Linearly interpolated.
  std::array<double, 24> hourly_temp_c{};
  // Daily cycle: half-cosines between the minimum at min_hour and the maximum at max_hour.
  double min_c = 24, max_c = 32, min_hour = 5, max_hour = 15;
  std::vector<TemperatureOverride> overrides;
  double temperature_noise_std_c = 0;    // AR(1), 1 h correlation
  bool dew_point_hourly = false;
  std::array<double, 24> hourly_dew_point_c{};
  double dew_point_c = 18;

  enum class IrradianceSource { clear_sky, hourly };
  IrradianceSource irradiance_source = IrradianceSource::clear_sky;
  double linke_turbidity = 4.0;
  // Hourly GHI means, hour ending 1..24 local standard time. Spread within each hour in
  // proportion to clear-sky GHI, so the hour's energy is kept and the shape follows the sun.
  std::array<double, 24> hourly_ghi_w_m2{};
  CloudModel clouds;
  double albedo = 0.2;
};

// Deterministic parts, usable without a series (forecasts, tests).
double temperature_profile_c(const WeatherConfig& w, TimePoint t, int utc_offset_minutes);
double dew_point_c(const WeatherConfig& w, TimePoint t, int utc_offset_minutes);
// Expected GHI without the stochastic cloud process: clear-sky times the long-run mean clear-sky
// index, or the hourly profile spread over the hour.
double expected_ghi_w_m2(const WeatherConfig& w, const Location& loc, TimePoint t, int utc_offset_minutes);

class WeatherSeries {
 public:
  WeatherSeries(const WeatherConfig& cfg, std::vector<Location> locations, TimePoint begin, Duration step,
                std::size_t steps, int utc_offset_minutes, std::uint64_t seed);

  std::size_t steps() const { return steps_; }
  std::size_t locations() const { return locations_.size(); }
  TimePoint begin() const { return begin_; }
  Duration step() const { return step_; }
  TimePoint time(std::size_t k) const { return begin_ + step_ * static_cast<std::int64_t>(k); }
  int utc_offset_minutes() const { return utc_offset_; }
  const WeatherConfig& config() const { return cfg_; }
  const std::vector<Location>& location_list() const { return locations_; }

  double outdoor_temp_c(std::size_t k) const { return t_out_[k]; }
  double wet_bulb_c(std::size_t k) const { return wet_bulb_[k]; }
  double clear_sky_index(std::size_t k) const { return kc_[k]; }
  std::span<const SkyTerms> sky(std::size_t k) const {
    return {sky_.data() + k * locations_.size(), locations_.size()};
  }
  double clear_sky_ghi_w_m2(std::size_t k, std::size_t loc) const { return clear_ghi_[k * locations_.size() + loc]; }

 private:
  WeatherConfig cfg_;
  std::vector<Location> locations_;
  TimePoint begin_;
  Duration step_;
  std::size_t steps_;
  int utc_offset_;
  std::vector<double> t_out_, wet_bulb_, kc_;
  std::vector<SkyTerms> sky_;        // step-major: [k * locations + loc]
  std::vector<double> clear_ghi_;    // step-major
};

}  // namespace vpp::sim
