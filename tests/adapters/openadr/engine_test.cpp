// The VEN engine against an in-process fake VTN on virtual time: registration, polling,
// modifications and deletions, duplicates and out-of-order copies, 401 and 5xx handling,
// invalid objects, reports with their queue, the webhook callback, and the status document.
#include <gtest/gtest.h>

#include "adapters/openadr/driver.hpp"
#include "adapters/openadr/engine.hpp"
#include "tests/adapters/openadr/fakes.hpp"

namespace vpp::openadr {
namespace {

using namespace std::chrono_literals;
using testing::event_json;
using testing::T0;

struct Rig {
  testing::FakeVtn vtn;
  testing::FakeSource source;
  MemoryReportQueue queue;
  VenEngine engine;
  std::vector<GridSignal> signals;
  std::vector<ExportLimit> limits;
  SyncVenDriver driver;
  TimePoint now = T0;

  explicit Rig(VenSettings s = testing::settings())
      : engine(std::move(s), source, queue), driver(engine, vtn, [this](const EngineOutput& o) {
          signals.insert(signals.end(), o.signals.begin(), o.signals.end());
          limits.insert(limits.end(), o.export_limits.begin(), o.export_limits.end());
        }) {
    vtn.add_program("prog-1", "peak");
    vtn.add_program("prog-2", "prices");
    vtn.add_program("prog-9", "someone-elses");
  }
  int run() { return driver.run(now); }
  // Advances virtual time in `step`s, running the engine at each.
  void advance(Duration d, Duration step = 10s) {
    const TimePoint end = now + d;
    while (now < end) {
      now = std::min(end, now + step);
      run();
    }
  }
  std::vector<CurtailmentEvent> curtailments() const {
    std::vector<CurtailmentEvent> out;
    for (const auto& g : signals) {
      if (auto* c = std::get_if<CurtailmentEvent>(&g.signal)) out.push_back(*c);
    }
    return out;
  }
  std::vector<std::string> cancels() const {
    std::vector<std::string> out;
    for (const auto& g : signals) {
      if (auto* c = std::get_if<CancelEvent>(&g.signal)) out.push_back(c->event_id);
    }
    return out;
  }
};

TEST(VenEngine, RegistersFindOrCreateThenPolls) {
  Rig rig;
  // The VEN exists already at the VTN; its resources do not.
  rig.vtn.vens["ven-0"] = {{"id", "ven-0"}, {"venName", "campus-ven"}};
  rig.run();
  ASSERT_EQ(rig.vtn.requests_to("POST", "/auth/token").size(), 1u);
  const auto& tok = *rig.vtn.requests_to("POST", "/auth/token")[0];
  EXPECT_EQ(tok.headers.at("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(tok.body, "grant_type=client_credentials&client_id=ven-client&client_secret=secret");
  EXPECT_EQ(rig.vtn.vens.size(), 1u);                                   // found, not created
  EXPECT_EQ(rig.vtn.resources.size(), 2u);                              // both created under ven-0
  for (const auto& [id, r] : rig.vtn.resources) EXPECT_EQ(r["venID"], "ven-0");
  EXPECT_EQ(rig.vtn.requests_to("GET", "/events").size(), 2u);          // one per followed program
  EXPECT_EQ(rig.vtn.requests_to("GET", "/events?programID=prog-1&skip=0&limit=50").size(), 1u);
  // A second engine (a restart) finds everything and creates nothing.
  Rig again;
  again.vtn.vens = rig.vtn.vens;
  again.vtn.resources = rig.vtn.resources;
  again.run();
  EXPECT_EQ(again.vtn.vens.size(), 1u);
  EXPECT_EQ(again.vtn.resources.size(), 2u);
  EXPECT_TRUE(again.vtn.requests_to("POST", "/vens/ven-0/resources").empty());
  const Json st = again.engine.status(again.now);
  EXPECT_EQ(st["connection"]["state"], "online");
  EXPECT_EQ(st["ven_id"], "ven-0");
  EXPECT_EQ(st["programs"][0]["id"], "prog-1");
}

TEST(VenEngine, EventsBecomeSignalsAndPollingUsesEtags) {
  Rig rig;
  Json ev = event_json("ev-1", "prog-1", T0 + 1h, 2h, "IMPORT_CAPACITY_LIMIT", {600.0});
  ev["priority"] = 1;
  rig.vtn.put_event(ev);
  rig.run();
  auto cs = rig.curtailments();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].event_id, "oadr-ev-1-cap-0");
  EXPECT_EQ(cs[0].import_cap_kw, 600.0);
  EXPECT_EQ(cs[0].duration, 2h);
  EXPECT_EQ(cs[0].priority, 999);
  EXPECT_EQ(rig.signals[0].source, "openadr:peak");
  // Next poll a minute later: If-None-Match, 304, nothing new.
  rig.advance(61s);
  const auto gets = rig.vtn.requests_to("GET", "/events?programID=prog-1");
  ASSERT_GE(gets.size(), 2u);
  EXPECT_EQ(gets.back()->headers.count("If-None-Match"), 1u);
  EXPECT_GE(rig.engine.counters().not_modified, 1u);
  EXPECT_EQ(rig.curtailments().size(), 1u);
}

TEST(VenEngine, ModificationsOverTimeAndDeletionCancel) {
  Rig rig;
  rig.vtn.put_event(event_json("ev-1", "prog-1", T0 + 1h, 30min, "IMPORT_CAPACITY_LIMIT", {600.0, 600.0, 600.0, 600.0}));
  rig.run();
  ASSERT_EQ(rig.curtailments().size(), 1u);
  // Modified: the last hour gets a tighter cap -> the first run is modified (shorter), a new run starts.
  rig.vtn.put_event(event_json("ev-1", "prog-1", T0 + 1h, 30min, "IMPORT_CAPACITY_LIMIT", {600.0, 600.0, 450.0, 450.0},
                               "2026-07-07T05:10:00Z"));
  rig.advance(61s);
  auto cs = rig.curtailments();
  ASSERT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs[1].event_id, "oadr-ev-1-cap-0");
  EXPECT_EQ(cs[1].duration, 1h);
  EXPECT_EQ(cs[2].event_id, "oadr-ev-1-cap-2");
  EXPECT_EQ(cs[2].import_cap_kw, 450.0);
  EXPECT_EQ(cs[2].start, T0 + 2h);
  EXPECT_EQ(rig.engine.counters().events_modified, 1u);
  // Deleted at the VTN while the event is running: every core event not yet ended is cancelled.
  rig.advance(90min);  // now T0 + 1h31m: the first run is active
  rig.vtn.events.erase("ev-1");
  rig.advance(61s);
  EXPECT_EQ(rig.cancels(), (std::vector<std::string>{"oadr-ev-1-cap-0", "oadr-ev-1-cap-2"}));
  EXPECT_EQ(rig.engine.status(rig.now)["events"][0]["state"], "deleted");
}

TEST(VenEngine, DuplicatesAndOutOfOrderCopiesChangeNothing) {
  Rig rig;
  Json v2 = event_json("ev-1", "prog-1", T0 + 1h, 1h, "IMPORT_CAPACITY_LIMIT", {500.0}, "2026-07-07T05:20:00Z");
  rig.vtn.put_event(v2);
  rig.run();
  ASSERT_EQ(rig.curtailments().size(), 1u);
  // An older version arrives (a lagging VTN replica): ignored.
  rig.vtn.put_event(event_json("ev-1", "prog-1", T0 + 1h, 1h, "IMPORT_CAPACITY_LIMIT", {900.0}, "2026-07-07T05:00:00Z"));
  rig.advance(61s);
  EXPECT_EQ(rig.curtailments().size(), 1u);
  EXPECT_EQ(rig.engine.counters().out_of_order, 1u);
  // The same notification twice: the second is a duplicate.
  Json n = {{"objectType", "EVENT"}, {"operation", "PUT"},
            {"object", event_json("ev-1", "prog-1", T0 + 1h, 1h, "IMPORT_CAPACITY_LIMIT", {450.0}, "2026-07-07T05:30:00Z")}};
  CallbackRequest cb{"POST", "/openadr/callback", "Bearer cb-token", n.dump()};
  EXPECT_EQ(rig.driver.callback(cb, rig.now).status, 200);
  EXPECT_EQ(rig.driver.callback(cb, rig.now).status, 200);
  ASSERT_EQ(rig.curtailments().size(), 2u);
  EXPECT_EQ(rig.curtailments()[1].import_cap_kw, 450.0);
  EXPECT_EQ(rig.engine.counters().duplicates, 1u);
  // A DELETE notification older than the version held is out of order too.
  Json del = {{"objectType", "EVENT"}, {"operation", "DELETE"}, {"object", v2}};
  rig.driver.callback({"POST", "/openadr/callback", "Bearer cb-token", del.dump()}, rig.now);
  EXPECT_TRUE(rig.cancels().empty());
  EXPECT_EQ(rig.engine.counters().out_of_order, 2u);
}

TEST(VenEngine, SchemaInvalidObjectsAreRejectedWholeAndCounted) {
  Rig rig;
  rig.vtn.put_event(event_json("ev-1", "prog-1", T0 + 1h, 1h, "IMPORT_CAPACITY_LIMIT", {500.0}));
  rig.run();
  ASSERT_EQ(rig.curtailments().size(), 1u);
  // A new version that breaks the schema (a string priority) and a second event that cannot be
  // mapped: neither is applied; the old version of ev-1 stays (it is not deleted either).
  Json broken = event_json("ev-1", "prog-1", T0 + 1h, 1h, "IMPORT_CAPACITY_LIMIT", {100.0}, "2026-07-07T05:30:00Z");
  broken["priority"] = "urgent";
  rig.vtn.put_event(broken);
  rig.vtn.put_event(event_json("ev-2", "prog-1", T0 + 1h, 1h, "IMPORT_CAPACITY_LIMIT", {"lots"}));
  rig.advance(61s);
  EXPECT_EQ(rig.curtailments().size(), 1u);
  EXPECT_TRUE(rig.cancels().empty());
  EXPECT_EQ(rig.engine.counters().invalid_objects, 2u);
  rig.advance(61s);  // the same broken objects again: counted once each
  EXPECT_EQ(rig.engine.counters().invalid_objects, 2u);
  // A listing that is not JSON changes nothing and deletes nothing.
  rig.vtn.raw_event_listing["prog-1"] = "<html>oops</html>";
  rig.advance(61s);
  EXPECT_TRUE(rig.cancels().empty());
  EXPECT_EQ(rig.engine.counters().invalid_objects, 3u);
  EXPECT_NE(rig.engine.status(rig.now)["connection"]["last_error"].get<std::string>().find("not a JSON array"),
            std::string::npos);
  // A notification with a broken event is refused with 400 and counted.
  Json n = {{"objectType", "EVENT"}, {"operation", "POST"}, {"object", broken}};
  auto resp = rig.driver.callback({"POST", "/openadr/callback", "Bearer cb-token", n.dump()}, rig.now);
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("priority"), std::string::npos);
}

