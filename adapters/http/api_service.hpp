#pragma once
// The HTTP API's request handling, free of sockets: a request in, a response out. The server
// (server.hpp) feeds it parsed HTTP requests on one strand; tests may call it directly.
//
// Order of checks for every request: route (404 unknown path, 405 wrong method) -> bearer token
// (401) -> rate limit per token (429 with Retry-After) -> role and tenant (403, logged and
// counted) -> body schema (400 naming the field) -> the backend (404 unknown id, 409 conflict).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "adapters/http/api_backend.hpp"
#include "adapters/http/auth.hpp"
#include "config/config.hpp"
#include "model/clock.hpp"

namespace vpp::http {

struct ApiRequest {
  std::string method;          // "GET", "POST", ...
  std::string target;          // path and query, e.g. "/api/v1/events/ev-1/report?format=csv"
  std::string authorization;   // the Authorization header, if any
  std::string accept;
  std::string content_type;
  std::string body;
  std::string remote;          // peer address, for logs
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ApiOptions {
  std::vector<config::ApiToken> tokens;
  double rate_limit_per_s = 50;
  double rate_burst = 0;                         // 0 = one second's worth
  std::function<std::string()> metrics;          // Prometheus text for GET /metrics
  // GET /healthz: the status (200 or 503) and a plain-text body; unset = 200 "ok".
  std::function<std::pair<int, std::string>()> health;
};

struct ApiCounters {
  std::uint64_t requests = 0;
  std::uint64_t unauthorized = 0;   // 401
  std::uint64_t forbidden = 0;      // 403
  std::uint64_t rate_limited = 0;   // 429
  std::uint64_t invalid = 0;        // 400
  std::map<int, std::uint64_t> by_status;
};

// One route as the API serves it: method and path template ("{id}" matches one segment).
struct RouteInfo {
  std::string method;
  std::string path;
};

// A route another adapter serves through this server (e.g. the OpenADR VEN's webhook callback
// `/openadr/callback` and its status `/api/v1/openadr/status`). Matched on the exact path (the
// query is the handler's) before the API's own table, for every method; the handler answers
// 405 itself where it must. `authenticated`: any valid API token is required (401 otherwise);
// unauthenticated routes check their own credentials (the webhook's bearer token).
struct ExtraRoute {
  std::string path;
  bool authenticated = false;
  std::function<ApiResponse(const ApiRequest&)> handler;
};

class ApiService {
 public:
  ApiService(ApiBackend& backend, const Clock& clock, ApiOptions options);

  ApiResponse handle(const ApiRequest& req);
  // Adds (or replaces, by path) an extra route. Call before the server starts.
  void add_route(ExtraRoute route);

  // Every route served, in table order (the OpenAPI test compares this with openapi.json).
  static std::vector<RouteInfo> routes();
  // The OpenAPI 3.0 document served at /api/v1/openapi.json, its schemas generated from the
  // protobuf descriptors of the messages it names.
  static const std::string& openapi_json();

  const ApiCounters& counters() const { return counters_; }
  // Prometheus text of the counters (the daemon appends its own).
  std::string counters_text() const;

  // A response for failures found before the service sees a request (the server's 413, 400).
  static ApiResponse error(int status, const std::string& reason, const std::string& field = "");

 private:
  struct Route;
  struct Call;
  ApiResponse dispatch(const ApiRequest& req);

  // Handlers.
  ApiResponse create_event(Call& c);
  ApiResponse patch_event(Call& c);
  ApiResponse cancel_event(Call& c);
  ApiResponse list_events(Call& c);
  ApiResponse get_event(Call& c);
  ApiResponse event_report(Call& c);
  ApiResponse put_prices(Call& c);
  ApiResponse put_carbon(Call& c);
  ApiResponse enrol_site(Call& c);
  ApiResponse get_site(Call& c);
  ApiResponse patch_site(Call& c);
  ApiResponse delete_site(Call& c);
  ApiResponse opt_out(Call& c);
  ApiResponse site_commands(Call& c);
  ApiResponse fleet(Call& c);
  ApiResponse openapi(Call& c);
  ApiResponse healthz(Call& c);
  ApiResponse metrics(Call& c);

  ApiResponse forbidden(const Call& c, const std::string& why);

  static const std::vector<Route>& table();

  ApiBackend& backend_;
  const Clock& clock_;
  ApiOptions options_;
  Authenticator auth_;
  RateLimiter limiter_;
  ApiCounters counters_;
  std::uint64_t next_event_seq_ = 1;
  std::vector<ExtraRoute> extra_;
};

}  // namespace vpp::http
