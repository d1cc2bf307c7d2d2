#pragma once
// The report outbox persisted in vppd's SQLite store (table openadr_reports, migration 4):
// loaded at start, every change written through. Store writes are queued and committed by the
// store's writer thread within milliseconds; call Store::flush() where a caller must know a
// report is on disk (the tests do).
#include "adapters/openadr/report_queue.hpp"
#include "adapters/store/store.hpp"

namespace vpp::openadr {

class StoreReportQueue final : public ReportQueue {
 public:
  explicit StoreReportQueue(store::Store& store);

  bool contains(const std::string& key) const override { return mem_.contains(key); }
  void push(const QueuedReport& r) override;
  void update(const QueuedReport& r) override;
  std::optional<QueuedReport> next_pending() const override { return mem_.next_pending(); }
  QueueStats stats() const override { return mem_.stats(); }
  std::vector<QueuedReport> all() const override { return mem_.all(); }

 private:
  store::Store& store_;
  MemoryReportQueue mem_;
};

}  // namespace vpp::openadr
