#pragma once
// Grid signals of a scenario as the messages a grid operator would send (PriceSeries,
// CarbonSeries, CurtailmentEvent), and their values per simulation step for the KPIs.
#include <span>
#include <vector>

#include "model/messages.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim {

// Local quarter hour and month decide the band; a sharp-peak window overrides the base band in
// its months.
TariffBand tariff_band(const TariffConfig& t, TimePoint time, int utc_offset_minutes);
double import_price(const TariffConfig& t, TimePoint time, int utc_offset_minutes);

// Prices at 15-minute resolution over [start, end).
PriceSeries make_price_series(const TariffConfig& t, TimePoint start, TimePoint end, int utc_offset_minutes);

// Hourly carbon intensity over [start, end), points at local hour starts (the first point at
// `start`). For Method::derived, `load_kw` and `ghi_w_m2` are per-step series over the same
// period (step `step`): the fleet's baseline consumption and the weather's GHI. The derivation
// follows china-grid-emission-factors.yaml suggested_derivation:
//   EF(h) = EF_fossil * (1 - clean(h) / load(h)), with the day's clean energy sized so that the
//   load-weighted daily mean equals the configured mean, and clean(h) = a flat share (wind,
//   hydro, nuclear, imports) plus a share that follows the sun.
CarbonSeries make_carbon_series(const CarbonConfig& c, TimePoint start, TimePoint end, Duration step,
                                int utc_offset_minutes, std::span<const double> load_kw, std::span<const double> ghi_w_m2);

// The share of grid electricity that is not fossil at a given intensity: 1 - EF / EF_fossil.
inline double grid_green_fraction(const CarbonConfig& c, double kg_per_kwh) {
  const double g = 1.0 - kg_per_kwh / c.ef_fossil;
  return g < 0 ? 0 : (g > 1 ? 1 : g);
}

}  // namespace vpp::sim
