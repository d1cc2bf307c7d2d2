// vppsim: runs scenarios of simulated buildings on a virtual clock and benchmarks the physics.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sim/bench.hpp"
#include "sim/fleet_gen.hpp"
#include "sim/replay.hpp"
#include "sim/report.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"
#include "sim/strategy.hpp"

namespace vpp::apps {
int serve_main(const std::vector<std::string_view>& args);         // apps/vppsim_serve.cpp
int serve_config_main(const std::vector<std::string_view>& args);
}  // namespace vpp::apps

namespace {

constexpr const char* kUsage = R"(usage: vppsim run SCENARIO --out DIR [--seed N] [--strategy NAME] [--no-site-series] [--quiet]
                  [--record FILE]
       vppsim replay FILE --out DIR [--until TIME] [--check OUTPUTS]
       vppsim whatif FILE --config OTHER.yaml --out DIR [--quiet]
       vppsim check SCENARIO
       vppsim bench --sites N --days D --step-s S [--threads T] [--repeat R]
       vppsim strategies
       vppsim serve SCENARIO [--clock-factor F] [--broker URL] [--modbus-base-port P]
                     [--duration D] [--start-at now|scenario]   (vppsim serve --help)
       vppsim serve-config SCENARIO [options]                      (vppsim serve --help)
       vppsim --help | --version

Commands:
  run         run SCENARIO (YAML, see config/scenarios/demo.yaml): first the uncontrolled
              baseline, then the strategy; writes DIR/kpis.json, DIR/timeseries.csv and
              DIR/report.html and prints the KPI table
  replay      feed a recording's inputs to a fresh controller core and write its output
              stream to DIR/outputs.bin (byte-identical to the recorded run's); with
              --until, stop there and print the core's state and why it acts as it does
  whatif      re-run a recorded day (same scenario and seed: the same weather, base loads,
              signals and initial states) with the controller settings of OTHER.yaml
              (`controller:`, `optimizer:`, `history_days:` as in a scenario) and print
              the KPIs of both side by side
  check       validate SCENARIO and print what it describes
  bench       time the fleet physics alone; prints asset_steps_per_s last (the median
              of R repetitions)
  strategies  list the strategies

Options:
  --out DIR          output directory (created if missing)
  --seed N           override the scenario's seed
  --strategy NAME    override the scenario's strategy
  --no-site-series   write only fleet rows to timeseries.csv (large fleets)
  --quiet            no progress bar
  --record FILE      (controller strategy) record every input of the core to FILE and its
                     output stream to DIR/outputs.bin
  --until TIME       RFC 3339 time at which a replay stops
  --check OUTPUTS    compare the replayed output stream with a recorded one and show the
                     first difference
  --sites N --days D --step-s S --threads T --repeat R
                     bench size and repetitions (defaults 1000, 1, 60, 2, 1)

Exit status: 0 done, 1 the run failed, 2 bad arguments or an invalid scenario (every error
is listed as file:line:column: field: reason).
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "vppsim: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

template <typename T>
T parse_number(std::string_view flag, std::string_view s) {
  T v{};
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) usage_error(std::string(flag) + " needs a number, found '" + std::string(s) + "'");
  return v;
}

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void update(double f, std::string_view phase) {
    if (!enabled_) return;
    const int pct = static_cast<int>(f * 100.0 + 0.5);
    if (pct == last_ && phase == phase_) return;
    last_ = pct;
    phase_ = std::string(phase);
    const int width = 40, filled = pct * width / 100;
    std::fprintf(stderr, "\r[%.*s%.*s] %3d%% %-16s", filled, "########################################", width - filled,
                 "........................................", pct, phase_.c_str());
    std::fflush(stderr);
  }
  // Ends the bar's line (once), so that what follows starts on a line of its own.
  void finish() {
    if (enabled_ && last_ >= 0 && !finished_) std::fputc('\n', stderr);
    finished_ = true;
  }
  ~ProgressBar() { finish(); }

 private:
  bool enabled_;
  bool finished_ = false;
  int last_ = -1;
  std::string phase_;
};

