#pragma once
// vppd's memory across restarts: SQLite 3 in WAL mode.
//
// What it keeps: enrolments (the site as protobuf JSON), events (current definition and
// state) with every lifecycle transition (append-only), opt-outs, the command audit log
// (command, why, ack), telemetry roll-ups per asset at 1 and 15 minutes (count, mean, min,
// max of P), baselines and settlement results per event, interval and site, and the last plan
// per planning group. restore() returns what vppd needs on start.
//
// Threading: one writer thread owns the write connection. Every write method only appends to
// an in-memory queue under a mutex and returns (microseconds: the daemon loop never waits for
// the disk); the writer takes up to max_batch queued writes at a time and commits them in one
// transaction. Telemetry in a batch is folded into roll-up deltas first, so a batch of 10 000
// samples costs a few hundred row upserts. flush() waits until everything queued before it is
// committed. Reads (restore, queries) use a second connection under their own mutex; WAL lets
// them run while the writer commits.
//
// Durability: synchronous=NORMAL in WAL mode keeps every committed transaction across a crash
// of the process (kill -9); only an OS crash or power loss may lose the last transactions
// (https://www.sqlite.org/pragma.html#pragma_synchronous). A batch is all or nothing.
//
// Plans are stored as opaque blobs with a format tag: the store does not know
// optimizer::Plan. vppd serialises the plan it adopted (and the group's inputs) itself, so a
// restart can resume from the last plan before the first new solve; the choice of encoding
// stays with the optimizer's owners.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "controller/baseline.hpp"
#include "controller/events.hpp"
#include "model/messages.hpp"
#include "model/result.hpp"
#include "model/site.hpp"

struct sqlite3;

namespace vpp::store {

inline constexpr int kSchemaVersion = 4;

struct StoreOptions {
  std::string path = "vpp.db";
  int target_version = kSchemaVersion;        // tests create older databases with a lower one
  std::size_t max_batch = 20000;              // writes per transaction
  std::size_t max_queue = 1'000'000;          // telemetry beyond this is dropped and counted
  Duration busy_timeout = std::chrono::seconds(5);
};

struct SiteRecord {
  Site site;
  TimePoint enrolled_at{};
  TimePoint updated_at{};
};

struct StoredEvent {
  controller::EventRecord record;
  std::vector<controller::EventTransition> transitions;  // oldest first
};

struct StoredCommand {
  Command command;
  std::string context_json;      // why: plan, prices, event (the caller's JSON)
  std::string ack_status = "pending";
  std::optional<TimePoint> ack_time;
  std::string ack_detail;
};

struct Rollup {
  std::string site_id;
  std::string asset_id;
  int resolution_s = 60;
  TimePoint start{};
  std::int64_t count = 0;
  double mean_kw = 0;
  double min_kw = 0;
  double max_kw = 0;
};

struct SettlementRow {
  std::string event_id;
  std::string site_id;           // empty: the fleet
  controller::SettlementInterval interval;
};

struct BaselineRow {
  std::string event_id;
  std::string site_id;
  TimePoint start{};
  double baseline_kw = 0;
  std::string method;
};

struct StoredPlan {
  std::string group;             // "fleet", "free", "event:<id>"
  TimePoint created{};
  std::string format;            // e.g. "vpp.v1.Plan/protobuf"
  std::string body;
};

// One entry of the OpenADR VEN's report outbox (adapters/openadr/report_queue.hpp): kept
// after it is sent, so a report is never produced twice across restarts.
struct OpenAdrReportRow {
  std::string key;               // "<eventID>.<descriptor>.<instance>"
  std::string event_id;
  std::string program_id;
  std::string report_name;
  std::string body;              // the report JSON
  TimePoint created{};
  std::string state = "pending"; // pending, sent, rejected
  int attempts = 0;
  bool uncertain = false;
  std::optional<TimePoint> sent_at;
  std::string vtn_id;
  std::string last_error;
};

// Meter history for one site: one profile per local day (15-minute means of its site meter,
// NaN where nothing was measured). Weekends and days with an event of the site's are marked
// ineligible for baselines.
struct MeterHistory {
  std::string site_id;
  std::vector<controller::DayProfile> days;   // oldest first
};

struct Restored {
  std::vector<SiteRecord> sites;              // enrolled now, by site id
  std::vector<StoredEvent> events;            // received, scheduled or active, by event id
  std::map<std::string, StoredPlan> plans;    // by group
  std::vector<MeterHistory> meter_history;    // by site id
};

struct StoreCounters {
  std::uint64_t batches = 0;
  std::uint64_t writes = 0;                   // queued writes committed
  std::uint64_t telemetry_samples = 0;
  std::uint64_t telemetry_dropped = 0;        // queue full
  std::uint64_t write_errors = 0;             // batches rolled back
  std::size_t queue_high_water = 0;
};

class Store {
 public:
  // Opens (creating if needed) and migrates to options.target_version. Fails with a clear
  // message on an unreadable file, a corrupt database or one newer than this build knows.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();  // commits what is queued, then stops the writer
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version() const { return version_; }

