// Issue 8, end to end in the simulator: a VTN (test_vtn.py, real HTTP on loopback) publishes a
// two-hour IMPORT_CAPACITY_LIMIT event; the VEN engine, run on the simulator's virtual clock,
// hands it to the real controller core, which drives the simulated fleet; the DELTA_USAGE
// report of every 15-minute interval is built from the core's own settlement and must reach
// the VTN once. The outage variant takes the VTN away for an hour mid-event.
//
// The VEN sits in a Strategy that wraps ControllerStrategy: at each control tick the core first
// takes what the fleet sent (as vppd's loop would have fed it as it arrived), then the engine
// runs at the same virtual instant, so reports falling due see every meter reading that has
// arrived (and CoreReportSource offers only intervals the core has settled); the grid signals
// it produces reach the core at the next tick (one control period later, as a signal on vppd's
// loop is handled on its next turn).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/openadr/core_report_source.hpp"
#include "adapters/openadr/driver.hpp"
#include "adapters/openadr/engine.hpp"
#include "adapters/openadr/transport.hpp"
#include "sim/controller_strategy.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"
#include "tests/adapters/openadr/fakes.hpp"
#include "tests/adapters/openadr/peers.hpp"

namespace vpp::openadr {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

// 24 generated buildings over a hot working day in Beijing (08:00-17:00 local), with metered
// history for the customer baseline. The event window is 14:00-16:00 local. The uplink loses 2 %
// of the telemetry, so meter readings go missing at interval boundaries too: a report built
// before the core has settled an interval would not match its settlement.
const std::string kScenario = R"(name: openadr-sim
seed: 11
start: "2026-07-07T08:00:00+08:00"
duration: 9h
step: 1m
warmup: 1d
utc_offset: "+08:00"
location: {latitude: 39.8, longitude: 116.47}
strategy: controller
history_days: 5
control:
  period: 1m
  telemetry_period: 1m
  channel: {delay: 2s, uplink_loss: 0.02}
weather:
  temperature:
    daily_cycle: {min_c: 27, max_c: 36}
  irradiance: {model: clear_sky}
fleet:
  sites: 24
  mix: {office: 0.5, mall: 0.25, school: 0.25}
  pv: {penetration: 0.5}
  battery: {penetration: 0.6, power_share_of_peak: 0.2, hours: 2}
  flexible_load: {penetration: 0.5}
tariff:
  currency: CNY
  prices: {valley: 0.54, flat: 0.81, peak: 1.12, sharp: 1.26}
  periods:
    - {band: valley, start: "23:00", end: "07:00"}
    - {band: flat, start: "07:00", end: "10:00"}
    - {band: peak, start: "10:00", end: "13:00"}
    - {band: flat, start: "13:00", end: "17:00"}
    - {band: peak, start: "17:00", end: "22:00"}
    - {band: flat, start: "22:00", end: "23:00"}
controller:
  planning: {zone_capacitance_factor: 0.25, delivery_margin: 0.2}
)";

const TimePoint kEventStart = *parse_utc("2026-07-07T06:00:00Z");  // 14:00 local
constexpr int kIntervals = 8;                                        // 8 x 15 min = 2 h
const TimePoint kEventEnd = kEventStart + 15min * kIntervals;
const std::string kOadrEventId = "ev-cap";
const std::string kCoreEventId = "oadr-ev-cap-cap-0";

const sim::Scenario& scenario() {
  static const sim::Scenario sc = [] {
    auto s = sim::load_scenario_text(kScenario, "openadr-sim.yaml");
    if (!s) throw std::runtime_error(s.error());
    return *s;
  }();
  return sc;
}

// The uncontrolled run of the same scenario (same seed, weather, noise): the fleet's import in
// each 15-minute interval of the event window, and the cap asked for: 90 % of its mean.
struct Uncontrolled {
  std::vector<double> window_kw;
  double cap_kw = 0;
};

