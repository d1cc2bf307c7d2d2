#include "controller/envelope.hpp"

#include <algorithm>
#include <cmath>

namespace vpp::controller {
namespace {

struct Clamp {
  double value;
  Clamps& clamps;
  // Inlined: it runs several times per command, for every asset on every control tick.
  [[gnu::always_inline]] void to(double lo, double hi, const char* why) {
    if (value >= lo && value <= hi) [[likely]] return;
    // An empty range (lo > hi) resolves toward the bound nearest zero effort: hi wins, as
    // every upper bound here protects equipment or comfort.
    const double v = std::min(std::max(value, lo), hi);
    if (v != value) {
      value = v;
      clamps.add(why);
    }
  }
};

double hours(Duration d) { return to_seconds(d) / 3600.0; }

}  // namespace

bool kind_valid_for(AssetKind asset, SetpointKind kind) {
  switch (asset) {
    case AssetKind::pv: return kind == SetpointKind::pv_limit_kw || kind == SetpointKind::pv_limit_pct;
    case AssetKind::battery: return kind == SetpointKind::battery_p_kw;
    case AssetKind::hvac_zone:
      return kind == SetpointKind::hvac_power_cap_kw || kind == SetpointKind::hvac_setpoint_offset_c;
    case AssetKind::flexible_load: return kind == SetpointKind::load_curtail_pct;
    case AssetKind::ev_charger: return kind == SetpointKind::ev_p_kw || kind == SetpointKind::ev_current_limit_a;
    case AssetKind::site_meter: return false;
  }
  return false;
}

double neutral_value(const Asset& asset, SetpointKind kind) {
  switch (kind) {
    case SetpointKind::pv_limit_kw: return asset.get<PvSpec>() ? asset.get<PvSpec>()->rated_kw : 0;
    case SetpointKind::pv_limit_pct: return 100;
    case SetpointKind::hvac_power_cap_kw:
      return asset.get<HvacZoneSpec>() ? asset.get<HvacZoneSpec>()->rated_electric_kw : 0;
    default: return 0;
  }
}

EnvelopeResult apply_envelope(const EnvelopeInput& in) {
  EnvelopeResult r;
  const Asset& asset = in.asset->asset;
  if (!kind_valid_for(asset.kind(), in.kind)) {
    r.allowed = false;
    r.refusal = "setpoint kind not valid for a " + std::string(to_string(asset.kind()));
    return r;
  }
  if (!std::isfinite(in.requested)) {
    r.allowed = false;
    r.refusal = "requested setpoint is not a finite number";
    return r;
  }
  const SiteLimits& limits = in.site->site.limits;
  const Measurement* m = in.asset->last ? &*in.asset->last : nullptr;
  Clamp c{in.requested, r.clamps};

  switch (in.kind) {
    case SetpointKind::battery_p_kw: {
      // Soft limits first (ramp, site connection), hard limits last (rating, state of charge),
      // so that where they conflict the battery's own protection wins.
      const auto& b = *asset.get<BatterySpec>();
      if (b.ramp_kw_per_s > 0 && in.last_sent) {
        const double step = b.ramp_kw_per_s * to_seconds(in.now - in.last_sent_at);
        c.to(*in.last_sent - step, *in.last_sent + step, "ramp");
      }
      if (in.site_import_kw && m && !std::isnan(m->p_kw)) {
        const double import_without = *in.site_import_kw + m->p_kw;  // site import if the battery idled
        if (in.site->import_limit_kw > 0) c.to(import_without - in.site->import_limit_kw, 1e300, "site import limit");
        c.to(-1e300, std::max(0.0, import_without + in.site->export_limit_kw), "site export limit");
      }
      c.to(-b.max_charge_kw, b.max_discharge_kw, "rating");
      if (!m || std::isnan(m->soc_pct)) {
        // Without a state of charge neither the reserve nor the upper bound can be protected.
        c.to(0, 0, "soc unknown");
        break;
      }
      // Energy the battery may still give or take if this command ran unsupervised to expiry.
      const double ttl_h = std::max(hours(in.ttl), 1.0 / 60);
      const double floor_pct = std::max(limits.battery_reserve_pct, b.soc_min_pct);
      const double dis_kw = std::max(0.0, (m->soc_pct - floor_pct) / 100.0 * b.capacity_kwh * b.discharge_efficiency / ttl_h);
      const double cha_kw = std::max(0.0, (b.soc_max_pct - m->soc_pct) / 100.0 * b.capacity_kwh / b.charge_efficiency / ttl_h);
      c.to(-1e300, dis_kw, "reserve");
      c.to(-cha_kw, 1e300, "soc max");
      break;
    }
    case SetpointKind::pv_limit_kw: c.to(0, asset.get<PvSpec>()->rated_kw, "rating"); break;
    case SetpointKind::pv_limit_pct: c.to(0, 100, "rating"); break;
    case SetpointKind::hvac_power_cap_kw: {
      const auto& h = *asset.get<HvacZoneSpec>();
      c.to(0, h.rated_electric_kw, "rating");
      if (m && !std::isnan(m->indoor_temp_c)) {
        // Judge comfort where the zone is heading: a data hall without cooling gains kelvins in
        // minutes, faster than telemetry and commands go round, so a cap is released while the
        // temperature projected a few minutes ahead is still inside the band.
        const double rising = std::max(0.0, Fleet::temp_slope_c_per_s(*in.asset));
        const double projected = m->indoor_temp_c + rising * kComfortLookaheadS;
        if (projected >= limits.comfort_max_c - kComfortGuardC) {
          c.to(h.rated_electric_kw, h.rated_electric_kw, "comfort");  // (about to be) too warm: release
        }
      }
      break;
    }
    case SetpointKind::hvac_setpoint_offset_c: {
      const auto& h = *asset.get<HvacZoneSpec>();
      c.to(-in.max_setpoint_offset_c, in.max_setpoint_offset_c, "offset limit");
      // The thermostat lets the air swing half its deadband around the setpoint: keep the swing
      // inside the comfort band.
      const double half = std::min(h.deadband_c / 2, (limits.comfort_max_c - limits.comfort_min_c) / 2);
      c.to(limits.comfort_min_c + half - h.default_setpoint_c, limits.comfort_max_c - half - h.default_setpoint_c,
           "comfort band");
      break;
    }
    case SetpointKind::load_curtail_pct: {
      const auto& l = *asset.get<FlexibleLoadSpec>();
      const double site_max = limits.max_curtailment_pct > 0 ? limits.max_curtailment_pct : 100;
      c.to(0, std::min(l.max_curtail_pct, site_max), "curtailment limit");
      break;
    }
    case SetpointKind::ev_p_kw: {
      const auto& e = *asset.get<EvChargerSpec>();
      c.to(-e.max_charge_kw, e.max_discharge_kw, "rating");
      break;
    }
    case SetpointKind::ev_current_limit_a: c.to(0, 1e6, "rating"); break;
    case SetpointKind::unspecified: break;
  }
  r.value = c.value;
  return r;
}

}  // namespace vpp::controller
