#pragma once
// Small hand-made fleets for controller tests.
#include "model/messages.hpp"
#include "model/site.hpp"
#include "model/time.hpp"

namespace vpp::controller::testing {

inline const TimePoint t0 = *parse_utc("2026-07-07T14:00:00+08:00");

inline Site office(const std::string& id = "office") {
  Site s;
  s.id = id;
  s.type = BuildingType::office;
  s.limits.comfort_min_c = 22;
  s.limits.comfort_max_c = 27;
  s.limits.battery_reserve_pct = 20;
  s.limits.max_curtailment_pct = 30;
  s.assets = {
      {"pv", "", PvSpec{.rated_kw = 300, .dc_peak_kw = 330}},
      {"bat", "", BatterySpec{.capacity_kwh = 1000, .max_charge_kw = 500, .max_discharge_kw = 500,
                              .charge_efficiency = 0.95, .discharge_efficiency = 0.95, .soc_min_pct = 5,
                              .soc_max_pct = 95}},
      {"hvac", "", HvacZoneSpec{.rated_electric_kw = 400, .rated_cop = 4, .floor_area_m2 = 40000,
                                .thermal_resistance_k_per_kw = 0.02, .thermal_capacitance_kwh_per_k = 1800,
                                .default_setpoint_c = 25, .deadband_c = 1}},
      {"light", "", FlexibleLoadSpec{.rated_kw = 200, .max_curtail_pct = 50}},
      {"meter", "", SiteMeterSpec{.import_limit_kw = 3000, .export_limit_kw = 0}},
  };
  return s;
}

inline Telemetry reading(const std::string& site, const std::string& asset, TimePoint t) {
  Telemetry r;
  r.site_id = site;
  r.asset_id = asset;
  r.time = t;
  return r;
}

}  // namespace vpp::controller::testing
