// The loop's inbox (order, bursts, overload) and the solver worker's answer to a solve request.
#include <gtest/gtest.h>

#include <thread>

#include "apps/daemon/daemon.hpp"
#include "apps/daemon/solver.hpp"
#include "apps/daemon/worker.hpp"
#include "tests/daemon/fixtures.hpp"

namespace vpp::daemon::test {
namespace {

Telemetry reading(int producer, int k) {
  return Telemetry{"s" + std::to_string(producer), "meter", from_unix_ms(k), Quality::good, static_cast<double>(k)};
}

TEST(Inbox, DeliversEverythingInOrderPerProducerInBoundedBursts) {
  boost::asio::io_context ioc;
  std::map<std::string, std::vector<double>> seen;
  std::size_t handled = 0, max_burst = 0, burst = 0;
  Inbox inbox(ioc, [&](adapters::AdapterInput& in) {
    const auto& t = std::get<Telemetry>(in);
    seen[t.site_id].push_back(*t.p_kw);
    ++handled;
    max_burst = std::max(max_burst, ++burst);
  });
  constexpr int kProducers = 4, kEach = 5000;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int k = 0; k < kEach; ++k) inbox.push(reading(p, k));
    });
  }
  for (auto& t : producers) t.join();
  // Handlers posted by the inbox run on this thread; another handler between bursts ends one.
  std::function<void()> mark = [&] {
    burst = 0;
    if (handled < kProducers * kEach) boost::asio::post(ioc, mark);
  };
  boost::asio::post(ioc, mark);
  ioc.run();
  EXPECT_EQ(handled, static_cast<std::size_t>(kProducers * kEach));
  for (int p = 0; p < kProducers; ++p) {
    const auto& v = seen["s" + std::to_string(p)];
    ASSERT_EQ(v.size(), static_cast<std::size_t>(kEach));
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
  }
  EXPECT_LE(max_burst, Inbox::kBatch);
  const auto s = inbox.stats();
  EXPECT_EQ(s.received, static_cast<std::uint64_t>(kProducers * kEach));
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.depth, 0u);
  EXPECT_GT(s.high_water, 0u);
}

TEST(Inbox, OverloadDropsTelemetryButKeepsAcksAndSignals) {
  boost::asio::io_context ioc;
  std::vector<std::size_t> kinds;
  Inbox inbox(ioc, [&](adapters::AdapterInput& in) { kinds.push_back(in.index()); }, 3);
  for (int k = 0; k < 5; ++k) inbox.push(reading(0, k));
  inbox.push(CommandAck{"c-1", "s0", "battery", AckStatus::accepted, from_unix_ms(1), ""});
  inbox.push(GridSignal{from_unix_ms(1), "mqtt", CancelEvent{"ev"}});
  inbox.push(adapters::DeviceStatus{"s0", "meter", false, from_unix_ms(1), "NDEATH"});
  auto s = inbox.stats();
  EXPECT_EQ(s.dropped, 2u);
  EXPECT_EQ(s.depth, 6u);
  inbox.drain_all();  // on this thread, as vppd does at shutdown
  EXPECT_EQ(kinds, (std::vector<std::size_t>{0, 0, 0, 1, 2, 3}));
  EXPECT_EQ(inbox.stats().depth, 0u);
}

TEST(Worker, RunsJobsInOrderAndSurvivesAThrowingJob) {
  std::vector<int> order;
  std::mutex mu;
  std::condition_variable cv;
  {
    Worker w("test");
    w.post([&] {
      std::lock_guard l(mu);
      order.push_back(1);
    });
    w.post([] { throw std::runtime_error("boom"); });
    w.post([&] {
      std::lock_guard l(mu);
      order.push_back(3);
      cv.notify_all();
    });
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, 10s, [&] { return order.size() == 2; }));
    l.unlock();
    EXPECT_EQ(w.failures(), 1u);
  }
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

TEST(Solver, AnswersARequestWithEitherSolverAndRefusesAnEmptyOne) {
  // One site, one battery, four 15-minute intervals, an import cap in the third: the battery
  // must discharge (500 kW base, cap 400 kW: 100 kW).
  auto p = std::make_shared<optimizer::Problem>();
  p->horizon.start = at("2026-07-08T09:00:00Z");
  p->horizon.step = 15min;
  p->horizon.steps = 4;
  p->signals.import_price.assign(4, 1.0);
  p->signals.export_price.assign(4, 0.0);
  p->signals.carbon_kg_per_kwh.assign(4, 0.0);
  p->signals.shortfall_penalty_per_kwh = 50;
  p->signals.import_cap_kw = std::vector<std::optional<double>>{std::nullopt, std::nullopt, 400.0, std::nullopt};
  optimizer::SiteProblem sp;
  sp.id = "s1";
  sp.base_load_kw.assign(4, 500);
  optimizer::BatteryAsset b;
  b.id = "battery";
  b.capacity_kwh = 500;
  b.soc_kwh = 300;
  b.max_charge_kw = 200;
  b.max_discharge_kw = 200;
  b.soc_min_kwh = 25;
  b.soc_max_kwh = 475;
  b.reserve_kwh = 100;
  b.terminal_soc_kwh = 300;  // what it gives in the capped interval it must win back
  sp.batteries.push_back(b);
  sp.import_limit_kw = optimizer::kNoLimit;
  p->sites.push_back(sp);
  for (auto kind : {config::SolverKind::decomposed, config::SolverKind::clp}) {
    controller::SolveRequest r;
    r.id = 7;
    r.group = "fleet";
    r.problem = p;
    const auto result = solve_request(r, kind, 1);
    EXPECT_EQ(result.request_id, 7u);
    ASSERT_TRUE(result.plan) << result.error;
    EXPECT_NEAR(result.plan->fleet_import_kw[2], 400.0, 0.5);
    EXPECT_NEAR(result.plan->sites[0].batteries[0].p_kw[2], 100.0, 0.5);
  }
  controller::SolveRequest empty;
  empty.id = 8;
  const auto r = solve_request(empty, config::SolverKind::decomposed, 1);
  EXPECT_FALSE(r.plan);
  EXPECT_EQ(r.request_id, 8u);
  EXPECT_NE(r.error.find("without a problem"), std::string::npos);
}

}  // namespace
}  // namespace vpp::daemon::test
