#include "adapters/store/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "proto/convert.hpp"

namespace vpp::store {
namespace pb = vpp::v1;

// ------------------------------------------------------------------------------------ sqlite

class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &s_, nullptr) != SQLITE_OK) {
      throw std::runtime_error("sqlite prepare failed: " + std::string(sqlite3_errmsg(db)) + " in: " + sql);
    }
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    next_ = 1;
    return *this;
  }
  Stmt& bind(const std::string& v) {
    check(sqlite3_bind_text(s_, next_++, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(const char* v) { return bind(std::string(v)); }
  Stmt& bind(std::int64_t v) {
    check(sqlite3_bind_int64(s_, next_++, v));
    return *this;
  }
  Stmt& bind(int v) { return bind(static_cast<std::int64_t>(v)); }
  Stmt& bind(double v) {
    check(sqlite3_bind_double(s_, next_++, v));
    return *this;
  }
  Stmt& bind(TimePoint t) { return bind(to_unix_ms(t)); }
  Stmt& bind_null() {
    check(sqlite3_bind_null(s_, next_++));
    return *this;
  }
  Stmt& bind_blob(const std::string& v) {
    check(sqlite3_bind_blob(s_, next_++, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  // True while there is a row.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error("sqlite: " + std::string(sqlite3_errmsg(db_)));
  }
  void run() {
    while (step()) {
    }
  }
  std::string text(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, i))) : std::string();
  }
  std::string blob(int i) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, i))) : std::string();
  }
  std::int64_t i64(int i) const { return sqlite3_column_int64(s_, i); }
  double real(int i) const { return sqlite3_column_double(s_, i); }
  bool null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw std::runtime_error("sqlite bind: " + std::string(sqlite3_errmsg(db_)));
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int next_ = 1;
};

class Store::Db {
 public:
  static Result<std::unique_ptr<Db>> open(const std::string& path, Duration busy_timeout) {
    auto db = std::unique_ptr<Db>(new Db);
    const int rc = sqlite3_open_v2(path.c_str(), &db->h_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) {
      return Error{"store: cannot open '" + path + "': " + (db->h_ ? sqlite3_errmsg(db->h_) : sqlite3_errstr(rc))};
    }
    sqlite3_busy_timeout(db->h_, static_cast<int>(busy_timeout.count()));
    sqlite3_extended_result_codes(db->h_, 1);
    return db;
  }
  ~Db() {
    stmts_.clear();
    sqlite3_close(h_);
  }
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(h_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(h_);
      sqlite3_free(err);
      throw std::runtime_error("sqlite: " + msg);
    }
  }
  // Prepared once per connection, reused (reset) on every call.
  Stmt& stmt(const std::string& sql) {
    auto it = stmts_.find(sql);
    if (it == stmts_.end()) it = stmts_.emplace(sql, std::make_unique<Stmt>(h_, sql)).first;
    return it->second->reset();
  }
  std::string scalar_text(const std::string& sql) {
    Stmt s(h_, sql);
    return s.step() ? s.text(0) : std::string();
  }
  std::int64_t scalar_int(const std::string& sql) {
    Stmt s(h_, sql);
    return s.step() ? s.i64(0) : 0;
  }

 private:
  Db() = default;
  sqlite3* h_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> stmts_;
};

// ---------------------------------------------------------------------------------- schema

namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Append-only: a released migration is never edited; a change is a new version.
const Migration kMigrations[] = {
    {1, "enrolments, events, transitions, opt-outs, command audit", R"sql(
CREATE TABLE enrolments(
  site_id TEXT PRIMARY KEY,
  site_json TEXT NOT NULL,              -- vpp.v1.SiteEnrolment, protobuf JSON
  enrolled_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  unenrolled_ms INTEGER                 -- NULL while enrolled
);
CREATE TABLE events(
  event_id TEXT PRIMARY KEY,
  event_json TEXT NOT NULL,             -- vpp.v1.CurtailmentEvent, current definition
  state TEXT NOT NULL,
  revision INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE event_transitions(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX event_transitions_by_event ON event_transitions(event_id, seq);
CREATE TABLE opt_outs(
  event_id TEXT NOT NULL,
  site_id TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY(event_id, site_id)
);
CREATE TABLE command_audit(
  command_id TEXT PRIMARY KEY,
  site_id TEXT NOT NULL,
  asset_id TEXT NOT NULL,
  command_json TEXT NOT NULL,           -- vpp.v1.Command
  issued_ms INTEGER NOT NULL,
  context_json TEXT NOT NULL,           -- why: plan, prices, event
  ack_status TEXT NOT NULL DEFAULT 'pending',
  ack_ms INTEGER
);
)sql"},
    {2, "telemetry roll-ups, baselines, settlements, plans", R"sql(
CREATE TABLE telemetry_rollups(
  site_id TEXT NOT NULL,
  asset_id TEXT NOT NULL,
  resolution_s INTEGER NOT NULL,        -- 60 or 900
  start_ms INTEGER NOT NULL,
  count INTEGER NOT NULL,
  sum_kw REAL NOT NULL,                 -- mean = sum_kw / count
  min_kw REAL NOT NULL,
  max_kw REAL NOT NULL,
  PRIMARY KEY(site_id, asset_id, resolution_s, start_ms)
) WITHOUT ROWID;
CREATE TABLE baselines(
  event_id TEXT NOT NULL,
  site_id TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  baseline_kw REAL NOT NULL,
  method TEXT NOT NULL,
  PRIMARY KEY(event_id, site_id, start_ms)
);
CREATE TABLE settlements(
  event_id TEXT NOT NULL,
  site_id TEXT NOT NULL,                -- '' = the fleet
  start_ms INTEGER NOT NULL,
  requested_kw REAL NOT NULL,
  baseline_kw REAL NOT NULL,
  metered_kw REAL NOT NULL,
  delivered_kw REAL NOT NULL,
  ratio REAL NOT NULL,
  PRIMARY KEY(event_id, site_id, start_ms)
);
CREATE TABLE plans(
  group_name TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  format TEXT NOT NULL,
  body BLOB NOT NULL
);
)sql"},
    {3, "command acknowledgement detail, command log by site", R"sql(
ALTER TABLE command_audit ADD COLUMN ack_detail TEXT NOT NULL DEFAULT '';
CREATE INDEX command_audit_by_site ON command_audit(site_id, issued_ms);
)sql"},
    {4, "OpenADR VEN report outbox", R"sql(
CREATE TABLE openadr_reports(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  report_key TEXT NOT NULL UNIQUE,
  event_id TEXT NOT NULL,
  program_id TEXT NOT NULL,
  report_name TEXT NOT NULL,
  body TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  uncertain INTEGER NOT NULL,
  sent_ms INTEGER,
  vtn_id TEXT NOT NULL,
  last_error TEXT NOT NULL
);
)sql"},
};

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string event_json(const CurtailmentEvent& e) {
  GridSignal g;
  g.signal = e;
  return to_json(to_proto(g).curtailment());
}

Result<CurtailmentEvent> event_from_json(const std::string& json) {
  pb::GridSignal g;
  if (auto r = parse_json(json, *g.mutable_curtailment()); !r) return Error{r.error()};
  g.mutable_received();
  auto s = from_proto(g);
  if (!s) return Error{s.error()};
  return std::get<CurtailmentEvent>(s->signal);
}

std::optional<controller::EventState> state_from(const std::string& s) {
  using S = controller::EventState;
  for (S x : {S::received, S::scheduled, S::active, S::completed, S::cancelled, S::rejected}) {
    if (controller::to_string(x) == s) return x;
  }
  return std::nullopt;
}

const char* ack_name(AckStatus s) {
  switch (s) {
    case AckStatus::accepted: return "accepted";
    case AckStatus::rejected: return "rejected";
    case AckStatus::expired: return "expired";
    case AckStatus::unspecified: break;
  }
  return "pending";
}

}  // namespace

// ------------------------------------------------------------------------------------ open

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  if (options.target_version < 1 || options.target_version > kSchemaVersion) {
    return Error{"store: target schema version must be 1.." + std::to_string(kSchemaVersion)};
  }
  auto store = std::unique_ptr<Store>(new Store);
  store->options_ = options;
  auto w = Db::open(options.path, options.busy_timeout);
  if (!w) return Error{w.error()};
  store->write_db_ = std::move(*w);
  auto& db = *store->write_db_;
  try {
    // WAL: readers never block the writer nor the writer readers; NORMAL: see the header.
    const auto mode = db.scalar_text("PRAGMA journal_mode=WAL");
    if (mode != "wal") return Error{"store: '" + options.path + "' cannot use WAL mode (journal_mode=" + mode + ")"};
    db.exec("PRAGMA synchronous=NORMAL");
    db.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, description TEXT NOT NULL)");
    int version = static_cast<int>(db.scalar_int("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
    if (version > kSchemaVersion) {
      return Error{"store: '" + options.path + "' has schema version " + std::to_string(version) +
                   ", newer than this build supports (" + std::to_string(kSchemaVersion) + "); upgrade vppd"};
    }
    if (version == 0 && db.scalar_int("SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name!='schema_version'") > 0) {
      return Error{"store: '" + options.path + "' holds tables but no vpp schema version: not a vpp database"};
    }
    for (const auto& m : kMigrations) {
      if (m.version <= version || m.version > options.target_version) continue;
      // One transaction per migration: it applies whole or not at all.
      db.exec("BEGIN IMMEDIATE");
      try {
        db.exec(m.sql);
        db.stmt("INSERT INTO schema_version(version, applied_at, description) VALUES(?, datetime('now'), ?)")
            .bind(m.version)
            .bind(m.description)
            .run();
        db.exec("COMMIT");
      } catch (...) {
        db.exec("ROLLBACK");
        throw;
      }
      version = m.version;
    }
    store->version_ = version;
  } catch (const std::exception& e) {
    return Error{"store: '" + options.path + "': " + e.what()};
  }
  auto r = Db::open(options.path, options.busy_timeout);
  if (!r) return Error{r.error()};
  store->read_db_ = std::move(*r);
  store->writer_ = std::thread([s = store.get()] { s->writer_loop(); });
  return store;
}

Store::~Store() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

// ---------------------------------------------------------------------------------- writer

void Store::enqueue(Job job) {
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(std::move(job));
    ++queued_seq_;
    counters_.queue_high_water = std::max(counters_.queue_high_water, queue_.size());
  }
  cv_.notify_one();
}

