#include "adapters/openadr/store_report_queue.hpp"

namespace vpp::openadr {
namespace {

store::OpenAdrReportRow to_row(const QueuedReport& r) {
  store::OpenAdrReportRow row;
  row.key = r.key;
  row.event_id = r.event_id;
  row.program_id = r.program_id;
  row.report_name = r.report_name;
  row.body = r.body;
  row.created = r.created;
  row.state = std::string(to_string(r.state));
  row.attempts = r.attempts;
  row.uncertain = r.uncertain;
  row.sent_at = r.sent_at;
  row.vtn_id = r.vtn_id;
  row.last_error = r.last_error;
  return row;
}

}  // namespace

StoreReportQueue::StoreReportQueue(store::Store& store) : store_(store) {
  for (const auto& row : store_.openadr_reports()) {
    QueuedReport r;
    r.key = row.key;
    r.event_id = row.event_id;
    r.program_id = row.program_id;
    r.report_name = row.report_name;
    r.body = row.body;
    r.created = row.created;
    r.state = parse_report_state(row.state).value_or(ReportState::pending);
    r.attempts = row.attempts;
    r.uncertain = row.uncertain;
    r.sent_at = row.sent_at;
    r.vtn_id = row.vtn_id;
    r.last_error = row.last_error;
    mem_.push(r);
  }
}

void StoreReportQueue::push(const QueuedReport& r) {
  if (mem_.contains(r.key)) return;
  mem_.push(r);
  store_.save_openadr_report(to_row(r));
}

void StoreReportQueue::update(const QueuedReport& r) {
  if (!mem_.contains(r.key)) return;
  mem_.update(r);
  store_.save_openadr_report(to_row(r));
}

}  // namespace vpp::openadr