TEST(VenEngine, Unauthorized401RefreshesTheTokenOnceThenBacksOff) {
  Rig rig;
  rig.run();
  ASSERT_EQ(rig.vtn.requests_to("POST", "/auth/token").size(), 1u);
  // The VTN forgets the token: one 401, a new token, the request retried, all at once.
  rig.vtn.tokens.clear();
  rig.advance(61s);
  EXPECT_EQ(rig.vtn.requests_to("POST", "/auth/token").size(), 2u);
  EXPECT_EQ(rig.engine.counters().unauthorized, 1u);
  EXPECT_EQ(rig.engine.status(rig.now)["connection"]["state"], "online");
  // A VTN that refuses every token: refresh once, then back off (no hammering).
  rig.vtn.failures.push_back({"/programs", 401, 1000});
  const auto before = rig.vtn.log.size();
  rig.advance(90s, 1s);  // the next poll is due at T0+120s
  const auto sent = rig.vtn.log.size() - before;
  // Poll at +120 s: 401, new token, 401, then backoffs of 1, 2, 4, 8, 16 s each with a token
  // fetch and one try: about a dozen requests in 30 s, not hundreds.
  EXPECT_LE(sent, 16u);
  EXPECT_GE(rig.engine.counters().unauthorized, 4u);
  EXPECT_EQ(rig.engine.status(rig.now)["connection"]["state"], "degraded");
  rig.vtn.failures.clear();
  rig.advance(5min, 1s);
  EXPECT_EQ(rig.engine.status(rig.now)["connection"]["state"], "online");
}

