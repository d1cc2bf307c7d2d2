#pragma once
// Test doubles for the VEN engine: an in-process VTN that answers the engine's HttpRequests
// (canned, deterministic, no sockets), and a ReportSource with hand-set settlement figures.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/openadr/driver.hpp"
#include "adapters/openadr/engine.hpp"
#include "adapters/openadr/transport.hpp"

namespace vpp::openadr::testing {

using Json = nlohmann::json;

inline const TimePoint T0 = *parse_utc("2026-07-07T06:00:00Z");

struct Failure {
  std::string path_prefix;   // matches the request path
  int status = 503;          // 0: transport failure
  int count = 1;
  std::string method;        // empty: any
  std::map<std::string, std::string> headers;
};

class FakeVtn : public Transport {
 public:
  std::map<std::string, Json> programs;   // id -> object
  std::map<std::string, Json> events;
  std::map<std::string, Json> vens;
  std::map<std::string, Json> resources;
  std::vector<Json> reports;
  std::vector<Json> subscriptions;
  std::vector<HttpRequest> log;
  std::vector<Failure> failures;
  std::map<std::string, std::string> raw_event_listing;  // programID -> raw body served instead
  bool etags = true;
  bool down = false;                       // every request fails at transport level
  bool lose_report_responses = false;      // store the report, then fail the transport
  int seq = 0;
  std::set<std::string> tokens;

  Json add_program(const std::string& id, const std::string& name) {
    programs[id] = {{"id", id}, {"objectType", "PROGRAM"}, {"programName", name},
                    {"createdDateTime", "2026-07-01T00:00:00Z"}, {"modificationDateTime", "2026-07-01T00:00:00Z"}};
    return programs[id];
  }
  void put_event(Json e) {
    e["objectType"] = "EVENT";
    if (!e.contains("createdDateTime")) e["createdDateTime"] = "2026-07-01T00:00:00Z";
    events[e["id"].get<std::string>()] = e;
  }

  HttpResult send(const HttpRequest& r) override {
    log.push_back(r);
    HttpResult out;
    if (down) {
      out.error = "connection refused";
      return out;
    }
    auto parts = split_url(r.url);
    std::string target = parts ? parts->second : r.url;
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    const std::string query = q == std::string::npos ? "" : target.substr(q + 1);
    for (auto& f : failures) {
      if (f.count > 0 && path.rfind(f.path_prefix, 0) == 0 && (f.method.empty() || f.method == r.method)) {
        --f.count;
        if (f.status == 0) {
          out.error = "injected transport failure";
          return out;
        }
        out.status = f.status;
        out.headers = f.headers;
        out.body = Json{{"title", "injected"}, {"status", f.status}}.dump();
        return out;
      }
    }
    if (path == "/auth/server" && r.method == "GET") return reply(200, {{"tokenURL", "http://vtn.test/auth/token"}});
    if (path == "/auth/token") {
      if (r.body.find("client_secret=secret") == std::string::npos) return reply(400, {{"error", "invalid_client"}});
      const std::string tok = "tok" + std::to_string(++seq);
      tokens.insert(tok);
      return reply(200, {{"access_token", tok}, {"token_type", "Bearer"}, {"expires_in", 3600}});
    }
    const auto auth = r.headers.find("Authorization");
    if (auth == r.headers.end() || !tokens.count(auth->second.substr(7))) return reply(401, {{"title", "Unauthorized"}});
    auto param = [&](const std::string& k) -> std::string {
      const std::string key = k + "=";
      std::size_t p = 0;
      while ((p = query.find(key, p)) != std::string::npos) {
        if (p == 0 || query[p - 1] == '&') {
          const auto e = query.find('&', p);
          return query.substr(p + key.size(), e == std::string::npos ? std::string::npos : e - p - key.size());
        }
        p += key.size();
      }
      return "";
    };
    if (path == "/programs" && r.method == "GET") return listing(r, values(programs));
    if (path == "/events" && r.method == "GET") {
      const std::string pid = param("programID");
      if (raw_event_listing.count(pid)) {
        out.status = 200;
        out.body = raw_event_listing[pid];
        return out;
      }
      Json list = Json::array();
      for (const auto& [id, e] : events) {
        if (e["programID"] == pid) list.push_back(e);
      }
      return listing(r, list);
    }
    if (path == "/vens" && r.method == "GET") {
      Json list = Json::array();
      for (const auto& [id, v] : vens) {
        if (v["venName"] == param("venName")) list.push_back(v);
      }
      return listing(r, list);
    }
    if (path == "/vens" && r.method == "POST") {
      Json v = Json::parse(r.body);
      v["id"] = "ven-" + std::to_string(++seq);
      vens[v["id"]] = v;
      return reply(201, v);
    }
    if (path.rfind("/vens/", 0) == 0 && path.find("/resources") != std::string::npos) {
      const std::string ven = path.substr(6, path.find("/resources") - 6);
      if (r.method == "GET") {
        Json list = Json::array();
        for (const auto& [id, x] : resources) {
          if (x["venID"] == ven && x["resourceName"] == param("resourceName")) list.push_back(x);
        }
        return listing(r, list);
      }
      Json x = Json::parse(r.body);
      x["id"] = "res-" + std::to_string(++seq);
      x["venID"] = ven;
      resources[x["id"]] = x;
      return reply(201, x);
    }
    if (path == "/resources") {  // 3.1.0: resources are top-level, filtered by venID
      if (r.method == "GET") {
        Json list = Json::array();
        for (const auto& [id, x] : resources) {
          if (x["venID"] == param("venID") && x["resourceName"] == param("resourceName")) list.push_back(x);
        }
        return listing(r, list);
      }
      Json x = Json::parse(r.body);
      x["id"] = "res-" + std::to_string(++seq);
      resources[x["id"]] = x;
      return reply(201, x);
    }
    if (path == "/reports" && r.method == "POST") {
      Json rep = Json::parse(r.body);
      rep["id"] = "rep-" + std::to_string(++seq);
      reports.push_back(rep);
      if (lose_report_responses) {
        out.error = "connection reset after the request was sent";
        return out;
      }
      return reply(201, rep);
    }
    if (path == "/reports" && r.method == "GET") {
      Json list = Json::array();
      for (const auto& rep : reports) {
        if (rep["eventID"] == param("eventID")) list.push_back(rep);
      }
      return reply(200, list);
    }
    if (path == "/subscriptions" && r.method == "GET") return reply(200, Json(subscriptions));
    if (path == "/subscriptions" && r.method == "POST") {
      Json s = Json::parse(r.body);
      s["id"] = "sub-" + std::to_string(++seq);
      subscriptions.push_back(s);
      return reply(201, s);
    }
    return reply(404, {{"title", "Not Found"}});
  }

