#include "optimizer/random_fleet.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "model/building.hpp"

namespace vpp::optimizer {
namespace {

// splitmix64: tiny, well-mixed, and identical on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return uniform(0, 1) < p; }

 private:
  std::uint64_t s_;
};

// Beijing single-part 1-10 kV TOU, July/August weekday, CNY/kWh by local hour (tariff file, 2026-07 row).
constexpr std::array<double, 24> kTariff = {0.5400, 0.5400, 0.5400, 0.5400, 0.5400, 0.5400, 0.5400, 0.8107,
                                            0.8107, 0.8107, 1.1202, 1.2595, 1.2595, 0.8107, 0.8107, 0.8107,
                                            1.2595, 1.1202, 1.1202, 1.1202, 1.1202, 1.1202, 0.8107, 0.5400};
// TMY hot weekday (IWEC, 7 July), hour ending 1..24 -> index = local hour.
constexpr std::array<double, 24> kTemp = {28.0, 28.4, 28.0, 27.0, 27.2, 27.1, 27.0, 29.8, 30.0, 31.0, 32.9, 33.0,
                                          34.0, 34.3, 34.6, 35.0, 34.7, 34.0, 33.0, 29.8, 30.0, 28.0, 27.0, 26.0};
constexpr std::array<double, 24> kGhi = {0,   0,   0,   0,   0,   21,  153, 358, 557, 735, 872, 942,
                                         956, 912, 753, 509, 235, 190, 83,  9,   0,   0,   0,   0};
// Surplus PV is paid the coal-fired benchmark price in China; Beijing's is 0.3598 CNY/kWh
// (NDRC benchmark table, 2019 reform). Not in the reference folder: an assumption to revisit.
constexpr double kExportPrice = 0.3598;
constexpr double kGridFactor = 0.6776;   // North China regional grid 2022, kg CO2/kWh
// China national ETS allowances traded near 90 CNY/t in 2024: an approximation, 0.09 CNY/kg.
constexpr double kCarbonPrice = 0.09;

bool occupied(BuildingType type, int hour) {
  switch (type) {
    case BuildingType::office: return hour >= 8 && hour < 18;
    case BuildingType::school: return hour >= 7 && hour < 17;
    case BuildingType::mall: return hour >= 10 && hour < 22;
    case BuildingType::hospital:
    case BuildingType::data_centre: return true;
  }
  return true;
}

}  // namespace

