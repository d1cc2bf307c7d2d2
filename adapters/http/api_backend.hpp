#pragma once
// The HTTP API's view of the rest of vppd. The server calls these methods on its own strand
// (one at a time, never concurrently), so an implementation needs no locking of its own as long
// as it is only used from that strand; vppd implements it over the controller core, the tests
// and the benchmark over InMemoryBackend (memory_backend.hpp).
//
// Authorisation is done before a call: a backend never sees a request its caller may not make.
// Validation of shapes and ranges is done before too; a backend refuses what only it can judge
// (unknown ids, conflicts with its state) with an ApiError carrying the HTTP status to answer.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "controller/baseline.hpp"
#include "controller/events.hpp"
#include "model/messages.hpp"
#include "model/site.hpp"
#include "model/time.hpp"

namespace vpp::http {

struct ApiError {
  int status = 400;         // HTTP status: 400, 404, 409, 422, 503
  std::string reason;
  std::string field;        // JSON path of the offending field, when one is to blame
};

template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}
  ApiResult(ApiError e) : v_(std::move(e)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

struct Done {};

// Live delivery of an event, from the last settled interval.
struct EventDelivery {
  TimePoint as_of{};
  double requested_kw = 0;
  double baseline_kw = 0;
  double metered_kw = 0;
  double delivered_kw = 0;
  double requested_kwh = 0;
  double delivered_kwh = 0;
};

struct EventView {
  controller::EventRecord record;
  std::vector<controller::EventTransition> transitions;  // oldest first
  std::optional<EventDelivery> delivery;
};

// Settlement of one event; mirrors controller::EventReport (core.hpp) field by field so the
// daemon can copy one into the other.
struct ReportView {
  std::string event_id;
  bool final = false;
  Duration interval{};
  std::vector<controller::SettlementInterval> fleet;
  std::vector<std::pair<std::string, std::vector<controller::SettlementInterval>>> sites;  // by site id
  double requested_kwh = 0;
  double delivered_kwh = 0;
  double min_interval_ratio = 0;
  std::string baseline_method;
  std::vector<std::string> notes;
};

struct SiteView {
  Site site;
  TimePoint enrolled_at{};
  TimePoint updated_at{};
  int assets_online = 0;
};

// Partial update of a site's limits (PATCH /sites/{id}); unset members stay as they are.
struct SiteLimitsPatch {
  std::optional<double> comfort_min_c;
  std::optional<double> comfort_max_c;
  std::optional<double> battery_reserve_pct;
  std::optional<double> max_curtailment_pct;
  std::optional<double> import_limit_kw;
  std::optional<double> export_limit_kw;
  std::optional<std::vector<AvailabilityWindow>> availability;

  // The limits after the patch.
  SiteLimits applied_to(SiteLimits l) const;
};

enum class AckState { pending, accepted, rejected, expired };
std::string_view to_string(AckState s);

struct CommandContext {
  std::string event_id;
  std::string plan_id;
  std::string group;
  std::optional<double> import_price;
  std::optional<double> carbon_intensity_kg_per_kwh;
  std::string explanation;
};

struct CommandRecord {
  Command command;
  AckState ack = AckState::pending;
  std::optional<TimePoint> ack_time;
  std::string ack_detail;
  CommandContext context;
};

struct AssetState {
  std::string site_id;
  std::string asset_id;
  AssetKind kind = AssetKind::pv;
  bool online = false;
  std::string reason;
};

struct FlexibilityInterval {
  TimePoint start{};
  double up_kw = 0;     // import reduction available (discharge, curtailment)
  double down_kw = 0;   // import increase available (charging, PV curtailment)
};

struct FleetView {
  TimePoint as_of{};
  int sites = 0;
  int assets = 0;
  int assets_online = 0;
  std::vector<AssetState> asset_states;   // ordered by site, then asset
  Duration interval{};
  std::vector<FlexibilityInterval> flexibility;
};

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;

  // Grid operator.
  virtual ApiResult<EventView> create_event(const CurtailmentEvent& e) = 0;       // 409 if the id exists
  virtual ApiResult<EventView> modify_event(const CurtailmentEvent& e) = 0;       // same id, new content
  virtual ApiResult<EventView> cancel_event(const std::string& id, const std::string& reason) = 0;
  virtual std::vector<EventView> list_events() = 0;                              // by event id
  virtual ApiResult<EventView> event(const std::string& id) = 0;
  virtual ApiResult<ReportView> report(const std::string& id) = 0;
  virtual ApiResult<Done> put_prices(const PriceSeries& p) = 0;
  virtual ApiResult<Done> put_carbon(const CarbonSeries& c) = 0;

  // Building manager.
  virtual ApiResult<SiteView> enrol(const Site& s) = 0;                           // 409 if enrolled
  virtual ApiResult<SiteView> site(const std::string& id) = 0;
  virtual ApiResult<SiteView> update_site(const std::string& id, const SiteLimitsPatch& patch) = 0;
  virtual ApiResult<Done> unenrol(const std::string& id) = 0;
  virtual ApiResult<EventView> opt_out(const std::string& event_id, const std::string& site_id,
                                       const std::string& reason) = 0;
  virtual ApiResult<std::vector<CommandRecord>> site_commands(const std::string& id, std::size_t limit) = 0;

  // Everyone.
  virtual FleetView fleet() = 0;
};

}  // namespace vpp::http