void Store::add_telemetry(const Telemetry& t) {
  if (!t.p_kw || !std::isfinite(*t.p_kw) || t.quality == Quality::bad || t.quality == Quality::stale) return;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_queue) {
      ++counters_.telemetry_dropped;  // never block the daemon loop on a slow disk
      return;
    }
    queue_.emplace_back(t);
    ++queued_seq_;
    counters_.queue_high_water = std::max(counters_.queue_high_water, queue_.size());
  }
  cv_.notify_one();
}

namespace {

struct RollupKey {
  std::string site, asset;
  int resolution_s;
  std::int64_t start_ms;
  bool operator<(const RollupKey& o) const {
    return std::tie(site, asset, resolution_s, start_ms) < std::tie(o.site, o.asset, o.resolution_s, o.start_ms);
  }
};
struct RollupAcc {
  std::int64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
};

// Runs `items` in one transaction; throws on failure after rolling back.
void run_batch(Store::Db& db, std::vector<std::variant<Telemetry, Store::Job>>& items) {
  db.exec("BEGIN IMMEDIATE");
  try {
    std::map<RollupKey, RollupAcc> deltas;
    for (auto& item : items) {
      if (auto* t = std::get_if<Telemetry>(&item)) {
        const auto ms = to_unix_ms(t->time);
        for (int res : {60, 900}) {
          const std::int64_t start = floor_div(ms, res * 1000LL) * res * 1000LL;
          auto& a = deltas[RollupKey{t->site_id, t->asset_id, res, start}];
          ++a.count;
          a.sum += *t->p_kw;
          a.min = std::min(a.min, *t->p_kw);
          a.max = std::max(a.max, *t->p_kw);
        }
      } else {
        std::get<Store::Job>(item)(db);
      }
    }
    // Deltas merge into rows already there (earlier batches, or before a restart).
    for (const auto& [k, a] : deltas) {
      db.stmt(
            "INSERT INTO telemetry_rollups(site_id, asset_id, resolution_s, start_ms, count, sum_kw, min_kw, max_kw) "
            "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(site_id, asset_id, resolution_s, start_ms) DO UPDATE SET "
            "count = count + excluded.count, sum_kw = sum_kw + excluded.sum_kw, "
            "min_kw = MIN(min_kw, excluded.min_kw), max_kw = MAX(max_kw, excluded.max_kw)")
          .bind(k.site)
          .bind(k.asset)
          .bind(k.resolution_s)
          .bind(k.start_ms)
          .bind(a.count)
          .bind(a.sum)
          .bind(a.min)
          .bind(a.max)
          .run();
    }
    db.exec("COMMIT");
  } catch (...) {
    try {
      db.exec("ROLLBACK");
    } catch (...) {
    }
    throw;
  }
}

}  // namespace

