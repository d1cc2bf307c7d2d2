// The core driver in process, with a real store and time moved by hand: a site whose battery
// follows the commands the driver routes, an event, the outputs persisted, and a "crash" (a new
// driver restored from the store in the middle of the event).
#include <gtest/gtest.h>

#include "apps/daemon/forecaster.hpp"
#include "apps/daemon/history.hpp"
#include "tests/daemon/fixtures.hpp"

namespace vpp::daemon::test {
namespace {

// A site on a hand-moved clock: base load 500 kW (+-0.3 kW so the meter is never frozen), a
// battery that follows battery commands until they expire, acks for every command, solves
// answered one step after they were requested, a tick every second.
struct SimSite {
  CoreDriver& d;
  FakeShell& shell;
  double base_kw = 500;
  double p_kw = 0;
  double soc_pct = 60;
  TimePoint until{};
  std::size_t commands = 0, solves = 0;
  int k = 0;

  void step(TimePoint now) {
    for (; commands < shell.sent.size(); ++commands) {
      const auto& c = shell.sent[commands];
      if (c.asset_id == "battery" && c.kind == SetpointKind::battery_p_kw) {
        p_kw = std::clamp(c.value, -200.0, 200.0);
        until = c.expires;
      }
      d.on_adapter_input(CommandAck{c.command_id, c.site_id, c.asset_id, AckStatus::accepted, now, "ok"}, now);
    }
    while (solves < shell.solves.size()) {
      const auto r = shell.solves[solves++];
      d.on_solved(solve_request(r, config::SolverKind::decomposed, 1), 0.001, now);
    }
    const double p = now < until ? p_kw : 0;
    soc_pct -= p / 3600.0 / 500.0 * 100.0;
    d.on_adapter_input(meter(now, base_kw - p + (++k % 2 ? 0.3 : -0.3)), now);
    d.on_adapter_input(battery(now, p, soc_pct), now);
    d.feed(controller::Tick{}, now);
  }
  void run(TimePoint from, TimePoint to) {
    for (TimePoint t = from; t < to; t += 1s) step(t);
  }
};

CurtailmentEvent event(const std::string& id, TimePoint start, Duration duration, double kw) {
  CurtailmentEvent e;
  e.event_id = id;
  e.program = "test";
  e.start = start;
  e.duration = duration;
  e.target_reduction_kw = kw;
  return e;
}

std::vector<std::string> to_states(const std::vector<controller::EventTransition>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) out.push_back(std::string(controller::to_string(t.to)));
  return out;
}

class DriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_path(::testing::UnitTest::GetInstance()->current_test_info()->name());
    store_ = open_store(dir_);
    write_history(*store_, day_, 500, 14);
    shell_.served = {"s1/battery", "s1/meter"};
  }
  // A driver started at `now` from whatever the store holds (what vppd does on start).
  std::unique_ptr<CoreDriver> start(TimePoint now, const std::string& prefix) {
    auto d = std::make_unique<CoreDriver>(settings(), prefix, store_.get(), shell_);
    auto restored = store_->restore(now, 14, 0);
    EXPECT_TRUE(restored.ok()) << restored.error();
    const auto history = meter_history(*store_, *restored, {site()}, settings(), now, 14);
    d->restore({site()}, *restored, history, now);
    Forecaster f(settings(), std::nullopt);
    d->feed(controller::ForecastUpdate{f.build(now, d->core().fleet())}, now);
    return d;
  }

  TimePoint day_ = at("2026-07-08T00:00:00Z");
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  FakeShell shell_;
};

