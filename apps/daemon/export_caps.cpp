#include "apps/daemon/export_caps.hpp"

#include <algorithm>

namespace vpp::daemon {

void ExportCaps::set(const openadr::ExportLimit& cap) {
  if (cap.duration <= Duration::zero()) {
    caps_.erase(cap.id);
  } else {
    caps_[cap.id] = cap;
  }
}

Site ExportCaps::enrolled(Site s) const {
  if (const auto it = overridden_.find(s.id); it != overridden_.end() && s.limits.export_limit_kw == it->second.applied_kw) {
    s.limits.export_limit_kw = it->second.enrolled_kw;
  }
  return s;
}

std::vector<Site> ExportCaps::apply(const std::vector<Site>& sites, TimePoint now) {
  std::erase_if(caps_, [&](const auto& kv) { return kv.second.start + kv.second.duration <= now; });
  // Enrolled limits: a site whose limit is not the one applied here was changed meanwhile (an
  // API update), and that is its enrolled limit now.
  std::map<std::string, double> base;
  for (const auto& s : sites) base[s.id] = enrolled(s).limits.export_limit_kw;
  std::map<std::string, double> wanted = base;
  for (const auto& [id, cap] : caps_) {
    if (cap.start > now) continue;
    auto covers = [&](const std::string& site) {
      return cap.site_ids.empty() || std::find(cap.site_ids.begin(), cap.site_ids.end(), site) != cap.site_ids.end();
    };
    double total = 0;
    for (const auto& [site, e] : base) {
      if (covers(site)) total += e;
    }
    if (total <= cap.export_cap_kw) continue;
    const double share = std::max(0.0, cap.export_cap_kw) / total;
    for (const auto& [site, e] : base) {
      if (covers(site)) wanted[site] = std::min(wanted[site], e * share);
    }
  }
  std::vector<Site> changes;
  for (const auto& s : sites) {
    const double e = base[s.id];
    const double w = wanted[s.id];
    if (w != e) {
      overridden_[s.id] = Override{e, w};
    } else {
      overridden_.erase(s.id);
    }
    if (w != s.limits.export_limit_kw) {
      Site c = s;
      c.limits.export_limit_kw = w;
      changes.push_back(std::move(c));
    }
  }
  // Sites no longer enrolled.
  std::erase_if(overridden_, [&](const auto& kv) { return !base.contains(kv.first); });
  return changes;
}

}  // namespace vpp::daemon
