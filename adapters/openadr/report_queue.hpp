#pragma once
// The VEN's outbox of reports. A report is queued once (its key is unique: event, descriptor,
// instance), sent when the VTN is reachable, in the order queued, and kept after sending so it
// is never produced twice. A send whose outcome is unknown (the connection failed after the
// request may have reached the VTN) marks the report `uncertain`: before it is sent again the
// engine asks the VTN whether a report of that name already exists, so a lost response never
// becomes a duplicate.
//
// MemoryReportQueue keeps it in memory; StoreReportQueue (store_report_queue.hpp) writes every
// change through to vppd's SQLite store so queued reports survive a restart.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/time.hpp"

namespace vpp::openadr {

enum class ReportState { pending, sent, rejected };
std::string_view to_string(ReportState s);
std::optional<ReportState> parse_report_state(std::string_view s);

struct QueuedReport {
  std::string key;
  std::string event_id;
  std::string program_id;
  std::string report_name;
  std::string body;                 // the report JSON
  TimePoint created{};
  ReportState state = ReportState::pending;
  int attempts = 0;
  bool uncertain = false;
  std::optional<TimePoint> sent_at;
  std::string vtn_id;               // the id the VTN gave the report
  std::string last_error;

  bool operator==(const QueuedReport&) const = default;
};

struct QueueStats {
  std::size_t pending = 0;
  std::size_t sent = 0;
  std::size_t rejected = 0;
  std::optional<TimePoint> oldest_pending;
};

class ReportQueue {
 public:
  virtual ~ReportQueue() = default;
  virtual bool contains(const std::string& key) const = 0;
  // Adds a new report (ignored when the key is known).
  virtual void push(const QueuedReport& r) = 0;
  // Replaces the entry with the same key.
  virtual void update(const QueuedReport& r) = 0;
  // The oldest pending report, if any.
  virtual std::optional<QueuedReport> next_pending() const = 0;
  virtual QueueStats stats() const = 0;
  virtual std::vector<QueuedReport> all() const = 0;
};

class MemoryReportQueue : public ReportQueue {
 public:
  bool contains(const std::string& key) const override { return by_key_.count(key) > 0; }
  void push(const QueuedReport& r) override;
  void update(const QueuedReport& r) override;
  std::optional<QueuedReport> next_pending() const override;
  QueueStats stats() const override;
  std::vector<QueuedReport> all() const override;

 private:
  std::map<std::uint64_t, QueuedReport> items_;        // by insertion sequence: send order
  std::map<std::string, std::uint64_t> by_key_;
  std::uint64_t next_seq_ = 1;
};

}  // namespace vpp::openadr