  // ---- writes: queued, committed by the writer thread in batches
  void save_site(const Site& s, TimePoint enrolled_at, TimePoint updated_at);
  void remove_site(const std::string& site_id, TimePoint when);
  void save_event(const controller::EventRecord& r, TimePoint now);
  void add_transition(const controller::EventTransition& t);
  void add_opt_out(const std::string& event_id, const std::string& site_id, TimePoint when, const std::string& reason);
  void log_command(const Command& c, const std::string& context_json);
  void record_ack(const CommandAck& a);
  void add_telemetry(const Telemetry& t);      // roll-ups of p_kw; samples of bad or stale quality are skipped
  void save_baseline(const BaselineRow& b);
  void save_settlement(const SettlementRow& s);
  void save_plan(const StoredPlan& p);
  void save_openadr_report(const OpenAdrReportRow& r);   // insert or replace by key

  // Blocks until every write queued before the call is committed (or failed). Returns the
  // error of the first failed batch since the last flush, if any.
  Result<bool> flush();

  // ---- reads (own connection; any thread)
  // `meter_days`: how many local days of site-meter history to return, ending with the day
  // before `now`'s; `utc_offset_minutes` defines local days.
  Result<Restored> restore(TimePoint now, int meter_days = 10, int utc_offset_minutes = 0);
  // Events that ended (completed, cancelled, rejected) at or after `since`, by event id, with
  // their opt-outs and transitions: vppd reloads the recent ones so its API still lists them.
  Result<std::vector<StoredEvent>> ended_events(TimePoint since);
  std::vector<Rollup> rollups(const std::string& site_id, const std::string& asset_id, int resolution_s,
                              TimePoint from, TimePoint to);
  std::vector<StoredCommand> commands(const std::string& site_id, std::size_t limit);
  std::vector<controller::EventTransition> transitions(const std::string& event_id);
  std::vector<SettlementRow> settlements(const std::string& event_id);
  std::vector<BaselineRow> baselines(const std::string& event_id);
  std::vector<std::string> opt_outs(const std::string& event_id);
  std::vector<OpenAdrReportRow> openadr_reports();        // in the order first queued
  // SELECT COUNT(*) of a table (tests and the benchmark's lost-write check).
  std::int64_t count_rows(const std::string& table);
  std::string journal_mode();

  StoreCounters counters() const;

  class Db;  // RAII sqlite3 handle with prepared-statement helpers (store.cpp)
  using Job = std::function<void(Db&)>;

 private:
  Store() = default;
  void enqueue(Job job);
  void writer_loop();

  std::unique_ptr<Db> write_db_;
  std::unique_ptr<Db> read_db_;
  std::mutex read_mu_;
  int version_ = 0;
  StoreOptions options_;

  using Item = std::variant<Telemetry, Job>;
  mutable std::mutex mu_;
  std::condition_variable cv_;        // writer wakes on new items or stop
  std::condition_variable done_cv_;   // flushers wake on progress
  std::deque<Item> queue_;
  std::uint64_t queued_seq_ = 0;      // items ever queued
  std::uint64_t committed_seq_ = 0;   // items ever taken and finished (committed or failed)
  bool stop_ = false;
  std::optional<std::string> error_;
  StoreCounters counters_;
  std::thread writer_;
};

}  // namespace vpp::store