void Store::writer_loop() {
  for (;;) {
    std::vector<Item> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and drained
      const std::size_t n = std::min(queue_.size(), options_.max_batch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::optional<std::string> error;
    std::uint64_t failed_items = 0;
    try {
      run_batch(*write_db_, batch);
    } catch (const std::exception& whole) {
      // Isolate the bad write: replay one item per transaction so one refused write (a bug
      // or a constraint) does not take the good ones of its batch with it.
      error = whole.what();
      for (auto& item : batch) {
        std::vector<Item> one;
        one.push_back(std::move(item));
        try {
          run_batch(*write_db_, one);
        } catch (const std::exception&) {
          ++failed_items;
        }
      }
      if (failed_items == 0) error.reset();  // the batch failed for a transient reason (e.g. busy)
    }
    std::size_t samples = 0;
    for (const auto& item : batch) samples += std::holds_alternative<Telemetry>(item) ? 1 : 0;
    {
      std::lock_guard lock(mu_);
      committed_seq_ += batch.size();
      ++counters_.batches;
      counters_.writes += batch.size() - failed_items;
      counters_.telemetry_samples += samples;
      if (error) {
        ++counters_.write_errors;
        if (!error_) error_ = *error;
      }
    }
    done_cv_.notify_all();
  }
}

Result<bool> Store::flush() {
  std::unique_lock lock(mu_);
  const auto target = queued_seq_;
  cv_.notify_one();
  done_cv_.wait(lock, [&] { return committed_seq_ >= target; });
  if (error_) {
    std::string e = *error_;
    error_.reset();
    return Error{"store: a write batch failed: " + e};
  }
  return true;
}

StoreCounters Store::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

// ---------------------------------------------------------------------------------- writes

void Store::save_site(const Site& s, TimePoint enrolled_at, TimePoint updated_at) {
  enqueue([json = to_json(to_proto(s)), id = s.id, enrolled_at, updated_at](Db& db) {
    db.stmt(
          "INSERT INTO enrolments(site_id, site_json, enrolled_ms, updated_ms, unenrolled_ms) VALUES(?,?,?,?,NULL) "
          "ON CONFLICT(site_id) DO UPDATE SET site_json = excluded.site_json, enrolled_ms = excluded.enrolled_ms, "
          "updated_ms = excluded.updated_ms, unenrolled_ms = NULL")
        .bind(id)
        .bind(json)
        .bind(enrolled_at)
        .bind(updated_at)
        .run();
  });
}

void Store::remove_site(const std::string& site_id, TimePoint when) {
  enqueue([site_id, when](Db& db) {
    db.stmt("UPDATE enrolments SET unenrolled_ms = ?, updated_ms = ? WHERE site_id = ?").bind(when).bind(when).bind(site_id).run();
  });
}

void Store::save_event(const controller::EventRecord& r, TimePoint now) {
  const bool ended = r.state == controller::EventState::completed || r.state == controller::EventState::cancelled ||
                     r.state == controller::EventState::rejected;
  enqueue([json = event_json(r.event), r, ended, now](Db& db) {
    auto& s = db.stmt(
        "INSERT INTO events(event_id, event_json, state, revision, received_ms, ended_ms, updated_ms) "
        "VALUES(?,?,?,?,?,?,?) ON CONFLICT(event_id) DO UPDATE SET event_json = excluded.event_json, "
        "state = excluded.state, revision = excluded.revision, ended_ms = excluded.ended_ms, "
        "updated_ms = excluded.updated_ms");
    s.bind(r.event.event_id).bind(json).bind(std::string(controller::to_string(r.state))).bind(r.revision).bind(r.received_at);
    if (ended) s.bind(r.ended_at);
    else s.bind_null();
    s.bind(now).run();
    for (const auto& site : r.opted_out) {
      db.stmt("INSERT OR IGNORE INTO opt_outs(event_id, site_id, time_ms, reason) VALUES(?,?,?,'')")
          .bind(r.event.event_id)
          .bind(site)
          .bind(now)
          .run();
    }
  });
}

void Store::add_transition(const controller::EventTransition& t) {
  enqueue([t](Db& db) {
    auto& s = db.stmt("INSERT INTO event_transitions(event_id, from_state, to_state, time_ms, reason) VALUES(?,?,?,?,?)");
    s.bind(t.event_id);
    if (t.from) s.bind(std::string(controller::to_string(*t.from)));
    else s.bind_null();
    s.bind(std::string(controller::to_string(t.to))).bind(t.time).bind(t.reason).run();
  });
}

void Store::add_opt_out(const std::string& event_id, const std::string& site_id, TimePoint when,
                        const std::string& reason) {
  enqueue([=](Db& db) {
    db.stmt(
          "INSERT INTO opt_outs(event_id, site_id, time_ms, reason) VALUES(?,?,?,?) "
          "ON CONFLICT(event_id, site_id) DO UPDATE SET reason = excluded.reason")
        .bind(event_id)
        .bind(site_id)
        .bind(when)
        .bind(reason)
        .run();
  });
}

void Store::log_command(const Command& c, const std::string& context_json) {
  enqueue([json = to_json(to_proto(c)), c, context_json](Db& db) {
    db.stmt(
          "INSERT INTO command_audit(command_id, site_id, asset_id, command_json, issued_ms, context_json) "
          "VALUES(?,?,?,?,?,?) ON CONFLICT(command_id) DO UPDATE SET command_json = excluded.command_json, "
          "context_json = excluded.context_json")
        .bind(c.command_id)
        .bind(c.site_id)
        .bind(c.asset_id)
        .bind(json)
        .bind(c.issued)
        .bind(context_json)
        .run();
  });
}

void Store::record_ack(const CommandAck& a) {
  enqueue([a](Db& db) {
    db.stmt("UPDATE command_audit SET ack_status = ?, ack_ms = ?, ack_detail = ? WHERE command_id = ?")
        .bind(ack_name(a.status))
        .bind(a.time)
        .bind(a.detail)
        .bind(a.command_id)
        .run();
  });
}

void Store::save_baseline(const BaselineRow& b) {
  enqueue([b](Db& db) {
    db.stmt(
          "INSERT INTO baselines(event_id, site_id, start_ms, baseline_kw, method) VALUES(?,?,?,?,?) "
          "ON CONFLICT(event_id, site_id, start_ms) DO UPDATE SET baseline_kw = excluded.baseline_kw, "
          "method = excluded.method")
        .bind(b.event_id)
        .bind(b.site_id)
        .bind(b.start)
        .bind(b.baseline_kw)
        .bind(b.method)
        .run();
  });
}

void Store::save_settlement(const SettlementRow& r) {
  enqueue([r](Db& db) {
    const auto& i = r.interval;
    db.stmt(
          "INSERT INTO settlements(event_id, site_id, start_ms, requested_kw, baseline_kw, metered_kw, delivered_kw, "
          "ratio) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(event_id, site_id, start_ms) DO UPDATE SET "
          "requested_kw = excluded.requested_kw, baseline_kw = excluded.baseline_kw, metered_kw = excluded.metered_kw, "
          "delivered_kw = excluded.delivered_kw, ratio = excluded.ratio")
        .bind(r.event_id)
        .bind(r.site_id)
        .bind(i.start)
        .bind(i.requested_kw)
        .bind(i.baseline_kw)
        .bind(i.metered_kw)
        .bind(i.delivered_kw)
        .bind(i.ratio)
        .run();
  });
}

void Store::save_plan(const StoredPlan& p) {
  enqueue([p](Db& db) {
    db.stmt(
          "INSERT INTO plans(group_name, created_ms, format, body) VALUES(?,?,?,?) ON CONFLICT(group_name) DO UPDATE "
          "SET created_ms = excluded.created_ms, format = excluded.format, body = excluded.body")
        .bind(p.group)
        .bind(p.created)
        .bind(p.format)
        .bind_blob(p.body)
        .run();
  });
}

void Store::save_openadr_report(const OpenAdrReportRow& r) {
  enqueue([r](Db& db) {
    auto& s = db.stmt(
        "INSERT INTO openadr_reports(report_key, event_id, program_id, report_name, body, created_ms, state, attempts, "
        "uncertain, sent_ms, vtn_id, last_error) VALUES(?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(report_key) DO UPDATE SET "
        "state = excluded.state, attempts = excluded.attempts, uncertain = excluded.uncertain, sent_ms = excluded.sent_ms, "
        "vtn_id = excluded.vtn_id, last_error = excluded.last_error");
    s.bind(r.key).bind(r.event_id).bind(r.program_id).bind(r.report_name).bind(r.body).bind(r.created).bind(r.state);
    s.bind(r.attempts).bind(r.uncertain ? 1 : 0);
    if (r.sent_at) {
      s.bind(*r.sent_at);
    } else {
      s.bind_null();
    }
    s.bind(r.vtn_id).bind(r.last_error).run();
  });
}

// ----------------------------------------------------------------------------------- reads

namespace {

std::vector<controller::EventTransition> read_transitions(Store::Db& db, const std::string& event_id) {
  std::vector<controller::EventTransition> out;
  auto& s = db.stmt("SELECT from_state, to_state, time_ms, reason FROM event_transitions WHERE event_id = ? ORDER BY seq");
  s.bind(event_id);
  while (s.step()) {
    controller::EventTransition t;
    t.event_id = event_id;
    if (!s.null(0)) t.from = state_from(s.text(0));
    t.to = state_from(s.text(1)).value_or(controller::EventState::received);
    t.time = from_unix_ms(s.i64(2));
    t.reason = s.text(3);
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<std::string> read_opt_outs(Store::Db& db, const std::string& event_id) {
  std::vector<std::string> out;
  auto& s = db.stmt("SELECT site_id FROM opt_outs WHERE event_id = ? ORDER BY site_id");
  s.bind(event_id);
  while (s.step()) out.push_back(s.text(0));
  return out;
}

}  // namespace

Result<Restored> Store::restore(TimePoint now, int meter_days, int utc_offset_minutes) {
  std::lock_guard lock(read_mu_);
  auto& db = *read_db_;
  Restored out;
  try {
    {
      auto& s = db.stmt("SELECT site_id, site_json, enrolled_ms, updated_ms FROM enrolments WHERE unenrolled_ms IS NULL ORDER BY site_id");
      while (s.step()) {
        auto site = json_to_model<pb::SiteEnrolment>(s.text(1));
        if (!site) return Error{"store: enrolment of site '" + s.text(0) + "' is unreadable: " + site.error()};
        out.sites.push_back({std::move(*site), from_unix_ms(s.i64(2)), from_unix_ms(s.i64(3))});
      }
    }
    // Events: the live ones for the core, and every event for the baseline-day exclusions.
    struct Ev {
      CurtailmentEvent e;
      controller::EventState state;
      std::optional<TimePoint> ended;
    };
    std::vector<Ev> all;
    {
      auto& s = db.stmt("SELECT event_id, event_json, state, revision, received_ms, ended_ms FROM events ORDER BY event_id");
      std::vector<StoredEvent> live;
      while (s.step()) {
        auto e = event_from_json(s.text(1));
        if (!e) return Error{"store: event '" + s.text(0) + "' is unreadable: " + e.error()};
        const auto state = state_from(s.text(2));
        if (!state) return Error{"store: event '" + s.text(0) + "' has unknown state '" + s.text(2) + "'"};
        all.push_back({*e, *state, s.null(5) ? std::nullopt : std::optional<TimePoint>(from_unix_ms(s.i64(5)))});
        if (*state == controller::EventState::received || *state == controller::EventState::scheduled ||
            *state == controller::EventState::active) {
          StoredEvent se;
          se.record.event = *e;
          se.record.state = *state;
          se.record.revision = static_cast<int>(s.i64(3));
          se.record.received_at = from_unix_ms(s.i64(4));
          live.push_back(std::move(se));
        }
      }
      for (auto& se : live) {
        for (auto& site : read_opt_outs(db, se.record.event.event_id)) se.record.opted_out.insert(site);
        se.transitions = read_transitions(db, se.record.event.event_id);
        out.events.push_back(std::move(se));
      }
    }
    {
      auto& s = db.stmt("SELECT group_name, created_ms, format, body FROM plans ORDER BY group_name");
      while (s.step()) out.plans[s.text(0)] = {s.text(0), from_unix_ms(s.i64(1)), s.text(2), s.blob(3)};
    }
    // Meter history: 15-minute means of each site's meter over the last `meter_days` local days.
    const Duration offset = std::chrono::minutes(utc_offset_minutes);
    const auto today = std::chrono::floor<std::chrono::days>(now + offset);
    constexpr int kPerDay = 96;
    for (const auto& rec : out.sites) {
      const Asset* meter = nullptr;
      for (const auto& a : rec.site.assets) {
        if (a.kind() == AssetKind::site_meter) meter = &a;
      }
      if (!meter || meter_days <= 0) continue;
      // Days on which an event called this site do not make a baseline (they are not normal days).
      std::set<std::int64_t> event_days;
      for (const auto& ev : all) {
        const bool ran = ev.state == controller::EventState::active || ev.state == controller::EventState::completed ||
                         (ev.state == controller::EventState::cancelled && ev.ended && *ev.ended > ev.e.start);
        if (!ran) continue;
        const auto& ids = ev.e.site_ids;
        if (!ids.empty() && std::find(ids.begin(), ids.end(), rec.site.id) == ids.end()) continue;
        const TimePoint end = ev.ended && *ev.ended < ev.e.end() ? *ev.ended : ev.e.end();
        for (auto d = std::chrono::floor<std::chrono::days>(ev.e.start + offset);
             d <= std::chrono::floor<std::chrono::days>(end - Duration{1} + offset); d += std::chrono::days(1)) {
          event_days.insert(d.time_since_epoch().count());
        }
      }
      MeterHistory h;
      h.site_id = rec.site.id;
      const auto first = today - std::chrono::days(meter_days);
      for (auto d = first; d < today; d += std::chrono::days(1)) {
        controller::DayProfile p;
        p.day = std::chrono::sys_days(d);
        p.kw.assign(kPerDay, std::numeric_limits<double>::quiet_NaN());
        const auto wd = std::chrono::weekday(p.day).iso_encoding();
        p.eligible = wd <= 5 && !event_days.count(d.time_since_epoch().count());
        h.days.push_back(std::move(p));
      }
      const TimePoint from = TimePoint(first.time_since_epoch()) - offset;
      const TimePoint to = TimePoint(today.time_since_epoch()) - offset;
      auto& s = db.stmt(
          "SELECT start_ms, sum_kw / count FROM telemetry_rollups WHERE site_id = ? AND asset_id = ? AND "
          "resolution_s = 900 AND start_ms >= ? AND start_ms < ? ORDER BY start_ms");
      s.bind(rec.site.id).bind(meter->id).bind(from).bind(to);
      while (s.step()) {
        const auto since = from_unix_ms(s.i64(0)) - from;
        const auto index = since / std::chrono::minutes(15);
        const auto day = static_cast<std::size_t>(index / kPerDay);
        if (day < h.days.size()) h.days[day].kw[static_cast<std::size_t>(index % kPerDay)] = s.real(1);
      }
      out.meter_history.push_back(std::move(h));
    }
  } catch (const std::exception& e) {
    return Error{"store: restore failed: " + std::string(e.what())};
  }
  return out;
}

Result<std::vector<StoredEvent>> Store::ended_events(TimePoint since) {
  std::lock_guard lock(read_mu_);
  auto& db = *read_db_;
  std::vector<StoredEvent> out;
  try {
    auto& s = db.stmt(
        "SELECT event_id, event_json, state, revision, received_ms, ended_ms FROM events "
        "WHERE ended_ms IS NOT NULL AND ended_ms >= ? ORDER BY event_id");
    s.bind(since);
    while (s.step()) {
      auto e = event_from_json(s.text(1));
      if (!e) return Error{"store: event '" + s.text(0) + "' is unreadable: " + e.error()};
      const auto state = state_from(s.text(2));
      if (!state) return Error{"store: event '" + s.text(0) + "' has unknown state '" + s.text(2) + "'"};
      StoredEvent se;
      se.record.event = *e;
      se.record.state = *state;
      se.record.revision = static_cast<int>(s.i64(3));
      se.record.received_at = from_unix_ms(s.i64(4));
      se.record.ended_at = from_unix_ms(s.i64(5));
      out.push_back(std::move(se));
    }
    for (auto& se : out) {
      for (auto& site : read_opt_outs(db, se.record.event.event_id)) se.record.opted_out.insert(site);
      se.transitions = read_transitions(db, se.record.event.event_id);
    }
  } catch (const std::exception& e) {
    return Error{"store: reading ended events failed: " + std::string(e.what())};
  }
  return out;
}

std::vector<Rollup> Store::rollups(const std::string& site_id, const std::string& asset_id, int resolution_s,
                                   TimePoint from, TimePoint to) {
  std::lock_guard lock(read_mu_);
  std::vector<Rollup> out;
  try {
    auto& s = read_db_->stmt(
        "SELECT start_ms, count, sum_kw, min_kw, max_kw FROM telemetry_rollups WHERE site_id = ? AND asset_id = ? "
        "AND resolution_s = ? AND start_ms >= ? AND start_ms < ? ORDER BY start_ms");
    s.bind(site_id).bind(asset_id).bind(resolution_s).bind(from).bind(to);
    while (s.step()) {
      Rollup r{site_id, asset_id, resolution_s, from_unix_ms(s.i64(0)), s.i64(1), 0, s.real(3), s.real(4)};
      r.mean_kw = r.count > 0 ? s.real(2) / static_cast<double>(r.count) : 0;
      out.push_back(std::move(r));
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

std::vector<StoredCommand> Store::commands(const std::string& site_id, std::size_t limit) {
  std::lock_guard lock(read_mu_);
  std::vector<StoredCommand> out;
  try {
    auto& s = read_db_->stmt(
        "SELECT command_json, context_json, ack_status, ack_ms, ack_detail FROM command_audit WHERE site_id = ? "
        "ORDER BY issued_ms DESC, command_id DESC LIMIT ?");
    s.bind(site_id).bind(static_cast<std::int64_t>(limit));
    while (s.step()) {
      auto c = json_to_model<pb::Command>(s.text(0));
      if (!c) continue;  // cannot happen for rows this store wrote; skip rather than fail the log
      StoredCommand sc{*c, s.text(1), s.text(2), std::nullopt, s.text(4)};
      if (!s.null(3)) sc.ack_time = from_unix_ms(s.i64(3));
      out.push_back(std::move(sc));
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

std::vector<controller::EventTransition> Store::transitions(const std::string& event_id) {
  std::lock_guard lock(read_mu_);
  try {
    return read_transitions(*read_db_, event_id);
  } catch (const std::exception&) {
    return {};
  }
}

std::vector<std::string> Store::opt_outs(const std::string& event_id) {
  std::lock_guard lock(read_mu_);
  try {
    return read_opt_outs(*read_db_, event_id);
  } catch (const std::exception&) {
    return {};
  }
}

std::vector<SettlementRow> Store::settlements(const std::string& event_id) {
  std::lock_guard lock(read_mu_);
  std::vector<SettlementRow> out;
  try {
    auto& s = read_db_->stmt(
        "SELECT site_id, start_ms, requested_kw, baseline_kw, metered_kw, delivered_kw, ratio FROM settlements "
        "WHERE event_id = ? ORDER BY site_id, start_ms");
    s.bind(event_id);
    while (s.step()) {
      out.push_back({event_id, s.text(0),
                     {from_unix_ms(s.i64(1)), s.real(2), s.real(3), s.real(4), s.real(5), s.real(6)}});
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

std::vector<BaselineRow> Store::baselines(const std::string& event_id) {
  std::lock_guard lock(read_mu_);
  std::vector<BaselineRow> out;
  try {
    auto& s = read_db_->stmt(
        "SELECT site_id, start_ms, baseline_kw, method FROM baselines WHERE event_id = ? ORDER BY site_id, start_ms");
    s.bind(event_id);
    while (s.step()) out.push_back({event_id, s.text(0), from_unix_ms(s.i64(1)), s.real(2), s.text(3)});
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

std::vector<OpenAdrReportRow> Store::openadr_reports() {
  std::lock_guard lock(read_mu_);
  std::vector<OpenAdrReportRow> out;
  try {
    auto& s = read_db_->stmt(
        "SELECT report_key, event_id, program_id, report_name, body, created_ms, state, attempts, uncertain, sent_ms, "
        "vtn_id, last_error FROM openadr_reports ORDER BY seq");
    while (s.step()) {
      OpenAdrReportRow r;
      r.key = s.text(0);
      r.event_id = s.text(1);
      r.program_id = s.text(2);
      r.report_name = s.text(3);
      r.body = s.text(4);
      r.created = from_unix_ms(s.i64(5));
      r.state = s.text(6);
      r.attempts = static_cast<int>(s.i64(7));
      r.uncertain = s.i64(8) != 0;
      if (!s.null(9)) r.sent_at = from_unix_ms(s.i64(9));
      r.vtn_id = s.text(10);
      r.last_error = s.text(11);
      out.push_back(std::move(r));
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

std::int64_t Store::count_rows(const std::string& table) {
  static const std::set<std::string> kTables = {"enrolments", "events", "event_transitions", "opt_outs",
                                                "command_audit", "telemetry_rollups", "baselines", "settlements",
                                                "plans", "schema_version", "openadr_reports"};
  if (!kTables.count(table)) return -1;  // never splice an unknown name into SQL
  std::lock_guard lock(read_mu_);
  try {
    return read_db_->scalar_int("SELECT COUNT(*) FROM " + table);
  } catch (const std::exception&) {
    return -1;
  }
}

std::string Store::journal_mode() {
  std::lock_guard lock(read_mu_);
  return read_db_->scalar_text("PRAGMA journal_mode");
}

}  // namespace vpp::store