TEST_F(DriverTest, EventIsAnsweredPersistedAndSettled) {
  const TimePoint t0 = at("2026-07-08T09:00:00Z");
  auto d = start(t0, "a-");
  SimSite sim{*d, shell_};
  sim.run(t0, t0 + 60s);
  d->signal(GridSignal{t0 + 60s, "test", event("ev", t0 + 2min, 3min, 100)}, t0 + 60s);
  sim.run(t0 + 60s, t0 + 8min);

  EXPECT_EQ(to_states(d->transitions("ev")), (std::vector<std::string>{"received", "scheduled", "active", "completed"}));
  ASSERT_TRUE(store_->flush().ok());
  EXPECT_EQ(to_states(store_->transitions("ev")), (std::vector<std::string>{"received", "scheduled", "active", "completed"}));
  // The final settlement, persisted for the fleet ('' site) and the site.
  int fleet = 0, site_rows = 0;
  for (const auto& row : store_->settlements("ev")) {
    (row.site_id.empty() ? fleet : site_rows) += 1;
    EXPECT_NEAR(row.interval.baseline_kw, 500, 1e-6);          // high 3 of 5 equal days
    EXPECT_NEAR(row.interval.requested_kw, 100, 1e-6);
    // The plan aims 10 % beyond the request (planning.delivery_margin), the allocator 2 %.
    EXPECT_NEAR(row.interval.ratio, 1.10, 0.06) << format_utc(row.interval.start);
  }
  EXPECT_EQ(fleet, 3);
  EXPECT_EQ(site_rows, 3);
  EXPECT_EQ(store_->baselines("ev").size(), 3u);
  // Every routed command is in the audit log, acknowledged, with the core's reason.
  const auto log = store_->commands("s1", 1000);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.size(), shell_.sent.size());
  for (const auto& c : log) {
    EXPECT_EQ(c.ack_status, "accepted") << c.command.command_id;
    EXPECT_FALSE(c.command.reason.empty());
    EXPECT_NE(c.context_json.find("\"explanation\""), std::string::npos) << c.context_json;
  }
  EXPECT_EQ(d->counters().commands_routed.at("mqtt"), shell_.sent.size());
  EXPECT_EQ(d->counters().commands_unserved, 0u);
  EXPECT_GT(d->counters().solves_ok, 0u);
  EXPECT_FALSE(d->plans().empty());
  EXPECT_GT(d->counters().telemetry_stored, 0u);
}

TEST_F(DriverTest, CommandsNoAdapterServesAreCountedAndAlarmedOnce) {
  shell_.served = {};
  const TimePoint t0 = at("2026-07-08T09:00:00Z");
  auto d = start(t0, "a-");
  SimSite sim{*d, shell_};
  sim.run(t0, t0 + 60s);
  d->signal(GridSignal{t0 + 60s, "test", event("ev", t0 + 2min, 3min, 100)}, t0 + 60s);
  sim.run(t0 + 60s, t0 + 4min);
  ASSERT_GE(shell_.refused.size(), 2u);  // the first command and its retries (no ack comes)
  EXPECT_EQ(d->counters().commands_unserved, shell_.refused.size());
  EXPECT_EQ(d->counters().alarms.at("command_unserved"), 1u);
  EXPECT_EQ(d->unserved_assets(), (std::set<std::string>{"s1/battery"}));
  ASSERT_TRUE(store_->flush().ok());
  const auto log = store_->commands("s1", 10);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0].ack_status, "rejected");
  EXPECT_EQ(log[0].ack_detail.rfind("not sent: no adapter serves s1/battery", 0), 0u) << log[0].ack_detail;
}