// Creates an output directory; false (after saying why) if it cannot.
bool ensure_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) std::fprintf(stderr, "vppsim: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
  return !ec;
}

int cmd_run(const std::vector<std::string_view>& args) {
  std::string scenario_path, out_dir;
  vpp::sim::RunOptions opt;
  bool quiet = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) usage_error(std::string(a) + " needs a value");
      return args[++i];
    };
    if (a == "--out") {
      out_dir = std::string(value());
    } else if (a == "--seed") {
      opt.seed = parse_number<std::uint64_t>("--seed", value());
    } else if (a == "--strategy") {
      opt.strategy = std::string(value());
    } else if (a == "--no-site-series") {
      opt.per_site_series = false;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--record") {
      opt.record_path = std::string(value());
    } else if (!a.empty() && a[0] == '-') {
      usage_error("unknown option '" + std::string(a) + "'");
    } else if (scenario_path.empty()) {
      scenario_path = std::string(a);
    } else {
      usage_error("unexpected argument '" + std::string(a) + "'");
    }
  }
  if (scenario_path.empty()) usage_error("run needs a SCENARIO file");
  if (out_dir.empty()) usage_error("run needs --out DIR");
  auto sc = vpp::sim::load_scenario_file(scenario_path);
  if (!sc) {
    std::fprintf(stderr, "%svppsim: %s is not a valid scenario\n", sc.error().c_str(), scenario_path.c_str());
    return 2;
  }
  if (opt.strategy) {
    auto probe = vpp::sim::make_strategy(*opt.strategy);
    if (!probe) usage_error("--strategy: " + probe.error());
  }
  if (!opt.record_path.empty()) {
    if (!ensure_dir(out_dir)) return 1;
    opt.outputs_path = out_dir + "/outputs.bin";
  }
  ProgressBar bar(!quiet && isatty(STDERR_FILENO));
  opt.progress = [&](double f, std::string_view phase) { bar.update(f, phase); };
  auto result = vpp::sim::run_scenario(*sc, opt);
  if (!result) {
    bar.finish();
    std::fprintf(stderr, "vppsim: %s\n", result.error().c_str());
    return 1;
  }
  auto written = vpp::sim::write_outputs(*result, out_dir);
  bar.update(1.0, "done");
  bar.finish();
  if (!written) {
    std::fprintf(stderr, "vppsim: %s\n", written.error().c_str());
    return 1;
  }
  for (const auto& w : *written) std::fprintf(stderr, "vppsim: warning: %s\n", w.c_str());
  for (const auto& n : result->notes) std::printf("%s\n", n.c_str());
  std::printf("%s", vpp::sim::kpi_table(*result).c_str());
  std::printf("wrote %s/kpis.json, %s/timeseries.csv, %s/report.html\n", out_dir.c_str(), out_dir.c_str(), out_dir.c_str());
  return 0;
}

int cmd_replay(const std::vector<std::string_view>& args) {
  vpp::sim::ReplayOptions opt;
  std::string out_dir;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) usage_error(std::string(a) + " needs a value");
      return args[++i];
    };
    if (a == "--out") {
      out_dir = std::string(value());
    } else if (a == "--check") {
      opt.expected = std::string(value());
    } else if (a == "--until") {
      const auto v = value();
      opt.stop_at = vpp::parse_utc(v);
      if (!opt.stop_at) usage_error("--until needs an RFC 3339 time with a zone, found '" + std::string(v) + "'");
    } else if (!a.empty() && a[0] == '-') {
      usage_error("unknown option '" + std::string(a) + "'");
    } else if (opt.recording.empty()) {
      opt.recording = std::string(a);
    } else {
      usage_error("unexpected argument '" + std::string(a) + "'");
    }
  }
  if (opt.recording.empty()) usage_error("replay needs a recording FILE");
  if (out_dir.empty()) usage_error("replay needs --out DIR");
  if (!ensure_dir(out_dir)) return 1;
  opt.outputs = out_dir + "/outputs.bin";
  const auto r = vpp::sim::replay(opt);
  if (!r) {
    std::fprintf(stderr, "vppsim: %s\n", r.error().c_str());
    return 1;
  }
  std::printf("replayed %s: %llu inputs up to %s, %llu outputs, %llu plans solved again\n", r->scenario.c_str(),
              static_cast<unsigned long long>(r->inputs), vpp::format_utc(r->last_time).c_str(),
              static_cast<unsigned long long>(r->outputs), static_cast<unsigned long long>(r->solves));
  for (const auto& m : r->mismatches) std::printf("mismatch: %s\n", m.c_str());
  if (opt.stop_at) std::printf("%s", r->state.c_str());
  std::printf("wrote %s\n", opt.outputs.c_str());
  return r->mismatches.empty() ? 0 : 1;
}

