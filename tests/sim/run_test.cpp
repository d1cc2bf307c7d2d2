// The runner: KPI definitions on hand-made numbers, delivery against the baseline, the channel
// between fleet and strategy, signal timing, and reproducibility.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/fleet_gen.hpp"
#include "sim/forecasts.hpp"
#include "sim/kpi.hpp"
#include "sim/report.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim {
namespace {

using namespace std::chrono_literals;

const std::string kDemo = std::string(VPP_SOURCE_DIR) + "/config/scenarios/demo.yaml";

// ---------------------------------------------------------------- KPI definitions

TEST(Kpi, DefinitionsOnAHandMadeCase) {
  // Four 15-minute steps.
  PassTotals p;
  p.import_kwh = {10, 20, 0, 5};
  p.export_kwh = {0, 0, 4, 0};
  p.pv_kwh = {0, 6, 8, 0};
  p.net_kw = {40, 80, -16, 20};
  p.comfort_degree_hours = 1.5;
  p.max_comfort_excursion_c = 0.7;
  p.reserve_violations = 2;
  p.rating_violations = 3;
  const std::vector<double> price = {1, 2, 2, 1}, export_price = {0.5, 0.5, 0.5, 0.5}, carbon = {0.5, 0.4, 0.4, 0.8};
  CarbonConfig cc;
  cc.ef_fossil = 0.8;
  const Kpis k = compute_kpis(p, price, export_price, carbon, cc);
  EXPECT_DOUBLE_EQ(k.energy_import_kwh, 35);
  EXPECT_DOUBLE_EQ(k.energy_export_kwh, 4);
  EXPECT_DOUBLE_EQ(k.cost, 10 * 1 + 20 * 2 + 5 * 1 - 4 * 0.5);  // 53
  EXPECT_DOUBLE_EQ(k.co2_kg, 10 * 0.5 + 20 * 0.4 + 5 * 0.8);    // 17
  EXPECT_DOUBLE_EQ(k.peak_import_kw, 80);
  // Grid green fraction 1 - EF/0.8: 0.375, 0.5, 0.5, 0 -> 13.75 kWh of the import; PV used on
  // site 14 - 4 = 10 kWh; consumption 35 - 4 + 14 = 45 kWh.
  EXPECT_DOUBLE_EQ(k.consumption_kwh, 45);
  EXPECT_DOUBLE_EQ(k.green_share, (10 + 13.75) / 45);
  EXPECT_DOUBLE_EQ(k.comfort_violation_degree_hours, 1.5);
  EXPECT_DOUBLE_EQ(k.max_comfort_excursion_c, 0.7);
  EXPECT_EQ(k.reserve_violations, 2u);
  EXPECT_EQ(k.rating_violations, 3u);
}

TEST(Kpi, EventDeliveryAgainstTheBaseline) {
  EventResult e;
  e.target_kw = 20;
  // Four 15-minute steps settled in pairs.
  evaluate_event(e, std::vector<double>{100, 100, 100, 100}, std::vector<double>{80, 70, 100, 90}, 900, 2);
  EXPECT_DOUBLE_EQ(e.requested_kwh, 20);              // 20 kW for 1 h
  EXPECT_DOUBLE_EQ(e.delivered_kwh, 15);              // (20 + 30 + 0 + 10) kW * 0.25 h
  EXPECT_DOUBLE_EQ(e.delivered_ratio, 0.75);
  EXPECT_DOUBLE_EQ(e.min_interval_ratio, 10.0 / 40);  // second pair: 10 of 40
  // An import cap asks for what the baseline had above it.
  EventResult cap;
  cap.import_cap_kw = 90;
  evaluate_event(cap, std::vector<double>{100, 120, 80, 90}, std::vector<double>{90, 100, 85, 95}, 900, 4);
  EXPECT_DOUBLE_EQ(cap.requested_kwh, (10 + 30) * 0.25);
  EXPECT_DOUBLE_EQ(cap.delivered_kwh, (10 + 20 - 5 - 5) * 0.25);
  EXPECT_DOUBLE_EQ(cap.delivered_ratio, 0.5);
}

// ---------------------------------------------------------------- a tiny scenario

// One office with a meter and a battery, two hours at 1-minute steps; lines are explicit.
std::string tiny(const std::string& channel, const std::string& extra = "") {
  return R"(name: tiny
seed: 9
start: "2026-07-07T09:00:00+08:00"
duration: 2h
step: 1m
warmup: 0s
utc_offset: "+08:00"
location: {latitude: 39.8, longitude: 116.47}
control:
  period: 1m
  telemetry_period: 1m
  channel: )" + channel + R"(
weather:
  temperature: {daily_cycle: {min_c: 26, max_c: 35}}
  irradiance: {model: clear_sky}
tariff:
  prices: {valley: 0.5, flat: 0.8, peak: 1.2}
  periods:
    - {band: valley, start: "23:00", end: "07:00"}
    - {band: flat, start: "07:00", end: "10:00"}
    - {band: peak, start: "10:00", end: "23:00"}
sites:
  - id: s1
    type: office
    base_load_peak_kw: 400
    assets:
      - {id: meter, kind: site_meter}
      - {id: b, kind: battery, capacity_kwh: 200, max_charge_kw: 100, max_discharge_kw: 100}
)" + extra;
}

