#include "sim/kpi.hpp"

#include <algorithm>
#include <limits>

#include "sim/signals.hpp"

namespace vpp::sim {

Kpis compute_kpis(const PassTotals& p, std::span<const double> price, std::span<const double> export_price,
                  std::span<const double> carbon, const CarbonConfig& carbon_cfg) {
  Kpis k;
  double grid_green_kwh = 0;
  for (std::size_t i = 0; i < p.import_kwh.size(); ++i) {
    k.energy_import_kwh += p.import_kwh[i];
    k.energy_export_kwh += p.export_kwh[i];
    k.pv_generation_kwh += p.pv_kwh[i];
    k.cost += p.import_kwh[i] * price[i] - p.export_kwh[i] * export_price[i];
    k.co2_kg += p.import_kwh[i] * carbon[i];
    grid_green_kwh += p.import_kwh[i] * grid_green_fraction(carbon_cfg, carbon[i]);
    k.peak_import_kw = std::max(k.peak_import_kw, p.net_kw[i]);
  }
  k.consumption_kwh = k.energy_import_kwh - k.energy_export_kwh + k.pv_generation_kwh;
  const double pv_on_site = std::max(0.0, k.pv_generation_kwh - k.energy_export_kwh);
  k.green_share = k.consumption_kwh > 0 ? std::clamp((pv_on_site + grid_green_kwh) / k.consumption_kwh, 0.0, 1.0) : 0.0;
  k.comfort_violation_degree_hours = p.comfort_degree_hours;
  k.max_comfort_excursion_c = p.max_comfort_excursion_c;
  k.reserve_violations = p.reserve_violations;
  k.rating_violations = p.rating_violations;
  return k;
}

void evaluate_event(EventResult& e, std::span<const double> baseline_kw, std::span<const double> actual_kw, double dt_s,
                    std::size_t settlement_steps) {
  const double dt_h = dt_s / 3600.0;
  const std::size_t n = std::min(baseline_kw.size(), actual_kw.size());
  auto required_kw = [&](std::size_t k) {
    return e.import_cap_kw ? std::max(0.0, baseline_kw[k] - *e.import_cap_kw) : e.target_kw.value_or(0.0);
  };
  e.requested_kwh = 0;
  e.delivered_kwh = 0;
  for (std::size_t k = 0; k < n; ++k) {
    e.requested_kwh += required_kw(k) * dt_h;
    e.delivered_kwh += (baseline_kw[k] - actual_kw[k]) * dt_h;
  }
  // Nothing asked (an import cap the baseline never exceeds) counts as fully delivered.
  e.delivered_ratio = e.requested_kwh > 0 ? e.delivered_kwh / e.requested_kwh : 1.0;
  settlement_steps = std::max<std::size_t>(1, settlement_steps);
  double worst = std::numeric_limits<double>::infinity();
  for (std::size_t a = 0; a < n; a += settlement_steps) {
    double req = 0, del = 0;
    for (std::size_t k = a; k < std::min(n, a + settlement_steps); ++k) {
      req += required_kw(k);
      del += baseline_kw[k] - actual_kw[k];
    }
    worst = std::min(worst, req > 0 ? del / req : 1.0);
  }
  e.min_interval_ratio = n > 0 ? worst : 0.0;
}

}  // namespace vpp::sim