const Uncontrolled& uncontrolled() {
  static const Uncontrolled u = [] {
    sim::RunOptions o;
    o.strategy = "uncontrolled";
    o.per_site_series = false;
    auto r = sim::run_scenario(scenario(), o);
    if (!r) throw std::runtime_error(r.error());
    Uncontrolled out;
    for (std::size_t i = 0; i < r->interval_start.size(); ++i) {
      if (r->interval_start[i] >= kEventStart && r->interval_start[i] < kEventEnd) out.window_kw.push_back(r->fleet[i].net_kw);
    }
    double sum = 0;
    for (double v : out.window_kw) sum += v;
    out.cap_kw = std::round(0.9 * sum / static_cast<double>(std::max<std::size_t>(1, out.window_kw.size())));
    return out;
  }();
  return u;
}

// An IMPORT_CAPACITY_LIMIT event over `n` 15-minute intervals, a DELTA_USAGE report per interval.
Json cap_event(const std::string& id, const std::string& program_id, TimePoint start, int n, double cap_kw) {
  Json ev = testing::event_json(id, program_id, start, 15min, "IMPORT_CAPACITY_LIMIT",
                                std::vector<Json>(static_cast<std::size_t>(n), cap_kw));
  ev.erase("modificationDateTime");
  ev["priority"] = 1;
  ev["payloadDescriptors"] =
      Json::array({{{"objectType", "EVENT_PAYLOAD_DESCRIPTOR"}, {"payloadType", "IMPORT_CAPACITY_LIMIT"}, {"units", "KW"}}});
  ev["reportDescriptors"] = Json::array({{{"payloadType", "DELTA_USAGE"}, {"readingType", "DIRECT_READ"}, {"units", "KW"},
                                          {"startInterval", 0}, {"numIntervals", 1}, {"repeat", -1}}});
  return ev;
}

// The controller core behind a VEN: the simulator sees one strategy.
class OpenAdrController final : public sim::Strategy {
 public:
  using Hook = std::function<void(TimePoint, OpenAdrController&)>;

  OpenAdrController(std::string vtn_url, Hook hook) : vtn_url_(std::move(vtn_url)), hook_(std::move(hook)) {}

  std::string_view name() const override { return "controller+openadr"; }

  void start(const sim::StrategyContext& ctx) override {
    inner_.start(ctx);
    // The VEN represents every site of the scenario, one resource each.
    VenSettings s = testing::settings(vtn_url_);
    s.client_secret = "ven-secret";
    s.programs = {{"peak", {}}};
    s.resources.clear();
    for (const auto& site : ctx.sites) s.resources.push_back({"RES-" + site.id, site.id});
    s.settlement_interval = inner_.core().settings().interval;
    s.report_delay = VenSettings{}.report_delay;   // vppd's default, not the unit tests' minute
    source_ = std::make_unique<CoreReportSource>(inner_.core());
    engine_ = std::make_unique<VenEngine>(std::move(s), *source_, queue_);
    driver_ = std::make_unique<SyncVenDriver>(*engine_, transport_, [this](const EngineOutput& o) {
      pending_.insert(pending_.end(), o.signals.begin(), o.signals.end());
      emitted_.insert(emitted_.end(), o.signals.begin(), o.signals.end());
    });
  }

  std::vector<Command> tick(TimePoint now, std::span<const Telemetry> telemetry, std::span<const CommandAck> acks,
                            std::span<const GridSignal> signals) override {
    std::vector<GridSignal> all(signals.begin(), signals.end());
    all.insert(all.end(), pending_.begin(), pending_.end());
    pending_.clear();
    auto commands = inner_.tick(now, telemetry, acks, all);
    if (hook_) hook_(now, *this);
    requests_ += driver_->run(now);
    return commands;
  }

  std::vector<double> settlement_baseline_kw(std::string_view id) const override { return inner_.settlement_baseline_kw(id); }
  std::vector<std::string> finish() override { return inner_.finish(); }

  const controller::Core& core() const { return inner_.core(); }
  const VenEngine& engine() const { return *engine_; }
  const MemoryReportQueue& queue() const { return queue_; }
  const std::vector<GridSignal>& emitted() const { return emitted_; }
  int requests() const { return requests_; }

