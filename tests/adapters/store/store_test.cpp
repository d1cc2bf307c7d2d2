// The SQLite store: WAL, migrations from an old schema, restore after reopen, roll-ups, meter
// history for baselines, and crash safety (kill -9 of a writing child process).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "adapters/http/memory_backend.hpp"
#include "adapters/store/store.hpp"

namespace vpp::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TimePoint at(const char* s) { return *parse_utc(s); }

struct TempDb {
  fs::path dir;
  std::string path;
  TempDb() {
    static int n = 0;
    dir = fs::temp_directory_path() / ("vpp-store-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::create_directories(dir);
    path = (dir / "vpp.db").string();
  }
  ~TempDb() { fs::remove_all(dir); }
};

std::unique_ptr<Store> open_store(const std::string& path, int version = kSchemaVersion) {
  StoreOptions o;
  o.path = path;
  o.target_version = version;
  auto s = Store::open(o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error());
  return s.ok() ? std::move(*s) : nullptr;
}

Site office(const std::string& id) {
  Site s;
  s.id = id;
  s.name = "Office " + id;
  s.limits.comfort_max_c = 27;
  s.assets.push_back({"battery", "", BatterySpec{1000, 500, 500}});
  s.assets.push_back({"meter", "", SiteMeterSpec{2500, 0}});
  return s;
}

CurtailmentEvent event(const std::string& id, const char* start, Duration d = 2h) {
  CurtailmentEvent e;
  e.event_id = id;
  e.program = "peak";
  e.start = at(start);
  e.duration = d;
  e.target_reduction_kw = 300;
  return e;
}

std::int64_t sql_int(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  std::int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    v = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

TEST(Store, NewDatabaseIsWalAtTheLatestVersion) {
  TempDb t;
  auto s = open_store(t.path);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->schema_version(), kSchemaVersion);
  EXPECT_EQ(s->journal_mode(), "wal");
  EXPECT_EQ(s->count_rows("schema_version"), kSchemaVersion);
  EXPECT_EQ(s->count_rows("no_such_table"), -1);
}

TEST(Store, MigratesAnOldDatabaseOnceKeepingItsData) {
  TempDb t;
  {
    auto v1 = open_store(t.path, 1);
    ASSERT_TRUE(v1);
    EXPECT_EQ(v1->schema_version(), 1);
    v1->save_site(office("office-a"), at("2026-07-01T00:00:00Z"), at("2026-07-01T00:00:00Z"));
    controller::EventRecord r{event("ev-1", "2026-07-07T07:00:00Z"), controller::EventState::scheduled, {}, at("2026-07-07T06:00:00Z")};
    v1->save_event(r, at("2026-07-07T06:00:00Z"));
    ASSERT_TRUE(v1->flush().ok());
  }
  EXPECT_EQ(sql_int(t.path, "SELECT COUNT(*) FROM sqlite_master WHERE name='telemetry_rollups'"), 0);
  {
    auto s = open_store(t.path);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->schema_version(), kSchemaVersion);
    auto r = s->restore(at("2026-07-07T06:30:00Z"));
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->sites.size(), 1u);
    EXPECT_EQ(r->sites[0].site, office("office-a"));
    ASSERT_EQ(r->events.size(), 1u);
    EXPECT_EQ(r->events[0].record.event, event("ev-1", "2026-07-07T07:00:00Z"));
    // Version 3's column works on the migrated database.
    Command c{"c1", "office-a", "battery", SetpointKind::battery_p_kw, 200, at("2026-07-07T07:00:00Z"), at("2026-07-07T07:20:00Z"), "ev-1"};
    s->log_command(c, "{}");
    s->record_ack({"c1", "office-a", "battery", AckStatus::rejected, at("2026-07-07T07:00:02Z"), "beyond rating"});
    ASSERT_TRUE(s->flush().ok());
    const auto log = s->commands("office-a", 10);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].ack_status, "rejected");
    EXPECT_EQ(log[0].ack_detail, "beyond rating");
  }
  auto again = open_store(t.path);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->count_rows("schema_version"), kSchemaVersion);  // each migration applied once
}

