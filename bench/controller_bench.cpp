// vpp-bench controller --assets N [--repeat R] [--ticks K]
// In-process latency of the controller core on a fleet of N assets (sites of 5: meter, PV,
// battery, HVAC zone, flexible load): the time from a curtailment event arriving to all its
// commands being produced, and the time of a control tick, as p50/p99 over repetitions.
// Between ticks (untimed) every site reports and the devices acknowledge the commands they
// were sent, as a healthy fleet does; the readings do not follow the commands, so the
// allocator finds the fleet short of its target on every tick and works at full stretch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/registry.hpp"
#include "controller/core.hpp"

namespace vpp::bench {
namespace {

using namespace std::chrono_literals;
using controller::Core;

Site make_site(int i) {
  Site s;
  s.id = "s" + std::to_string(i);
  s.type = BuildingType::office;
  s.limits.battery_reserve_pct = 20;
  s.limits.max_curtailment_pct = 30;
  s.limits.export_limit_kw = 1e6;
  s.assets = {
      {"meter", "", SiteMeterSpec{}},
      {"pv", "", PvSpec{.rated_kw = 200, .dc_peak_kw = 220}},
      {"bat", "", BatterySpec{.capacity_kwh = 400, .max_charge_kw = 200, .max_discharge_kw = 200}},
      {"hvac", "", HvacZoneSpec{.rated_electric_kw = 300, .floor_area_m2 = 20000, .thermal_resistance_k_per_kw = 0.05,
                                .thermal_capacitance_kwh_per_k = 900, .default_setpoint_c = 26}},
      {"light", "", FlexibleLoadSpec{.rated_kw = 100, .max_curtail_pct = 30}},
  };
  return s;
}

void report_all(Core& core, int sites, TimePoint t, int round) {
  for (int i = 0; i < sites; ++i) {
    const std::string id = "s" + std::to_string(i);
    auto send = [&](const char* asset, auto&& fill) {
      Telemetry r;
      r.site_id = id;
      r.asset_id = asset;
      r.time = t;
      fill(r);
      core.handle(r, t);
    };
    send("meter", [&](Telemetry& r) { r.p_kw = 600 + (i % 17) + 0.01 * round; });
    send("pv", [&](Telemetry& r) { r.p_kw = 120; r.available_kw = 120; });
    send("bat", [&](Telemetry& r) { r.p_kw = 0; r.soc_pct = 40 + i % 50; });
    send("hvac", [&](Telemetry& r) { r.p_kw = 200; r.indoor_temp_c = 24 + (i % 10) * 0.1; });
    send("light", [&](Telemetry& r) { r.p_kw = 80; });
  }
}

// The devices' acknowledgements of the commands in `out`, a second after they were sent.
void ack_all(Core& core, const std::vector<controller::Output>& out, TimePoint t) {
  for (const auto& o : out) {
    if (const auto* c = std::get_if<vpp::Command>(&o)) {
      core.handle(CommandAck{c->command_id, c->site_id, c->asset_id, AckStatus::accepted, t, ""}, t);
    }
  }
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

int run(const std::vector<std::string>& args) {
  int assets = 10000, repeat = 30, ticks = 200;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--assets") assets = std::stoi(args[i + 1]);
    else if (args[i] == "--repeat") repeat = std::stoi(args[i + 1]);
    else if (args[i] == "--ticks") ticks = std::stoi(args[i + 1]);
    else {
      std::fprintf(stderr, "vpp-bench controller: unknown argument %s\n", args[i].c_str());
      return 2;
    }
  }
  const int sites = std::max(1, assets / 5);
  controller::Settings s;
  s.commands.min_interval = 0s;
  s.allocator.settle_time = 0s;
  const TimePoint t0 = from_unix_ms(1'783'400'400'000);  // a 15-minute boundary

  using clock = std::chrono::steady_clock;
  std::vector<double> event_ms, tick_ms;
  std::size_t commands = 0;
  for (int r = 0; r < repeat; ++r) {
    Core core(s, "b");
    for (int i = 0; i < sites; ++i) core.handle(controller::EnrolSite{make_site(i)}, t0 - 1h);
    report_all(core, sites, t0 - 1min, 0);
    CurtailmentEvent e;
    e.event_id = "e" + std::to_string(r);
    e.start = t0;
    e.duration = 2h;
    e.import_cap_kw = 0.8 * 600 * sites;  // shed about a fifth of the fleet's import
    const auto a = clock::now();
    const auto out = core.handle(GridSignal{t0, "bench", e}, t0);
    const auto b = clock::now();
    event_ms.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    commands = 0;
    for (const auto& o : out) commands += std::holds_alternative<vpp::Command>(o);
    if (r == 0) {
      // Control ticks under the event, with fresh telemetry and acknowledgements between them
      // (not timed).
      ack_all(core, out, t0 + 1s);
      for (int k = 1; k <= ticks; ++k) {
        const auto t = t0 + std::chrono::seconds(10 * k);
        report_all(core, sites, t, k);
        const auto c = clock::now();
        const auto tick_out = core.handle(controller::Tick{}, t);
        tick_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - c).count());
        ack_all(core, tick_out, t + 1s);
      }
    }
  }
  std::printf(
      "{\"bench\":\"controller\",\"assets\":%d,\"sites\":%d,\"event_commands\":%zu,\"event_p50_ms\":%.3f,"
      "\"event_p99_ms\":%.3f,\"tick_p50_ms\":%.3f,\"tick_p99_ms\":%.3f,\"repeat\":%d,\"ticks\":%d}\n",
      sites * 5, sites, commands, percentile(event_ms, 0.5), percentile(event_ms, 0.99), percentile(tick_ms, 0.5),
      percentile(tick_ms, 0.99), repeat, ticks);
  return 0;
}

const bool registered = add({"controller", "controller --assets N [--repeat R] [--ticks K]", run});

}  // namespace
}  // namespace vpp::bench