 private:
  std::string vtn_url_;
  Hook hook_;
  sim::ControllerStrategy inner_;
  std::unique_ptr<CoreReportSource> source_;
  MemoryReportQueue queue_;
  BeastTransport transport_{TransportOptions{.timeout = 2s}};
  std::unique_ptr<VenEngine> engine_;
  std::unique_ptr<SyncVenDriver> driver_;
  std::vector<GridSignal> pending_;
  std::vector<GridSignal> emitted_;
  int requests_ = 0;
};

// The runner owns (and destroys) the strategy it runs; this one lends it the test's, so the core,
// the engine and the queue can be inspected after the run.
class Lent final : public sim::Strategy {
 public:
  explicit Lent(sim::Strategy& s) : s_(s) {}
  std::string_view name() const override { return s_.name(); }
  void start(const sim::StrategyContext& ctx) override { s_.start(ctx); }
  std::vector<Command> tick(TimePoint now, std::span<const Telemetry> t, std::span<const CommandAck> a,
                            std::span<const GridSignal> g) override {
    return s_.tick(now, t, a, g);
  }
  std::vector<double> settlement_baseline_kw(std::string_view id) const override { return s_.settlement_baseline_kw(id); }
  std::vector<std::string> finish() override { return s_.finish(); }

 private:
  sim::Strategy& s_;
};

sim::RunResult run_with(OpenAdrController& ven) {
  sim::RunOptions o;
  o.per_site_series = false;
  o.strategy_factory = [&ven] { return std::make_unique<Lent>(ven); };
  auto r = sim::run_scenario(scenario(), o);
  EXPECT_TRUE(r) << (r ? "" : r.error());
  return r ? std::move(*r) : sim::RunResult{};
}

// Publishes the program and the event at the VTN (before the run: it was announced the day
// before) and returns the cap.
double publish_event(testing::TestVtn& vtn) {
  const Json prog = vtn.control("/program", {{"programName", "peak"}});
  const double cap = uncontrolled().cap_kw;
  vtn.control("/event", cap_event(kOadrEventId, prog["id"], kEventStart, kIntervals, cap));
  return cap;
}

