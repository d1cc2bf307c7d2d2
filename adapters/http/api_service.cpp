#include "adapters/http/api_service.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "adapters/http/json_body.hpp"
#include "adapters/http/json_writer.hpp"
#include "adapters/http/views.hpp"
#include "proto/api.pb.h"
#include "proto/convert.hpp"

extern const char kVppOpenApiTemplate[];  // openapi.json, embedded at build time

namespace vpp::http {
namespace pb = vpp::v1;
namespace gp = google::protobuf;
using config::Role;

enum class Access { open, any_token, operator_only, readers, managers };

struct ApiService::Route {
  const char* method;
  const char* path;
  Access access;
  ApiResponse (ApiService::*handler)(Call&);
};

struct ApiService::Call {
  const ApiRequest& req;
  const Route* route = nullptr;
  std::string path;
  std::map<std::string, std::string> query;
  std::string id;                      // the {id} segment
  std::optional<Principal> who;
};

const std::vector<ApiService::Route>& ApiService::table() {
  static const std::vector<Route> t = {
      {"POST", "/api/v1/events", Access::operator_only, &ApiService::create_event},
      {"GET", "/api/v1/events", Access::readers, &ApiService::list_events},
      {"GET", "/api/v1/events/{id}", Access::readers, &ApiService::get_event},
      {"PATCH", "/api/v1/events/{id}", Access::operator_only, &ApiService::patch_event},
      {"POST", "/api/v1/events/{id}/cancel", Access::operator_only, &ApiService::cancel_event},
      {"GET", "/api/v1/events/{id}/report", Access::readers, &ApiService::event_report},
      {"POST", "/api/v1/events/{id}/opt-outs", Access::managers, &ApiService::opt_out},
      {"PUT", "/api/v1/signals/prices", Access::operator_only, &ApiService::put_prices},
      {"PUT", "/api/v1/signals/carbon", Access::operator_only, &ApiService::put_carbon},
      {"POST", "/api/v1/sites", Access::managers, &ApiService::enrol_site},
      {"GET", "/api/v1/sites/{id}", Access::managers, &ApiService::get_site},
      {"PATCH", "/api/v1/sites/{id}", Access::managers, &ApiService::patch_site},
      {"DELETE", "/api/v1/sites/{id}", Access::managers, &ApiService::delete_site},
      {"GET", "/api/v1/sites/{id}/commands", Access::managers, &ApiService::site_commands},
      {"GET", "/api/v1/fleet", Access::any_token, &ApiService::fleet},
      {"GET", "/api/v1/openapi.json", Access::open, &ApiService::openapi},
      {"GET", "/healthz", Access::open, &ApiService::healthz},
      {"GET", "/metrics", Access::any_token, &ApiService::metrics},
  };
  return t;
}

std::vector<RouteInfo> ApiService::routes() {
  std::vector<RouteInfo> out;
  for (const auto& r : table()) out.push_back({r.method, r.path});
  return out;
}

namespace {

const char* error_class(int status) {
  switch (status) {
    case 400: return "invalid request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 409: return "conflict";
    case 413: return "payload too large";
    case 415: return "unsupported media type";
    case 422: return "unprocessable";
    case 429: return "too many requests";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal error" : "error";
  }
}

ApiResponse json(int status, const gp::Message& m) { return {status, "application/json", response_json(m), {}}; }

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '/') {
      ++i;
      continue;
    }
    const auto j = p.find('/', i);
    out.emplace_back(p.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j;
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding ('+' as a space, as HTML forms send queries). nullopt on a broken
// escape.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// Applies a site_manager's scope to a report: their sites only, no fleet totals.
ReportView scoped(ReportView r, const Principal& who) {
  r.fleet.clear();
  std::erase_if(r.sites, [&](const auto& s) { return !who.may_manage(s.first); });
  r.requested_kwh = 0;
  r.delivered_kwh = 0;
  r.min_interval_ratio = 0;
  bool first = true;
  const double h = to_seconds(r.interval) / 3600.0;
  for (const auto& [site, rows] : r.sites) {
    for (const auto& row : rows) {
      r.requested_kwh += row.requested_kw * h;
      r.delivered_kwh += row.delivered_kw * h;
      if (row.requested_kw > 0) {
        r.min_interval_ratio = first ? row.ratio : std::min(r.min_interval_ratio, row.ratio);
        first = false;
      }
    }
  }
  r.notes.push_back("fleet totals omitted: the token is scoped to its own sites");
  return r;
}

}  // namespace

ApiService::ApiService(ApiBackend& backend, const Clock& clock, ApiOptions options)
    : backend_(backend),
      clock_(clock),
      options_(std::move(options)),
      auth_(options_.tokens),
      limiter_(options_.rate_limit_per_s, options_.rate_burst) {}

ApiResponse ApiService::error(int status, const std::string& reason, const std::string& field) {
  pb::ErrorBody b;
  b.set_error(error_class(status));
  b.set_field(field);
  b.set_reason(reason);
  ApiResponse r = json(status, b);
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"vpp\"");
  return r;
}