TEST(VenEngine, ServerErrorsBackOffExponentiallyAndHonourRetryAfter) {
  Rig rig;
  rig.run();
  rig.vtn.failures.push_back({"/programs", 503, 5});
  std::vector<TimePoint> attempts;
  const auto count = [&] { return rig.vtn.requests_to("GET", "/programs").size(); };
  auto seen = count();
  for (int i = 0; i < 200; ++i) {
    rig.now += 1s;
    rig.run();
    if (count() != seen) {
      attempts.push_back(rig.now);
      seen = count();
    }
  }
  // Poll at T0+60s fails; retries 1, 2, 4, 8 s later fail; the 16 s one succeeds.
  ASSERT_GE(attempts.size(), 6u);
  EXPECT_EQ(attempts[1] - attempts[0], 1s);
  EXPECT_EQ(attempts[2] - attempts[1], 2s);
  EXPECT_EQ(attempts[3] - attempts[2], 4s);
  EXPECT_EQ(attempts[4] - attempts[3], 8s);
  EXPECT_EQ(attempts[5] - attempts[4], 16s);
  EXPECT_EQ(rig.engine.counters().server_errors, 5u);
  // 429 with Retry-After: 120 waits two minutes.
  rig.vtn.failures.push_back({"/programs", 429, 1, "", {{"retry-after", "120"}}});
  for (int i = 0; i < 120 && rig.engine.counters().server_errors < 6; ++i) rig.advance(1s, 1s);
  ASSERT_EQ(rig.engine.counters().server_errors, 6u);
  const auto n = count();
  rig.advance(119s, 1s);
  EXPECT_EQ(count(), n);
  rig.advance(2s, 1s);
  EXPECT_EQ(count(), n + 1);
}