// What both tests require of the run: the event reached the core once, with the cap, ran and
// completed; the fleet kept under the cap in every interval; the VTN got one DELTA_USAGE report
// per interval, none twice, each resource's value the core's own settlement of its site.
void expect_delivered_and_reported(testing::TestVtn& vtn, const OpenAdrController& ven, const sim::RunResult& run,
                                   double cap) {
  // The core's events: exactly the one the VEN mapped the OpenADR event to.
  std::vector<std::string> oadr_events;
  for (const auto& [id, rec] : ven.core().events().all()) oadr_events.push_back(id);
  ASSERT_EQ(oadr_events, std::vector<std::string>{kCoreEventId});
  const auto* rec = ven.core().events().find(kCoreEventId);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->state, controller::EventState::completed);
  ASSERT_TRUE(rec->event.import_cap_kw.has_value());
  EXPECT_DOUBLE_EQ(*rec->event.import_cap_kw, cap);
  EXPECT_EQ(rec->event.start, kEventStart);
  EXPECT_EQ(rec->event.duration, 2h);
  EXPECT_EQ(rec->revision, 0);
  int curtailments = 0, cancels = 0;
  for (const auto& g : ven.emitted()) {
    curtailments += std::holds_alternative<CurtailmentEvent>(g.signal);
    cancels += std::holds_alternative<CancelEvent>(g.signal);
  }
  EXPECT_EQ(curtailments, 1);
  EXPECT_EQ(cancels, 0);

  // Delivery, measured on the simulated fleet: every 15-minute interval of the window at or under
  // the cap (2 % tolerance), where the uncontrolled fleet was well above it.
  int in_window = 0;
  double window_sum = 0;
  for (std::size_t i = 0; i < run.interval_start.size(); ++i) {
    const TimePoint t = run.interval_start[i];
    if (t < kEventStart || t >= kEventEnd) continue;
    ++in_window;
    window_sum += run.fleet[i].net_kw;
    EXPECT_LE(run.fleet[i].net_kw, cap * 1.02) << "interval " << format_utc(t) << " (uncontrolled "
                                               << run.fleet[i].baseline_net_kw << " kW)";
  }
  EXPECT_EQ(in_window, kIntervals);
  EXPECT_LE(window_sum / kIntervals, cap) << "the event's energy over the window";
  // The controller's own settlement of the event: final, 8 intervals, delivered what it was asked.
  const auto settlement = ven.core().report(kCoreEventId, scenario().end());
  ASSERT_TRUE(settlement.has_value());
  ASSERT_EQ(settlement->fleet.size(), static_cast<std::size_t>(kIntervals));
  ASSERT_GT(settlement->requested_kwh, 0);
  EXPECT_GE(settlement->delivered_kwh / settlement->requested_kwh, 0.9)
      << settlement->delivered_kwh << " of " << settlement->requested_kwh << " kWh (" << settlement->baseline_method << ")";
  for (const auto& row : settlement->fleet) EXPECT_TRUE(std::isfinite(row.metered_kw) && row.metered_kw > 0);

  // The reports the VTN holds.
  const Json reports = vtn.control("/reports");
  ASSERT_EQ(reports.size(), static_cast<std::size_t>(kIntervals)) << reports.dump(1).substr(0, 4000);
  std::set<std::string> names;
  std::set<int> intervals;
  for (const auto& r : reports) {
    EXPECT_EQ(r["eventID"], kOadrEventId);
    EXPECT_EQ(r["clientName"], "campus-ven");
    EXPECT_EQ(r["payloadDescriptors"][0]["payloadType"], "DELTA_USAGE");
    names.insert(r["reportName"].get<std::string>());
    const auto& res = r["resources"];
    ASSERT_EQ(res.size(), settlement->sites.size()) << "one resource per site";
    std::optional<int> id;
    double sum = 0;
    for (const auto& x : res) {
      const std::string name = x["resourceName"];
      ASSERT_EQ(name.rfind("RES-", 0), 0u) << name;
      const std::string site = name.substr(4);
      ASSERT_EQ(x["intervals"].size(), 1u) << name;
      const auto& iv = x["intervals"][0];
      const int k = iv["id"];
      if (!id) id = k;
      EXPECT_EQ(k, *id) << "one interval per report";
      ASSERT_GE(k, 0);
      ASSERT_LT(k, kIntervals);
      EXPECT_EQ(iv["intervalPeriod"]["start"], format_time(kEventStart + 15min * k));
      const double value = iv["payloads"][0]["values"][0].get<double>();
      const auto it = settlement->sites.find(site);
      ASSERT_NE(it, settlement->sites.end()) << site;
      const auto& row = it->second.at(static_cast<std::size_t>(k));
      ASSERT_EQ(row.start, kEventStart + 15min * k);
      // Reports carry watts (three decimals): the settlement rounded, nothing else.
      EXPECT_NEAR(value, row.delivered_kw, 0.0005 + 1e-9) << site << " interval " << k;
      sum += value;
    }
    ASSERT_TRUE(id.has_value());
    intervals.insert(*id);
    // The resources add up to the fleet's delivery the core settles on.
    EXPECT_NEAR(sum, settlement->fleet.at(static_cast<std::size_t>(*id)).delivered_kw, 0.0005 * static_cast<double>(res.size()) + 1e-6)
        << "interval " << *id;
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kIntervals)) << "no report twice";
  EXPECT_EQ(intervals.size(), static_cast<std::size_t>(kIntervals)) << "one report per interval";
  EXPECT_EQ(ven.queue().stats().pending, 0u);
  EXPECT_EQ(ven.queue().stats().sent, static_cast<std::size_t>(kIntervals));
  EXPECT_EQ(ven.engine().counters().reports_rejected, 0u);
  EXPECT_EQ(ven.engine().counters().invalid_objects, 0u);
}

