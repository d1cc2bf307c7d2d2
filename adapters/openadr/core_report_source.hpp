#pragma once
// The ReportSource vppd uses: the controller core's own figures.
//   settlement            Core::report(core event id, now): baseline, metered, delivered per
//                         settlement interval, per site and for the fleet; only the intervals
//                         the core has settled (ended controller::kSettlementGrace ago), so a
//                         report never carries a mean its last readings could still change.
//   usage_kw              the site meter's 1-minute roll-ups in the store over [from, to)
//                         (mean of the minutes recorded; nullopt without a store or data).
//   load_shed_available   an estimate from the latest accepted telemetry: batteries above their
//                         reserve can add (max discharge - current discharge); flexible loads
//                         their max_curtail_pct of what they draw; HVAC zones the site's
//                         max_curtailment_pct of what they draw. PV adds nothing (it already
//                         produces what it can). The optimizer may find less once comfort and
//                         energy over the event are counted: this is the instantaneous figure.
//   storage               sums over the site's batteries (SoC weighted by capacity).
// Call it on the thread that owns the core (the engine does, from the daemon's loop).
#include "adapters/openadr/reports.hpp"
#include "adapters/store/store.hpp"
#include "controller/core.hpp"

namespace vpp::openadr {

class CoreReportSource final : public ReportSource {
 public:
  explicit CoreReportSource(const controller::Core& core, store::Store* store = nullptr) : core_(core), store_(store) {}

  std::optional<controller::EventReport> settlement(const std::string& core_event_id, TimePoint now) override;
  std::optional<double> usage_kw(const std::string& site_id, TimePoint from, TimePoint to) override;
  std::optional<double> load_shed_available_kw(const std::string& site_id, TimePoint now) override;
  std::optional<StorageState> storage(const std::string& site_id, TimePoint now) override;

 private:
  const controller::Core& core_;
  store::Store* store_;
};

}  // namespace vpp::openadr
