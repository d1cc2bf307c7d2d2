// vpp-bench sim: throughput of the simulator's fleet physics (the same measurement as
// `vppsim bench`), one JSON line.
#include <cstdio>
#include <string>

#include "bench/registry.hpp"
#include "sim/bench.hpp"

namespace {

int run(const std::vector<std::string>& args) {
  vpp::sim::BenchOptions opt;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    try {
      if (args[i] == "--sites") {
        opt.sites = std::stoi(args[i + 1]);
      } else if (args[i] == "--days") {
        opt.days = std::stod(args[i + 1]);
      } else if (args[i] == "--step-s") {
        opt.step_s = std::stoi(args[i + 1]);
      } else if (args[i] == "--threads") {
        opt.threads = std::stoi(args[i + 1]);
      } else {
        std::fprintf(stderr, "vpp-bench sim: unknown option '%s'\n", args[i].c_str());
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "vpp-bench sim: %s needs a number, found '%s'\n", args[i].c_str(), args[i + 1].c_str());
      return 2;
    }
  }
  if (args.size() % 2 != 0 || opt.sites < 1 || !(opt.days > 0) || opt.step_s < 1 || 86400 % opt.step_s != 0 ||
      opt.threads < 1) {
    std::fprintf(stderr, "usage: vpp-bench sim [--sites N] [--days D] [--step-s S] [--threads T]\n");
    return 2;
  }
  const auto r = vpp::sim::run_bench(opt);
  std::printf(
      "{\"bench\": \"sim\", \"sites\": %zu, \"assets\": %zu, \"steps\": %zu, \"threads\": %d, \"wall_s\": %.3f, "
      "\"asset_steps_per_s\": %.0f}\n",
      r.sites, r.assets, r.steps, r.threads, r.wall_s, r.asset_steps_per_s);
  return 0;
}

const bool registered = vpp::bench::add(
    {"sim", "sim [--sites 1000] [--days 1] [--step-s 60] [--threads 2]   fleet physics asset-steps per second", run});

}  // namespace