Scenario load(const std::string& text) {
  auto r = load_scenario_text(text, "tiny.yaml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return *r;
}

// A strategy that records what reaches it and sends what it is told to.
class Probe final : public Strategy {
 public:
  struct Tick {
    TimePoint now;
    std::vector<Telemetry> telemetry;
    std::vector<CommandAck> acks;
    std::vector<GridSignal> signals;
  };
  std::vector<Tick>* log = nullptr;
  std::function<std::vector<Command>(TimePoint)> plan;

  std::string_view name() const override { return "probe"; }
  void start(const StrategyContext& ctx) override { EXPECT_EQ(ctx.sites.size(), 1u); }
  std::vector<Command> tick(TimePoint now, std::span<const Telemetry> t, std::span<const CommandAck> a,
                            std::span<const GridSignal> s) override {
    log->push_back({now, {t.begin(), t.end()}, {a.begin(), a.end()}, {s.begin(), s.end()}});
    return plan ? plan(now) : std::vector<Command>{};
  }
};

Command battery_command(TimePoint now, double kw, int n) {
  Command c;
  c.command_id = "p" + std::to_string(n);
  c.site_id = "s1";
  c.asset_id = "b";
  c.kind = SetpointKind::battery_p_kw;
  c.value = kw;
  c.issued = now;
  c.expires = now + 10min;
  return c;
}

RunResult run_probe(const Scenario& sc, std::vector<Probe::Tick>& log, std::function<std::vector<Command>(TimePoint)> plan) {
  RunOptions o;
  o.strategy_factory = [&log, plan] {
    auto p = std::make_unique<Probe>();
    p->log = &log;
    p->plan = plan;
    return p;
  };
  auto r = run_scenario(sc, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return std::move(*r);
}

TEST(Channel, CommandsAndReportsTakeTheDelayEachWay) {
  const Scenario sc = load(tiny("{delay: 2s}"));
  std::vector<Probe::Tick> log;
  const TimePoint t0 = sc.start;
  const auto r = run_probe(sc, log, [&](TimePoint now) {
    return now == t0 ? std::vector<Command>{battery_command(now, -50, 1)} : std::vector<Command>{};
  });
  ASSERT_EQ(log.size(), 120u);
  // Tick 0 has heard nothing from the fleet yet: its first report arrives 2 s after the start.
  EXPECT_TRUE(log[0].telemetry.empty());
  EXPECT_TRUE(log[0].acks.empty());
  // The command reached the battery at t0 + 2 s; the ack is stamped then and is back at +4 s.
  ASSERT_EQ(log[1].acks.size(), 1u);
  EXPECT_EQ(log[1].acks[0].status, AckStatus::accepted);
  EXPECT_EQ(log[1].acks[0].time, t0 + 2s);
  // Every report a tick sees was sampled at least the delay before it.
  for (const auto& tick : log) {
    for (const auto& m : tick.telemetry) EXPECT_LE(m.time + 2s, tick.now);
  }
  EXPECT_EQ(log[1].telemetry.size(), 2u);  // meter and battery, sampled at t0
  EXPECT_EQ(log[1].telemetry[0].time, t0);
  EXPECT_EQ(r.channel.commands_sent, 1u);
  EXPECT_EQ(r.fleet_counters.accepted, 1u);
}

TEST(Channel, LostMessagesNeverArrive) {
  const Scenario sc = load(tiny("{delay: 0s, command_loss: 1, uplink_loss: 1}"));
  std::vector<Probe::Tick> log;
  int n = 0;
  const auto r = run_probe(sc, log, [&](TimePoint now) { return std::vector<Command>{battery_command(now, 10, ++n)}; });
  EXPECT_EQ(r.channel.commands_sent, 120u);
  EXPECT_EQ(r.channel.commands_lost, 120u);
  EXPECT_EQ(r.fleet_counters.commands_received, 0u);
  for (const auto& tick : log) {
    EXPECT_TRUE(tick.telemetry.empty());
    EXPECT_TRUE(tick.acks.empty());
  }
  // Without a command ever arriving, the run is the baseline.
  EXPECT_DOUBLE_EQ(r.kpis.energy_import_kwh, r.baseline_kpis.energy_import_kwh);
}

TEST(Channel, PartialLossMatchesItsProbability) {
  const Scenario sc = load(tiny("{delay: 1s, command_loss: 0.25, uplink_loss: 0.1}"));
  std::vector<Probe::Tick> log;
  int n = 0;
  const auto r = run_probe(sc, log, [&](TimePoint now) {
    std::vector<Command> v;
    for (int i = 0; i < 20; ++i) v.push_back(battery_command(now, 10, ++n));
    return v;
  });
  const double lost = static_cast<double>(r.channel.commands_lost) / static_cast<double>(r.channel.commands_sent);
  EXPECT_EQ(r.channel.commands_sent, 2400u);
  EXPECT_NEAR(lost, 0.25, 0.03);
  EXPECT_EQ(r.fleet_counters.commands_received, r.channel.commands_sent - r.channel.commands_lost);
  const double up = static_cast<double>(r.channel.uplink_lost) / static_cast<double>(r.channel.uplink_sent);
  EXPECT_NEAR(up, 0.1, 0.03);
}

TEST(Signals, ReachTheStrategyWhenAnnouncedNotBefore) {
  const Scenario sc = load(tiny("{delay: 2s}", R"(events:
  - {id: e1, start: "2026-07-07T10:00:00+08:00", duration: 30m, notice: 30m, target_kw: 50}
)"));
  std::vector<Probe::Tick> log;
  run_probe(sc, log, nullptr);
  int first_event_tick = -1;
  for (std::size_t i = 0; i < log.size(); ++i) {
    for (const auto& g : log[i].signals) {
      if (std::holds_alternative<CurtailmentEvent>(g.signal) && first_event_tick < 0) {
        first_event_tick = static_cast<int>(i);
        const auto& ev = std::get<CurtailmentEvent>(g.signal);
        EXPECT_EQ(ev.event_id, "e1");
        EXPECT_EQ(*ev.target_reduction_kw, 50.0);
        EXPECT_EQ(g.received, *parse_utc("2026-07-07T09:30:00+08:00"));
      }
    }
  }
  EXPECT_EQ(first_event_tick, 30);  // 09:30, thirty one-minute ticks after the start
  // Prices and carbon intensity are published at the start.
  ASSERT_GE(log[0].signals.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<PriceSeries>(log[0].signals[0].signal));
  EXPECT_TRUE(std::holds_alternative<CarbonSeries>(log[0].signals[1].signal));
}

TEST(Run, KpisAddUpFromTheTimeSeries) {
  const Scenario sc = load(tiny("{delay: 0s}"));
  RunOptions o;
  auto r = run_scenario(sc, o);
  ASSERT_TRUE(r.ok()) << r.error();
  // One site that always imports: energy is the sum of 15-minute means times 0.25 h.
  double kwh = 0, cost = 0;
  for (std::size_t i = 0; i < r->fleet.size(); ++i) {
    ASSERT_GT(r->fleet[i].net_kw, 0);
    kwh += r->fleet[i].net_kw * 0.25;
    cost += r->fleet[i].net_kw * 0.25 * r->price[i];
  }
  EXPECT_NEAR(r->kpis.energy_import_kwh, kwh, 1e-6 * kwh);
  EXPECT_NEAR(r->kpis.cost, cost, 1e-6 * cost);
  EXPECT_EQ(r->kpis.energy_export_kwh, 0.0);
  // 09:00-10:00 flat at 0.8, 10:00-11:00 peak at 1.2.
  EXPECT_DOUBLE_EQ(r->price.front(), 0.8);
  EXPECT_DOUBLE_EQ(r->price.back(), 1.2);
}

TEST(Forecasts, UseProfilesAndSchedulesNotTheSimulatedNoise) {
  auto sc = load_scenario_file(kDemo);
  ASSERT_TRUE(sc.ok());
  const auto setup = make_fleet(*sc, sc->seed);
  const ScenarioForecasts f(sc->weather, sc->location, sc->utc_offset_minutes, setup.sites, setup.loads, sc->start,
                            sc->end(), sc->seed);
  const ScenarioForecasts g(sc->weather, sc->location, sc->utc_offset_minutes, setup.sites, setup.loads, sc->start,
                            sc->end(), sc->seed + 1);
  int differ = 0;
  for (int h = 0; h < 24; ++h) {
    const TimePoint t = sc->start + std::chrono::hours(h);
    const double profile = temperature_profile_c(sc->weather, t, sc->utc_offset_minutes);
    EXPECT_LT(std::abs(f.outdoor_temp_c(t) - profile), 4.0);  // a forecast error of about 1 K
    differ += f.outdoor_temp_c(t) != g.outdoor_temp_c(t) ? 1 : 0;
    EXPECT_LE(f.expected_ghi_w_m2(t), 1.3 * f.clear_sky_ghi_w_m2(t) + 1e-9);
  }
  EXPECT_EQ(differ, 24);
  const TimePoint night = *parse_utc("2026-07-07T03:00:00+08:00"), noon = *parse_utc("2026-07-07T12:30:00+08:00");
  EXPECT_EQ(f.clear_sky_ghi_w_m2(night), 0.0);
  // An office's base load at 03:00 is its standby share; at noon more.
  for (std::size_t s = 0; s < setup.sites.size(); ++s) {
    if (setup.sites[s].type != BuildingType::office) continue;
    double flex = 0;
    for (const auto& a : setup.sites[s].assets) {
      if (const auto* l = a.get<FlexibleLoadSpec>()) flex += l->rated_kw;
    }
    EXPECT_NEAR(f.base_load_kw(setup.sites[s].id, night), (setup.loads[s].base_peak_kw + flex) * 0.25, 1e-9);
    EXPECT_GT(f.base_load_kw(setup.sites[s].id, noon), f.base_load_kw(setup.sites[s].id, night));
    break;
  }
  EXPECT_EQ(f.base_load_kw("nowhere", noon), 0.0);
  for (const auto& site : setup.sites) {
    if (!site.find_asset("pv")) continue;
    EXPECT_GT(f.pv_expected_kw(site.id, "pv", noon), 0.0);
    EXPECT_EQ(f.pv_expected_kw(site.id, "pv", night), 0.0);
    EXPECT_LE(f.pv_expected_kw(site.id, "pv", noon), site.find_asset("pv")->get<PvSpec>()->rated_kw);
    break;
  }
  EXPECT_EQ(f.pv_expected_kw("site-001", "nope", noon), 0.0);
}

// ---------------------------------------------------------------- the demo

RunResult run_demo(std::optional<std::uint64_t> seed, std::optional<std::string> strategy) {
  auto sc = load_scenario_file(kDemo);
  EXPECT_TRUE(sc.ok()) << (sc.ok() ? "" : sc.error());
  RunOptions o;
  o.seed = seed;
  o.strategy = strategy;
  auto r = run_scenario(*sc, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return std::move(*r);
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Run, SameSeedGivesByteIdenticalOutputsAndAnotherSeedDifferentOnes) {
  const auto a = run_demo(std::nullopt, std::string("rule"));
  const auto b = run_demo(std::nullopt, std::string("rule"));
  const auto c = run_demo(43, std::string("rule"));
  const auto dir = std::filesystem::path(testing::TempDir()) / "vppsim_determinism";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(write_outputs(a, (dir / "a").string()).ok());
  ASSERT_TRUE(write_outputs(b, (dir / "b").string()).ok());
  ASSERT_TRUE(write_outputs(c, (dir / "c").string()).ok());
  for (const char* f : {"kpis.json", "timeseries.csv"}) {
    const std::string fa = slurp(dir / "a" / f), fb = slurp(dir / "b" / f), fc = slurp(dir / "c" / f);
    EXPECT_GT(fa.size(), 1000u) << f;
    EXPECT_TRUE(fa == fb) << f << " differs between two runs with the same seed";
    EXPECT_FALSE(fa == fc) << f << " is the same with another seed";
  }
}

TEST(Run, UncontrolledDeliversNothingAndEqualsItsBaseline) {
  const auto r = run_demo(std::nullopt, std::string("uncontrolled"));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].delivered_kwh, 0.0);
  EXPECT_EQ(r.kpis.energy_import_kwh, r.baseline_kpis.energy_import_kwh);
  EXPECT_EQ(r.kpis.peak_import_kw, r.baseline_kpis.peak_import_kw);
  EXPECT_EQ(r.channel.commands_sent, 0u);
  // The target is 20 % of the baseline peak.
  EXPECT_NEAR(*r.events[0].target_kw, 0.2 * r.baseline_kpis.peak_import_kw, 1e-6);
  EXPECT_NEAR(r.events[0].requested_kwh, *r.events[0].target_kw * 2, 1e-6);
}

TEST(Run, RuleStrategyDeliversMostOfTheDemoEventWithinLimits) {
  const auto r = run_demo(std::nullopt, std::string("rule"));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_GT(r.events[0].delivered_ratio, 0.5);
  EXPECT_EQ(r.kpis.rating_violations, 0u);
  EXPECT_EQ(r.kpis.reserve_violations, 0u);
  EXPECT_LT(r.kpis.max_comfort_excursion_c, 0.5);
  EXPECT_GT(r.channel.commands_sent, 0u);
  EXPECT_EQ(r.fleet_counters.rejected_rating + r.fleet_counters.rejected_invalid, 0u);
  // The demo fleet's uncontrolled peak is a few hundred MW (200 large buildings).
  EXPECT_GT(r.baseline_kpis.peak_import_kw, 1e5);
  EXPECT_LT(r.baseline_kpis.peak_import_kw, 1e6);
}

}  // namespace
}  // namespace vpp::sim
