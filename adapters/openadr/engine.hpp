#pragma once
// The OpenADR 3 VEN as a pure state machine, like the controller core: it takes HTTP responses,
// webhook calls and the time, and emits HTTP requests, grid signals for the core and report
// outbox entries. It never opens a socket or reads a clock, so it runs the same under a test
// with canned responses, a virtual clock against a real VTN (driver.hpp's SyncVenDriver), and
// in vppd on an Asio loop (AsioVenDriver).
//
// What it does, in order of precedence each time it may send (one request in flight at a time,
// so the VTN sees a calm, ordered client):
//   1. an OAuth2 client-credentials token (3.1.0 without a token URL: discovered with
//      GET /auth/server), renewed a minute before `expires_in` runs out;
//   2. the VEN's registration, find-or-create by venName, then each resource by resourceName;
//   3. programs (GET /programs, paged by 50), on every poll cycle: the followed ones by name;
//   4. subscriptions with the webhook callback, where configured (find-or-create per program);
//   5. events of each followed program (GET /events?programID=, paged), with If-None-Match
//      when the VTN gave an ETag;
//   6. queued reports (POST /reports), oldest first.
// Failures: a transport error, 5xx, 408 or 429 backs off exponentially (1 s doubling to 5 min,
// Retry-After honoured) and retries the same step; a 401 drops the token and retries once with
// a new one, a second 401 backs off. While the VTN is unreachable nothing already received is
// touched: active events run on in the core; reports wait in the queue.
//
// Events: a complete listing (every page fetched) is compared with what the engine knows, by id
// and modificationDateTime: new -> signals; newer -> modified signals (core events of the same
// id, cancellations of those that went away); older -> ignored (out of order); identical ->
// nothing; missing from the listing -> deleted -> CancelEvent for every core event not yet
// ended. Webhook notifications go through the same rules. An object that breaks the schema or
// cannot be mapped is rejected whole and counted, and the previous version (if any) stays.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/openadr/mapping.hpp"
#include "adapters/openadr/objects.hpp"
#include "adapters/openadr/report_queue.hpp"
#include "adapters/openadr/reports.hpp"
#include "config/config.hpp"
#include "model/messages.hpp"

namespace vpp::openadr {

struct VenSettings {
  SpecVersion version = SpecVersion::v3_0_1;
  std::string vtn_url;                    // without a trailing slash
  std::string token_url;                  // empty: <vtn_url>/auth/token, or discovered (3.1.0)
  std::string client_id;
  std::string client_secret;
  std::string scope;
  std::string ven_name;
  std::vector<config::OpenAdrProgram> programs;
  std::vector<config::OpenAdrResource> resources;
  Duration poll_interval = std::chrono::seconds(60);
  Duration report_delay = std::chrono::minutes(2);    // the core settles an interval 2 min after its end
  Duration report_wait = std::chrono::minutes(30);    // how long a report waits for missing figures
  std::string callback_url;
  std::string callback_token;             // the bearer token the VTN must present on callbacks
  double emergency_import_cap_kw = 0;
  Duration backoff_initial = std::chrono::seconds(1);
  Duration backoff_max = std::chrono::minutes(5);
  Duration settlement_interval = std::chrono::minutes(15);
  Duration open_ended_as = std::chrono::hours(24);

  // From vppd's configuration: reads the client secret from its file or environment variable
  // and derives the callback token from it (stable across restarts, unguessable without it).
  static Result<VenSettings> from_config(const config::OpenAdrConfig& c, Duration settlement_interval,
                                         const std::function<const char*(const char*)>& getenv);
};

struct HttpRequest {
  std::uint64_t id = 0;
  std::string method;
  std::string url;                        // absolute
  std::string body;
  std::map<std::string, std::string> headers;
};

struct HttpResult {
  int status = 0;                         // 0: transport failure (see error)
  std::string body;
  std::map<std::string, std::string> headers;   // lower-case names
  std::string error;
};

struct EngineOutput {
  std::vector<HttpRequest> requests;
  std::vector<GridSignal> signals;
  std::vector<ExportLimit> export_limits;
};

struct CallbackRequest {
  std::string method;
  std::string target;                     // path and query
  std::string authorization;
  std::string body;
};

struct CallbackResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct VenCounters {
  std::uint64_t requests = 0;
  std::uint64_t transport_errors = 0;
  std::uint64_t server_errors = 0;        // 5xx, 408, 429
  std::uint64_t unauthorized = 0;         // 401 from the API
  std::uint64_t token_fetches = 0;
  std::uint64_t not_modified = 0;         // 304
  std::uint64_t invalid_objects = 0;      // schema-invalid or unmappable, rejected whole
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t events_new = 0;
  std::uint64_t events_modified = 0;
  std::uint64_t events_deleted = 0;
  std::uint64_t not_for_us = 0;
  std::uint64_t ignored_payloads = 0;
  std::uint64_t signals = 0;
  std::uint64_t reports_queued = 0;
  std::uint64_t reports_sent = 0;
  std::uint64_t reports_rejected = 0;
  std::uint64_t reports_deduplicated = 0; // found at the VTN after an uncertain send
  std::uint64_t reports_unsupported = 0;
  std::uint64_t reports_empty = 0;        // nothing to report after waiting
  std::uint64_t notifications = 0;
  std::uint64_t notifications_rejected = 0;
};

class VenEngine {
 public:
  VenEngine(VenSettings settings, ReportSource& source, ReportQueue& queue);

