#include "sim/fleet_gen.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "model/building.hpp"
#include "sim/rng.hpp"

namespace vpp::sim {
namespace {

constexpr AreaRange kAreaRange[kBuildingTypeCount] = {
    {10000, 100000},  // office
    {20000, 200000},  // mall
    {5000, 40000},    // school
    {20000, 200000},  // hospital
    {2000, 50000},    // data centre
};

// Exact counts per type by the largest-remainder method, so a 200-site fleet at 40 % offices
// has exactly 80 of them.
std::vector<int> type_counts(const std::array<double, kBuildingTypeCount>& mix, int n) {
  std::vector<int> counts(kBuildingTypeCount);
  std::vector<std::pair<double, int>> rem;
  int assigned = 0;
  for (int t = 0; t < kBuildingTypeCount; ++t) {
    const double exact = mix[static_cast<std::size_t>(t)] * n;
    counts[static_cast<std::size_t>(t)] = static_cast<int>(std::floor(exact));
    assigned += counts[static_cast<std::size_t>(t)];
    rem.emplace_back(exact - std::floor(exact), t);
  }
  // Largest remainder first; ties to the lower type index (stable, deterministic).
  std::stable_sort(rem.begin(), rem.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; assigned < n && i < rem.size(); ++i, ++assigned) ++counts[static_cast<std::size_t>(rem[i].second)];
  return counts;
}

double lognormal(Rng& rng, double sigma) { return std::exp(sigma * rng.normal()); }

}  // namespace

AreaRange floor_area_range(BuildingType t) { return kAreaRange[type_index(t)]; }

std::vector<std::string> generated_site_ids(int n) {
  const int width = std::max(3, static_cast<int>(std::to_string(std::max(1, n)).size()));
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(std::max(0, n)));
  for (int i = 1; i <= n; ++i) {
    std::string num = std::to_string(i);
    if (static_cast<int>(num.size()) < width) num.insert(0, static_cast<std::size_t>(width) - num.size(), '0');
    ids.push_back("site-" + num);
  }
  return ids;
}

SiteLoadModel default_load_model(const Site& site, std::optional<double> base_peak_kw) {
  const auto& arch = archetype(site.type);
  const auto& d = sim_defaults(site.type);
  double area = 0;
  for (const auto& a : site.assets) {
    if (const auto* h = a.get<HvacZoneSpec>()) area += h->floor_area_m2;
  }
  SiteLoadModel m;
  m.base_peak_kw = base_peak_kw.value_or(arch.peak_electric_w_m2 * (1.0 - arch.hvac_share_of_peak) * area / 1000.0);
  m.standby_fraction = d.standby_fraction;
  m.people_gain_kw = area / d.people_m2_per_person * kSensibleW_per_person / 1000.0;
  m.solar_aperture_m2 = area * d.solar_aperture_m2_per_m2;
  return m;
}

