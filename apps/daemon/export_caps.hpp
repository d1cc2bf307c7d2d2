#pragma once
// OpenADR EXPORT_CAPACITY_LIMIT in vppd. The core has no time-bound export cap, only each site's
// enrolled export limit (SiteLimits::export_limit_kw, which plans and the safety envelope
// respect), so while a cap is in force the daemon runs the sites it covers with lower export
// limits, and gives them back their enrolled limits when it ends.
//
// A cap on several sites is shared in proportion to their enrolled limits: with enrolled limits
// e_i over the covered sites and a cap C below their sum, site i may export e_i * C / sum(e).
// Overlapping caps: the lowest wins per site. The override is never persisted: the store keeps
// the enrolled limits (a restart starts from them, and the VEN re-sends the caps still in force),
// and an API change of a site's limits during a cap becomes its new enrolled limit.
//
// Pure: the daemon calls apply() on its loop (at every control tick while anything is capped)
// and feeds the sites it returns to the core as re-enrolments.
#include <map>
#include <string>
#include <vector>

#include "adapters/openadr/mapping.hpp"
#include "model/site.hpp"

namespace vpp::daemon {

class ExportCaps {
 public:
  // A cap from the VEN: new, modified (same id) or ended early (its window cut short; an empty
  // window removes it).
  void set(const openadr::ExportLimit& cap);
  // The sites whose export limit must change at `now`, with the limit they should run with.
  // `sites`: the enrolled sites as the core has them now.
  std::vector<Site> apply(const std::vector<Site>& sites, TimePoint now);
  // `s` (as the core has it) with its enrolled export limit, for what is persisted.
  Site enrolled(Site s) const;
  // Nothing capped and nothing to give back: apply() has nothing to do.
  bool idle() const { return caps_.empty() && overridden_.empty(); }
  std::size_t caps() const { return caps_.size(); }
  std::size_t sites_capped() const { return overridden_.size(); }

 private:
  struct Override {
    double enrolled_kw = 0;
    double applied_kw = 0;
  };
  std::map<std::string, openadr::ExportLimit> caps_;
  std::map<std::string, Override> overridden_;   // by site id
};

}  // namespace vpp::daemon