int cmd_whatif(const std::vector<std::string_view>& args) {
  std::string recording, overrides, out_dir;
  bool quiet = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) usage_error(std::string(a) + " needs a value");
      return args[++i];
    };
    if (a == "--config") {
      overrides = std::string(value());
    } else if (a == "--out") {
      out_dir = std::string(value());
    } else if (a == "--quiet") {
      quiet = true;
    } else if (!a.empty() && a[0] == '-') {
      usage_error("unknown option '" + std::string(a) + "'");
    } else if (recording.empty()) {
      recording = std::string(a);
    } else {
      usage_error("unexpected argument '" + std::string(a) + "'");
    }
  }
  if (recording.empty() || overrides.empty() || out_dir.empty()) usage_error("whatif needs FILE --config OTHER.yaml --out DIR");
  auto run = vpp::sim::read_recorded_run(recording);
  if (!run) {
    std::fprintf(stderr, "vppsim: %s\n", run.error().c_str());
    return 1;
  }
  auto other = vpp::sim::apply_overrides(run->scenario, overrides);
  if (!other) {
    std::fprintf(stderr, "%svppsim: %s is not a valid what-if file\n", other.error().c_str(), overrides.c_str());
    return 2;
  }
  ProgressBar bar(!quiet && isatty(STDERR_FILENO));
  std::vector<vpp::sim::RunResult> results;
  const std::pair<const vpp::sim::Scenario*, const char*> runs[] = {{&run->scenario, "recorded"}, {&*other, "whatif"}};
  for (const auto& [sc, label] : runs) {
    vpp::sim::RunOptions opt;
    opt.seed = run->seed;
    opt.strategy = "controller";
    const std::string phase = label;
    opt.progress = [&](double f, std::string_view) { bar.update(f, phase); };
    auto result = vpp::sim::run_scenario(*sc, opt);
    if (!result) {
      bar.finish();
      std::fprintf(stderr, "vppsim: %s run failed: %s\n", label, result.error().c_str());
      return 1;
    }
    auto written = vpp::sim::write_outputs(*result, out_dir + "/" + label);
    if (!written) {
      bar.finish();
      std::fprintf(stderr, "vppsim: %s\n", written.error().c_str());
      return 1;
    }
    results.push_back(std::move(*result));
  }
  bar.finish();
  std::printf("%s", vpp::sim::kpi_compare_table({&results[0], &results[1]}, {"recorded", "whatif"}).c_str());
  std::printf("wrote %s/recorded and %s/whatif\n", out_dir.c_str(), out_dir.c_str());
  return 0;
}