TEST(Store, RefusesNewerOrForeignDatabasesWithAClearError) {
  TempDb t;
  { ASSERT_TRUE(open_store(t.path)); }
  sqlite3* db = nullptr;
  sqlite3_open(t.path.c_str(), &db);
  sqlite3_exec(db, "INSERT INTO schema_version VALUES(99, 'x', 'from the future')", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto r = Store::open({.path = t.path});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("schema version 99, newer than this build supports"), std::string::npos) << r.error();

  TempDb foreign;
  sqlite3_open(foreign.path.c_str(), &db);
  sqlite3_exec(db, "CREATE TABLE customers(id INTEGER)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  r = Store::open({.path = foreign.path});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("not a vpp database"), std::string::npos) << r.error();

  TempDb garbage;
  std::ofstream(garbage.path) << "this is not a database, just text that is long enough to have a header of sorts";
  r = Store::open({.path = garbage.path});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(garbage.path), std::string::npos) << r.error();
}

TEST(Store, RestoreAfterReopenReturnsWhatVppdNeeds) {
  TempDb t;
  const TimePoint now = at("2026-07-07T07:30:00Z");
  {
    auto s = open_store(t.path);
    s->save_site(office("office-a"), at("2026-07-01T00:00:00Z"), at("2026-07-02T00:00:00Z"));
    s->save_site(office("office-b"), at("2026-07-01T00:00:00Z"), at("2026-07-01T00:00:00Z"));
    s->save_site(office("office-gone"), at("2026-07-01T00:00:00Z"), at("2026-07-01T00:00:00Z"));
    s->remove_site("office-gone", at("2026-07-03T00:00:00Z"));
    controller::EventRecord active{event("ev-active", "2026-07-07T07:00:00Z"), controller::EventState::active, {"office-b"}, at("2026-07-07T06:00:00Z")};
    controller::EventRecord later{event("ev-later", "2026-07-07T12:00:00Z"), controller::EventState::scheduled, {}, at("2026-07-07T06:00:00Z")};
    controller::EventRecord done{event("ev-done", "2026-07-06T07:00:00Z"), controller::EventState::completed, {}, at("2026-07-06T06:00:00Z")};
    done.ended_at = at("2026-07-06T09:00:00Z");
    for (const auto* r : {&active, &later, &done}) s->save_event(*r, now);
    s->add_transition({"ev-active", std::nullopt, controller::EventState::received, at("2026-07-07T06:00:00Z"), "received"});
    s->add_transition({"ev-active", controller::EventState::received, controller::EventState::scheduled, at("2026-07-07T06:00:00Z"), "scheduled"});
    s->add_transition({"ev-active", controller::EventState::scheduled, controller::EventState::active, at("2026-07-07T07:00:00Z"), "start reached"});
    s->add_opt_out("ev-active", "office-b", at("2026-07-07T06:10:00Z"), "tenant party");
    s->save_plan({"fleet", at("2026-07-07T07:15:00Z"), "test/blob", std::string("\x00\x01plan", 6)});
    s->save_settlement({"ev-active", "office-a", {at("2026-07-07T07:00:00Z"), 150, 1000, 870, 130, 130.0 / 150}});
    s->save_baseline({"ev-active", "office-a", at("2026-07-07T07:00:00Z"), 1000, "high 5 of 10"});
  }  // destructor commits the queue
  auto s = open_store(t.path);
  auto r = s->restore(now);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->sites.size(), 2u);
  EXPECT_EQ(r->sites[0].site.id, "office-a");
  EXPECT_EQ(r->sites[0].updated_at, at("2026-07-02T00:00:00Z"));
  ASSERT_EQ(r->events.size(), 2u);  // the completed one is history, not state
  EXPECT_EQ(r->events[0].record.event.event_id, "ev-active");
  EXPECT_EQ(r->events[0].record.state, controller::EventState::active);
  EXPECT_EQ(r->events[0].record.opted_out, std::set<std::string>{"office-b"});
  ASSERT_EQ(r->events[0].transitions.size(), 3u);
  EXPECT_EQ(r->events[0].transitions[2].reason, "start reached");
  EXPECT_FALSE(r->events[0].transitions[0].from.has_value());
  EXPECT_EQ(r->events[1].record.state, controller::EventState::scheduled);
  ASSERT_EQ(r->plans.count("fleet"), 1u);
  EXPECT_EQ(r->plans.at("fleet").body, std::string("\x00\x01plan", 6));
  const auto set = s->settlements("ev-active");
  ASSERT_EQ(set.size(), 1u);
  EXPECT_DOUBLE_EQ(set[0].interval.delivered_kw, 130);
  EXPECT_EQ(s->baselines("ev-active").at(0).method, "high 5 of 10");
}

