#pragma once
// Throughput of the fleet physics alone: a generated fleet with every asset kind at every site
// (base load and meter, HVAC zone, PV, battery, flexible load), stepped over D days at S-second
// steps, the sites split into contiguous ranges, one per thread (the partition does not change
// results: sites are independent and the load noise is keyed by site and step).
#include <cstdint>
#include <string>

namespace vpp::sim {

struct BenchOptions {
  int sites = 1000;
  double days = 1;
  int step_s = 60;
  int threads = 2;
  std::uint64_t seed = 1;
};

struct BenchResult {
  std::size_t sites = 0;
  std::size_t assets = 0;          // asset models stepped per step (see FleetModel::asset_count)
  std::size_t steps = 0;
  int threads = 0;
  double weather_s = 0;            // precomputing the weather series (once per location and step)
  double wall_s = 0;               // stepping only
  double cpu_s = 0;                // CPU time of the stepping threads, summed
  double asset_steps_per_s = 0;    // asset-steps over wall time: the headline figure
  double asset_steps_per_cpu_s = 0;  // asset-steps per CPU-second of one thread
  double checksum = 0;             // sum of final site nets: keeps the work observable
};

BenchResult run_bench(const BenchOptions& opt);
std::string format_bench(const BenchResult& r);   // ends with "asset_steps_per_s: X\n"

}  // namespace vpp::sim
