// vppsim serve / serve-config: the scenario's fleet as real devices for a real vppd
// (sim/emulators/emulator.hpp), and the vppd configuration that talks to them.
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "sim/emulators/emulator.hpp"
#include "sim/emulators/serve_plan.hpp"
#include "sim/fleet_gen.hpp"
#include "sim/scenario.hpp"

namespace vpp::apps {
namespace {

constexpr const char* kServeUsage = R"(usage: vppsim serve SCENARIO [--clock-factor F] [--broker tcp://127.0.0.1:PORT]
                      [--modbus-base-port P] [--duration D] [--start-at now|scenario]
       vppsim serve-config SCENARIO [--broker URL] [--modbus-base-port P] [--http-port N]
                      [--token-sha256 HEX] [--store PATH] [--client-id ID] [--modbus-poll D]
                      [--log-level LEVEL]

serve         runs the scenario's fleet in real time (or F times faster) and exposes each site
              as the scenario's serve: section says: Sparkplug B edge nodes, JSON MQTT devices,
              SunSpec Modbus TCP servers. Prints "ready: ..." once serving, a summary at the end.
serve-config  prints vppd's YAML configuration for the same fleet and endpoints.

Options:
  --clock-factor F       scenario seconds per wall second (default 1)
  --broker URL           MQTT broker (required when any site is served over MQTT)
  --modbus-base-port P   first Modbus TCP port (default 1502); ports count up per site gateway
                         (or per device with serve.modbus_ports: device)
  --duration D           scenario time to serve, e.g. 30m (default the scenario's duration)
  --start-at now         serve from the scenario time whose local time of day is now, with
                         device clocks on the real time (what a vppd on the system clock needs)
  --start-at scenario    serve from the scenario's start, device clocks in scenario time (default)
  --time-of-day HH:MM    with --start-at now: serve from the scenario time at this local time of
                         day instead of now's (device clocks still on the real time), so a run
                         sees the same fleet whenever it starts
)";

[[noreturn]] void serve_usage_error(const std::string& msg) {
  std::fprintf(stderr, "vppsim: %s\n%s", msg.c_str(), kServeUsage);
  std::exit(2);
}

int parse_port(std::string_view flag, std::string_view s) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < 1 || v > 65535) {
    serve_usage_error(std::string(flag) + " needs a port 1..65535, found '" + std::string(s) + "'");
  }
  return v;
}

Duration parse_dur(std::string_view flag, std::string_view s) {
  auto d = parse_duration(s);
  if (!d || d->count() <= 0) serve_usage_error(std::string(flag) + " needs a positive duration such as 30m, found '" + std::string(s) + "'");
  return *d;
}

std::optional<sim::Scenario> load(const std::string& path) {
  auto sc = sim::load_scenario_file(path);
  if (!sc) {
    std::fprintf(stderr, "%svppsim: %s is not a valid scenario\n", sc.error().c_str(), path.c_str());
    return std::nullopt;
  }
  return std::move(*sc);
}

sim::emulators::Emulator* g_emulator = nullptr;

extern "C" void on_signal(int) {
  if (g_emulator) g_emulator->stop();
}

}  // namespace

