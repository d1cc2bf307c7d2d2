// The API backend over the core: what each call does to the core and the store, and the answers
// it gives (statuses the HTTP layer turns into responses).
#include <gtest/gtest.h>

#include "adapters/http/api_service.hpp"
#include "apps/daemon/core_backend.hpp"
#include "tests/daemon/fixtures.hpp"

namespace vpp::daemon::test {
namespace {

class BackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_path(::testing::UnitTest::GetInstance()->current_test_info()->name());
    store_ = open_store(dir_);
    shell_.served = {"s1/battery"};
    driver_ = std::make_unique<CoreDriver>(settings(), "c-", store_.get(), shell_);
    store::Restored none;
    driver_->restore({site()}, none, {}, clock_.now());
    backend_ = std::make_unique<CoreBackend>(*driver_, clock_, BackendOptions{4, [this] { ++fleet_changes_; }});
  }
  CurtailmentEvent event(const std::string& id, Duration from_now, std::vector<std::string> sites = {}) {
    CurtailmentEvent e;
    e.event_id = id;
    e.start = clock_.now() + from_now;
    e.duration = 30min;
    e.target_reduction_kw = 50;
    e.site_ids = std::move(sites);
    return e;
  }
  void telemetry(double meter_kw, double soc) {
    driver_->on_adapter_input(meter(clock_.now(), meter_kw), clock_.now());
    driver_->on_adapter_input(battery(clock_.now(), 0, soc), clock_.now());
  }

  SimClock clock_{at("2026-07-08T09:00:00Z")};
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  FakeShell shell_;
  std::unique_ptr<CoreDriver> driver_;
  std::unique_ptr<CoreBackend> backend_;
  int fleet_changes_ = 0;
};

TEST_F(BackendTest, EventsCreateModifyCancel) {
  auto r = backend_->create_event(event("ev-1", 1h));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r->record.state, controller::EventState::scheduled);
  ASSERT_EQ(r->transitions.size(), 2u);

  auto dup = backend_->create_event(event("ev-1", 2h));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().status, 409);
  auto unknown_site = backend_->create_event(event("ev-2", 1h, {"s1", "s9"}));
  ASSERT_FALSE(unknown_site.ok());
  EXPECT_EQ(unknown_site.error().status, 422);
  EXPECT_EQ(unknown_site.error().field, "siteIds[1]");
  // Already over: the controller rejects it (kept as a rejected event).
  auto past = event("ev-3", -2h);
  auto rejected = backend_->create_event(past);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().status, 422);
  EXPECT_NE(rejected.error().reason.find("ends in the past"), std::string::npos) << rejected.error().reason;

  auto e = event("ev-1", 1h);
  e.duration = 45min;
  auto mod = backend_->modify_event(e);
  ASSERT_TRUE(mod.ok()) << mod.error().reason;
  EXPECT_EQ(mod->record.revision, 1);
  EXPECT_EQ(backend_->modify_event(event("nope", 1h)).error().status, 404);

  auto c = backend_->cancel_event("ev-1", "cancelled by grid-operator");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->record.state, controller::EventState::cancelled);
  EXPECT_EQ(c->transitions.back().reason, "cancelled by grid-operator");
  EXPECT_EQ(backend_->cancel_event("nope", "x").error().status, 404);
  EXPECT_EQ(backend_->list_events().size(), 2u);  // ev-1 and the rejected ev-3

  ASSERT_TRUE(store_->flush().ok());
  const auto ts = store_->transitions("ev-1");
  ASSERT_EQ(ts.size(), 4u);  // received, scheduled, modified, cancelled
  EXPECT_EQ(ts.back().to, controller::EventState::cancelled);
}

