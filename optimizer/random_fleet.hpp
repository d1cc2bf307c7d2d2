#pragma once
// A seeded generator of realistic fleets for tests and benchmarks (not the simulator: the
// optimizer's tests must not depend on sim/). Same options + seed => identical problem on every
// platform (own integer-based random numbers, no std:: distributions).
#include <cstdint>

#include "optimizer/problem.hpp"

namespace vpp::optimizer {

struct RandomFleetOptions {
  int sites = 100;
  int steps = 96;                 // over one day: dt = 24 h / steps
  std::uint64_t seed = 1;
  double pv_share = 0.7;          // probability that a site has PV
  double battery_share = 0.6;
  double hvac_share = 1.0;
  double flexible_share = 0.5;
  double shiftable_share = 0.5;   // of flexible loads
  // Demand-response event: fleet reduction of this fraction of the baseline from 17:00 to 19:00
  // local time (Beijing evening peak); 0 = no event.
  double event_fraction = 0.1;
  double import_cap_fraction = 0; // fleet import cap as a fraction of the baseline peak; 0 = none
};

// Beijing July weekday: single-part 1-10 kV TOU tariff (2026-07, reference/grid-data/
// beijing-tou-tariff.yaml), TMY hot-weekday temperature and irradiance (beijing-summer-weather.yaml),
// North China grid factor 0.6776 kg/kWh (2022, china-grid-emission-factors.yaml). Buildings follow
// model/building.hpp archetypes.
Problem random_fleet(const RandomFleetOptions& options);

}  // namespace vpp::optimizer
