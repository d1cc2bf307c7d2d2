#pragma once
// Building archetypes: typical thermal and load parameters per building type, from published
// reference data (see ../shared/reference/grid-data/building-types.yaml for every source):
//  - heat capacity per floor area: ISO 13790:2008 Table 12 classes (medium 165, heavy 260
//    kJ/(K m2));
//  - envelope UA and outdoor air: DOE Commercial Reference Buildings, new vintage, climate 4A;
//  - lighting/equipment densities and HVAC hours: GB 55015-2021 Appendix C.
#include "model/site.hpp"

namespace vpp {

struct BuildingArchetype {
  BuildingType type;
  double typical_floor_area_m2;
  double heat_capacity_kj_per_k_m2;   // ISO 13790 class
  double envelope_ua_w_per_k_m2;      // DOE 4A UA_env
  double outdoor_air_l_s_m2;          // DOE 4A
  double cooling_capacity_w_m2;       // DOE 4A sized cooling (thermal)
  double rated_cop;                   // chiller / DX COP at the rating point
  double cooling_setpoint_c;
  double peak_electric_w_m2;          // whole-building peak, engineering estimate
  double hvac_share_of_peak;          // engineering estimate
};

const BuildingArchetype& archetype(BuildingType t);

// 1R1C parameters of a whole-building zone: H = UA_env + 1.2 * outdoor air (W/K per m2),
// R = 1 / (H * area), C = heat capacity * area.
struct ZoneThermal {
  double r_k_per_kw;
  double c_kwh_per_k;
};
ZoneThermal typical_zone_thermal(BuildingType t, double floor_area_m2);

// ISO 13790:2008 12.2.2 and Table 12: a zone's thermal mass exchanges heat with its air over
// h_ms = 9.1 W/(m2 K) times the effective mass area A_m, 2.5 x the floor area up to the medium
// class and 3.0 x for the heavy class (the type's archetype gives the class). kW/K.
double mass_coupling_kw_per_k(BuildingType t, double floor_area_m2);

// Cooling COP at an outdoor dry-bulb temperature, for a unit rated `rated_cop` at 35 degC:
// the air-cooled DX EIR(T) curve of EnergyPlus (via Modelica Buildings Curve_I_AirCooled),
// tabulated as cop_over_rated in building-types.yaml, interpolated linearly and held flat
// beyond its 20..40 degC range.
double cooling_cop(double rated_cop, double outdoor_c);

}  // namespace vpp