TEST_F(BackendTest, OptOutsAreCheckedAndPersisted) {
  ASSERT_TRUE(backend_->create_event(event("ev-1", 1h)).ok());
  EXPECT_EQ(backend_->opt_out("nope", "s1", "x").error().status, 404);
  EXPECT_EQ(backend_->opt_out("ev-1", "s9", "x").error().status, 404);
  auto ok = backend_->opt_out("ev-1", "s1", "tenant event");
  ASSERT_TRUE(ok.ok()) << ok.error().reason;
  EXPECT_EQ(ok->record.opted_out, (std::set<std::string>{"s1"}));
  ASSERT_TRUE(store_->flush().ok());
  EXPECT_EQ(store_->opt_outs("ev-1"), (std::vector<std::string>{"s1"}));
  auto restored = store_->restore(clock_.now());
  ASSERT_TRUE(restored.ok());
  ASSERT_EQ(restored->events.size(), 1u);
  EXPECT_EQ(restored->events[0].record.opted_out, (std::set<std::string>{"s1"}));
}

TEST_F(BackendTest, SitesEnrolUpdateUnenrol) {
  Site s2 = site("s2");
  auto r = backend_->enrol(s2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->enrolled_at, clock_.now());
  EXPECT_EQ(fleet_changes_, 1);
  EXPECT_EQ(backend_->enrol(s2).error().status, 409);
  EXPECT_EQ(backend_->enrol(site("s1")).error().status, 409);  // from the configuration

  clock_.advance(1min);
  http::SiteLimitsPatch p;
  p.battery_reserve_pct = 40;
  auto u = backend_->update_site("s2", p);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->site.limits.battery_reserve_pct, 40);
  EXPECT_EQ(u->updated_at, clock_.now());
  EXPECT_EQ(u->enrolled_at, clock_.now() - 1min);
  EXPECT_EQ(driver_->core().fleet().site(driver_->core().fleet().find_site("s2")).site.limits.battery_reserve_pct, 40);
  EXPECT_EQ(backend_->update_site("s9", p).error().status, 404);

  ASSERT_TRUE(store_->flush().ok());
  auto restored = store_->restore(clock_.now());
  ASSERT_TRUE(restored.ok());
  ASSERT_EQ(restored->sites.size(), 1u);
  EXPECT_EQ(restored->sites[0].site.limits.battery_reserve_pct, 40);

  ASSERT_TRUE(backend_->unenrol("s2").ok());
  EXPECT_EQ(fleet_changes_, 2);
  EXPECT_EQ(backend_->site("s2").error().status, 404);
  EXPECT_EQ(backend_->unenrol("s2").error().status, 404);
  ASSERT_TRUE(store_->flush().ok());
  EXPECT_TRUE(store_->restore(clock_.now())->sites.empty());
}

TEST_F(BackendTest, FleetShowsOnlineAssetsAndFlexibility) {
  // Nothing heard yet: both assets offline, with the reason.
  auto f = backend_->fleet();
  EXPECT_EQ(f.sites, 1);
  EXPECT_EQ(f.assets, 2);
  EXPECT_EQ(f.assets_online, 0);
  ASSERT_EQ(f.asset_states.size(), 2u);
  EXPECT_EQ(f.asset_states[0].reason, "no telemetry yet");

  // Nearly empty: 20.1 % SoC, 0.1 % above the 20 % reserve: 0.5 kWh x 0.95 in one minute is
  // 28.5 kW of discharge; charging is limited by the 200 kW rating.
  clock_.advance(30s);
  telemetry(400, 20.1);
  f = backend_->fleet();
  EXPECT_EQ(f.assets_online, 2);
  ASSERT_EQ(f.flexibility.size(), 4u);
  EXPECT_EQ(f.flexibility[0].start, at("2026-07-08T09:00:00Z"));
  EXPECT_EQ(f.flexibility[1].start, at("2026-07-08T09:01:00Z"));
  EXPECT_NEAR(f.flexibility[0].up_kw, 0.001 * 500 * 0.95 * 60, 1e-6);
  EXPECT_NEAR(f.flexibility[0].down_kw, 200.0, 1e-9);
}

