#include "model/building.hpp"

namespace vpp {
namespace {

// Values transcribed from building-types.yaml; the comment on each names its row there.
constexpr BuildingArchetype kArchetypes[] = {
    // office: DOE large office 4A new (UA 0.48, OA 0.52, cooling 64 W/m2, COP 5.5), medium mass,
    // 26 degC public-building rule, peak 40 W/m2 typical, HVAC 35-50 % of peak.
    {BuildingType::office, 40000, 165, 0.48, 0.52, 64, 5.5, 26, 40, 0.42},
    // shopping mall: DOE retail 4A (UA 0.89, OA 1.37, cooling 82), heavy mass, peak 80 W/m2.
    // No chiller COP in the DOE row: a water-cooled chiller at ~30 degC condenser water (5.5).
    {BuildingType::mall, 60000, 260, 0.89, 1.37, 82, 5.5, 26, 80, 0.5},
    // school: DOE primary 4A (UA 0.94, OA 1.82, cooling 81), medium mass, peak 25 W/m2;
    // packaged DX (DOE 2.96-3.61 rated COP).
    {BuildingType::school, 15000, 165, 0.94, 1.82, 81, 3.3, 26, 25, 0.45},
    // hospital: DOE hospital 4A (UA 0.35, OA 1.81, cooling 123, COP 6.1), heavy mass, 22.2 degC.
    {BuildingType::hospital, 60000, 260, 0.35, 1.81, 123, 6.1, 22.2, 70, 0.47},
    // data centre: cooling is 18-22 % of a PUE-1.3 load; whitespace 1000-3000 W/m2 (E);
    // modelled as heavy mass, cooling sized to the IT load, water-cooled chiller.
    {BuildingType::data_centre, 10000, 260, 0.35, 0.3, 1500, 5.5, 25, 1200, 0.2},
};

}  // namespace

const BuildingArchetype& archetype(BuildingType t) { return kArchetypes[static_cast<int>(t)]; }

ZoneThermal typical_zone_thermal(BuildingType t, double floor_area_m2) {
  const auto& a = archetype(t);
  const double h_w_per_k = (a.envelope_ua_w_per_k_m2 + 1.2 * a.outdoor_air_l_s_m2) * floor_area_m2;
  const double c_kj_per_k = a.heat_capacity_kj_per_k_m2 * floor_area_m2;
  return {1000.0 / h_w_per_k, c_kj_per_k / 3600.0};
}

double mass_coupling_kw_per_k(BuildingType t, double floor_area_m2) {
  const double am_factor = archetype(t).heat_capacity_kj_per_k_m2 >= 260 ? 3.0 : 2.5;
  return 9.1 * am_factor * floor_area_m2 / 1000.0;
}

double cooling_cop(double rated_cop, double outdoor_c) {
  static constexpr double kT[] = {20, 25, 28, 30, 32, 35, 38, 40};
  static constexpr double kRatio[] = {1.29, 1.21, 1.15, 1.11, 1.06, 1.00, 0.94, 0.89};
  constexpr int n = 8;
  if (!(outdoor_c > kT[0])) return rated_cop * kRatio[0];
  if (outdoor_c >= kT[n - 1]) return rated_cop * kRatio[n - 1];
  int i = 0;
  while (outdoor_c > kT[i + 1]) ++i;
  const double f = (outdoor_c - kT[i]) / (kT[i + 1] - kT[i]);
  return rated_cop * (kRatio[i] + f * (kRatio[i + 1] - kRatio[i]));
}

}  // namespace vpp
