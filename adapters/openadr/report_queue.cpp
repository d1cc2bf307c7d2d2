#include "adapters/openadr/report_queue.hpp"

namespace vpp::openadr {

std::string_view to_string(ReportState s) {
  switch (s) {
    case ReportState::pending: return "pending";
    case ReportState::sent: return "sent";
    case ReportState::rejected: return "rejected";
  }
  return "?";
}

std::optional<ReportState> parse_report_state(std::string_view s) {
  for (auto x : {ReportState::pending, ReportState::sent, ReportState::rejected}) {
    if (to_string(x) == s) return x;
  }
  return std::nullopt;
}

void MemoryReportQueue::push(const QueuedReport& r) {
  if (by_key_.count(r.key)) return;
  const auto seq = next_seq_++;
  items_.emplace(seq, r);
  by_key_.emplace(r.key, seq);
}

void MemoryReportQueue::update(const QueuedReport& r) {
  const auto it = by_key_.find(r.key);
  if (it == by_key_.end()) return;
  items_.at(it->second) = r;
}

std::optional<QueuedReport> MemoryReportQueue::next_pending() const {
  for (const auto& [seq, r] : items_) {
    if (r.state == ReportState::pending) return r;
  }
  return std::nullopt;
}

QueueStats MemoryReportQueue::stats() const {
  QueueStats s;
  for (const auto& [seq, r] : items_) {
    switch (r.state) {
      case ReportState::pending:
        ++s.pending;
        if (!s.oldest_pending || r.created < *s.oldest_pending) s.oldest_pending = r.created;
        break;
      case ReportState::sent: ++s.sent; break;
      case ReportState::rejected: ++s.rejected; break;
    }
  }
  return s;
}

std::vector<QueuedReport> MemoryReportQueue::all() const {
  std::vector<QueuedReport> out;
  out.reserve(items_.size());
  for (const auto& [seq, r] : items_) out.push_back(r);
  return out;
}

}  // namespace vpp::openadr