TEST(OpenAdrSim, TwoHourImportCapDeliveredByTheFleetAndReportedAsSettled) {
  testing::TestVtn vtn;
  ASSERT_TRUE(vtn.ok()) << vtn.log();
  const double cap = publish_event(vtn);
  const auto& u = uncontrolled();
  ASSERT_EQ(u.window_kw.size(), static_cast<std::size_t>(kIntervals));
  // The cap asks for something: the uncontrolled fleet is above it for most of the window.
  int above = 0;
  for (double kw : u.window_kw) above += kw > cap * 1.02;
  ASSERT_GE(above, kIntervals / 2) << "cap " << cap;

  // Reports go out as intervals are settled (2 min after their end), not at the end of the event:
  // the one of interval k is at the VTN 3 minutes after the interval ended.
  std::map<int, std::size_t> reports_at;   // minutes after the event start -> reports at the VTN
  std::string state_mid_event;
  OpenAdrController ven(vtn.url(), [&](TimePoint now, OpenAdrController& self) {
    if (now > kEventStart && now <= kEventEnd + 3min && (now - kEventStart) % 15min == 3min) {
      reports_at[static_cast<int>((now - kEventStart) / 1min)] = vtn.control("/reports").size();
    }
    if (now == kEventStart + 1h) {
      if (const auto* rec = self.core().events().find(kCoreEventId)) state_mid_event = to_string(rec->state);
    }
  });
  const auto run = run_with(ven);
  expect_delivered_and_reported(vtn, ven, run, cap);
  for (const auto& [minute, n] : reports_at) EXPECT_EQ(n, static_cast<std::size_t>(minute / 15)) << "at +" << minute << " min";
  EXPECT_EQ(reports_at.size(), static_cast<std::size_t>(kIntervals) + 1);  // +3, +18, ..., +123 min
  EXPECT_EQ(state_mid_event, "active");
  EXPECT_EQ(ven.engine().counters().transport_errors, 0u);
}

TEST(OpenAdrSim, VtnAwayForAnHourMidEventDeliveryContinuesAndEveryReportArrivesOnce) {
  testing::TestVtn vtn;
  ASSERT_TRUE(vtn.ok()) << vtn.log();
  const double cap = publish_event(vtn);
  const TimePoint down_at = kEventStart + 30min, up_at = down_at + 1h;
  bool went_down = false, came_up = false;
  std::size_t reports_before = 0, pending_in_outage = 0, at_vtn_in_outage = 0;
  std::string connection_in_outage, core_state_in_outage;
  OpenAdrController ven(vtn.url(), [&](TimePoint now, OpenAdrController& self) {
    if (now == down_at) {
      reports_before = vtn.control("/reports").size();
      vtn.control("/down");
      went_down = true;
    }
    if (now == up_at) {
      // The end of the hour away: the event ran on in the core, the reports waited.
      pending_in_outage = self.queue().stats().pending;
      at_vtn_in_outage = vtn.control("/reports").size();
      connection_in_outage = self.engine().status(now)["connection"]["state"];
      if (const auto* rec = self.core().events().find(kCoreEventId)) core_state_in_outage = to_string(rec->state);
      vtn.control("/up");
      came_up = true;
    }
  });
  const auto run = run_with(ven);
  ASSERT_TRUE(went_down && came_up);
  // Interval 0 (14:00-14:15) was reported at 14:17, before the VTN went away at 14:30; intervals
  // 1..4 ended while it was away (reports due 14:32, 14:47, 15:02, 15:17).
  EXPECT_EQ(reports_before, 1u);
  EXPECT_EQ(at_vtn_in_outage, 1u);
  EXPECT_EQ(pending_in_outage, 4u);
  EXPECT_EQ(connection_in_outage, "unreachable");
  EXPECT_EQ(core_state_in_outage, "active");
  EXPECT_GT(ven.engine().counters().transport_errors, 5u);
  expect_delivered_and_reported(vtn, ven, run, cap);
}

}  // namespace
}  // namespace vpp::openadr
