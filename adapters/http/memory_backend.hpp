#pragma once
// An ApiBackend held in memory, with the real event lifecycle (controller::EventBook) and,
// optionally, the SQLite store behind it. It serves the API tests and the API benchmark, and
// shows the daemon's implementation what to persist when: every transition, opt-out,
// enrolment change and command goes to the store as it happens.
//
// What it does not have is the controller core: no telemetry, no planning. Commands and
// settlement intervals come from the caller (record_command, record_settlement), as the core
// would produce them; fleet flexibility is the nameplate headroom of enrolled, online assets
// within their sites' availability windows.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "adapters/http/api_backend.hpp"
#include "adapters/store/store.hpp"
#include "controller/events.hpp"
#include "model/clock.hpp"

namespace vpp::http {

struct MemoryBackendOptions {
  Duration interval = std::chrono::minutes(15);   // settlement and flexibility interval
  int flexibility_steps = 16;                      // 4 hours ahead at 15 minutes
  int utc_offset_minutes = 0;                      // local time of availability windows
  std::size_t max_commands_per_site = 10000;
};

class InMemoryBackend final : public ApiBackend {
 public:
  // `store` may be null (nothing persisted). Not thread-safe: call from one strand.
  InMemoryBackend(const Clock& clock, store::Store* store = nullptr, MemoryBackendOptions options = {});

  // Reloads enrolments, live events with their opt-outs and transitions, from a restore.
  void restore(const store::Restored& r);

  // What the core would report.
  void record_command(const CommandRecord& c);
  void record_ack(const CommandAck& a);
  void record_settlement(const std::string& event_id, const std::string& site_id,
                         const controller::SettlementInterval& interval);
  void set_online(const std::string& site_id, const std::string& asset_id, bool online, const std::string& reason);

  ApiResult<EventView> create_event(const CurtailmentEvent& e) override;
  ApiResult<EventView> modify_event(const CurtailmentEvent& e) override;
  ApiResult<EventView> cancel_event(const std::string& id, const std::string& reason) override;
  std::vector<EventView> list_events() override;
  ApiResult<EventView> event(const std::string& id) override;
  ApiResult<ReportView> report(const std::string& id) override;
  ApiResult<Done> put_prices(const PriceSeries& p) override;
  ApiResult<Done> put_carbon(const CarbonSeries& c) override;
  ApiResult<SiteView> enrol(const Site& s) override;
  ApiResult<SiteView> site(const std::string& id) override;
  ApiResult<SiteView> update_site(const std::string& id, const SiteLimitsPatch& patch) override;
  ApiResult<Done> unenrol(const std::string& id) override;
  ApiResult<EventView> opt_out(const std::string& event_id, const std::string& site_id,
                               const std::string& reason) override;
  ApiResult<std::vector<CommandRecord>> site_commands(const std::string& id, std::size_t limit) override;
  FleetView fleet() override;

  const PriceSeries* prices() const { return prices_ ? &*prices_ : nullptr; }
  const CarbonSeries* carbon() const { return carbon_ ? &*carbon_ : nullptr; }

 private:
  void advance();
  void record(const std::vector<controller::EventTransition>& ts);
  void persist_event(const std::string& id);
  EventView view(const controller::EventRecord& r) const;
  SiteView site_view(const SiteView& s) const;
  bool available(const Site& s, TimePoint t) const;

  const Clock& clock_;
  store::Store* store_;
  MemoryBackendOptions options_;
  controller::EventBook book_;
  std::map<std::string, std::vector<controller::EventTransition>> transitions_;
  std::map<std::string, SiteView> sites_;
  std::map<std::string, std::vector<CommandRecord>> commands_;                 // per site, oldest first
  std::map<std::string, std::map<std::string, std::map<TimePoint, controller::SettlementInterval>>> settlement_;  // event -> site -> start
  std::map<std::pair<std::string, std::string>, std::pair<bool, std::string>> online_;  // (site, asset) -> online, reason
  std::optional<PriceSeries> prices_;
  std::optional<CarbonSeries> carbon_;
};

}  // namespace vpp::http