int serve_main(const std::vector<std::string_view>& args) {
  std::string path;
  sim::emulators::ServeOptions opt;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) serve_usage_error(std::string(a) + " needs a value");
      return args[++i];
    };
    if (a == "--clock-factor") {
      const auto s = value();
      double f = 0;
      const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), f);
      if (ec != std::errc{} || p != s.data() + s.size() || !(f > 0) || f > 10000) {
        serve_usage_error("--clock-factor needs a number > 0 and at most 10000, found '" + std::string(s) + "'");
      }
      opt.clock_factor = f;
    } else if (a == "--broker") {
      opt.broker_url = std::string(value());
      if (opt.broker_url.rfind("tcp://", 0) != 0) serve_usage_error("--broker needs tcp://HOST:PORT, found '" + opt.broker_url + "'");
    } else if (a == "--modbus-base-port") {
      opt.modbus_base_port = parse_port(a, value());
    } else if (a == "--duration") {
      opt.duration = parse_dur(a, value());
    } else if (a == "--start-at") {
      const auto v = value();
      if (v != "now" && v != "scenario") serve_usage_error("--start-at must be now or scenario, found '" + std::string(v) + "'");
      opt.start_at_now = v == "now";
    } else if (a == "--time-of-day") {
      const auto v = std::string(value());
      const auto m = config::parse_hh_mm(v);
      if (!m || *m >= 1440) serve_usage_error("--time-of-day must be HH:MM, found '" + v + "'");
      opt.time_of_day = std::chrono::minutes(*m);
    } else if (a == "--help" || a == "-h") {
      std::fputs(kServeUsage, stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      serve_usage_error("unknown serve option '" + std::string(a) + "'");
    } else if (path.empty()) {
      path = std::string(a);
    } else {
      serve_usage_error("unexpected argument '" + std::string(a) + "'");
    }
  }
  if (path.empty()) serve_usage_error("serve needs a SCENARIO file");
  auto sc = load(path);
  if (!sc) return 2;
  auto em = sim::emulators::Emulator::create(*sc, opt);
  if (!em) {
    std::fprintf(stderr, "vppsim: %s\n", em.error().c_str());
    return 2;
  }
  g_emulator = em->get();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const auto& plan = (*em)->plan();
  auto result = (*em)->run([&] {
    std::size_t spb = 0, json = 0, modbus = 0;
    for (const auto& s : plan.sites) {
      (s.dialect == sim::ServeDialect::sparkplug_b ? spb : s.dialect == sim::ServeDialect::json ? json : modbus) += 1;
    }
    const TimePoint t = (*em)->scenario_time();
    std::printf("ready: %zu sites (sparkplug_b %zu, json %zu, modbus %zu), %zu MQTT devices, %zu SunSpec devices on %d ports from %d, "
                "scenario time %s, device time %s, clock factor %g\n",
                plan.sites.size(), spb, json, modbus, plan.json_assets.size() + plan.sparkplug_assets.size(), plan.modbus.size(),
                plan.modbus_ports, opt.modbus_base_port, format_utc(t).c_str(), format_utc(t + (*em)->stamp_shift()).c_str(),
                opt.clock_factor);
    std::fflush(stdout);
  });
  g_emulator = nullptr;
  if (!result) {
    std::fprintf(stderr, "vppsim: %s\n", result.error().c_str());
    return 1;
  }
  const auto s = (*em)->stats();
  std::printf("served: steps %llu (late %llu), telemetry %llu, births %llu, commands %llu (repeats %llu), rejected %llu, "
              "modbus requests %llu, modbus controls %llu, reverts %llu\n",
              static_cast<unsigned long long>(s.steps), static_cast<unsigned long long>(s.late_steps),
              static_cast<unsigned long long>(s.telemetry_messages), static_cast<unsigned long long>(s.births),
              static_cast<unsigned long long>(s.commands), static_cast<unsigned long long>(s.repeated_commands),
              static_cast<unsigned long long>(s.rejected_messages), static_cast<unsigned long long>(s.modbus_requests),
              static_cast<unsigned long long>(s.modbus_controls), static_cast<unsigned long long>(s.modbus_reverts));
  return 0;
}

int serve_config_main(const std::vector<std::string_view>& args) {
  std::string path;
  sim::emulators::VppdConfigOptions o;
  int base_port = 1502;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) serve_usage_error(std::string(a) + " needs a value");
      return args[++i];
    };
    if (a == "--broker") {
      o.broker_url = std::string(value());
    } else if (a == "--modbus-base-port") {
      base_port = parse_port(a, value());
    } else if (a == "--http-port") {
      o.http_port = parse_port(a, value());
    } else if (a == "--token-sha256") {
      o.operator_token_sha256 = std::string(value());
      const bool hex = o.operator_token_sha256.size() == 64 &&
                       o.operator_token_sha256.find_first_not_of("0123456789abcdef") == std::string::npos;
      if (!hex) serve_usage_error("--token-sha256 needs 64 lowercase hex digits (sha256sum of the token)");
    } else if (a == "--store") {
      o.store_path = std::string(value());
    } else if (a == "--client-id") {
      o.client_id = std::string(value());
    } else if (a == "--modbus-poll") {
      o.modbus_poll = parse_dur(a, value());
    } else if (a == "--log-level") {
      o.log_level = std::string(value());
    } else if (!a.empty() && a[0] == '-') {
      serve_usage_error("unknown serve-config option '" + std::string(a) + "'");
    } else if (path.empty()) {
      path = std::string(a);
    } else {
      serve_usage_error("unexpected argument '" + std::string(a) + "'");
    }
  }
  if (path.empty()) serve_usage_error("serve-config needs a SCENARIO file");
  auto sc = load(path);
  if (!sc) return 2;
  const auto setup = sim::make_fleet(*sc, sc->seed);
  auto plan = sim::emulators::make_plan(sc->serve, setup.sites, base_port);
  if (!plan) {
    std::fprintf(stderr, "vppsim: %s\n", plan.error().c_str());
    return 2;
  }
  std::fputs(sim::emulators::vppd_config_yaml(*sc, setup.sites, *plan, o).c_str(), stdout);
  return 0;
}

}  // namespace vpp::apps
