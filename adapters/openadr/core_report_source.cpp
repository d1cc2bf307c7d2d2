#include "adapters/openadr/core_report_source.hpp"

#include <algorithm>
#include <cmath>

namespace vpp::openadr {

std::optional<controller::EventReport> CoreReportSource::settlement(const std::string& id, TimePoint now) {
  auto r = core_.report(id, now);
  if (!r) return r;
  // Only settled intervals: Core::report includes an interval as soon as it has ended, while a
  // meter reading lost or late at its end still changes its mean; a report sent then would not
  // match the settlement the core arrives at. The intervals left out are missing figures, which
  // the engine waits for (report_wait).
  const Duration step = core_.settings().interval;
  auto settled = [&](const controller::SettlementInterval& row) { return row.start + step + controller::kSettlementGrace <= now; };
  auto trim = [&](std::vector<controller::SettlementInterval>& rows) {
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const auto& row) { return !settled(row); }), rows.end());
  };
  trim(r->fleet);
  for (auto& [site, rows] : r->sites) trim(rows);
  return r;
}

std::optional<double> CoreReportSource::usage_kw(const std::string& site_id, TimePoint from, TimePoint to) {
  if (!store_) return std::nullopt;
  const auto& fleet = core_.fleet();
  const auto si = fleet.find_site(site_id);
  if (si == controller::kNone || fleet.site(si).meter == controller::kNone) return std::nullopt;
  const auto& meter = fleet.asset(fleet.site(si).meter).asset;
  const auto rows = store_->rollups(site_id, meter.id, 60, from, to);
  double sum = 0;
  int n = 0;
  for (const auto& r : rows) {
    if (r.count <= 0 || !std::isfinite(r.mean_kw)) continue;
    sum += r.mean_kw;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

std::optional<double> CoreReportSource::load_shed_available_kw(const std::string& site_id, TimePoint) {
  const auto& fleet = core_.fleet();
  const auto si = fleet.find_site(site_id);
  if (si == controller::kNone) return std::nullopt;
  const auto& site = fleet.site(si);
  double total = 0;
  bool any = false;
  for (auto ai : site.assets) {
    const auto& a = fleet.asset(ai);
    if (!a.online || !a.last) continue;
    const auto& m = *a.last;
    if (const auto* b = std::get_if<BatterySpec>(&a.asset.spec)) {
      if (!std::isfinite(m.p_kw) || !std::isfinite(m.soc_pct)) continue;
      any = true;
      const double floor_pct = std::max(b->soc_min_pct, site.site.limits.battery_reserve_pct);
      if (m.soc_pct > floor_pct) total += std::max(0.0, b->max_discharge_kw - m.p_kw);
    } else if (const auto* f = std::get_if<FlexibleLoadSpec>(&a.asset.spec)) {
      if (!std::isfinite(m.p_kw)) continue;
      any = true;
      total += std::max(0.0, m.p_kw) * f->max_curtail_pct / 100.0;
    } else if (std::holds_alternative<HvacZoneSpec>(a.asset.spec)) {
      if (!std::isfinite(m.p_kw)) continue;
      any = true;
      total += std::max(0.0, m.p_kw) * site.site.limits.max_curtailment_pct / 100.0;
    }
  }
  if (!any) return std::nullopt;
  return total;
}

std::optional<StorageState> CoreReportSource::storage(const std::string& site_id, TimePoint) {
  const auto& fleet = core_.fleet();
  const auto si = fleet.find_site(site_id);
  if (si == controller::kNone) return std::nullopt;
  StorageState st;
  double cap = 0, usable = 0, level = 0, dis = 0, chg = 0;
  bool any = false;
  for (auto ai : fleet.site(si).assets) {
    const auto& a = fleet.asset(ai);
    const auto* b = std::get_if<BatterySpec>(&a.asset.spec);
    if (!b || !a.online || !a.last || !std::isfinite(a.last->soc_pct)) continue;
    any = true;
    cap += b->capacity_kwh;
    usable += b->capacity_kwh * (b->soc_max_pct - b->soc_min_pct) / 100.0;
    level += b->capacity_kwh * a.last->soc_pct / 100.0;
    dis += b->max_discharge_kw;
    chg += b->max_charge_kw;
  }
  if (!any) return std::nullopt;
  st.soc_pct = cap > 0 ? 100.0 * level / cap : 0.0;
  st.usable_capacity_kwh = usable;
  st.charge_level_kwh = level;
  st.max_discharge_kw = dis;
  st.max_charge_kw = chg;
  return st;
}

}  // namespace vpp::openadr