TEST(Store, TelemetryRollsUpPerAssetAtOneAndFifteenMinutesAcrossBatches) {
  TempDb t;
  auto s = open_store(t.path);
  auto sample = [](const char* time, double p, Quality q = Quality::good) {
    Telemetry x;
    x.site_id = "office-a";
    x.asset_id = "meter";
    x.time = at(time);
    x.quality = q;
    x.p_kw = p;
    return x;
  };
  s->add_telemetry(sample("2026-07-07T07:00:10Z", 100));
  s->add_telemetry(sample("2026-07-07T07:00:40Z", 120));
  s->add_telemetry(sample("2026-07-07T07:00:50Z", 9999, Quality::bad));  // skipped
  ASSERT_TRUE(s->flush().ok());
  s->add_telemetry(sample("2026-07-07T07:00:59.999Z", 80));  // same minute, a later batch
  s->add_telemetry(sample("2026-07-07T07:01:00Z", 200));
  s->add_telemetry(sample("2026-07-07T07:14:59Z", 300));
  s->add_telemetry(sample("2026-07-07T07:15:00Z", 50));
  ASSERT_TRUE(s->flush().ok());
  const auto m1 = s->rollups("office-a", "meter", 60, at("2026-07-07T07:00:00Z"), at("2026-07-07T08:00:00Z"));
  ASSERT_EQ(m1.size(), 4u);
  EXPECT_EQ(m1[0].count, 3);
  EXPECT_DOUBLE_EQ(m1[0].mean_kw, 100);
  EXPECT_DOUBLE_EQ(m1[0].min_kw, 80);
  EXPECT_DOUBLE_EQ(m1[0].max_kw, 120);
  EXPECT_EQ(m1[1].start, at("2026-07-07T07:01:00Z"));
  const auto m15 = s->rollups("office-a", "meter", 900, at("2026-07-07T07:00:00Z"), at("2026-07-07T08:00:00Z"));
  ASSERT_EQ(m15.size(), 2u);
  EXPECT_EQ(m15[0].count, 5);
  EXPECT_DOUBLE_EQ(m15[0].mean_kw, (100 + 120 + 80 + 200 + 300) / 5.0);
  EXPECT_EQ(m15[1].count, 1);
  EXPECT_EQ(s->counters().telemetry_samples, 6u);
}

TEST(Store, MeterHistoryGivesLocalDaysOfFifteenMinuteMeansWithEligibility) {
  TempDb t;
  auto s = open_store(t.path);
  s->save_site(office("office-a"), at("2026-06-01T00:00:00Z"), at("2026-06-01T00:00:00Z"));
  // Beijing (+08:00). 2026-07-04 is a Saturday; an event ran on Monday 2026-07-06.
  controller::EventRecord ran{event("ev-mon", "2026-07-06T14:00:00+08:00"), controller::EventState::completed, {}, at("2026-07-06T00:00:00Z")};
  ran.ended_at = ran.event.end();
  s->save_event(ran, at("2026-07-06T10:00:00Z"));
  // 14:00-14:15 local on Friday 2026-07-03 is 06:00-06:15 UTC: interval 56 of the local day.
  for (int k = 0; k < 3; ++k) {
    Telemetry x{"office-a", "meter", at("2026-07-03T06:00:00Z") + k * 5min, Quality::good, 900.0 + 30 * k};
    s->add_telemetry(x);
  }
  s->add_telemetry({"office-a", "battery", at("2026-07-03T06:00:00Z"), Quality::good, 400.0});  // not the meter
  ASSERT_TRUE(s->flush().ok());
  auto r = s->restore(at("2026-07-07T03:00:00Z"), 5, 8 * 60);  // local day: Tuesday 07-07
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->meter_history.size(), 1u);
  const auto& days = r->meter_history[0].days;
  ASSERT_EQ(days.size(), 5u);  // 07-02 .. 07-06
  EXPECT_EQ(days[0].day, std::chrono::sys_days(std::chrono::year{2026} / 7 / 2));
  EXPECT_TRUE(days[0].eligible);   // Thursday
  EXPECT_TRUE(days[1].eligible);   // Friday
  EXPECT_FALSE(days[2].eligible);  // Saturday
  EXPECT_FALSE(days[3].eligible);  // Sunday
  EXPECT_FALSE(days[4].eligible);  // Monday, event day
  ASSERT_EQ(days[1].kw.size(), 96u);
  EXPECT_DOUBLE_EQ(days[1].kw[56], 930);
  EXPECT_TRUE(std::isnan(days[1].kw[55]));
  EXPECT_TRUE(std::isnan(days[1].kw[57]));
}

