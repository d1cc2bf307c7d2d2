#pragma once
// The HTTP API's backend in vppd: every request is an input to the controller core (through the
// core driver, so its outputs are carried out and persisted like any other) or a read of the
// core's state, and of the store for what the core does not keep (the command audit log, and
// settlements of events from before the last restart).
//
// Threading: the HTTP server calls it on its API strand, which runs on vppd's event loop thread,
// the thread that owns the driver; nothing here locks.
#include <functional>

#include "adapters/http/api_backend.hpp"
#include "apps/daemon/driver.hpp"
#include "model/clock.hpp"

namespace vpp::daemon {

struct BackendOptions {
  int flexibility_steps = 16;                   // intervals of flexibility in GET /fleet
  std::function<void()> fleet_changed;          // after an enrolment change (adapters follow)
  // The site as enrolled, without temporary overrides (OpenADR export caps): what a limits
  // update starts from and what is persisted.
  std::function<Site(const Site&)> as_enrolled;
};

// The API calls a report final once the core has settled its last interval.
using controller::kSettlementGrace;

class CoreBackend final : public http::ApiBackend {
 public:
  CoreBackend(CoreDriver& driver, const Clock& clock, BackendOptions options = {});

  http::ApiResult<http::EventView> create_event(const CurtailmentEvent& e) override;
  http::ApiResult<http::EventView> modify_event(const CurtailmentEvent& e) override;
  http::ApiResult<http::EventView> cancel_event(const std::string& id, const std::string& reason) override;
  std::vector<http::EventView> list_events() override;
  http::ApiResult<http::EventView> event(const std::string& id) override;
  http::ApiResult<http::ReportView> report(const std::string& id) override;
  http::ApiResult<http::Done> put_prices(const PriceSeries& p) override;
  http::ApiResult<http::Done> put_carbon(const CarbonSeries& c) override;
  http::ApiResult<http::SiteView> enrol(const Site& s) override;
  http::ApiResult<http::SiteView> site(const std::string& id) override;
  http::ApiResult<http::SiteView> update_site(const std::string& id, const http::SiteLimitsPatch& patch) override;
  http::ApiResult<http::Done> unenrol(const std::string& id) override;
  http::ApiResult<http::EventView> opt_out(const std::string& event_id, const std::string& site_id,
                                           const std::string& reason) override;
  http::ApiResult<std::vector<http::CommandRecord>> site_commands(const std::string& id, std::size_t limit) override;
  http::FleetView fleet() override;

  // The live report of an event the core knows, as the API shows it.
  std::optional<http::ReportView> live_report(const std::string& id, TimePoint now) const;

 private:
  http::EventView view(const controller::EventRecord& r, TimePoint now) const;
  http::SiteView site_view(controller::SiteIndex si) const;
  controller::SiteIndex enrolled(const std::string& id) const;
  void changed();

  CoreDriver& driver_;
  const Clock& clock_;
  BackendOptions options_;
};

// Refusal of the core among its outputs: the message of the first alarm with `code` about
// `subject`, if any.
std::optional<std::string> refusal(const std::vector<controller::Output>& outs, std::string_view code,
                                   std::string_view subject);

}  // namespace vpp::daemon
