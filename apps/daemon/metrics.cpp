#include "apps/daemon/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace vpp::daemon {

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

void PromText::declare(const std::string& name, const std::string& type, const std::string& help) {
  if (!declared_.insert(name).second) return;
  out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void PromText::sample(const std::string& name, double v, const Labels& labels) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, val] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += k + "=\"" + escape_label(val) + "\"";
    }
    out_ += '}';
  }
  out_ += ' ' + format_value(v) + '\n';
}

void PromText::add(const std::string& name, const char* type, const std::string& help, double v, const Labels& labels) {
  declare(name, type, help);
  sample(name, v, labels);
}

namespace {

void adapter_series(PromText& p, const char* name, const adapters::AdapterCounters& c) {
  p.counter("vpp_messages_in_total", "Messages accepted from devices and the grid, by adapter", static_cast<double>(c.in()),
            {{"adapter", name}});
  p.counter("vpp_messages_out_total", "Messages sent (commands, status), by adapter", static_cast<double>(c.out()),
            {{"adapter", name}});
  p.declare("vpp_messages_rejected_total", "counter", "Messages rejected, by adapter and reason");
  for (const auto& [reason, n] : c.rejections()) {
    p.sample("vpp_messages_rejected_total", static_cast<double>(n), {{"adapter", name}, {"reason", reason}});
  }
}

}  // namespace