  // Everything to do at `now`: at most one new request (when none is in flight and no backoff
  // runs), the signals produced since the last call, and reports that fell due are queued.
  EngineOutput poll(TimePoint now);
  // The response (or transport failure) of a request from poll().
  void on_response(std::uint64_t id, const HttpResult& r, TimePoint now);
  // A webhook call from the VTN (GET ?echo= check, or POST notification). Call poll() after it.
  CallbackResponse on_callback(const CallbackRequest& req, TimePoint now);
  // When poll() should run next (nullopt: only after a response or a callback).
  std::optional<TimePoint> next_wake() const;
  bool request_in_flight() const { return in_flight_.has_value(); }

  // "online", "connecting", "degraded" or "unreachable" (the status document's connection.state).
  std::string_view connection_state() const;
  // The status document served at GET /api/v1/openadr/status (status.hpp describes it).
  Json status(TimePoint now) const;
  const VenCounters& counters() const { return counters_; }
  const VenSettings& settings() const { return s_; }

 private:
  enum class Step {
    token_discovery, token, find_ven, create_ven, find_resource, create_resource, programs,
    find_subscription, create_subscription, events, send_report, check_report
  };
  struct InFlight {
    std::uint64_t id = 0;
    Step step = Step::token;
    std::string url;
    std::string key;        // report key or program name
  };
  struct Known {
    Event event;
    std::string program_name;
    MappedEvent mapped;
    bool deleted = false;
    std::optional<TimePoint> deleted_at;
    TimePoint received{};
    std::vector<ReportInstance> schedule;   // by due time
    std::size_t next_report = 0;            // schedule[0, next_report) are queued or skipped
  };

  std::optional<HttpRequest> next_request(TimePoint now);
  HttpRequest make(Step step, const std::string& method, const std::string& url, std::string body, std::string key = {});
  std::string api(const std::string& path) const;
  void backoff(TimePoint now, const HttpResult& r, const std::string& what);
  void handle(const InFlight& f, const HttpResult& r, TimePoint now);
  CallbackResponse callback(const CallbackRequest& req, TimePoint now);
  std::optional<Json> json_array(const HttpResult& r, const std::string& what);
  std::optional<Json> json_object(const HttpResult& r, const std::string& what);

  void apply_listing(const std::string& program_name, const std::string& program_id, const Json& items, TimePoint now);
  // `notified`: from a webhook (a repeat counts as a duplicate).
  void apply_event(const Event& e, const std::string& program_name, TimePoint now, bool notified);
  void apply_delete(const std::string& event_id, std::optional<TimePoint> modified, TimePoint now);
  void emit_diff(const MappedEvent* before, const MappedEvent* after, const std::string& program_name, TimePoint now);
  void emit_series(TimePoint now);
  void reject(const std::string& what, const std::string& why, const std::string& fingerprint);
  void generate_reports(TimePoint now);
  std::string program_name_of(const std::string& program_id) const;

  VenSettings s_;
  ReportSource& source_;
  ReportQueue& queue_;
  MappingConfig mapping_;
  ReportContext report_ctx_;
  VenCounters counters_;
  std::uint64_t next_id_ = 1;
  std::optional<InFlight> in_flight_;

  // Connection.
  std::string token_;
  TimePoint token_expires_{};
  std::string token_url_;
  bool retried_401_ = false;
  int failures_ = 0;
  TimePoint backoff_until_{};
  std::optional<TimePoint> last_success_;
  std::optional<TimePoint> unreachable_since_;
  std::string last_error_;
  std::optional<TimePoint> last_error_at_;

  // Registration.
  std::string ven_id_;
  bool create_ven_ = false;
  std::size_t resources_done_ = 0;
  bool create_resource_ = false;
  std::map<std::string, std::string> resource_ids_;

  // Poll cycle.
  TimePoint next_poll_{};
  bool cycle_ = false;
  bool programs_due_ = false;
  int programs_skip_ = 0;
  Json programs_acc_ = Json::array();
  bool programs_known_ = false;
  std::map<std::string, std::string> program_ids_;      // followed name -> id
  std::size_t subs_done_ = 0;
  bool create_sub_ = false;
  bool subscribed_ = false;
  bool subscription_failed_ = false;                    // retried at the next poll cycle
  std::vector<std::string> events_todo_;                // program names left in this cycle
  int events_skip_ = 0;
  Json events_acc_ = Json::array();
  std::map<std::string, std::pair<std::string, std::string>> etags_;  // url -> (etag, body)

  // What the VTN told us.
  std::map<std::string, Known> events_;
  std::set<std::string> rejected_fingerprints_;
  std::vector<GridSignal> out_signals_;
  std::vector<ExportLimit> out_limits_;
  std::optional<PriceSeries> last_prices_;
  std::optional<CarbonSeries> last_carbon_;
  std::set<std::string> report_skipped_;                // keys not produced (unsupported or empty)
  std::optional<TimePoint> next_report_due_;
  bool reports_dirty_ = true;                           // events changed since the last scan
};

}  // namespace vpp::openadr