TEST(Store, ApiBackendStateSurvivesARestart) {
  TempDb t;
  SimClock clock(at("2026-07-07T06:00:00Z"));
  {
    auto s = open_store(t.path);
    http::InMemoryBackend b(clock, s.get());
    ASSERT_TRUE(b.enrol(office("office-a")).ok());
    ASSERT_TRUE(b.enrol(office("office-b")).ok());
    ASSERT_TRUE(b.create_event(event("ev-1", "2026-07-07T07:00:00Z")).ok());
    ASSERT_TRUE(b.opt_out("ev-1", "office-b", "tenant party").ok());
    clock.advance_to(at("2026-07-07T07:05:00Z"));
    ASSERT_EQ(b.event("ev-1")->record.state, controller::EventState::active);
    ASSERT_TRUE(b.unenrol("office-a").ok());
  }
  clock.advance_to(at("2026-07-07T07:20:00Z"));  // down for a quarter of an hour
  auto s = open_store(t.path);
  auto restored = s->restore(clock.now());
  ASSERT_TRUE(restored.ok()) << restored.error();
  http::InMemoryBackend b(clock, s.get());
  b.restore(*restored);
  const auto ev = b.event("ev-1");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->record.state, controller::EventState::active);
  EXPECT_EQ(ev->record.opted_out, std::set<std::string>{"office-b"});
  ASSERT_EQ(ev->transitions.size(), 3u);  // received, scheduled, active: not repeated by the restore
  EXPECT_FALSE(b.site("office-a").ok());
  EXPECT_TRUE(b.site("office-b").ok());
  clock.advance_to(at("2026-07-07T09:00:00Z"));
  EXPECT_EQ(b.event("ev-1")->record.state, controller::EventState::completed);
  ASSERT_TRUE(s->flush().ok());
  EXPECT_EQ(s->transitions("ev-1").size(), 4u);
}

// A child process writes batches and reports each one flushed; the parent kills it with
// SIGKILL mid-write, reopens, and finds every reported batch intact and the database sound.
TEST(Store, CommittedDataSurvivesKillDashNine) {
  TempDb t;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  constexpr int kRows = 200;
  if (child == 0) {
    ::close(fds[0]);
    auto s = Store::open({.path = t.path});
    if (!s.ok()) ::_exit(2);
    for (int b = 0;; ++b) {
      for (int i = 0; i < kRows; ++i) {
        (*s)->save_settlement({"b" + std::to_string(b), "site-" + std::to_string(i),
                               {from_unix_ms(1'700'000'000'000 + i), 1, 2, 3, 4, 5}});
        (*s)->add_telemetry({"site", "meter", from_unix_ms(1'700'000'000'000 + b * 1000LL), Quality::good, 1.0});
      }
      if (!(*s)->flush().ok()) ::_exit(3);
      if (::write(fds[1], &b, sizeof b) != sizeof b) ::_exit(4);
    }
  }
  ::close(fds[1]);
  int last = -1, b = 0;
  while (last < 30 && ::read(fds[0], &b, sizeof b) == sizeof b) last = b;
  ::kill(child, SIGKILL);  // the child is writing batch last+1 (or later) now
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(last, 30);

  EXPECT_EQ(sql_int(t.path, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
  auto s = open_store(t.path);
  ASSERT_TRUE(s);
  for (int k = 0; k <= last; ++k) {
    ASSERT_EQ(s->settlements("b" + std::to_string(k)).size(), static_cast<std::size_t>(kRows)) << "batch " << k;
  }
  // Telemetry of every flushed batch is in the roll-ups, each sample once.
  const auto ups = s->rollups("site", "meter", 60, from_unix_ms(0), from_unix_ms(1'800'000'000'000));
  std::int64_t samples = 0;
  for (const auto& u : ups) samples += u.count;
  EXPECT_GE(samples, static_cast<std::int64_t>(last + 1) * kRows);
  EXPECT_EQ(samples % 1, 0);
  // And the reopened store takes writes again.
  s->save_plan({"fleet", from_unix_ms(0), "x", "y"});
  EXPECT_TRUE(s->flush().ok());
}

}  // namespace
}  // namespace vpp::store