TEST(VenEngine, ReportsAreQueuedSentAndNeverDuplicated) {
  Rig rig;
  Json ev = event_json("ev-1", "prog-1", T0 + 1h, 15min, "IMPORT_CAPACITY_LIMIT", {600.0, 600.0, 600.0, 600.0});
  ev["reportDescriptors"] = Json::array({{{"payloadType", "DELTA_USAGE"}, {"startInterval", 0}, {"numIntervals", 1},
                                          {"repeat", -1}, {"aggregate", true}}});
  rig.vtn.put_event(ev);
  controller::EventReport rep;
  rep.fleet = testing::rows(T0 + 1h, {1000, 1000, 1000, 1000}, {590, 600, 610, 580}, 400);
  rig.source.settlements["oadr-ev-1-cap-0"] = rep;
  rig.run();
  rig.advance(1h + 30min + 2min);  // the second interval has ended and its report is due
  ASSERT_EQ(rig.vtn.reports.size(), 2u);
  EXPECT_EQ(rig.vtn.reports[0]["reportName"], "vpp-ev-1.0.0");
  EXPECT_DOUBLE_EQ(rig.vtn.reports[1]["resources"][0]["intervals"][0]["payloads"][0]["values"][0].get<double>(), 400.0);
  // The response to the third report is lost after the VTN stored it: the engine asks before
  // resending, finds it, and does not send it twice.
  rig.vtn.lose_report_responses = true;
  rig.advance(15min);
  rig.vtn.lose_report_responses = false;
  rig.advance(5min);
  rig.advance(20min);
  ASSERT_EQ(rig.vtn.reports.size(), 4u);
  std::set<std::string> names;
  for (const auto& r : rig.vtn.reports) names.insert(r["reportName"].get<std::string>());
  EXPECT_EQ(names.size(), 4u);
  EXPECT_EQ(rig.engine.counters().reports_deduplicated, 1u);
  EXPECT_EQ(rig.queue.stats().sent, 4u);
  EXPECT_EQ(rig.queue.stats().pending, 0u);
  EXPECT_FALSE(rig.vtn.requests_to("GET", "/reports?eventID=ev-1&clientName=campus-ven&programID=prog-1").empty());
}

TEST(VenEngine, ReportsWaitForMissingFiguresThenGoOutWithWhatThereIs) {
  VenSettings s = testing::settings();
  s.report_wait = 20min;
  Rig rig(s);
  Json ev = event_json("ev-1", "prog-1", T0 + 1h, 30min, "IMPORT_CAPACITY_LIMIT", {600.0});
  ev["reportDescriptors"] = Json::array({{{"payloadType", "DELTA_USAGE"}, {"aggregate", true}}});
  rig.vtn.put_event(ev);
  rig.run();
  rig.advance(1h + 35min);  // due at T0+1h31m, but no settlement yet
  EXPECT_TRUE(rig.vtn.reports.empty());
  controller::EventReport rep;
  rep.fleet = testing::rows(T0 + 1h, {1000, 1000}, {700, 650}, 400);
  rig.source.settlements["oadr-ev-1-cap-0"] = rep;
  rig.advance(10min);
  ASSERT_EQ(rig.vtn.reports.size(), 1u);
  EXPECT_DOUBLE_EQ(rig.vtn.reports[0]["resources"][0]["intervals"][0]["payloads"][0]["values"][0].get<double>(), 325.0);
}