TEST_F(BackendTest, CommandHistoryComesFromTheStoreWithReasons) {
  telemetry(400, 60);
  // Enough history for a baseline: an hour at 400 kW before the event.
  for (int k = 0; k < 60; ++k) {
    clock_.advance(1min);
    driver_->on_adapter_input(meter(clock_.now(), 400 + (k % 2 ? 0.2 : -0.2)), clock_.now());
    driver_->on_adapter_input(battery(clock_.now(), 0, 60), clock_.now());
  }
  auto e = event("ev-1", 1min);
  e.duration = 10min;
  ASSERT_TRUE(backend_->create_event(e).ok());
  for (int k = 0; k < 90; ++k) {
    clock_.advance(1s);
    driver_->on_adapter_input(meter(clock_.now(), 400 + (k % 2 ? 0.2 : -0.2)), clock_.now());
    driver_->on_adapter_input(battery(clock_.now(), 0, 60), clock_.now());
    driver_->feed(controller::Tick{}, clock_.now());
  }
  ASSERT_FALSE(shell_.sent.empty());
  ASSERT_TRUE(store_->flush().ok());
  auto log = backend_->site_commands("s1", 10);
  ASSERT_TRUE(log.ok());
  ASSERT_FALSE(log->empty());
  const auto& newest = log->front();
  EXPECT_EQ(newest.command.command_id, shell_.sent.back().command_id);
  EXPECT_EQ(newest.ack, http::AckState::pending);
  EXPECT_EQ(newest.context.event_id, "ev-1");
  EXPECT_EQ(newest.context.explanation, newest.command.reason);
  EXPECT_NE(newest.command.reason.find("for event ev-1"), std::string::npos) << newest.command.reason;
  EXPECT_EQ(backend_->site_commands("s9", 10).error().status, 404);
}

TEST_F(BackendTest, ReportOfAnEventNotStartedAndOfAnUnknownOne) {
  ASSERT_TRUE(backend_->create_event(event("ev-1", 1h)).ok());
  auto r = backend_->report("ev-1");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->fleet.empty());
  EXPECT_FALSE(r->final);
  EXPECT_EQ(r->interval, 1min);
  EXPECT_EQ(backend_->report("nope").error().status, 404);
}

TEST_F(BackendTest, ReportOfAnEndedEventRestoredAfterARestartComesFromTheStore) {
  controller::SettlementInterval i{at("2026-07-08T08:00:00Z"), 100, 500, 390, 110, 1.1};
  store_->save_settlement({"ended", "", i});
  store_->add_transition({"ended", controller::EventState::active, controller::EventState::completed, at("2026-07-08T08:01:00Z"), "end reached"});
  ASSERT_TRUE(store_->flush().ok());
  controller::EventRecord rec;
  rec.event.event_id = "ended";
  rec.event.start = at("2026-07-08T08:00:00Z");
  rec.event.duration = 1min;
  rec.event.target_reduction_kw = 100;
  rec.state = controller::EventState::completed;
  rec.ended_at = at("2026-07-08T08:01:00Z");
  driver_->feed(controller::RestoreEvent{rec}, clock_.now());
  auto v = backend_->event("ended");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->record.state, controller::EventState::completed);
  auto r = backend_->report("ended");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->fleet.size(), 1u);
  EXPECT_EQ(r->fleet[0], i);
  EXPECT_TRUE(r->final);
}

TEST_F(BackendTest, ReportOfAnEventSettledBeforeARestartComesFromTheStore) {
  controller::SettlementInterval i{at("2026-07-07T10:00:00Z"), 100, 500, 400, 100, 1.0};
  store_->save_settlement({"old", "", i});
  store_->save_settlement({"old", "s1", i});
  store_->add_transition({"old", controller::EventState::active, controller::EventState::completed, at("2026-07-07T10:01:00Z"), "end reached"});
  ASSERT_TRUE(store_->flush().ok());
  auto r = backend_->report("old");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->final);
  ASSERT_EQ(r->fleet.size(), 1u);
  EXPECT_EQ(r->fleet[0], i);
  ASSERT_EQ(r->sites.size(), 1u);
  EXPECT_EQ(r->sites[0].first, "s1");
  EXPECT_NEAR(r->delivered_kwh, 100.0 / 60, 1e-9);
}

}  // namespace
}  // namespace vpp::daemon::test
