#include "sim/building_models.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace vpp::sim {
namespace {

// Sources (see config/scenarios/data/building-types.yaml for the full references):
//  S1 GB 55015-2021 Appendix C (people density, HVAC hours); S2 DOE commercial reference
//  buildings, climate 4A (occupancy schedules); S6 ISO 13790 (A_m factor: 2.5 medium, 3.0 heavy);
//  E engineering estimate.
// Plant system factor (E): chillers draw about 70 % of a chilled-water plant's electricity at
// design load, pumps, towers and fans the rest; a packaged DX unit's rated COP already includes
// its condenser fan, so only the supply fan (~15 %) is added.
// Comfort bands (E): offices, malls and schools 22-27 C (China's 26 C public-building setpoint
// plus 1 K; GB 50736-2012 allows 26-28 C in summer for comfort class II, from memory); hospitals
// 21-25 C around the DOE 22.2 C setpoint; data centres 18-27 C, the ASHRAE TC 9.9 recommended
// server inlet range (from memory).
const BuildingSimDefaults kDefaults[kBuildingTypeCount] = {
    // office: DOE weekday 0.95 at 8-12 and 13-17, 0.5 at 12-13, 0.7/0.4 after 17 (S2);
    // HVAC workdays 7-18 (S1); 10 m2/person (S1); medium mass (S6).
    {PlantType::water_cooled_chiller, 0.70, 2.5, 10.0, 0.25, 0.015, 10, 22, 27, 1.0,
     {0, 0, 0, 0, 0, 0, 0, 0.1, 0.95, 0.95, 0.95, 0.95, 0.5, 0.95, 0.95, 0.95, 0.95, 0.7, 0.4, 0.1, 0.1, 0.1, 0.05, 0.05},
     {0, 0, 0, 0, 0, 0, 0, 0, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0, 0, 0, 0, 0, 0},
     7, 18, false},
    // shopping mall: DOE retail 0.5-0.8 at 9-19, 0.3 at 19-21 (S2); HVAC all days 8-21 (S1);
    // 8 m2/person (S1); heavy mass (S6).
    {PlantType::water_cooled_chiller, 0.70, 3.0, 8.0, 0.15, 0.010, 4, 22, 27, 1.0,
     {0, 0, 0, 0, 0, 0, 0, 0, 0.2, 0.5, 0.5, 0.5, 0.8, 0.8, 0.7, 0.7, 0.7, 0.8, 0.8, 0.3, 0.3, 0, 0, 0},
     {0, 0, 0, 0, 0, 0, 0, 0, 0.2, 0.5, 0.6, 0.7, 0.9, 0.9, 0.8, 0.8, 0.8, 0.9, 0.9, 0.4, 0.4, 0, 0, 0},
     8, 21, true},
    // school (term time): DOE 0.75 at 8-16, 0.15 at 16-21 (S2); HVAC workdays 7-18 (S1);
    // 6 m2/person (S1); medium mass; packaged DX units (DOE rated COP 2.96-3.61).
    {PlantType::air_cooled_dx, 0.85, 2.5, 6.0, 0.15, 0.020, 3, 22, 27, 1.0,
     {0, 0, 0, 0, 0, 0, 0, 0.1, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.15, 0.15, 0.15, 0.15, 0.15, 0, 0, 0},
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     7, 18, false},
    // hospital: 24/7, 0.9 at 6-18, 0.65 at 4-6 and 18-22, 0.4 at 22-4 (S2); HVAC 24 h
    // (inpatient, S1); 8 m2/person (outpatient, S1); heavy mass.
    {PlantType::water_cooled_chiller, 0.70, 3.0, 8.0, 0.50, 0.012, 8, 21, 25, 1.0,
     {0.4, 0.4, 0.4, 0.4, 0.65, 0.65, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.65, 0.65, 0.65, 0.65, 0.4, 0.4},
     {0.4, 0.4, 0.4, 0.4, 0.65, 0.65, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.65, 0.65, 0.65, 0.65, 0.4, 0.4},
     0, 24, true},
    // data centre: flat IT load around the clock (load factor > 0.8, E); no occupants to speak
    // of; heavy mass; water-cooled chillers.
    {PlantType::water_cooled_chiller, 0.70, 3.0, 1e9, 1.0, 0.002, 2, 18, 27, 1.0,
     {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     0, 24, true},
};

bool is_weekend(int iso_weekday) { return iso_weekday >= 6; }

// Piecewise-linear interpolation in a table, holding the end values outside it.
double interp(const double* xs, const double* ys, std::size_t n, double x) {
  if (x <= xs[0]) return ys[0];
  if (x >= xs[n - 1]) return ys[n - 1];
  std::size_t i = 1;
  while (xs[i] < x) ++i;
  const double f = (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
  return ys[i - 1] + f * (ys[i] - ys[i - 1]);
}

// building-types.yaml cop_vs_outdoor.air_cooled_dx
constexpr double kDxOutdoorC[] = {20, 25, 28, 30, 32, 35, 38, 40};
constexpr double kDxCopRatio[] = {1.29, 1.21, 1.15, 1.11, 1.06, 1.00, 0.94, 0.89};
constexpr double kDxCapRatio[] = {1.16, 1.11, 1.08, 1.05, 1.03, 1.00, 0.97, 0.95};
// building-types.yaml cop_vs_outdoor.water_cooled_centrifugal
constexpr double kChillerCondenserC[] = {20, 22, 24, 26, 28, 30, 32};
constexpr double kChillerCop[] = {6.13, 5.99, 5.86, 5.74, 5.63, 5.52, 5.42};
constexpr double kRatedCondenserC = 29.4;      // AHRI 550/590 standard rating condition
constexpr double kCoolingTowerApproachK = 4.5;  // E, building-types.yaml: wet bulb + 4..5 K

}  // namespace

const BuildingSimDefaults& sim_defaults(BuildingType t) { return kDefaults[type_index(t)]; }

double occupancy(BuildingType t, int local_hour, int iso_weekday) {
  const auto& d = sim_defaults(t);
  return is_weekend(iso_weekday) ? d.occupancy_weekend[local_hour] : d.occupancy_workday[local_hour];
}

bool hvac_scheduled(BuildingType t, int local_hour, int iso_weekday) {
  const auto& d = sim_defaults(t);
  if (is_weekend(iso_weekday) && !d.hvac_weekends) return false;
  return local_hour >= d.hvac_start_hour && local_hour < d.hvac_end_hour;
}

double relative_humidity_pct(double t, double td) {
  auto es = [](double x) { return std::exp(17.625 * x / (243.04 + x)); };
  return std::clamp(100.0 * es(std::min(td, t)) / es(t), 1.0, 100.0);
}

double wet_bulb_stull_c(double t, double rh) {
  return t * std::atan(0.151977 * std::sqrt(rh + 8.313659)) + std::atan(t + rh) - std::atan(rh - 1.676331) +
         0.00391838 * std::pow(rh, 1.5) * std::atan(0.023101 * rh) - 4.686035;
}

double cop_ratio(PlantType p, double dry_bulb_c, double wet_bulb_c) {
  if (p == PlantType::air_cooled_dx) return interp(kDxOutdoorC, kDxCopRatio, std::size(kDxOutdoorC), dry_bulb_c);
  const double cw = wet_bulb_c + kCoolingTowerApproachK;
  const double rated = interp(kChillerCondenserC, kChillerCop, std::size(kChillerCop), kRatedCondenserC);
  return interp(kChillerCondenserC, kChillerCop, std::size(kChillerCop), cw) / rated;
}

double capacity_ratio(PlantType p, double dry_bulb_c) {
  if (p == PlantType::air_cooled_dx) return interp(kDxOutdoorC, kDxCapRatio, std::size(kDxOutdoorC), dry_bulb_c);
  return 1.0;
}

ZoneDiscrete discretise(const ZoneParams& p, double dt_s) {
  ZoneDiscrete d{};
  if (p.kind == ZoneModelKind::r1c1) {
    const double c = p.c_air_kj_per_k + p.c_mass_kj_per_k;
    const double phi = std::exp(-p.h_out_kw_per_k * dt_s / c);
    const double g = (1.0 - phi) / p.h_out_kw_per_k;  // K per kW held over the step
    d.a11 = phi;
    d.a12 = 0;
    d.b_out_air = 1.0 - phi;
    d.b_qa_air = g;
    d.b_qm_air = g;
    // The mass "node" is the same node: repeat the air row.
    d.a21 = phi;
    d.a22 = 0;
    d.b_out_mass = 1.0 - phi;
    d.b_qa_mass = g;
    d.b_qm_mass = g;
    return d;
  }
  // x' = A x + B u, x = (Ta, Tm), u = (To, Qa, Qm).
  const double ca = p.c_air_kj_per_k, cm = p.c_mass_kj_per_k;
  const double ho = p.h_out_kw_per_k, hm = p.h_mass_kw_per_k;
  const double a = -(ho + hm) / ca, b = hm / ca, c = hm / cm, dd = -hm / cm;
  // Eigenvalues are real and distinct: A is similar to a symmetric matrix (scale by sqrt(C)).
  const double tr = a + dd, det = a * dd - b * c;
  const double disc = std::sqrt(tr * tr / 4.0 - det);
  const double l1 = tr / 2.0 + disc, l2 = tr / 2.0 - disc;  // l2 < l1 < 0
  const double e1 = std::exp(l1 * dt_s), e2 = std::exp(l2 * dt_s);
  // Putzer / Sylvester for 2x2: exp(A t) = [(l1 e2 - l2 e1) I + (e1 - e2) A] / (l1 - l2).
  const double s0 = (l1 * e2 - l2 * e1) / (l1 - l2), s1 = (e1 - e2) / (l1 - l2);
  d.a11 = s0 + s1 * a;
  d.a12 = s1 * b;
  d.a21 = s1 * c;
  d.a22 = s0 + s1 * dd;
  // Bd = A^-1 (Ad - I) B; A^-1 = [dd -b; -c a] / det.
  const double m11 = d.a11 - 1, m12 = d.a12, m21 = d.a21, m22 = d.a22 - 1;
  const double g11 = (dd * m11 - b * m21) / det, g12 = (dd * m12 - b * m22) / det;
  const double g21 = (-c * m11 + a * m21) / det, g22 = (-c * m12 + a * m22) / det;
  // B columns: To -> (ho/ca, 0), Qa -> (1/ca, 0), Qm -> (0, 1/cm).
  d.b_out_air = g11 * ho / ca;
  d.b_out_mass = g21 * ho / ca;
  d.b_qa_air = g11 / ca;
  d.b_qa_mass = g21 / ca;
  d.b_qm_air = g12 / cm;
  d.b_qm_mass = g22 / cm;
  return d;
}

std::array<double, 2> time_constants_s(const ZoneParams& p) {
  if (p.kind == ZoneModelKind::r1c1) {
    const double tau = (p.c_air_kj_per_k + p.c_mass_kj_per_k) / p.h_out_kw_per_k;
    return {tau, tau};
  }
  const double ca = p.c_air_kj_per_k, cm = p.c_mass_kj_per_k;
  const double a = -(p.h_out_kw_per_k + p.h_mass_kw_per_k) / ca, b = p.h_mass_kw_per_k / ca;
  const double c = p.h_mass_kw_per_k / cm, dd = -p.h_mass_kw_per_k / cm;
  const double tr = a + dd, det = a * dd - b * c;
  const double disc = std::sqrt(tr * tr / 4.0 - det);
  return {-1.0 / (tr / 2.0 + disc), -1.0 / (tr / 2.0 - disc)};
}

ZoneParams zone_params(const HvacZoneSpec& spec, BuildingType t, ZoneModelKind kind) {
  ZoneParams p;
  p.kind = kind;
  p.h_out_kw_per_k = 1.0 / spec.thermal_resistance_k_per_kw;
  const double c_total_kj = spec.thermal_capacitance_kwh_per_k * 3600.0;
  p.c_air_kj_per_k = kAirShareOfCapacitance * c_total_kj;
  p.c_mass_kj_per_k = c_total_kj - p.c_air_kj_per_k;
  p.h_mass_kw_per_k = kHms_W_per_m2K * sim_defaults(t).am_factor * spec.floor_area_m2 / 1000.0;
  return p;
}

}  // namespace vpp::sim