TEST(VenEngine, UnreachableVtnKeepsEventsAndQueuesReports) {
  Rig rig;
  Json ev = event_json("ev-1", "prog-1", T0 + 10min, 15min, "IMPORT_CAPACITY_LIMIT", std::vector<Json>(8, 600.0));
  ev["reportDescriptors"] = Json::array({{{"payloadType", "DELTA_USAGE"}, {"startInterval", 0}, {"numIntervals", 1},
                                          {"repeat", -1}, {"aggregate", true}}});
  rig.vtn.put_event(ev);
  controller::EventReport rep;
  // The core settles on its own 15-minute grid from the interval floor of the event start.
  rep.fleet = testing::rows(T0, std::vector<double>(9, 1000.0), std::vector<double>(9, 550.0), 400);
  rig.source.settlements["oadr-ev-1-cap-0"] = rep;
  rig.run();
  rig.advance(30min);
  const auto sent_before = rig.vtn.reports.size();
  EXPECT_EQ(sent_before, 1u);
  rig.vtn.down = true;
  const auto log_before = rig.vtn.log.size();
  rig.advance(1h);
  EXPECT_TRUE(rig.cancels().empty());   // nothing cancelled while the VTN is away
  EXPECT_EQ(rig.vtn.reports.size(), sent_before);
  EXPECT_EQ(rig.queue.stats().pending, 4u);
  EXPECT_EQ(rig.engine.status(rig.now)["connection"]["state"], "unreachable");
  // Backoff doubling from 1 s to the 5-minute cap: 9 tries in the first ~8.5 min, then one
  // every 5 min: about 20 in the hour, not one per poll tick.
  EXPECT_LE(rig.vtn.log.size() - log_before, 22u);
  EXPECT_GE(rig.vtn.log.size() - log_before, 15u);
  rig.vtn.down = false;
  rig.advance(6min);
  EXPECT_EQ(rig.queue.stats().pending, 0u);
  EXPECT_EQ(rig.vtn.reports.size(), 5u);
  std::set<std::string> names;
  for (const auto& r : rig.vtn.reports) names.insert(r["reportName"].get<std::string>());
  EXPECT_EQ(names.size(), 5u);
  EXPECT_EQ(rig.engine.status(rig.now)["connection"]["state"], "online");
}

TEST(VenEngine, WebhookEchoSubscriptionAndBearerCheck) {
  VenSettings s = testing::settings();
  s.callback_url = "https://vpp.example/openadr/callback";
  Rig rig(s);
  rig.run();
  ASSERT_EQ(rig.vtn.subscriptions.size(), 2u);  // one per followed program
  const Json& sub = rig.vtn.subscriptions[0];
  EXPECT_EQ(sub["clientName"], "campus-ven");
  EXPECT_EQ(sub["objectOperations"][0]["callbackUrl"], "https://vpp.example/openadr/callback");
  EXPECT_EQ(sub["objectOperations"][0]["bearerToken"], "cb-token");
  EXPECT_EQ(sub["objectOperations"][0]["operations"], Json::array({"POST", "PUT", "DELETE"}));
  // Restart: the subscriptions are found, not duplicated.
  rig.advance(61s);
  EXPECT_EQ(rig.vtn.subscriptions.size(), 2u);

  auto echo = rig.engine.on_callback({"GET", "/openadr/callback?echo=abc%2B123", "", ""}, rig.now);
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(echo.body, "abc+123");
  EXPECT_EQ(rig.engine.on_callback({"GET", "/openadr/callback", "", ""}, rig.now).status, 400);
  Json n = {{"objectType", "EVENT"}, {"operation", "POST"},
            {"object", event_json("ev-9", "prog-1", T0 + 1h, 1h, "SIMPLE", {2})}};
  EXPECT_EQ(rig.engine.on_callback({"POST", "/openadr/callback", "Bearer wrong", n.dump()}, rig.now).status, 401);
  EXPECT_EQ(rig.engine.on_callback({"POST", "/openadr/callback", "", "{"}, rig.now).status, 401);
  EXPECT_EQ(rig.engine.on_callback({"POST", "/openadr/callback", "Bearer cb-token", "{"}, rig.now).status, 400);
  EXPECT_EQ(rig.driver.callback({"POST", "/openadr/callback", "Bearer cb-token", n.dump()}, rig.now).status, 200);
  ASSERT_EQ(rig.curtailments().size(), 1u);
  EXPECT_EQ(rig.curtailments()[0].target_reduction_kw, 200.0);
  // The 3.1.0 spelling of operations is accepted too; DELETE cancels.
  Json del = {{"objectType", "EVENT"}, {"operation", "DELETE"}, {"object", n["object"]}};
  rig.driver.callback({"POST", "/openadr/callback", "Bearer cb-token", del.dump()}, rig.now);
  EXPECT_EQ(rig.cancels(), (std::vector<std::string>{"oadr-ev-9-simple-0"}));
}

TEST(VenEngine, AFailedSubscriptionIsRetriedNextCycleWhilePollingGoesOn) {
  VenSettings s = testing::settings();
  s.callback_url = "https://vpp.example/openadr/callback";
  Rig rig(s);
  // The VTN's echo check of the callback fails once (400).
  rig.vtn.failures.push_back({"/subscriptions", 400, 1, "POST"});
  rig.vtn.put_event(event_json("ev-1", "prog-1", T0 + 1h, 1h, "IMPORT_CAPACITY_LIMIT", {500.0}));
  rig.advance(30s, 1s);
  EXPECT_EQ(rig.curtailments().size(), 1u);  // polling did not wait for the webhook
  EXPECT_FALSE(rig.engine.status(rig.now)["connection"]["subscribed"].get<bool>());
  rig.advance(60s, 1s);
  EXPECT_EQ(rig.vtn.subscriptions.size(), 2u);
  EXPECT_TRUE(rig.engine.status(rig.now)["connection"]["subscribed"].get<bool>());
}

