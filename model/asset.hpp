#pragma once
// Asset specifications as C++ value types. Units are in the names; signs follow proto/vpp.proto:
// site import positive, battery discharge positive, PV generation positive, loads positive.
#include <string>
#include <string_view>
#include <variant>

namespace vpp {

enum class AssetKind { pv, battery, hvac_zone, flexible_load, site_meter, ev_charger };

std::string_view to_string(AssetKind k);

struct PvSpec {
  double rated_kw = 0;           // inverter AC limit
  double dc_peak_kw = 0;         // array nameplate, kWp
  double tilt_deg = 20;
  double azimuth_deg = 180;      // south
  double temp_coeff_per_c = -0.004;

  bool operator==(const PvSpec&) const = default;
};

struct BatterySpec {
  double capacity_kwh = 0;
  double max_charge_kw = 0;
  double max_discharge_kw = 0;
  double charge_efficiency = 0.95;
  double discharge_efficiency = 0.95;
  double soc_min_pct = 5;
  double soc_max_pct = 95;
  double self_discharge_pct_per_day = 0.1;
  double ramp_kw_per_s = 0;      // 0 = unlimited

  bool operator==(const BatterySpec&) const = default;
};

struct HvacZoneSpec {
  double rated_electric_kw = 0;
  double rated_cop = 3.5;
  double floor_area_m2 = 0;
  double thermal_resistance_k_per_kw = 0;
  double thermal_capacitance_kwh_per_k = 0;
  double default_setpoint_c = 26;
  double deadband_c = 1;

  bool operator==(const HvacZoneSpec&) const = default;
};

struct FlexibleLoadSpec {
  double rated_kw = 0;
  double max_curtail_pct = 0;
  double max_shift_kwh = 0;

  bool operator==(const FlexibleLoadSpec&) const = default;
};

struct SiteMeterSpec {
  double import_limit_kw = 0;    // 0 = no limit
  double export_limit_kw = 0;    // magnitude; 0 = no export

  bool operator==(const SiteMeterSpec&) const = default;
};

struct EvChargerSpec {
  double max_charge_kw = 0;
  double max_discharge_kw = 0;
  int connectors = 1;

  bool operator==(const EvChargerSpec&) const = default;
};

using AssetSpecVariant =
    std::variant<PvSpec, BatterySpec, HvacZoneSpec, FlexibleLoadSpec, SiteMeterSpec, EvChargerSpec>;

struct Asset {
  std::string id;
  std::string name;
  AssetSpecVariant spec;

  AssetKind kind() const { return static_cast<AssetKind>(spec.index()); }
  template <typename T>
  const T* get() const {
    return std::get_if<T>(&spec);
  }

  bool operator==(const Asset&) const = default;
};

}  // namespace vpp
