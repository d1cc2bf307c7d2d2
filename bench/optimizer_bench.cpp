// vpp-bench optimizer: solves a seeded random fleet (optimizer/random_fleet.hpp) with CLP and/or
// the decomposed solver and prints one JSON line per solver.
//   gap_to_reference: (objective - CLP objective) / |CLP objective| when CLP ran in the same call,
//   otherwise the decomposed solver's certified primal-dual gap (objective - lower bound) / |objective|.
//   peak_rss_mb: the process's peak resident set so far (getrusage), so run one solver per call
//   when memory matters.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "bench/registry.hpp"
#include "optimizer/random_fleet.hpp"
#include "optimizer/solvers.hpp"

namespace {

using namespace vpp::optimizer;

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

void print(const Plan& plan, const char* solver, int sites, int steps, double gap, bool gap_is_bound, int threads) {
  std::printf(
      "{\"solver\":\"%s\",\"sites\":%d,\"steps\":%d,\"variables\":%zu,\"constraints\":%zu,\"build_s\":%.3f,"
      "\"solve_s\":%.3f,\"objective\":%.4f,\"gap_to_reference\":%.6f,\"gap_kind\":\"%s\",\"iterations\":%d,"
      "\"shortfall_kwh\":%.3f,\"threads\":%d,\"peak_rss_mb\":%.1f}\n",
      solver, sites, steps, plan.stats.variables, plan.stats.constraints, plan.stats.build_s, plan.stats.solve_s,
      plan.objective.total, gap, gap_is_bound ? "certified_bound" : "vs_clp", plan.stats.iterations,
      [&] {
        double s = 0;
        for (double x : plan.shortfall_kw) s += x * plan.horizon.dt_h();
        return s;
      }(),
      threads, peak_rss_mb());
  std::fflush(stdout);
}

int run(const std::vector<std::string>& args) {
  RandomFleetOptions fleet;
  fleet.sites = 0;
  std::string solver = "both", method = "dual", mps;
  DecomposedOptions dopt;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "optimizer: %s needs a value\n", name);
        std::exit(2);
      }
      return args[++i];
    };
    auto number = [&](const char* name) {
      std::string v = value(name);
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !std::isfinite(d)) {
        std::fprintf(stderr, "optimizer: %s: '%s' is not a number\n", name, v.c_str());
        std::exit(2);
      }
      return d;
    };
    const std::string& a = args[i];
    if (a == "--sites") fleet.sites = static_cast<int>(number("--sites"));
    else if (a == "--steps") fleet.steps = static_cast<int>(number("--steps"));
    else if (a == "--seed") fleet.seed = static_cast<std::uint64_t>(number("--seed"));
    else if (a == "--solver") solver = value("--solver");
    else if (a == "--clp-method") method = value("--clp-method");
    else if (a == "--event") fleet.event_fraction = number("--event");
    else if (a == "--import-cap") fleet.import_cap_fraction = number("--import-cap");
    else if (a == "--threads") dopt.threads = static_cast<int>(number("--threads"));
    else if (a == "--max-iterations") dopt.max_iterations = static_cast<int>(number("--max-iterations"));
    else if (a == "--export-mps") mps = value("--export-mps");
    else if (a == "--trace") dopt.trace = true;
    else {
      std::fprintf(stderr, "optimizer: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  if (fleet.sites <= 0 || fleet.steps <= 0 || fleet.steps > 1440) {
    std::fprintf(stderr, "optimizer: --sites N (> 0) is required; --steps must be in 1..1440\n");
    return 2;
  }
  if (solver != "clp" && solver != "decomposed" && solver != "both") {
    std::fprintf(stderr, "optimizer: --solver must be clp, decomposed or both\n");
    return 2;
  }
  if (method != "dual" && method != "barrier" && method != "barrier-nocross") {
    std::fprintf(stderr, "optimizer: --clp-method must be dual, barrier or barrier-nocross\n");
    return 2;
  }
  Problem p = random_fleet(fleet);
  if (!mps.empty() && solver == "decomposed") {
    auto w = export_mps(p, mps);
    if (!w) {
      std::fprintf(stderr, "optimizer: %s\n", w.error().c_str());
      return 1;
    }
  }
  double reference = NAN;
  if (solver != "decomposed") {
    ClpOptions copt;
    copt.method = method == "dual" ? ClpMethod::dual_simplex : ClpMethod::barrier;
    copt.crossover = method != "barrier-nocross";
    copt.export_mps = mps;
    auto r = solve_clp(p, copt);
    if (!r) {
      std::fprintf(stderr, "optimizer: %s\n", r.error().c_str());
      return 1;
    }
    reference = r->objective.total;
    print(*r, r->stats.solver.c_str(), fleet.sites, fleet.steps, 0.0, false, 1);
  }
  if (solver != "clp") {
    auto r = solve_decomposed(p, dopt);
    if (!r) {
      std::fprintf(stderr, "optimizer: %s\n", r.error().c_str());
      return 1;
    }
    bool vs_clp = std::isfinite(reference);
    double gap = vs_clp ? (r->objective.total - reference) / std::abs(reference) : r->stats.duality_gap;
    int threads = dopt.threads > 0 ? dopt.threads : static_cast<int>(std::thread::hardware_concurrency());
    print(*r, "decomposed", fleet.sites, fleet.steps, gap, !vs_clp, threads);
  }
  return 0;
}

const bool registered = vpp::bench::add(
    {"optimizer",
     "optimizer --sites N [--steps 96] --solver clp|decomposed|both [--seed S] [--clp-method dual|barrier|barrier-nocross] "
     "[--event FRACTION] [--import-cap FRACTION] [--threads N] [--export-mps FILE]",
     run});

}  // namespace