TEST(VenEngine, ExportLimitsAreSentOnceAndEndedWhenWithdrawn) {
  Rig rig;
  Json ev = event_json("exp", "prog-1", T0 + 1h, 30min, "EXPORT_CAPACITY_LIMIT", {0.0, 20.0});
  rig.vtn.put_event(ev);
  rig.run();
  ASSERT_EQ(rig.limits.size(), 2u);
  EXPECT_EQ(rig.limits[0].start, T0 + 1h);
  EXPECT_EQ(rig.limits[0].export_cap_kw, 0.0);
  EXPECT_EQ(rig.limits[1].export_cap_kw, 20.0);
  // Modified: the second interval's limit is dropped (replaced by a price); the first is unchanged.
  Json mod = event_json("exp", "prog-1", T0 + 1h, 30min, "EXPORT_CAPACITY_LIMIT", {0.0, 20.0}, "2026-07-07T05:30:00Z");
  mod["intervals"][1]["payloads"][0] = {{"type", "PRICE"}, {"values", {0.5}}};
  rig.vtn.put_event(mod);
  rig.advance(61s);
  ASSERT_EQ(rig.limits.size(), 3u);          // only the withdrawn one, ended before it started
  EXPECT_EQ(rig.limits[2].id, "oadr-exp-export-1");
  EXPECT_EQ(rig.limits[2].duration, Duration::zero());
  // Deleted during the first limit: it ends now.
  rig.advance(1h - 61s + 10min, 1min);       // T0 + 1h10m
  const TimePoint deleted_at = rig.now;
  rig.vtn.events.erase("exp");
  rig.advance(61s, 1s);
  ASSERT_EQ(rig.limits.size(), 4u);
  EXPECT_EQ(rig.limits[3].id, "oadr-exp-export-0");
  const TimePoint ends = rig.limits[3].start + rig.limits[3].duration;  // cut at the poll that saw the deletion
  EXPECT_GT(ends, deleted_at);
  EXPECT_LE(ends, rig.now);
  EXPECT_LT(ends, T0 + 90min);
}

TEST(VenEngine, SameInputsGiveByteIdenticalOutputs) {
  auto scenario = [] {
    Rig rig;
    Json a = event_json("ev-1", "prog-1", T0 + 10min, 15min, "IMPORT_CAPACITY_LIMIT", {600.0, 600.0, 500.0, 500.0});
    a["reportDescriptors"] = Json::array({{{"payloadType", "DELTA_USAGE"}, {"startInterval", 0}, {"numIntervals", 1}, {"repeat", -1}}});
    a["intervalPeriod"]["randomizeStart"] = "PT5M";
    rig.vtn.put_event(a);
    rig.vtn.put_event(event_json("p-1", "prog-2", T0, 1h, "PRICE", {0.3, 0.9}));
    controller::EventReport rep;
    rep.fleet = testing::rows(T0, std::vector<double>(6, 900.0), std::vector<double>(6, 500.0), 400);
    rep.sites["site-a"] = testing::rows(T0, std::vector<double>(6, 500.0), std::vector<double>(6, 300.0), 250);
    rep.sites["site-b"] = testing::rows(T0, std::vector<double>(6, 400.0), std::vector<double>(6, 200.0), 150);
    for (const auto& id : {"oadr-ev-1-cap-0", "oadr-ev-1-cap-2"}) rig.source.settlements[id] = rep;
    rig.vtn.failures.push_back({"/events", 503, 2});
    rig.advance(90min, 20s);
    std::string out;
    for (const auto& r : rig.vtn.log) out += r.method + " " + r.url + " " + r.body + "\n";
    for (const auto& g : rig.signals) {
      std::visit([&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, CurtailmentEvent>) out += "C " + x.event_id + " " + format_time(x.start) + "\n";
        if constexpr (std::is_same_v<T, CancelEvent>) out += "X " + x.event_id + "\n";
        if constexpr (std::is_same_v<T, PriceSeries>) out += "P " + std::to_string(x.import_price.size()) + "\n";
      }, g.signal);
    }
    return out + rig.engine.status(rig.now).dump();
  };
  const std::string first = scenario();
  EXPECT_EQ(first, scenario());
  EXPECT_NE(first.find("POST http://vtn.test/reports"), std::string::npos);
}