  std::vector<const HttpRequest*> requests_to(const std::string& method, const std::string& path_prefix) const {
    std::vector<const HttpRequest*> out;
    for (const auto& r : log) {
      auto parts = split_url(r.url);
      if (r.method == method && parts && parts->second.rfind(path_prefix, 0) == 0) out.push_back(&r);
    }
    return out;
  }

 private:
  static Json values(const std::map<std::string, Json>& m) {
    Json list = Json::array();
    for (const auto& [k, v] : m) list.push_back(v);
    return list;
  }
  static HttpResult reply(int status, const Json& body) {
    HttpResult r;
    r.status = status;
    r.body = body.dump();
    return r;
  }
  HttpResult listing(const HttpRequest& r, const Json& list) {
    HttpResult out = reply(200, list);
    if (!etags) return out;
    const std::string tag = "\"" + std::to_string(std::hash<std::string>{}(out.body)) + "\"";
    out.headers["etag"] = tag;
    const auto inm = r.headers.find("If-None-Match");
    if (inm != r.headers.end() && inm->second == tag) {
      out.status = 304;
      out.body.clear();
    }
    return out;
  }
};

// Settlement figures set by hand per core event; usage, shed and storage per site.
class FakeSource : public ReportSource {
 public:
  std::map<std::string, controller::EventReport> settlements;
  std::map<std::string, double> shed_kw;
  std::map<std::string, StorageState> storage_state;
  std::map<std::string, double> usage;
  int settlement_calls = 0;

  std::optional<controller::EventReport> settlement(const std::string& id, TimePoint) override {
    ++settlement_calls;
    const auto it = settlements.find(id);
    if (it == settlements.end()) return std::nullopt;
    return it->second;
  }
  std::optional<double> usage_kw(const std::string& site, TimePoint, TimePoint) override {
    const auto it = usage.find(site);
    if (it == usage.end()) return std::nullopt;
    return it->second;
  }
  std::optional<double> load_shed_available_kw(const std::string& site, TimePoint) override {
    const auto it = shed_kw.find(site);
    if (it == shed_kw.end()) return std::nullopt;
    return it->second;
  }
  std::optional<StorageState> storage(const std::string& site, TimePoint) override {
    const auto it = storage_state.find(site);
    if (it == storage_state.end()) return std::nullopt;
    return it->second;
  }
};

// Settlement rows of `n` 15-minute intervals from `start` with the given per-interval figures.
inline std::vector<controller::SettlementInterval> rows(TimePoint start, const std::vector<double>& baseline,
                                                        const std::vector<double>& metered, double requested) {
  std::vector<controller::SettlementInterval> out;
  for (std::size_t k = 0; k < baseline.size(); ++k) {
    controller::SettlementInterval s;
    s.start = start + std::chrono::minutes(15) * static_cast<int>(k);
    s.requested_kw = requested;
    s.baseline_kw = baseline[k];
    s.metered_kw = metered[k];
    s.delivered_kw = baseline[k] - metered[k];
    s.ratio = requested > 0 ? s.delivered_kw / requested : 0;
    out.push_back(s);
  }
  return out;
}

inline VenSettings settings(const std::string& vtn = "http://vtn.test") {
  VenSettings s;
  s.vtn_url = vtn;
  s.client_id = "ven-client";
  s.client_secret = "secret";
  s.ven_name = "campus-ven";
  s.programs = {{"peak", {{1, 100.0}, {2, 200.0}, {3, 400.0}}}, {"prices", {}}};
  s.resources = {{"RES-A", "site-a"}, {"RES-B", "site-b"}};
  s.poll_interval = std::chrono::seconds(60);
  s.report_delay = std::chrono::seconds(60);
  s.callback_token = "cb-token";
  return s;
}

// A spec-valid event with `n` contiguous intervals of `step`, each with one payload.
inline Json event_json(const std::string& id, const std::string& program_id, TimePoint start, Duration step,
                       const std::string& type, const std::vector<Json>& values,
                       const std::string& modified = "2026-07-07T05:00:00Z") {
  Json iv = Json::array();
  for (std::size_t k = 0; k < values.size(); ++k) {
    iv.push_back({{"id", static_cast<int>(k)}, {"payloads", Json::array({{{"type", type}, {"values", Json::array({values[k]})}}})}});
  }
  return {{"id", id},
          {"programID", program_id},
          {"eventName", id},
          {"modificationDateTime", modified},
          {"intervalPeriod", {{"start", format_time(start)}, {"duration", format_iso_duration(step)}}},
          {"intervals", iv}};
}

}  // namespace vpp::openadr::testing
