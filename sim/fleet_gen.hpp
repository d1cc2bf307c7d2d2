#pragma once
// Builds the simulated fleet of a scenario: generated sites (a seeded spread of building types,
// sizes and parameters around the archetypes of model/building.hpp) followed by the scenario's
// explicit sites, with the load models and weather locations the physics needs.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/site.hpp"
#include "sim/fleet.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim {

// Ids of generated sites: "site-001" .. (zero-padded to the width of n, at least 3 digits).
std::vector<std::string> generated_site_ids(int n);

struct FleetSetup {
  std::vector<Site> sites;
  std::vector<SiteLoadModel> loads;
  std::vector<Location> locations;   // [0] is the scenario's location
};

FleetSetup make_fleet(const Scenario& sc, std::uint64_t seed);

// The load model of a site from its type and HVAC floor area (explicit sites, tests).
SiteLoadModel default_load_model(const Site& site, std::optional<double> base_peak_kw);

// Floor-area range per building type (building-types.yaml floor_area_m2.range; E).
struct AreaRange {
  double min_m2, max_m2;
};
AreaRange floor_area_range(BuildingType t);

}  // namespace vpp::sim