void ApiService::add_route(ExtraRoute route) {
  for (auto& x : extra_) {
    if (x.path == route.path) {
      x = std::move(route);
      return;
    }
  }
  extra_.push_back(std::move(route));
}

ApiResponse ApiService::handle(const ApiRequest& req) {
  ApiResponse r = dispatch(req);
  ++counters_.requests;
  ++counters_.by_status[r.status];
  if (r.status == 400) ++counters_.invalid;
  if (r.status == 401) ++counters_.unauthorized;
  if (r.status == 429) ++counters_.rate_limited;
  return r;
}

ApiResponse ApiService::forbidden(const Call& c, const std::string& why) {
  ++counters_.forbidden;
  spdlog::warn("api: 403 {} {} from {} by token '{}' ({}): {}", c.req.method, c.path, c.req.remote,
               c.who ? c.who->name : "", c.who ? config::to_string(c.who->role) : "", why);
  return error(403, why);
}

ApiResponse ApiService::dispatch(const ApiRequest& req) {
  Call c{req};
  const auto q = req.target.find('?');
  const std::string_view raw_path = std::string_view(req.target).substr(0, q);
  if (q != std::string::npos) {
    std::string_view qs = std::string_view(req.target).substr(q + 1);
    while (!qs.empty()) {
      const auto amp = qs.find('&');
      const std::string_view part = qs.substr(0, amp);
      const auto eq = part.find('=');
      auto k = percent_decode(part.substr(0, eq));
      auto v = percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
      if (!k || !v) return error(400, "invalid percent-encoding in the query", "query");
      if (!k->empty()) c.query[*k] = *v;
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  const auto segments = split_path(raw_path);
  c.path = std::string(raw_path);

  for (const auto& x : extra_) {
    if (x.path != c.path) continue;
    if (x.authenticated && !auth_.authenticate(req.authorization)) {
      return error(401, req.authorization.empty() ? "a bearer token is required" : "the bearer token is not valid");
    }
    return x.handler(req);
  }

  // Route: the first template whose segments match; collect the methods of all that match.
  std::string allowed;
  for (const auto& r : table()) {
    const auto tmpl = split_path(r.path);
    if (tmpl.size() != segments.size()) continue;
    std::string id;
    bool match = true;
    for (std::size_t i = 0; i < tmpl.size() && match; ++i) {
      if (tmpl[i] == "{id}") {
        auto d = percent_decode(segments[i]);
        if (!d || d->empty()) match = false;
        else id = *d;
      } else {
        match = tmpl[i] == segments[i];
      }
    }
    if (!match) continue;
    if (req.method != r.method) {
      allowed += (allowed.empty() ? "" : ", ") + std::string(r.method);
      continue;
    }
    c.route = &r;
    c.id = id;
    break;
  }
  if (!c.route) {
    if (!allowed.empty()) {
      auto r = error(405, "method " + req.method + " is not allowed on " + c.path + " (allowed: " + allowed + ")");
      r.headers.emplace_back("Allow", allowed);
      return r;
    }
    return error(404, "no route " + c.path);
  }

  if (c.route->access != Access::open) {
    c.who = auth_.authenticate(req.authorization);
    if (!c.who) {
      return error(401, req.authorization.empty() ? "a bearer token is required" : "the bearer token is not valid");
    }
    Duration retry{};
    if (!limiter_.allow(c.who->name, clock_.now(), &retry)) {
      auto r = error(429, "rate limit of token '" + c.who->name + "' exceeded");
      const auto secs = std::max<long long>(1, (retry.count() + 999) / 1000);
      r.headers.emplace_back("Retry-After", std::to_string(secs));
      return r;
    }
    const Role role = c.who->role;
    bool ok = true;
    switch (c.route->access) {
      case Access::open:
      case Access::any_token:
      case Access::readers: break;
      case Access::operator_only: ok = role == Role::operator_; break;
      case Access::managers: ok = role == Role::operator_ || role == Role::site_manager; break;
    }
    if (!ok) {
      return forbidden(c, "role " + std::string(config::to_string(role)) + " may not " + req.method + " " +
                              c.route->path);
    }
  }
  return (this->*(c.route->handler))(c);
}

namespace {

template <typename T>
ApiResponse backend_error(const ApiResult<T>& r) {
  return ApiService::error(r.error().status, r.error().reason, r.error().field);
}

bool wants_body_json(const ApiRequest& req) {
  return req.content_type.empty() || req.content_type.find("json") != std::string::npos;
}

}  // namespace

#define VPP_PARSE_BODY(c, msg)                                                                        \
  do {                                                                                                \
    if (!wants_body_json((c).req)) return error(415, "request bodies are JSON (application/json)");  \
    if (auto fe = parse_body((c).req.body, (msg))) return error(400, fe->reason, fe->field);          \
  } while (0)

// ------------------------------------------------------------------------------------ events

ApiResponse ApiService::create_event(Call& c) {
  pb::CurtailmentEvent p;
  VPP_PARSE_BODY(c, p);
  const TimePoint now = clock_.now();
  if (p.event_id().empty()) {
    p.set_event_id("ev-" + std::to_string(to_unix_ms(now) / 1000) + "-" + std::to_string(next_event_seq_++));
  }
  auto e = from_proto_event(p);
  if (!e) {
    const auto fe = split_field_error(e.error());
    return error(400, fe.reason, fe.field);
  }
  if (auto fe = check_event(*e, now, false)) return error(400, fe->reason, fe->field);
  auto r = backend_.create_event(*e);
  if (!r) return backend_error(r);
  auto resp = json(201, to_proto(*r));
  resp.headers.emplace_back("Location", "/api/v1/events/" + e->event_id);
  return resp;
}

ApiResponse ApiService::patch_event(Call& c) {
  pb::EventPatch p;
  VPP_PARSE_BODY(c, p);
  auto cur = backend_.event(c.id);
  if (!cur) return backend_error(cur);
  const auto patched = apply_patch(cur->record.event, p);
  auto e = from_proto_event(to_proto_event(patched));
  if (!e) {
    const auto fe = split_field_error(e.error());
    return error(400, fe.reason, fe.field);
  }
  const bool active = cur->record.state == controller::EventState::active;
  if (auto fe = check_event(*e, clock_.now(), active)) return error(400, fe->reason, fe->field);
  auto r = backend_.modify_event(*e);
  if (!r) return backend_error(r);
  return json(200, to_proto(*r));
}

ApiResponse ApiService::cancel_event(Call& c) {
  pb::CancelRequest p;
  if (!c.req.body.empty()) VPP_PARSE_BODY(c, p);
  const std::string why = p.reason().empty() ? "cancelled by " + c.who->name : p.reason() + " (" + c.who->name + ")";
  auto r = backend_.cancel_event(c.id, why);
  if (!r) return backend_error(r);
  return json(200, to_proto(*r));
}

namespace {

// A site manager sees events, but other tenants' opt-outs are not theirs to see.
pb::EventView view_for(const EventView& v, const Principal& who) {
  auto p = to_proto(v);
  if (who.role == Role::site_manager) {
    auto* o = p.mutable_opted_out_sites();
    o->erase(std::remove_if(o->begin(), o->end(), [&](const std::string& s) { return !who.may_manage(s); }), o->end());
  }
  return p;
}

}  // namespace

ApiResponse ApiService::list_events(Call& c) {
  pb::EventList out;
  std::string state;
  if (auto it = c.query.find("state"); it != c.query.end()) state = it->second;
  static const std::set<std::string> kStates = {"received", "scheduled", "active", "completed", "cancelled", "rejected"};
  if (!state.empty() && !kStates.count(state)) {
    return error(400, "must be one of received, scheduled, active, completed, cancelled, rejected", "state");
  }
  for (const auto& v : backend_.list_events()) {
    if (!state.empty() && controller::to_string(v.record.state) != state) continue;
    *out.add_events() = view_for(v, *c.who);
  }
  return json(200, out);
}

ApiResponse ApiService::get_event(Call& c) {
  auto r = backend_.event(c.id);
  if (!r) return backend_error(r);
  return json(200, view_for(*r, *c.who));
}

ApiResponse ApiService::event_report(Call& c) {
  std::string format = "json";
  if (auto it = c.query.find("format"); it != c.query.end()) {
    format = it->second;
    if (format != "json" && format != "csv") return error(400, "must be json or csv", "format");
  } else if (c.req.accept.find("text/csv") != std::string::npos) {
    format = "csv";
  }
  auto r = backend_.report(c.id);
  if (!r) return backend_error(r);
  ReportView view = c.who->role == Role::site_manager ? scoped(*r, *c.who) : *r;
  if (format == "csv") {
    ApiResponse resp{200, "text/csv; charset=utf-8", report_csv(view), {}};
    resp.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + c.id + "-report.csv\"");
    return resp;
  }
  return json(200, to_proto(view));
}

ApiResponse ApiService::opt_out(Call& c) {
  pb::OptOutRequest p;
  VPP_PARSE_BODY(c, p);
  if (p.site_id().empty()) return error(400, "is required", "siteId");
  if (!valid_id(p.site_id())) return error(400, "must be 1-64 characters of A-Z a-z 0-9 . _ : -", "siteId");
  if (!c.who->may_manage(p.site_id())) {
    return forbidden(c, "token '" + c.who->name + "' does not manage site " + p.site_id());
  }
  auto r = backend_.opt_out(c.id, p.site_id(), p.reason());
  if (!r) return backend_error(r);
  return json(200, view_for(*r, *c.who));
}

// ----------------------------------------------------------------------------------- signals

namespace {

pb::SignalAccepted accepted(const char* kind, const std::vector<SeriesPoint>& pts, Duration interval) {
  pb::SignalAccepted a;
  a.set_kind(kind);
  a.set_points(static_cast<int>(pts.size()));
  if (!pts.empty()) {
    set_time(a.mutable_from(), pts.front().start);
    set_time(a.mutable_until(), pts.back().start + interval);
  }
  return a;
}

}  // namespace

ApiResponse ApiService::put_prices(Call& c) {
  pb::GridSignal g;
  VPP_PARSE_BODY(c, *g.mutable_prices());
  g.mutable_received();
  auto s = vpp::from_proto(g);
  if (!s) {
    const auto fe = split_field_error(s.error(), "prices.");
    return error(400, fe.reason, fe.field);
  }
  const auto& p = std::get<PriceSeries>(s->signal);
  if (p.currency.size() != 3) return error(400, "must be an ISO 4217 code such as CNY", "currency");
  auto r = backend_.put_prices(p);
  if (!r) return backend_error(r);
  return json(200, accepted("prices", p.import_price, p.interval));
}

ApiResponse ApiService::put_carbon(Call& c) {
  pb::GridSignal g;
  VPP_PARSE_BODY(c, *g.mutable_carbon());
  g.mutable_received();
  auto s = vpp::from_proto(g);
  if (!s) {
    const auto fe = split_field_error(s.error(), "carbon.");
    return error(400, fe.reason, fe.field);
  }
  const auto& p = std::get<CarbonSeries>(s->signal);
  if (p.intensity_kg_per_kwh.empty()) return error(400, "must have at least one point", "intensityKgPerKwh");
  auto r = backend_.put_carbon(p);
  if (!r) return backend_error(r);
  return json(200, accepted("carbon", p.intensity_kg_per_kwh, p.interval));
}

// ------------------------------------------------------------------------------------- sites

ApiResponse ApiService::enrol_site(Call& c) {
  pb::SiteEnrolment p;
  VPP_PARSE_BODY(c, p);
  if (!p.site_id().empty() && !c.who->may_manage(p.site_id())) {
    return forbidden(c, "token '" + c.who->name + "' may not enrol site " + p.site_id());
  }
  auto s = vpp::from_proto(p);
  if (!s) {
    const auto fe = split_field_error(s.error());
    return error(400, fe.reason, fe.field);
  }
  if (auto fe = check_site(*s)) return error(400, fe->reason, fe->field);
  auto r = backend_.enrol(*s);
  if (!r) return backend_error(r);
  auto resp = json(201, to_proto(*r));
  resp.headers.emplace_back("Location", "/api/v1/sites/" + s->id);
  return resp;
}

ApiResponse ApiService::get_site(Call& c) {
  if (!c.who->may_manage(c.id)) return forbidden(c, "token '" + c.who->name + "' does not manage site " + c.id);
  auto r = backend_.site(c.id);
  if (!r) return backend_error(r);
  return json(200, to_proto(*r));
}

ApiResponse ApiService::patch_site(Call& c) {
  if (!c.who->may_manage(c.id)) return forbidden(c, "token '" + c.who->name + "' does not manage site " + c.id);
  pb::SitePatch p;
  VPP_PARSE_BODY(c, p);
  auto cur = backend_.site(c.id);
  if (!cur) return backend_error(cur);
  const SiteLimitsPatch patch = from_proto(p);
  if (auto fe = check_limits(patch.applied_to(cur->site.limits), "limits.", "availability.windows")) {
    return error(400, fe->reason, fe->field);
  }
  auto r = backend_.update_site(c.id, patch);
  if (!r) return backend_error(r);
  return json(200, to_proto(*r));
}

ApiResponse ApiService::delete_site(Call& c) {
  if (!c.who->may_manage(c.id)) return forbidden(c, "token '" + c.who->name + "' does not manage site " + c.id);
  auto r = backend_.unenrol(c.id);
  if (!r) return backend_error(r);
  return {204, "", "", {}};
}

ApiResponse ApiService::site_commands(Call& c) {
  if (!c.who->may_manage(c.id)) return forbidden(c, "token '" + c.who->name + "' does not manage site " + c.id);
  std::size_t limit = 100;
  if (auto it = c.query.find("limit"); it != c.query.end()) {
    char* end = nullptr;
    const long v = std::strtol(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < 1 || v > 1000) return error(400, "must be an integer in [1, 1000]", "limit");
    limit = static_cast<std::size_t>(v);
  }
  auto r = backend_.site_commands(c.id, limit);
  if (!r) return backend_error(r);
  pb::CommandLog log;
  log.set_site_id(c.id);
  for (const auto& rec : *r) *log.add_commands() = to_proto(rec);
  return json(200, log);
}

// -------------------------------------------------------------------------------------- misc

ApiResponse ApiService::fleet(Call&) { return json(200, to_proto(backend_.fleet())); }

ApiResponse ApiService::openapi(Call&) { return {200, "application/json", openapi_json(), {}}; }

ApiResponse ApiService::healthz(Call&) {
  if (options_.health) {
    auto [status, text] = options_.health();
    return {status, "text/plain; charset=utf-8", std::move(text), {}};
  }
  return {200, "text/plain; charset=utf-8", "ok\n", {}};
}

std::string ApiService::counters_text() const {
  std::string out;
  out += "# TYPE vpp_api_requests_total counter\nvpp_api_requests_total " + std::to_string(counters_.requests) + "\n";
  out += "# TYPE vpp_api_responses_total counter\n";
  for (const auto& [status, n] : counters_.by_status) {
    out += "vpp_api_responses_total{status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  }
  out += "# TYPE vpp_api_forbidden_total counter\nvpp_api_forbidden_total " + std::to_string(counters_.forbidden) + "\n";
  out += "# TYPE vpp_api_unauthorized_total counter\nvpp_api_unauthorized_total " +
         std::to_string(counters_.unauthorized) + "\n";
  out += "# TYPE vpp_api_rate_limited_total counter\nvpp_api_rate_limited_total " +
         std::to_string(counters_.rate_limited) + "\n";
  return out;
}

ApiResponse ApiService::metrics(Call&) {
  std::string text = counters_text();
  if (options_.metrics) text += options_.metrics();
  return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(text), {}};
}

// ----------------------------------------------------------------------------------- openapi

namespace {

gp::Value str(const std::string& s) {
  gp::Value v;
  v.set_string_value(s);
  return v;
}

gp::Value field_schema(const gp::FieldDescriptor& f, std::set<const gp::Descriptor*>& needed) {
  gp::Value v;
  auto& m = *v.mutable_struct_value()->mutable_fields();
  using FD = gp::FieldDescriptor;
  switch (f.cpp_type()) {
    case FD::CPPTYPE_DOUBLE:
    case FD::CPPTYPE_FLOAT: m["type"] = str("number"); break;
    case FD::CPPTYPE_INT32:
    case FD::CPPTYPE_UINT32: m["type"] = str("integer"); m["format"] = str("int32"); break;
    case FD::CPPTYPE_INT64:
    case FD::CPPTYPE_UINT64: m["type"] = str("string"); m["format"] = str("int64"); break;
    case FD::CPPTYPE_BOOL: m["type"] = str("boolean"); break;
    case FD::CPPTYPE_STRING: m["type"] = str("string"); break;
    case FD::CPPTYPE_ENUM: {
      m["type"] = str("string");
      auto* list = m["enum"].mutable_list_value();
      for (int i = 0; i < f.enum_type()->value_count(); ++i) *list->add_values() = str(f.enum_type()->value(i)->name());
      break;
    }
    case FD::CPPTYPE_MESSAGE: {
      const auto* d = f.message_type();
      if (d->full_name() == "google.protobuf.Timestamp") {
        m["type"] = str("string");
        m["format"] = str("date-time");
      } else if (d->full_name() == "google.protobuf.Duration") {
        m["type"] = str("string");
        m["pattern"] = str("^[0-9]+(\\.[0-9]{1,9})?s$");
        m["example"] = str("900s");
      } else {
        m["$ref"] = str("#/components/schemas/" + d->full_name());
        needed.insert(d);
      }
      break;
    }
  }
  if (!f.is_repeated()) return v;
  gp::Value arr;
  auto& a = *arr.mutable_struct_value()->mutable_fields();
  a["type"] = str("array");
  a["items"] = v;
  return arr;
}

gp::Value message_schema(const gp::Descriptor& d, std::set<const gp::Descriptor*>& needed) {
  gp::Value v;
  auto& m = *v.mutable_struct_value()->mutable_fields();
  m["type"] = str("object");
  m["additionalProperties"].set_bool_value(false);
  auto& props = *m["properties"].mutable_struct_value()->mutable_fields();
  for (int i = 0; i < d.field_count(); ++i) props[d.field(i)->json_name()] = field_schema(*d.field(i), needed);
  std::string oneofs;
  for (int i = 0; i < d.oneof_decl_count(); ++i) {
    const auto* o = d.oneof_decl(i);
    if (o->is_synthetic()) continue;  // proto3 `optional`
    std::string names;
    for (int j = 0; j < o->field_count(); ++j) names += (j ? ", " : "") + o->field(j)->json_name();
    oneofs += (oneofs.empty() ? "" : " ") + std::string("At most one of: ") + names + ".";
  }
  if (!oneofs.empty()) m["description"] = str(oneofs);
  return v;
}

std::string build_openapi() {
  auto doc = parse_json_value(kVppOpenApiTemplate);
  if (!doc || doc->kind_case() != gp::Value::kStructValue) return "{}";  // caught by the OpenAPI test
  // Every message a path names, then whatever those reference, until closed.
  std::set<const gp::Descriptor*> needed;
  const gp::Descriptor* roots[] = {
      pb::ErrorBody::descriptor(),      pb::CurtailmentEvent::descriptor(), pb::EventPatch::descriptor(),
      pb::CancelRequest::descriptor(),  pb::OptOutRequest::descriptor(),   pb::EventView::descriptor(),
      pb::EventList::descriptor(),      pb::EventReport::descriptor(),     pb::PriceSeries::descriptor(),
      pb::CarbonSeries::descriptor(),   pb::SignalAccepted::descriptor(),  pb::SiteEnrolment::descriptor(),
      pb::SiteView::descriptor(),       pb::SitePatch::descriptor(),       pb::CommandLog::descriptor(),
      pb::FleetView::descriptor()};
  for (const auto* r : roots) needed.insert(r);
  std::map<std::string, gp::Value> schemas;
  std::set<const gp::Descriptor*> done;
  while (true) {
    const gp::Descriptor* next = nullptr;
    for (const auto* d : needed) {
      if (!done.count(d)) {
        next = d;
        break;
      }
    }
    if (!next) break;
    done.insert(next);
    schemas[next->full_name()] = message_schema(*next, needed);
  }
  auto& components = *(*doc->mutable_struct_value()->mutable_fields())["components"].mutable_struct_value()->mutable_fields();
  auto& out = *components["schemas"].mutable_struct_value()->mutable_fields();
  for (auto& [name, s] : schemas) out[name] = s;
  return write_json(*doc);
}

}  // namespace

const std::string& ApiService::openapi_json() {
  static const std::string doc = build_openapi();
  return doc;
}

}  // namespace vpp::http