FleetSetup make_fleet(const Scenario& sc, std::uint64_t seed) {
  FleetSetup out;
  out.locations.push_back(sc.location);
  if (sc.fleet) {
    const FleetGenConfig& g = *sc.fleet;
    const auto ids = generated_site_ids(g.sites);
    // Types: exact counts, then a seeded shuffle so types are interleaved along the ids.
    std::vector<int> types;
    const auto counts = type_counts(g.mix, g.sites);
    for (int t = 0; t < kBuildingTypeCount; ++t) types.insert(types.end(), static_cast<std::size_t>(counts[static_cast<std::size_t>(t)]), t);
    Rng shuffle(hash3(seed, 0xF1EE7, 0xFFFFFFFF));
    for (std::size_t i = types.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(shuffle.next() % i);
      std::swap(types[i - 1], types[j]);
    }
    for (int i = 0; i < g.sites; ++i) {
      // Each site draws from its own stream in a fixed order, so changing one penetration does
      // not reshuffle every other site.
      Rng rng(hash3(seed, 0xF1EE7, static_cast<std::uint64_t>(i)));
      const auto type = static_cast<BuildingType>(types[static_cast<std::size_t>(i)]);
      const auto& arch = archetype(type);
      const auto& d = sim_defaults(type);
      const auto range = floor_area_range(type);
      const double area = std::clamp(arch.typical_floor_area_m2 * lognormal(rng, g.floor_area_spread), range.min_m2, range.max_m2);
      const double f_load = lognormal(rng, g.parameter_spread);
      const double f_r = lognormal(rng, g.parameter_spread);
      const double f_c = lognormal(rng, g.parameter_spread);
      const double f_cool = lognormal(rng, g.parameter_spread);
      const double u_pv = rng.uniform(), u_bat = rng.uniform(), u_flex = rng.uniform();
      const double pv_size = rng.uniform(0.7, 1.3), bat_size = rng.uniform(0.7, 1.3);
      const double tilt = std::clamp(20.0 + 5.0 * rng.normal(), 5.0, 35.0);
      const double azimuth = std::clamp(180.0 + 15.0 * rng.normal(), 120.0, 240.0);

      Site site;
      site.id = ids[static_cast<std::size_t>(i)];
      site.name = std::string(to_string(type)) + " " + site.id.substr(5);
      site.owner = "generated";
      site.type = type;
      site.latitude_deg = sc.location.latitude_deg;
      site.longitude_deg = sc.location.longitude_deg;
      site.limits.comfort_min_c = d.comfort_min_c;
      site.limits.comfort_max_c = d.comfort_max_c;
      site.limits.battery_reserve_pct = g.battery_reserve_pct;
      site.limits.max_curtailment_pct = 30;

      site.assets.push_back({"meter", "site meter", SiteMeterSpec{}});
      const double design_peak_kw = arch.peak_electric_w_m2 * area * f_load / 1000.0;
      double base_peak_kw = arch.peak_electric_w_m2 * (1.0 - arch.hvac_share_of_peak) * area * f_load / 1000.0;
      HvacZoneSpec h;
      // Rated COP of the whole plant (chiller or DX times the plant factor), so that electric
      // power = cooling / (rated COP x COP ratio at the weather).
      h.rated_cop = arch.rated_cop * d.plant_system_factor;
      h.floor_area_m2 = area;
      const ZoneThermal th = typical_zone_thermal(type, area);
      h.thermal_resistance_k_per_kw = th.r_k_per_kw * f_r;
      h.thermal_capacitance_kwh_per_k = th.c_kwh_per_k * f_c;
      h.default_setpoint_c = arch.cooling_setpoint_c;
      h.deadband_c = d.deadband_c;
      // Plant size: the archetype's W/m2, but never below 1.2 times this building's own design
      // load (E: designers add 10-20 % to the peak load; a building whose spread-out loads
      // exceed its spread-out plant would otherwise never hold its setpoint). Design load:
      // full-occupancy electric and people gains, 900 W/m2 on the solar aperture, and the
      // envelope at 35 C outdoor (Beijing's 0.4 % design dry bulb is 34.9 C).
      const double design_load_kw = base_peak_kw + area / d.people_m2_per_person * kSensibleW_per_person / 1000.0 +
                                    area * d.solar_aperture_m2_per_m2 * 0.9 +
                                    (35.0 - h.default_setpoint_c) / h.thermal_resistance_k_per_kw;
      const double capacity_kw = std::max(arch.cooling_capacity_w_m2 * area * f_cool / 1000.0, 1.2 * design_load_kw);
      h.rated_electric_kw = capacity_kw / h.rated_cop;
      site.assets.push_back({"hvac", "central HVAC", h});

      if (u_pv < g.pv_penetration) {
        PvSpec pv;
        pv.dc_peak_kw = area / d.storeys * g.pv_roof_share * g.pv_kwp_per_m2 * pv_size;
        pv.rated_kw = pv.dc_peak_kw / g.pv_dc_ac_ratio;
        pv.tilt_deg = tilt;
        pv.azimuth_deg = azimuth;
        site.assets.push_back({"pv", "rooftop PV", pv});
      }
      if (u_bat < g.battery_penetration) {
        BatterySpec b;
        b.max_discharge_kw = g.battery_power_share * design_peak_kw * bat_size;
        b.max_charge_kw = b.max_discharge_kw;
        b.capacity_kwh = b.max_discharge_kw * g.battery_hours;
        // E: a grid-scale lithium-ion system slews its full range in about two seconds.
        b.ramp_kw_per_s = b.max_discharge_kw / 2.0;
        site.assets.push_back({"battery", "battery storage", b});
      }
      if (u_flex < g.flexible_penetration) {
        FlexibleLoadSpec l;
        l.rated_kw = g.flexible_share * base_peak_kw;
        l.max_curtail_pct = g.flexible_max_curtail_pct;
        base_peak_kw -= l.rated_kw;
        site.assets.push_back({"flex", "sheddable loads", l});
      }
      SiteLoadModel m = default_load_model(site, base_peak_kw);
      m.location = 0;
      m.noise_std = 0.03;
      out.loads.push_back(m);
      out.sites.push_back(std::move(site));
    }
  }
  for (const auto& es : sc.sites) {
    SiteLoadModel m = default_load_model(es.site, es.base_load_peak_kw);
    Site site = es.site;
    if (es.has_location) {
      const Location loc{site.latitude_deg, site.longitude_deg, sc.location.altitude_m};
      auto it = std::find_if(out.locations.begin(), out.locations.end(), [&](const Location& l) {
        return l.latitude_deg == loc.latitude_deg && l.longitude_deg == loc.longitude_deg;
      });
      if (it == out.locations.end()) {
        out.locations.push_back(loc);
        it = out.locations.end() - 1;
      }
      m.location = static_cast<std::size_t>(it - out.locations.begin());
    } else {
      site.latitude_deg = sc.location.latitude_deg;
      site.longitude_deg = sc.location.longitude_deg;
      m.location = 0;
    }
    out.loads.push_back(m);
    out.sites.push_back(std::move(site));
  }
  return out;
}

}  // namespace vpp::sim
