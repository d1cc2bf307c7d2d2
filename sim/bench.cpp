#include "sim/bench.hpp"

#include <time.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "sim/fleet.hpp"
#include "sim/fleet_gen.hpp"
#include "sim/weather.hpp"

namespace vpp::sim {

BenchResult run_bench(const BenchOptions& opt) {
  Scenario sc;
  sc.name = "bench";
  sc.start = *parse_utc("2026-01-01T00:00:00+08:00");
  sc.step = std::chrono::seconds(opt.step_s);
  sc.utc_offset_minutes = 480;
  sc.location = {39.8, 116.47, 32};
  FleetGenConfig g;
  g.sites = opt.sites;
  g.mix = {0.4, 0.15, 0.2, 0.15, 0.1};
  g.pv_penetration = 1;
  g.battery_penetration = 1;
  g.flexible_penetration = 1;
  sc.fleet = g;
  sc.weather.temperature_source = WeatherConfig::TemperatureSource::daily_cycle;
  sc.weather.clouds.cover = 0.3;
  sc.weather.clouds.variability = 0.05;
  const FleetSetup setup = make_fleet(sc, opt.seed);
  FleetOptions fo;
  fo.step = sc.step;
  fo.seed = opt.seed;
  auto fleet = FleetModel::build(setup.sites, setup.loads, fo);
  BenchResult r;
  if (!fleet) return r;
  const auto steps = static_cast<std::size_t>(opt.days * 86400.0 / opt.step_s);

  // Wall-clock timing of the benchmark itself (not simulation time).
  using Wall = std::chrono::steady_clock;
  const auto w0 = Wall::now();
  const WeatherSeries weather(sc.weather, setup.locations, sc.start, sc.step, steps, sc.utc_offset_minutes, opt.seed);
  const auto w1 = Wall::now();

  const auto ranges = fleet->partition(static_cast<std::size_t>(std::max(1, opt.threads)));
  std::vector<std::thread> pool;
  std::vector<double> cpu_s(ranges.size(), 0.0);
  const auto t0 = Wall::now();
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    pool.emplace_back([&, i] {
      // CPU time of this thread: on a machine shared with other work it shows what the
      // physics costs apart from the time spent waiting for a core.
      timespec c0{}, c1{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
      StepInputs in;
      for (std::size_t k = 0; k < steps; ++k) {
        make_step_inputs(weather, k, 0, in);
        fleet->step(in, ranges[i]);
      }
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
      cpu_s[i] = static_cast<double>(c1.tv_sec - c0.tv_sec) + 1e-9 * static_cast<double>(c1.tv_nsec - c0.tv_nsec);
    });
  }
  for (auto& t : pool) t.join();
  const auto t1 = Wall::now();
  for (double c : cpu_s) r.cpu_s += c;

  r.sites = fleet->site_count();
  r.assets = fleet->asset_count();
  r.steps = steps;
  r.threads = static_cast<int>(ranges.size());
  r.weather_s = std::chrono::duration<double>(w1 - w0).count();
  r.wall_s = std::chrono::duration<double>(t1 - t0).count();
  r.asset_steps_per_s = r.wall_s > 0 ? static_cast<double>(r.assets) * static_cast<double>(steps) / r.wall_s : 0;
  r.asset_steps_per_cpu_s = r.cpu_s > 0 ? static_cast<double>(r.assets) * static_cast<double>(steps) / r.cpu_s : 0;
  for (double v : fleet->site_net_kw()) r.checksum += v;
  return r;
}

std::string format_bench(const BenchResult& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "sites: %zu\nassets: %zu\nsteps: %zu\nthreads: %d\nweather_s: %.3f\nwall_s: %.3f\ncpu_s: %.3f\n"
                "checksum_kw: %.3f\nasset_steps: %.0f\nasset_steps_per_cpu_s: %.0f\nasset_steps_per_s: %.0f\n",
                r.sites, r.assets, r.steps, r.threads, r.weather_s, r.wall_s, r.cpu_s, r.checksum,
                static_cast<double>(r.assets) * static_cast<double>(r.steps), r.asset_steps_per_cpu_s,
                r.asset_steps_per_s);
  return buf;
}

}  // namespace vpp::sim
