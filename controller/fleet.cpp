#include "controller/fleet.hpp"

#include <algorithm>
#include <cstdio>

namespace vpp::controller {
namespace {

std::string key(std::string_view site, std::string_view asset) {
  std::string k;
  k.reserve(site.size() + asset.size() + 1);
  k.append(site).push_back('/');
  k.append(asset);
  return k;
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

double value_or_nan(const std::optional<double>& v) { return v ? *v : kNaN; }

}  // namespace

void Fleet::enrol(const Site& site) {
  SiteIndex si;
  if (auto it = site_index_.find(site.id); it != site_index_.end()) {
    si = it->second;
  } else {
    si = static_cast<SiteIndex>(sites_.size());
    sites_.push_back({});
    site_index_.emplace(site.id, si);
  }
  SiteState& s = sites_[si];
  s.site = site;
  s.enrolled = true;
  s.assets.clear();
  s.meter = kNone;
  s.import_limit_kw = site.limits.import_limit_kw;
  s.export_limit_kw = site.limits.export_limit_kw;
  for (const auto& a : site.assets) {
    if (const auto* sm = a.get<SiteMeterSpec>()) {
      if (sm->import_limit_kw > 0) {
        s.import_limit_kw = s.import_limit_kw > 0 ? std::min(s.import_limit_kw, sm->import_limit_kw) : sm->import_limit_kw;
      }
      s.export_limit_kw = std::min(s.export_limit_kw, sm->export_limit_kw);
    }
    const auto k = key(site.id, a.id);
    AssetIndex ai;
    if (auto it = asset_index_.find(k); it != asset_index_.end()) {
      ai = it->second;
      if (assets_[ai].asset.kind() != a.kind()) assets_[ai].last.reset();  // a different device now
    } else {
      ai = static_cast<AssetIndex>(assets_.size());
      assets_.push_back({});
      asset_index_.emplace(k, ai);
    }
    assets_[ai].site = si;
    assets_[ai].asset = a;
    s.assets.push_back(ai);
    if (a.kind() == AssetKind::site_meter) s.meter = ai;
  }
}

bool Fleet::unenrol(std::string_view site_id) {
  const auto si = find_site(site_id);
  if (si == kNone || !sites_[si].enrolled) return false;
  sites_[si].enrolled = false;
  for (auto ai : sites_[si].assets) assets_[ai].online = false;
  return true;
}

SiteIndex Fleet::find_site(std::string_view site_id) const {
  const auto it = site_index_.find(std::string(site_id));
  return it == site_index_.end() ? kNone : it->second;
}

AssetIndex Fleet::find_asset(std::string_view site_id, std::string_view asset_id) const {
  const auto it = asset_index_.find(key(site_id, asset_id));
  return it == asset_index_.end() ? kNone : it->second;
}

std::size_t Fleet::online_assets() const {
  return static_cast<std::size_t>(std::count_if(assets_.begin(), assets_.end(), [](const AssetState& a) { return a.online; }));
}

std::optional<std::string> Fleet::check(const AssetState& a, const Telemetry& t, TimePoint now) const {
  const auto& g = gating_;
  if (t.time > now + g.max_clock_skew) {
    return fmt("timestamp %.0f s in the future (clock skew)", to_seconds(t.time - now));
  }
  if (now - t.time > g.max_age) return fmt("stale: measured %.0f s ago", to_seconds(now - t.time));
  if (a.last && t.time <= a.last->time) return std::string("out of order: not newer than the last accepted reading");
  if (t.quality == Quality::bad || t.quality == Quality::stale) return std::string("device reports bad or stale quality");

  const double p = value_or_nan(t.p_kw);
  const double m = g.rating_margin;
  auto power_within = [&](double lo, double hi) -> std::optional<std::string> {
    if (!std::isnan(p) && (p < lo * m - 1e-9 || p > hi * m + 1e-9)) {
      return fmt("power %.2f kW outside the physically possible [%.2f, %.2f] kW", p, lo * m, hi * m);
    }
    return std::nullopt;
  };
  switch (a.asset.kind()) {
    case AssetKind::pv: {
      const auto& s = *a.asset.get<PvSpec>();
      if (auto e = power_within(-0.02 * s.rated_kw, s.rated_kw)) return e;
      if (t.available_kw && (*t.available_kw < 0 || *t.available_kw > s.dc_peak_kw * m)) {
        return fmt("available power %.2f kW outside [0, %.2f] kW", *t.available_kw, s.dc_peak_kw * m);
      }
      break;
    }
    case AssetKind::battery: {
      const auto& s = *a.asset.get<BatterySpec>();
      if (auto e = power_within(-s.max_charge_kw, s.max_discharge_kw)) return e;
      if (t.soc_pct) {
        if (*t.soc_pct < 0 || *t.soc_pct > 100) return fmt("SoC %.2f %% outside [0, 100]", *t.soc_pct);
        if (a.last && !std::isnan(a.last->soc_pct)) {
          const double dt_h = to_seconds(t.time - a.last->time) / 3600.0;
          const double p_max = std::max(std::fabs(std::isnan(p) ? 0 : p),
                                        std::fabs(std::isnan(a.last->p_kw) ? 0 : a.last->p_kw));
          // The most SoC any power flow seen could move: P x dt / (capacity x efficiency).
          const double explained = p_max * m * dt_h / (s.capacity_kwh * std::min(s.charge_efficiency, s.discharge_efficiency)) * 100.0 +
                                   g.soc_jump_tolerance_pct;
          const double jump = std::fabs(*t.soc_pct - a.last->soc_pct);
          if (jump > explained) {
            return fmt("SoC jumped %.2f %% although the power flow explains at most %.2f %%", jump, explained);
          }
        }
      }
      break;
    }
    case AssetKind::hvac_zone: {
      const auto& s = *a.asset.get<HvacZoneSpec>();
      if (auto e = power_within(0, s.rated_electric_kw)) return e;
      if (t.indoor_temp_c && (*t.indoor_temp_c < -30 || *t.indoor_temp_c > 60)) {
        return fmt("indoor temperature %.1f degC outside [-30, 60]", *t.indoor_temp_c);
      }
      break;
    }
    case AssetKind::flexible_load: {
      const auto& s = *a.asset.get<FlexibleLoadSpec>();
      if (auto e = power_within(0, s.rated_kw)) return e;
      break;
    }
    case AssetKind::ev_charger: {
      const auto& s = *a.asset.get<EvChargerSpec>();
      if (auto e = power_within(-s.max_discharge_kw, s.max_charge_kw)) return e;
      break;
    }
    case AssetKind::site_meter:
      // A building connection beyond 100 MW is not a building.
      if (auto e = power_within(-100'000, 100'000)) return e;
      break;
  }
  // Frozen values: where physics guarantees change. A battery moving power must move its SoC;
  // a site meter measures a noisy aggregate.
  const bool battery = a.asset.kind() == AssetKind::battery;
  const bool meter = a.asset.kind() == AssetKind::site_meter;
  if ((battery || meter) && a.last && !std::isnan(p) && p != 0 && p == a.last->p_kw &&
      (!battery || (t.soc_pct && *t.soc_pct == a.last->soc_pct)) &&
      a.identical_readings + 1 >= g.frozen_reports) {
    return fmt("frozen: %.0f identical readings in a row", a.identical_readings + 1.0);
  }
  return std::nullopt;
}

GateResult Fleet::ingest(const Telemetry& t, TimePoint now) {
  GateResult r;
  const auto it = asset_index_.find(key(t.site_id, t.asset_id));
  if (it == asset_index_.end()) {
    r.outcome = GateOutcome::rejected;
    r.reason = "unknown asset " + t.site_id + "/" + t.asset_id;
    return r;
  }
  r.asset = it->second;
  AssetState& a = assets_[r.asset];
  if (!sites_[a.site].enrolled) {
    r.outcome = GateOutcome::rejected;
    r.reason = "site " + t.site_id + " is not enrolled";
    return r;
  }
  if (auto why = check(a, t, now)) {
    const bool frozen = why->starts_with("frozen");
    if (frozen) ++a.identical_readings;
    r.outcome = GateOutcome::rejected;
    r.reason = *why;
    a.gated_reason = *why;
    return r;
  }
  const double p = value_or_nan(t.p_kw);
  const bool identical = a.last && !std::isnan(p) && p != 0 && p == a.last->p_kw;
  a.identical_readings = identical ? a.identical_readings + 1 : 0;
  Measurement m;
  m.time = t.time;
  m.p_kw = p;
  m.soc_pct = value_or_nan(t.soc_pct);
  m.indoor_temp_c = value_or_nan(t.indoor_temp_c);
  m.setpoint_c = value_or_nan(t.setpoint_c);
  m.available_kw = value_or_nan(t.available_kw);
  // Keep the last known value of fields this reading leaves out (devices report by exception).
  if (a.last) {
    if (std::isnan(m.soc_pct)) m.soc_pct = a.last->soc_pct;
    if (std::isnan(m.indoor_temp_c)) m.indoor_temp_c = a.last->indoor_temp_c;
    if (std::isnan(m.setpoint_c)) m.setpoint_c = a.last->setpoint_c;
    if (std::isnan(m.available_kw)) m.available_kw = a.last->available_kw;
    if (std::isnan(m.p_kw)) m.p_kw = a.last->p_kw;
  }
  a.previous = a.last;
  a.last = m;
  a.last_accepted_at = now;
  a.gated_reason.clear();
  r.came_online = !a.online;
  a.online = true;
  return r;
}

std::vector<AssetIndex> Fleet::sweep_offline(TimePoint now, Duration offline_after) {
  std::vector<AssetIndex> gone;
  for (AssetIndex i = 0; i < assets_.size(); ++i) {
    auto& a = assets_[i];
    if (a.online && now - a.last_accepted_at > offline_after) {
      a.online = false;
      gone.push_back(i);
    }
  }
  return gone;
}

double Fleet::temp_slope_c_per_s(const AssetState& a) {
  if (!a.last || !a.previous || std::isnan(a.last->indoor_temp_c) || std::isnan(a.previous->indoor_temp_c)) return 0;
  const double dt = to_seconds(a.last->time - a.previous->time);
  return dt > 0 ? (a.last->indoor_temp_c - a.previous->indoor_temp_c) / dt : 0;
}

std::optional<double> Fleet::site_import_kw(SiteIndex s) const {
  const auto m = sites_[s].meter;
  if (m == kNone || !assets_[m].online || !assets_[m].last) return std::nullopt;
  return assets_[m].last->p_kw;
}

}  // namespace vpp::controller