int cmd_check(const std::vector<std::string_view>& args) {
  if (args.size() != 1) usage_error("check needs exactly one SCENARIO file");
  const std::string path(args[0]);
  auto sc = vpp::sim::load_scenario_file(path);
  if (!sc) {
    std::fprintf(stderr, "%svppsim: %s is not a valid scenario\n", sc.error().c_str(), path.c_str());
    return 2;
  }
  const auto setup = vpp::sim::make_fleet(*sc, sc->seed);
  const auto summary = vpp::summarize(setup.sites);
  std::printf("scenario:   %s (seed %llu, strategy %s)\n", sc->name.c_str(), static_cast<unsigned long long>(sc->seed),
              sc->strategy.c_str());
  std::printf("period:     %s for %s in steps of %s (warm-up %s)\n", vpp::format_utc(sc->start).c_str(),
              vpp::format_duration(sc->duration).c_str(), vpp::format_duration(sc->step).c_str(),
              vpp::format_duration(sc->warmup).c_str());
  std::printf("sites:      %zu\n", summary.sites);
  std::printf("pv:         %zu assets, %.1f kW AC\n", summary.assets(vpp::AssetKind::pv), summary.pv_kw);
  std::printf("battery:    %zu assets, %.1f kWh, %.1f kW\n", summary.assets(vpp::AssetKind::battery), summary.battery_kwh,
              summary.battery_kw);
  std::printf("hvac:       %zu zones, %.1f kW electric\n", summary.assets(vpp::AssetKind::hvac_zone), summary.hvac_kw);
  std::printf("flexible:   %zu loads, %.1f kW\n", summary.assets(vpp::AssetKind::flexible_load), summary.flexible_load_kw);
  std::printf("events:     %zu\n", sc->events.size());
  return 0;
}

int cmd_bench(const std::vector<std::string_view>& args) {
  vpp::sim::BenchOptions opt;
  int repeat = 1;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) usage_error(std::string(a) + " needs a value");
      return args[++i];
    };
    if (a == "--sites") {
      opt.sites = parse_number<int>("--sites", value());
    } else if (a == "--days") {
      opt.days = parse_number<double>("--days", value());
    } else if (a == "--step-s") {
      opt.step_s = parse_number<int>("--step-s", value());
    } else if (a == "--threads") {
      opt.threads = parse_number<int>("--threads", value());
    } else if (a == "--repeat") {
      repeat = parse_number<int>("--repeat", value());
    } else if (a == "--seed") {
      opt.seed = parse_number<std::uint64_t>("--seed", value());
    } else {
      usage_error("unknown bench option '" + std::string(a) + "'");
    }
  }
  if (opt.sites < 1 || opt.sites > 1'000'000) usage_error("--sites must be 1..1000000");
  if (!(opt.days > 0) || opt.days > 3660) usage_error("--days must be > 0 and at most 3660");
  if (opt.step_s < 1 || opt.step_s > 3600 || 86400 % opt.step_s != 0) usage_error("--step-s must divide a day (1..3600)");
  if (opt.threads < 1 || opt.threads > 256) usage_error("--threads must be 1..256");
  if (repeat < 1 || repeat > 100) usage_error("--repeat must be 1..100");
  std::vector<vpp::sim::BenchResult> runs;
  for (int k = 0; k < repeat; ++k) {
    runs.push_back(vpp::sim::run_bench(opt));
    if (runs.back().steps == 0) usage_error("the benchmark has no steps (days x 86400 / step-s < 1)");
    if (repeat > 1) {
      std::printf("run %d: wall_s %.3f cpu_s %.3f asset_steps_per_s %.0f\n", k + 1, runs.back().wall_s, runs.back().cpu_s,
                  runs.back().asset_steps_per_s);
    }
  }
  // The median run (upper median for an even count) is the one reported.
  std::sort(runs.begin(), runs.end(), [](const auto& x, const auto& y) { return x.asset_steps_per_s < y.asset_steps_per_s; });
  std::printf("%s", vpp::sim::format_bench(runs[runs.size() / 2]).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) usage_error("a command is required");
  const auto cmd = args.front();
  const std::vector<std::string_view> rest(args.begin() + 1, args.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("vppsim %s\n", VPP_VERSION);
    return 0;
  }
  if (cmd == "run") return cmd_run(rest);
  if (cmd == "check") return cmd_check(rest);
  if (cmd == "replay") return cmd_replay(rest);
  if (cmd == "whatif") return cmd_whatif(rest);
  if (cmd == "bench") return cmd_bench(rest);
  if (cmd == "serve") return vpp::apps::serve_main(rest);
  if (cmd == "serve-config") return vpp::apps::serve_config_main(rest);
  if (cmd == "strategies") {
    for (const auto& s : vpp::sim::strategies()) std::printf("%-14s %s\n", s.name.c_str(), s.description.c_str());
    return 0;
  }
  usage_error("unknown command '" + std::string(cmd) + "'");
}