TEST_F(DriverTest, RestartInTheMiddleOfAnEventResumesItAndItsReport) {
  const TimePoint t0 = at("2026-07-08T09:00:00Z");
  double p_kw = 0, soc_pct = 0;
  TimePoint until{};
  {
    auto d = start(t0, "a-");
    SimSite sim{*d, shell_};
    sim.run(t0, t0 + 60s);
    d->signal(GridSignal{t0 + 60s, "test", event("ev", t0 + 2min, 3min, 100)}, t0 + 60s);
    sim.run(t0 + 60s, t0 + 3min + 30s);
    ASSERT_TRUE(store_->flush().ok());  // what the writer had committed when the process died
    p_kw = sim.p_kw, soc_pct = sim.soc_pct, until = sim.until;
  }
  // A new process, half a minute later, 30 s into the event's second interval.
  const TimePoint t1 = t0 + 4min;
  const auto sent_before = shell_.sent.size();
  auto d = start(t1, "b-");
  const auto* rec = d->core().events().find("ev");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->state, controller::EventState::active);
  EXPECT_EQ(to_states(d->transitions("ev")), (std::vector<std::string>{"received", "scheduled", "active"}));
  // The interval settled before the crash is in the live report already, from the roll-ups.
  auto r = d->core().report("ev", t1);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->fleet.size(), 2u);
  for (const auto& i : r->fleet) {
    EXPECT_NEAR(i.baseline_kw, 500, 1e-6);
    EXPECT_NEAR(i.ratio, 1.10, 0.06) << format_utc(i.start);  // the plan aims 10 % beyond
  }

  // The plan the event followed before the crash is taken up at once (no solve answered yet).
  const auto solves_before = shell_.solves.size();
  EXPECT_EQ(d->resume_plans(t1), 1u);
  ASSERT_EQ(d->plans().size(), 1u);

  // The device still holds the last command of the dead process until it expires.
  SimSite sim{*d, shell_, 500, p_kw, soc_pct, until, shell_.sent.size(), shell_.solves.size()};
  sim.step(t1);
  // Its first command comes from the restored plan (the event's discharge), before the fresh
  // solve the restored event asked for is answered.
  ASSERT_GT(shell_.sent.size(), sent_before);
  const auto& first = shell_.sent[sent_before];
  EXPECT_EQ(first.reason.rfind("restored plan", 0), 0u) << first.reason;
  EXPECT_NEAR(first.value, 111.1, 2.0) << first.reason;
  EXPECT_GT(shell_.solves.size(), solves_before);
  sim.run(t1 + 1s, t0 + 8min);
  // Commands flowed again, under the new prefix.
  ASSERT_GT(shell_.sent.size(), sent_before);
  EXPECT_EQ(shell_.sent.back().command_id.rfind("b-", 0), 0u);
  EXPECT_EQ(to_states(d->transitions("ev")), (std::vector<std::string>{"received", "scheduled", "active", "completed"}));
  r = d->core().report("ev", t0 + 8min);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->fleet.size(), 3u);
  for (const auto& i : r->fleet) EXPECT_GT(i.ratio, 0.5) << format_utc(i.start);  // every interval metered
  for (const auto& n : r->notes) EXPECT_EQ(n.find("not metered"), std::string::npos) << n;
  ASSERT_TRUE(store_->flush().ok());
  EXPECT_EQ(to_states(store_->transitions("ev")), (std::vector<std::string>{"received", "scheduled", "active", "completed"}));
}

TEST_F(DriverTest, RecentlyEndedEventsComeBackAfterARestart) {
  const TimePoint t0 = at("2026-07-08T09:00:00Z");
  {
    auto d = start(t0, "a-");
    SimSite sim{*d, shell_};
    sim.run(t0, t0 + 60s);
    d->signal(GridSignal{t0 + 60s, "test", event("ev", t0 + 2min, 2min, 100)}, t0 + 60s);
    sim.run(t0 + 60s, t0 + 7min);
    ASSERT_TRUE(store_->flush().ok());
  }
  const TimePoint t1 = t0 + 10min;
  auto restored = store_->restore(t1, 14, 0);
  ASSERT_TRUE(restored.ok());
  EXPECT_TRUE(restored->events.empty());  // nothing live
  auto ended = store_->ended_events(t1 - std::chrono::days(2));
  ASSERT_TRUE(ended.ok()) << ended.error();
  ASSERT_EQ(ended->size(), 1u);
  EXPECT_EQ((*ended)[0].record.state, controller::EventState::completed);
  EXPECT_EQ((*ended)[0].record.ended_at, t0 + 4min);
  EXPECT_TRUE(store_->ended_events(t0 + 5min)->empty());

  CoreDriver d(settings(), "b-", store_.get(), shell_);
  d.restore({site()}, *restored, {}, t1, *ended);
  const auto* rec = d.core().events().find("ev");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->state, controller::EventState::completed);
  EXPECT_EQ(to_states(d.transitions("ev")), (std::vector<std::string>{"received", "scheduled", "active", "completed"}));
  // No new transitions: it ended before the restart.
  const auto outs = d.feed(controller::Tick{}, t1);
  for (const auto& o : outs) EXPECT_FALSE(std::holds_alternative<controller::EventTransition>(o));
}

TEST_F(DriverTest, PriceSeriesSurviveARestart) {
  const TimePoint t0 = at("2026-07-08T09:00:00Z");
  PriceSeries p;
  p.currency = "CNY";
  p.interval = 1h;
  p.import_price = {{t0, 1.2}, {t0 + 1h, 0.4}};
  {
    auto d = start(t0, "a-");
    d->signal(GridSignal{t0, "test", p}, t0);
    ASSERT_TRUE(store_->flush().ok());
  }
  auto d = start(t0 + 5min, "b-");
  ASSERT_TRUE(d->prices());
  EXPECT_EQ(*d->prices(), p);
}

}  // namespace
}  // namespace vpp::daemon::test