TEST(VenEngine, PricesOfSeveralEventsMergeIntoOneSeries) {
  Rig rig;
  Json a = event_json("price-am", "prog-2", T0, 1h, "PRICE", {0.3, 0.5});
  a["payloadDescriptors"] = Json::array({{{"payloadType", "PRICE"}, {"units", "KWH"}, {"currency", "CNY"}}});
  Json b = event_json("price-pm", "prog-2", T0 + 2h, 1h, "PRICE", {1.1});
  rig.vtn.put_event(a);
  rig.vtn.put_event(b);
  rig.run();
  const PriceSeries* last = nullptr;
  for (const auto& g : rig.signals) {
    if (auto* p = std::get_if<PriceSeries>(&g.signal)) last = p;
  }
  ASSERT_NE(last, nullptr);
  ASSERT_EQ(last->import_price.size(), 3u);
  EXPECT_EQ(last->import_price[2].start, T0 + 2h);
  EXPECT_DOUBLE_EQ(last->import_price[2].value, 1.1);
  EXPECT_EQ(last->interval, 1h);
  EXPECT_EQ(last->currency, "CNY");
  EXPECT_EQ(value_at(last->import_price, last->interval, T0 + 90min), 0.5);
}

TEST(VenEngine, EventsForOtherVensAndPastEventsEmitNothing) {
  Rig rig;
  Json other = event_json("ev-x", "prog-1", T0 + 1h, 1h, "IMPORT_CAPACITY_LIMIT", {100.0});
  other["targets"] = Json::array({{{"type", "VEN_NAME"}, {"values", {"another-ven"}}}});
  rig.vtn.put_event(other);
  rig.vtn.put_event(event_json("ev-old", "prog-1", T0 - 3h, 1h, "IMPORT_CAPACITY_LIMIT", {100.0}));
  rig.vtn.put_event(event_json("ev-9", "prog-9", T0 + 1h, 1h, "IMPORT_CAPACITY_LIMIT", {100.0}));  // not followed
  rig.run();
  EXPECT_TRUE(rig.curtailments().empty());
  EXPECT_EQ(rig.engine.counters().not_for_us, 1u);
  EXPECT_TRUE(rig.vtn.requests_to("GET", "/events?programID=prog-9").empty());
}

TEST(VenEngine, TokenIsRenewedBeforeItExpires) {
  Rig rig;
  rig.run();
  rig.advance(58min, 1min);
  EXPECT_EQ(rig.vtn.requests_to("POST", "/auth/token").size(), 1u);
  rig.advance(2min, 1min);  // within a minute of expires_in (3600 s)
  EXPECT_EQ(rig.vtn.requests_to("POST", "/auth/token").size(), 2u);
  EXPECT_EQ(rig.engine.counters().unauthorized, 0u);
}

TEST(VenEngine, Version310DiscoversTheTokenUrlAndUsesItsPaths) {
  VenSettings s = testing::settings();
  s.version = SpecVersion::v3_1_0;
  s.callback_url = "https://vpp.example/openadr/callback";
  Rig rig(s);
  Json ev = {{"id", "e31"}, {"programID", "prog-1"}, {"objectType", "EVENT"}, {"modificationDateTime", "2026-07-07T05:00:00Z"},
             {"targets", Json::array({"RES-A"})},
             {"intervalPeriod", {{"start", format_time(T0 + 1h)}, {"duration", "PT30M"}}},
             {"intervals", Json::array({{{"id", 0}, {"payloads", Json::array({{{"type", "IMPORT_CAPACITY_LIMIT"}, {"values", {250.0}}}})}}})},
             {"reportDescriptors", Json::array({{{"payloadType", "USAGE"}, {"aggregate", true}}})}};
  rig.vtn.put_event(ev);
  rig.source.usage["site-a"] = 180;
  rig.run();
  ASSERT_EQ(rig.vtn.requests_to("GET", "/auth/server").size(), 1u);
  EXPECT_EQ(rig.vtn.requests_to("POST", "/auth/token").size(), 1u);
  EXPECT_EQ(rig.vtn.requests_to("POST", "/resources").size(), 2u);
  for (const auto& [id, r] : rig.vtn.resources) EXPECT_FALSE(r["venID"].get<std::string>().empty());
  ASSERT_EQ(rig.curtailments().size(), 1u);
  EXPECT_EQ(rig.curtailments()[0].site_ids, (std::vector<std::string>{"site-a"}));  // a string target
  EXPECT_EQ(rig.vtn.subscriptions[0]["objectOperations"][0]["operations"], Json::array({"CREATE", "UPDATE", "DELETE"}));
  // USAGE outside any settlement... here inside the cap's core event, whose settlement is absent:
  // nothing to report until the figures come, then a 3.1.0 report (no programID).
  controller::EventReport rep;
  rep.fleet = testing::rows(T0 + 1h, {400, 400}, {180, 190}, 150);
  rig.source.settlements["oadr-e31-cap-0"] = rep;
  rig.advance(2h);
  ASSERT_EQ(rig.vtn.reports.size(), 1u);
  EXPECT_FALSE(rig.vtn.reports[0].contains("programID"));
  EXPECT_DOUBLE_EQ(rig.vtn.reports[0]["resources"][0]["intervals"][0]["payloads"][0]["values"][0].get<double>(), 185.0);
}

