#pragma once
// vppd's forecaster: the exogenous series the controller core plans with, built from what vppd
// itself knows (no weather service exists in the tests, and none is configured by default).
//
//  - PV: clear-sky output of each array at its site's location (Ineichen-Perez clear sky, Erbs
//    split, isotropic plane of array: sim/solar.hpp), scaled by the clear-sky index of the
//    array's latest daytime measurement ("smart persistence", the usual reference forecast for
//    PV: the measured share of clear-sky output is held over the horizon). Without a daytime
//    measurement in the last hour the index is 1 (clear sky).
//  - Base load (what a site uses beyond its modelled assets): a typical day by quarter hour
//    from the store's 15-minute roll-ups (meter + PV + battery discharge - HVAC - flexible -
//    EV), averaged over the days that have it; where the profile has no value, persistence of
//    the base load measured now; with neither, the series is left out and the core falls back
//    to persistence itself.
//  - Outdoor temperature: the configured daily cycle (config::OutdoorTemperatureCycle), or
//    none, in which case the core leaves HVAC zones out of plans.
//  - HVAC gains: the zone's share (by floor area) of the forecast base load: the electricity a
//    building uses inside ends up as heat inside (lighting, plug loads, people are not counted
//    apart). Solar gains through the envelope are not modelled.
//
// Pure: no clock, no store access. The daemon reads the roll-ups (base_load_profile) and calls
// build() at every planning interval.
#include <array>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/store/store.hpp"
#include "config/config.hpp"
#include "controller/core.hpp"

namespace vpp::daemon {

inline constexpr int kQuarterHours = 96;

// A site's typical base load by local quarter hour (index 0 = 00:00-00:15), NaN where no day had
// a meter reading then.
struct LoadProfile {
  std::array<double, kQuarterHours> kw{};
  int days = 0;            // distinct local days that contributed
  LoadProfile() { kw.fill(std::numeric_limits<double>::quiet_NaN()); }
};

// Builds the profile from 15-minute roll-ups (resolution 900 s) of the site's assets, keyed by
// asset id. Intervals without a meter roll-up are skipped; other assets missing at a time count
// as 0 kW (offline or not reporting).
LoadProfile base_load_profile(const Site& site, const std::map<std::string, std::vector<store::Rollup>>& rollups,
                              int utc_offset_minutes);

struct ForecasterOptions {
  double linke_turbidity = 4.0;     // hazy urban summer air (sim/solar.hpp: 4-6 hazy/urban)
  double albedo = 0.2;              // ground reflectance of a city roof scape
  double system_loss = 0.14;        // soiling, wiring, mismatch (sim/fleet.hpp defaults)
  double inverter_efficiency = 0.96;
  double noct_c = 45;               // nominal operating cell temperature
  double dc_ac_ratio = 1.2;         // array size when a spec gives only the inverter rating
  Duration pv_index_max_age = std::chrono::hours(1);
  double pv_index_max = 1.2;        // cloud enhancement beyond clear sky is short-lived
  double min_model_share = 0.05;    // a reading counts as daytime above this share of rating
};

class Forecaster {
 public:
  Forecaster(const controller::Settings& settings, std::optional<config::OutdoorTemperatureCycle> temperature,
             ForecasterOptions options = {});

  void set_profile(const std::string& site_id, LoadProfile p) { profiles_[site_id] = std::move(p); }
  const LoadProfile* profile(const std::string& site_id) const;

  // The forecast for the horizon starting at the interval that contains `now`, for every
  // enrolled site of `fleet` (latest measurements for persistence and the PV index).
  std::shared_ptr<controller::Forecast> build(TimePoint now, const controller::Fleet& fleet) const;

  // Clear-sky AC output of one array at `t`, before scaling (kW).
  double clear_sky_pv_kw(const Site& site, const PvSpec& pv, TimePoint t) const;
  // The clear-sky index of an array's latest reading, if it was taken in daylight recently.
  std::optional<double> pv_index(const Site& site, const controller::AssetState& a, TimePoint now) const;
  // Base load of a site now from its latest readings (meter + PV + discharge - controllable loads).
  static std::optional<double> present_base_load_kw(const controller::Fleet& fleet, controller::SiteIndex si);
  std::optional<double> outdoor_temp_c(TimePoint t) const;

 private:
  controller::Settings settings_;
  std::optional<config::OutdoorTemperatureCycle> temperature_;
  ForecasterOptions options_;
  std::map<std::string, LoadProfile> profiles_;
};

}  // namespace vpp::daemon