std::string metrics_text(const MetricsSources& m) {
  PromText p;
  p.gauge("vpp_uptime_seconds", "Seconds since vppd started", m.uptime_s);
  if (m.mqtt) {
    adapter_series(p, "mqtt", *m.mqtt);
    p.gauge("vpp_mqtt_connected", "1 while every MQTT connection is up", m.mqtt_connected ? 1 : 0);
    p.gauge("vpp_mqtt_pending_commands", "Commands published and not yet acknowledged",
            static_cast<double>(m.mqtt_pending_commands));
  }
  if (m.modbus) adapter_series(p, "modbus", *m.modbus);
  p.counter("vpp_inbox_inputs_total", "Adapter inputs handed to the event loop", static_cast<double>(m.inbox.received));
  p.counter("vpp_inbox_dropped_total", "Adapter inputs dropped because the loop's inbox was full",
            static_cast<double>(m.inbox.dropped));
  p.gauge("vpp_inbox_depth", "Adapter inputs waiting for the event loop", static_cast<double>(m.inbox.depth));
  p.gauge("vpp_inbox_high_water", "Most adapter inputs ever waiting at once", static_cast<double>(m.inbox.high_water));

  if (const auto* d = m.driver) {
    const auto& core = d->core();
    const auto& cc = core.counters();
    const auto& dc = d->counters();
    const auto& fleet = core.fleet();
    p.counter("vpp_telemetry_total", "Telemetry readings judged by the controller, by result",
              static_cast<double>(cc.telemetry_accepted), {{"result", "accepted"}});
    p.counter("vpp_telemetry_total", "", static_cast<double>(cc.telemetry_rejected), {{"result", "rejected"}});
    p.counter("vpp_telemetry_stored_total", "Accepted readings queued for the store's roll-ups",
              static_cast<double>(dc.telemetry_stored));
    p.counter("vpp_acks_total", "Command acknowledgements from devices", static_cast<double>(dc.acks));
    p.counter("vpp_acks_unknown_total", "Acknowledgements of commands the controller does not track",
              static_cast<double>(cc.acks_unknown));
    p.counter("vpp_signals_rejected_total", "Grid signals the controller refused", static_cast<double>(cc.signals_rejected));
    p.counter("vpp_device_status_total", "Device online/offline reports from adapters", static_cast<double>(dc.device_online),
              {{"online", "true"}});
    p.counter("vpp_device_status_total", "", static_cast<double>(dc.device_offline), {{"online", "false"}});
    std::size_t sites = 0, assets = 0;
    for (const auto& s : fleet.sites()) {
      if (!s.enrolled) continue;
      ++sites;
      assets += s.assets.size();
    }
    p.gauge("vpp_sites_enrolled", "Sites enrolled", static_cast<double>(sites));
    p.gauge("vpp_assets", "Assets of enrolled sites", static_cast<double>(assets));
    p.gauge("vpp_devices_online", "Assets with fresh accepted telemetry", static_cast<double>(fleet.online_assets()));

    p.counter("vpp_commands_sent_total", "Commands issued by the controller", static_cast<double>(cc.commands_sent));
    p.counter("vpp_commands_resent_total", "Unacknowledged commands sent again", static_cast<double>(cc.commands_resent));
    p.counter("vpp_commands_clamped_total", "Commands clamped to ratings or site limits",
              static_cast<double>(cc.commands_clamped));
    p.declare("vpp_commands_routed_total", "counter", "Commands handed to an adapter, by adapter");
    for (const auto& [adapter, n] : dc.commands_routed) p.sample("vpp_commands_routed_total", static_cast<double>(n), {{"adapter", adapter}});
    p.counter("vpp_commands_unserved_total", "Commands for assets no adapter serves (not sent)",
              static_cast<double>(dc.commands_unserved));
    p.gauge("vpp_commands_unserved_assets", "Assets commanded that no adapter serves",
            static_cast<double>(d->unserved_assets().size()));

    p.counter("vpp_solves_requested_total", "Dispatch solves requested by the controller",
              static_cast<double>(cc.solves_requested));
    p.counter("vpp_solves_total", "Dispatch solves finished, by result", static_cast<double>(dc.solves_ok), {{"result", "ok"}});
    p.counter("vpp_solves_total", "", static_cast<double>(dc.solves_failed), {{"result", "failed"}});
    p.counter("vpp_plans_adopted_total", "Plans the controller adopted", static_cast<double>(cc.plans_adopted));
    p.counter("vpp_plans_discarded_total", "Plans superseded before they arrived", static_cast<double>(cc.plans_discarded));
    p.counter("vpp_plans_restored_total", "Plans from before a restart followed until a fresh solve",
              static_cast<double>(cc.plans_restored));
    p.declare("vpp_solve_seconds", "summary", "Wall time of dispatch solves");
    p.sample("vpp_solve_seconds_sum", dc.solve_seconds_sum);
    p.sample("vpp_solve_seconds_count", static_cast<double>(dc.solves_ok + dc.solves_failed));
    p.gauge("vpp_solve_seconds_last", "Wall time of the last dispatch solve", dc.solve_seconds_last);
    p.gauge("vpp_solve_seconds_max", "Longest dispatch solve since start", dc.solve_seconds_max);

    std::map<std::string, int> by_state;
    for (auto s : {controller::EventState::received, controller::EventState::scheduled, controller::EventState::active,
                   controller::EventState::completed, controller::EventState::cancelled, controller::EventState::rejected}) {
      by_state[std::string(controller::to_string(s))] = 0;
    }
    for (const auto& [id, r] : core.events().all()) ++by_state[std::string(controller::to_string(r.state))];
    for (const auto& [state, n] : by_state) p.gauge("vpp_events", "Events the controller holds, by state", n, {{"state", state}});
    p.declare("vpp_event_delivery_ratio", "gauge", "Delivered over requested reduction in the latest settled interval of each active event");
    p.declare("vpp_event_delivered_kw", "gauge", "Delivered reduction in the latest settled interval of each active event");
    p.declare("vpp_event_requested_kw", "gauge", "Requested reduction in the latest settled interval of each active event");
    for (const auto& [id, r] : core.events().all()) {
      if (r.state != controller::EventState::active) continue;
      const auto rep = core.report(id, m.now);
      if (!rep || rep->fleet.empty()) continue;
      const auto& last = rep->fleet.back();
      p.sample("vpp_event_delivery_ratio", last.ratio, {{"event", id}});
      p.sample("vpp_event_delivered_kw", last.delivered_kw, {{"event", id}});
      p.sample("vpp_event_requested_kw", last.requested_kw, {{"event", id}});
    }
    p.declare("vpp_alarms_total", "counter", "Alarms raised, by code");
    for (const auto& [code, n] : dc.alarms) p.sample("vpp_alarms_total", static_cast<double>(n), {{"code", code}});
  }
  if (m.api) {
    std::map<std::string, std::uint64_t> classes = {{"2xx", 0}, {"3xx", 0}, {"4xx", 0}, {"5xx", 0}};
    for (const auto& [status, n] : m.api->by_status) {
      if (status >= 200 && status < 600) classes[std::to_string(status / 100) + "xx"] += n;
    }
    for (const auto& [cls, n] : classes) {
      p.counter("vpp_api_responses_by_class_total", "API responses by status class", static_cast<double>(n), {{"class", cls}});
    }
  }
  if (m.http) {
    const auto& h = *m.http;
    p.counter("vpp_http_connections_total", "HTTP connections accepted", static_cast<double>(h.connections));
    p.counter("vpp_http_refused_total", "HTTP connections or requests refused before the API saw them, by reason",
              static_cast<double>(h.too_large), {{"reason", "body_too_large"}});
    p.counter("vpp_http_refused_total", "", static_cast<double>(h.malformed), {{"reason", "malformed_http"}});
    p.counter("vpp_http_refused_total", "", static_cast<double>(h.rejected_connections), {{"reason", "too_many_connections"}});
    p.counter("vpp_http_refused_total", "", static_cast<double>(h.tls_handshake_failures), {{"reason", "tls_handshake"}});
  }
  if (m.store) {
    const auto& s = *m.store;
    p.counter("vpp_store_batches_total", "Store transactions committed or failed", static_cast<double>(s.batches));
    p.counter("vpp_store_writes_total", "Queued store writes committed", static_cast<double>(s.writes));
    p.counter("vpp_store_telemetry_samples_total", "Telemetry samples rolled up", static_cast<double>(s.telemetry_samples));
    p.counter("vpp_store_write_errors_total", "Store batches that failed", static_cast<double>(s.write_errors));
    p.counter("vpp_store_telemetry_dropped_total", "Telemetry samples dropped because the store's queue was full",
              static_cast<double>(s.telemetry_dropped));
    p.gauge("vpp_store_queue_high_water", "Most writes ever queued for the store", static_cast<double>(s.queue_high_water));
  }
  if (m.openadr) {
    const auto& c = *m.openadr;
    const auto n = [](std::uint64_t v) { return static_cast<double>(v); };
    p.gauge("vpp_openadr_online", "1 while the VTN answers the VEN", m.openadr_online ? 1 : 0);
    p.counter("vpp_openadr_requests_total", "HTTP requests the VEN sent to the VTN", n(c.requests));
    p.counter("vpp_openadr_failures_total", "VTN requests that failed, by reason", n(c.transport_errors), {{"reason", "transport"}});
    p.counter("vpp_openadr_failures_total", "", n(c.server_errors), {{"reason", "server_error"}});
    p.counter("vpp_openadr_failures_total", "", n(c.unauthorized), {{"reason", "unauthorized"}});
    p.counter("vpp_openadr_rejected_total", "VTN objects and notifications rejected (schema or mapping), by kind",
              n(c.invalid_objects), {{"kind", "object"}});
    p.counter("vpp_openadr_rejected_total", "", n(c.notifications_rejected), {{"kind", "notification"}});
    p.counter("vpp_openadr_events_total", "OpenADR events seen, by change", n(c.events_new), {{"change", "new"}});
    p.counter("vpp_openadr_events_total", "", n(c.events_modified), {{"change", "modified"}});
    p.counter("vpp_openadr_events_total", "", n(c.events_deleted), {{"change", "deleted"}});
    p.counter("vpp_openadr_events_total", "", n(c.duplicates), {{"change", "duplicate"}});
    p.counter("vpp_openadr_events_total", "", n(c.out_of_order), {{"change", "out_of_order"}});
    p.counter("vpp_openadr_signals_total", "Grid signals the VEN handed to the controller", n(c.signals));
    p.gauge("vpp_openadr_reports", "OpenADR reports in the outbox, by state", static_cast<double>(m.openadr_reports.pending),
            {{"state", "pending"}});
    p.gauge("vpp_openadr_reports", "", static_cast<double>(m.openadr_reports.sent), {{"state", "sent"}});
    p.gauge("vpp_openadr_reports", "", static_cast<double>(m.openadr_reports.rejected), {{"state", "rejected"}});
    p.gauge("vpp_openadr_export_caps", "OpenADR export capacity limits in force", static_cast<double>(m.export_caps));
    p.gauge("vpp_openadr_export_capped_sites", "Sites running below their enrolled export limit for a cap",
            static_cast<double>(m.export_capped_sites));
  }
  return p.str();
}

}  // namespace vpp::daemon