// Every answer of a broken VTN, for every step: the engine never throws, never emits a signal
// from garbage, and counts what it rejected.
class GarbageVtn : public Transport {
 public:
  std::vector<std::string> bodies = {
      "", "null", "[]", "{}", "[1, 2, 3]", "\"text\"", "{\"access_token\": 5}", "[{\"venName\": 7, \"id\": []}]",
      "[{\"id\": \"ven-1\", \"venName\": \"campus-ven\"}]", "[{\"resourceName\": {}, \"id\": 1}]",
      "[{\"programName\": 3}]", "[{\"id\": \"p\", \"programName\": \"peak\"}]",
      "[{\"id\": \"e\", \"programID\": \"p\", \"intervals\": [{\"id\": 0, \"payloads\": [{\"type\": 1, \"values\": [1]}]}]}]",
      "[{\"id\": \"e\", \"programID\": \"p\", \"intervals\": \"many\"}]",
      "{\"access_token\": \"t\", \"token_type\": \"Bearer\", \"expires_in\": \"soon\"}",
      "[{\"objectOperations\": [{\"callbackUrl\": 3}]}]", "[{\"reportName\": [1]}]", "{\"id\": {\"nested\": true}}",
      "[[[[[]]]]]", "{\"tokenURL\": 1}"};
  std::size_t n = 0;
  HttpResult send(const HttpRequest&) override {
    HttpResult r;
    r.status = (n % 7 == 3) ? 201 : 200;
    r.body = bodies[n++ % bodies.size()];
    return r;
  }
};

TEST(VenEngine, GarbageFromTheVtnNeverThrowsNorBecomesASignal) {
  testing::FakeSource src;
  MemoryReportQueue q;
  VenSettings s = testing::settings();
  s.callback_url = "https://vpp.example/openadr/callback";
  VenEngine engine(s, src, q);
  GarbageVtn vtn;
  std::size_t signals = 0;
  SyncVenDriver d(engine, vtn, [&](const EngineOutput& o) { signals += o.signals.size(); });
  TimePoint now = T0;
  for (int i = 0; i < 400; ++i) {
    now += 7s;
    EXPECT_NO_THROW(d.run(now, 50));
  }
  EXPECT_EQ(signals, 0u);
  EXPECT_GT(engine.counters().invalid_objects, 3u);
  for (const auto& b : vtn.bodies) {
    EXPECT_NO_THROW(engine.on_callback({"POST", "/openadr/callback", "Bearer cb-token", b}, now));
    const Json wrapped = {{"objectType", "EVENT"}, {"operation", "PUT"}, {"object", Json::parse(b.empty() ? "null" : b)}};
    EXPECT_NO_THROW(engine.on_callback({"POST", "/openadr/callback", "Bearer cb-token", wrapped.dump()}, now));
  }
  EXPECT_NO_THROW(engine.on_callback({"GET", "/openadr/callback?echo=%zz%", "", ""}, now));
  EXPECT_NO_THROW(engine.status(now).dump());
}

TEST(VenSettings, SecretFromEnvironmentOrFileNeverInline) {
  config::OpenAdrConfig c;
  c.vtn_url = "https://vtn.example/openadr3/3.0.1/";
  c.client_id = "id";
  c.ven_name = "v";
  c.client_secret_env = "OADR_SECRET";
  auto env = [](const char* n) -> const char* { return std::string(n) == "OADR_SECRET" ? "s3cret" : nullptr; };
  auto s = VenSettings::from_config(c, 15min, env);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->client_secret, "s3cret");
  EXPECT_EQ(s->vtn_url, "https://vtn.example/openadr3/3.0.1");
  EXPECT_EQ(s->callback_token.size(), 32u);
  auto missing = VenSettings::from_config(c, 15min, [](const char*) -> const char* { return nullptr; });
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("OADR_SECRET"), std::string::npos);
  c.client_secret_env.clear();
  c.client_secret_file = "/nonexistent/secret";
  auto nofile = VenSettings::from_config(c, 15min, env);
  ASSERT_FALSE(nofile);
  EXPECT_NE(nofile.error().find("/nonexistent/secret"), std::string::npos);
}

}  // namespace
}  // namespace vpp::openadr