Problem random_fleet(const RandomFleetOptions& o) {
  Rng rng(o.seed);
  Problem p;
  const int T = o.steps;
  p.horizon.steps = T;
  p.horizon.step = Duration{86'400'000 / std::max(1, T)};
  p.horizon.start = from_unix_ms(1783440000000);  // 2026-07-07T00:00+08:00 (2026-07-06T16:00Z)
  const double h = p.horizon.dt_h();
  auto hour_of = [&](int t) { return std::min(23, static_cast<int>((t + 0.5) * h)); };
  auto& g = p.signals;
  g.import_price.resize(T);
  g.export_price.assign(T, kExportPrice);
  g.carbon_kg_per_kwh.assign(T, kGridFactor);
  g.carbon_price_per_kg = kCarbonPrice;
  for (int t = 0; t < T; ++t) g.import_price[t] = kTariff[hour_of(t)];

  std::vector<double> baseline(T, 0.0);
  for (int i = 0; i < o.sites; ++i) {
    SiteProblem s;
    s.id = "site-" + std::to_string(i);
    double r = rng.uniform(0, 1);
    BuildingType type = r < 0.4 ? BuildingType::office
                        : r < 0.6 ? BuildingType::mall
                        : r < 0.75 ? BuildingType::school
                        : r < 0.9 ? BuildingType::hospital
                                  : BuildingType::data_centre;
    const auto& arch = archetype(type);
    const double area = arch.typical_floor_area_m2 * rng.uniform(0.05, 0.5);
    const double peak_kw = arch.peak_electric_w_m2 * area / 1000.0;
    s.base_load_kw.resize(T);
    for (int t = 0; t < T; ++t)
      s.base_load_kw[t] = peak_kw * (1 - arch.hvac_share_of_peak) * (occupied(type, hour_of(t)) ? 1.0 : 0.35);
    double max_consumption = peak_kw;
    if (rng.chance(o.hvac_share)) {
      HvacZone z;
      z.id = "hvac-0";
      auto th = typical_zone_thermal(type, area);
      z.r_k_per_kw = th.r_k_per_kw;
      z.c_kwh_per_k = th.c_kwh_per_k;
      z.max_electric_kw = arch.cooling_capacity_w_m2 * area / arch.rated_cop / 1000.0;
      z.temp_c = arch.cooling_setpoint_c - rng.uniform(0.5, 1.5);
      // Comfort costs the site more than cooling does: 0.05 CNY per K-hour per m2.
      z.discomfort_penalty_per_kh = 0.05 * area;
      for (int t = 0; t < T; ++t) {
        int hr = hour_of(t);
        bool occ = occupied(type, hr);
        z.outdoor_temp_c.push_back(kTemp[hr]);
        // Electric loads end up as heat; solar gains through 2 % of the floor area as aperture.
        z.gains_kw.push_back(0.9 * s.base_load_kw[t] + 0.02 * area * kGhi[hr] / 1000.0);
        z.cop.push_back(arch.rated_cop * std::clamp(1.0 - 0.025 * (kTemp[hr] - 30.0), 0.6, 1.2));
        z.comfort_min_c.push_back(occ ? arch.cooling_setpoint_c - 2.0 : 18.0);
        z.comfort_max_c.push_back(occ ? arch.cooling_setpoint_c : 30.0);
      }
      max_consumption += z.max_electric_kw;
      for (int t = 0; t < T; ++t) {
        // Thermostat baseline: the steady power that holds the top of the band.
        double need = (z.outdoor_temp_c[t] + z.r_k_per_kw * z.gains_kw[t] - z.comfort_max_c[t]) /
                      (z.r_k_per_kw * z.cop[t]);
        baseline[t] += std::clamp(need, 0.0, z.max_electric_kw);
      }
      s.hvac.push_back(std::move(z));
    }
    if (rng.chance(o.pv_share)) {
      PvAsset pv;
      pv.id = "pv-0";
      pv.rated_kw = area * rng.uniform(0.005, 0.02);
      double cloud = rng.uniform(0.7, 1.0);
      for (int t = 0; t < T; ++t) pv.forecast_kw.push_back(pv.rated_kw * 0.85 * cloud * kGhi[hour_of(t)] / 1000.0);
      for (int t = 0; t < T; ++t) baseline[t] -= pv.forecast_kw[t];
      s.export_limit_kw = rng.chance(0.5) ? 0.0 : pv.rated_kw;
      s.pv.push_back(std::move(pv));
    }
    if (rng.chance(o.battery_share)) {
      BatteryAsset b;
      b.id = "battery-0";
      b.capacity_kwh = peak_kw * rng.uniform(0.2, 1.0);
      b.max_charge_kw = b.max_discharge_kw = b.capacity_kwh * rng.uniform(0.25, 0.5);
      b.soc_min_kwh = 0.05 * b.capacity_kwh;
      b.soc_max_kwh = 0.95 * b.capacity_kwh;
      b.reserve_kwh = rng.uniform(0.1, 0.3) * b.capacity_kwh;
      b.soc_kwh = rng.uniform(0.2, 0.8) * b.capacity_kwh;
      b.terminal_soc_kwh = b.soc_kwh;  // end the day where it started
      b.cycle_cost_per_kwh = 0.05;
      max_consumption += b.max_charge_kw;
      s.batteries.push_back(std::move(b));
    }
    if (rng.chance(o.flexible_share)) {
      FlexibleLoad f;
      f.id = "load-0";
      double frac = rng.uniform(0.05, 0.15);
      for (int t = 0; t < T; ++t) f.power_kw.push_back(frac * s.base_load_kw[t]);
      f.curtailable_share = rng.uniform(0.2, 0.5);
      f.curtail_cost_per_kwh = rng.uniform(0.5, 2.0);
      if (rng.chance(o.shiftable_share)) {
        double fp = *std::max_element(f.power_kw.begin(), f.power_kw.end());
        f.shift_max_kwh = fp * rng.uniform(1.0, 3.0);
        f.shift_max_kw = 0.5 * fp;
      }
      for (int t = 0; t < T; ++t) baseline[t] += f.power_kw[t];
      s.flexible.push_back(std::move(f));
    }
    for (int t = 0; t < T; ++t) baseline[t] += s.base_load_kw[t];
    s.import_limit_kw = 1.1 * max_consumption;
    p.sites.push_back(std::move(s));
  }
  if (o.event_fraction > 0) {
    g.baseline_kw = baseline;
    g.reduction_kw.assign(T, std::nullopt);
    for (int t = 0; t < T; ++t) {
      int hr = hour_of(t);
      if (hr >= 17 && hr < 19) g.reduction_kw[t] = o.event_fraction * baseline[t];
    }
  }
  if (o.import_cap_fraction > 0) {
    double peak = *std::max_element(baseline.begin(), baseline.end());
    g.import_cap_kw.assign(T, o.import_cap_fraction * peak);
  }
  return p;
}

}  // namespace vpp::optimizer
