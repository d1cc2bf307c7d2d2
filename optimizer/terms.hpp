#pragma once
// Discretised asset models shared by the LP builder, the decomposed solver and finalize_plan, so
// that both solvers optimise exactly the same problem. (check() re-derives them on its own.)
#include <algorithm>
#include <cmath>

#include "optimizer/problem.hpp"

namespace vpp::optimizer::terms {

inline bool available(const SiteProblem& s, int t) { return s.available.empty() || s.available[t] != 0; }

inline double carbon(const Signals& g, int t) {
  return g.carbon_kg_per_kwh.empty() ? 0.0 : g.carbon_kg_per_kwh[t];
}
// Marginal cost of importing one kWh (energy + carbon) and value of exporting one.
inline double import_cost(const Signals& g, int t) {
  return g.import_price[t] + g.carbon_price_per_kg * carbon(g, t);
}

// Battery: soc' = decay * soc + dt_h * (eta_c * charge - discharge / eta_d), hard [0, capacity].
inline double battery_decay(const BatteryAsset& b, double dt_h) {
  return std::pow(1.0 - b.self_discharge_per_h, dt_h);
}
// Live SoC outside the physical range is telemetry error; it is clamped (and diagnosed).
inline double battery_initial(const BatteryAsset& b) { return std::clamp(b.soc_kwh, 0.0, b.capacity_kwh); }
inline double battery_soft_lo(const BatteryAsset& b) { return std::max(b.soc_min_kwh, b.reserve_kwh); }
inline double battery_soft_hi(const BatteryAsset& b) { return b.soc_max_kwh; }

// 1R1C zone, exact discretisation for inputs held over the interval:
//   T' = a T + (1 - a) (T_out + R (gains -/+ COP P)),  a = exp(-dt / (R C)).
inline double hvac_decay(const HvacZone& z, double dt_h) {
  return std::exp(-dt_h / (z.r_k_per_kw * z.c_kwh_per_k));
}
inline double hvac_drift(const HvacZone& z, double a, int t) {
  return (1.0 - a) * (z.outdoor_temp_c[t] + z.r_k_per_kw * z.gains_kw[t]);
}
// Temperature change per electric kW over one interval (negative when cooling).
inline double hvac_gain(const HvacZone& z, double a, int t) {
  double g = (1.0 - a) * z.r_k_per_kw * z.cop[t];
  return z.mode == HvacMode::cooling ? -g : g;
}

inline double pv_available(const PvAsset& pv, int t) { return std::min(pv.forecast_kw[t], pv.rated_kw); }

inline bool shiftable(const FlexibleLoad& f) { return f.shift_max_kwh > 0 && f.shift_max_kw > 0; }
inline double curtail_max(const FlexibleLoad& f, int t) { return f.curtailable_share * f.power_kw[t]; }
inline double defer_max(const FlexibleLoad& f, int t) {
  return shiftable(f) ? std::min(f.shift_max_kw, (1.0 - f.curtailable_share) * f.power_kw[t]) : 0.0;
}
inline double recover_max(const FlexibleLoad& f) { return shiftable(f) ? f.shift_max_kw : 0.0; }
// A backlog above the capacity (live state) is clamped.
inline double backlog_initial(const FlexibleLoad& f) { return std::clamp(f.backlog_kwh, 0.0, f.shift_max_kwh); }

}  // namespace vpp::optimizer::terms
