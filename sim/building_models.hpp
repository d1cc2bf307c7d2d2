#pragma once
// Building physics shared by the fleet model, the fleet generator and the forecasts:
//  - per building type: occupancy and HVAC schedules, internal-gain densities, comfort band,
//    plant type (sources on each row in building_models.cpp; the numbers come from
//    config/scenarios/data/building-types.yaml, a copy of the project's reference file);
//  - chiller/DX COP and capacity against weather;
//  - the zone's thermal network (1R1C or 2R2C) and its exact discretisation for a fixed step.
#include <array>

#include "model/asset.hpp"
#include "model/site.hpp"

namespace vpp::sim {

inline constexpr int kBuildingTypeCount = 5;
inline int type_index(BuildingType t) { return static_cast<int>(t); }

enum class PlantType : int { water_cooled_chiller = 0, air_cooled_dx = 1 };
inline constexpr int kPlantTypeCount = 2;

struct BuildingSimDefaults {
  PlantType plant;
  // Whole cooling plant COP over the chiller's (or DX unit's) own COP: pumps, cooling towers
  // and air-handler fans take the rest.
  double plant_system_factor;
  double am_factor;                   // ISO 13790 effective mass area over floor area
  double people_m2_per_person;        // GB 55015-2021 Appendix C
  double standby_fraction;            // share of the non-HVAC peak drawn when unoccupied
  double solar_aperture_m2_per_m2;    // effective solar aperture per m2 floor
  double storeys;                     // for the roof area available to PV
  double comfort_min_c;
  double comfort_max_c;
  double deadband_c;
  std::array<double, 24> occupancy_workday;  // fraction of design occupancy, local hour 0..23
  std::array<double, 24> occupancy_weekend;
  int hvac_start_hour;                // local, [start, end)
  int hvac_end_hour;
  bool hvac_weekends;
};

const BuildingSimDefaults& sim_defaults(BuildingType t);

// Occupancy fraction at local hour 0..23, ISO weekday 1 (Mon) .. 7 (Sun).
double occupancy(BuildingType t, int local_hour, int iso_weekday);
bool hvac_scheduled(BuildingType t, int local_hour, int iso_weekday);

// Sensible heat of one occupant doing light office work, W (ASHRAE Handbook - Fundamentals,
// ch. 18 table 1: 70-75 W sensible; from memory, not re-verified here).
inline constexpr double kSensibleW_per_person = 75.0;

// COP of the plant relative to its rated COP, and thermal capacity relative to rated.
//  - air-cooled DX: EnergyPlus example EIR(T) and CAP(T) curves at 19.4 C indoor wet bulb,
//    tabulated against outdoor dry bulb (rated at 35 C), from building-types.yaml cop_vs_outdoor;
//  - water-cooled centrifugal chiller: EnergyPlus McQuay PFH 2124 kW record, COP against
//    condenser entering water; condenser water = outdoor wet bulb + 4.5 K (cooling-tower
//    approach, engineering estimate from the same file); rated at the AHRI 550/590 condition of
//    29.4 C (85 F) entering condenser water; capacity taken as constant.
// Outside the tabulated range the end value is held (no extrapolation).
double cop_ratio(PlantType p, double dry_bulb_c, double wet_bulb_c);
double capacity_ratio(PlantType p, double dry_bulb_c);

// Wet-bulb temperature from dry bulb and dew point: relative humidity by the Magnus formula
// (Alduchov & Eskridge 1996 coefficients), then Stull (2011), "Wet-bulb temperature from
// relative humidity and air temperature", J. Appl. Meteor. Climatol. 50:2267-2269 (valid for
// RH 5-99 %, -20..50 C; +-1 K).
double relative_humidity_pct(double dry_bulb_c, double dew_point_c);
double wet_bulb_stull_c(double dry_bulb_c, double relative_humidity_pct);

enum class ZoneModelKind { r1c1, r2c2 };

// Continuous-time parameters of a zone, SI-ish units that keep the numbers readable:
// conductances in kW/K, capacitances in kJ/K (so dT/dt comes out in K/s).
//  r1c1: one node, C = c_air + c_mass, to outdoor through h_out.
//  r2c2: an air node (c_air) coupled to outdoor through h_out (envelope + ventilation) and to
//        a building-mass node (c_mass) through h_mass (ISO 13790 h_ms = 9.1 W/(m2 K) times the
//        effective mass area A_m). Bacher & Madsen (2011), Energy and Buildings 43(7):1511-1522,
//        discuss this family of grey-box models.
struct ZoneParams {
  ZoneModelKind kind = ZoneModelKind::r2c2;
  double h_out_kw_per_k = 0;
  double h_mass_kw_per_k = 0;
  double c_air_kj_per_k = 0;
  double c_mass_kj_per_k = 0;
};

// Exact zero-order-hold discretisation for a step dt: with inputs held over the step,
//   Ta' = a11 Ta + a12 Tm + b_out_air  To + b_qa_air  Qa + b_qm_air  Qm
//   Tm' = a21 Ta + a22 Tm + b_out_mass To + b_qa_mass Qa + b_qm_mass Qm
// (Qa, Qm: heat into the air and mass nodes, kW). For r1c1 the mass row repeats the air row.
struct ZoneDiscrete {
  double a11, a12, a21, a22;
  double b_out_air, b_out_mass;
  double b_qa_air, b_qa_mass;
  double b_qm_air, b_qm_mass;
};
ZoneDiscrete discretise(const ZoneParams& p, double dt_s);

// Time constants of the free response, seconds, slow first (r1c1: both equal R C).
std::array<double, 2> time_constants_s(const ZoneParams& p);

// The zone parameters of an HVAC asset in a building of type t: the spec's R (envelope plus
// ventilation) and C (total), the air share of C and the air-mass coupling from ISO 13790.
ZoneParams zone_params(const HvacZoneSpec& spec, BuildingType t, ZoneModelKind kind);

// Share of the total heat capacity in the air node: air plus furnishings. With ISO 13790's
// medium class (165 kJ/(K m2)) this is 20 kJ/(K m2), about five times the air alone
// (1.2 kJ/(m3 K) x 3.5 m); an engineering estimate, and it sets the minutes-scale response.
inline constexpr double kAirShareOfCapacitance = 0.12;
// ISO 13790:2008 12.2.2: heat transfer coefficient between air (central) and mass nodes.
inline constexpr double kHms_W_per_m2K = 9.1;

}  // namespace vpp::sim
