#include "adapters/http/views.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "proto/convert.hpp"

namespace vpp::http {
namespace pb = vpp::v1;

void set_time(google::protobuf::Timestamp* ts, TimePoint t) {
  const auto ms = to_unix_ms(t);
  auto s = ms / 1000;
  auto rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    --s;
  }
  ts->set_seconds(s);
  ts->set_nanos(static_cast<int>(rem * 1'000'000));
}

void set_duration(google::protobuf::Duration* d, Duration v) {
  d->set_seconds(v.count() / 1000);
  d->set_nanos(static_cast<int>((v.count() % 1000) * 1'000'000));
}

TimePoint get_time(const google::protobuf::Timestamp& ts) {
  return from_unix_ms(ts.seconds() * 1000 + ts.nanos() / 1'000'000);
}

std::string_view to_string(AckState s) {
  switch (s) {
    case AckState::pending: return "pending";
    case AckState::accepted: return "accepted";
    case AckState::rejected: return "rejected";
    case AckState::expired: return "expired";
  }
  return "?";
}

SiteLimits SiteLimitsPatch::applied_to(SiteLimits l) const {
  if (comfort_min_c) l.comfort_min_c = *comfort_min_c;
  if (comfort_max_c) l.comfort_max_c = *comfort_max_c;
  if (battery_reserve_pct) l.battery_reserve_pct = *battery_reserve_pct;
  if (max_curtailment_pct) l.max_curtailment_pct = *max_curtailment_pct;
  if (import_limit_kw) l.import_limit_kw = *import_limit_kw;
  if (export_limit_kw) l.export_limit_kw = *export_limit_kw;
  if (availability) l.availability = *availability;
  return l;
}

pb::CurtailmentEvent to_proto_event(const CurtailmentEvent& e) {
  GridSignal g;
  g.signal = e;
  return vpp::to_proto(g).curtailment();
}

Result<CurtailmentEvent> from_proto_event(const pb::CurtailmentEvent& p) {
  pb::GridSignal g;
  *g.mutable_curtailment() = p;
  g.mutable_received();  // set (epoch) so only the event's own fields are judged
  auto r = vpp::from_proto(g);
  if (!r) {
    const auto fe = split_field_error(r.error(), "curtailment.");
    return Error{(fe.field.empty() || fe.field == "curtailment" ? std::string() : fe.field + ": ") + fe.reason};
  }
  return std::get<CurtailmentEvent>(r->signal);
}

pb::EventView to_proto(const EventView& v) {
  pb::EventView p;
  *p.mutable_event() = to_proto_event(v.record.event);
  p.set_state(std::string(controller::to_string(v.record.state)));
  p.set_revision(v.record.revision);
  for (const auto& s : v.record.opted_out) p.add_opted_out_sites(s);
  set_time(p.mutable_received_at(), v.record.received_at);
  if (v.record.state == controller::EventState::completed || v.record.state == controller::EventState::cancelled ||
      v.record.state == controller::EventState::rejected) {
    set_time(p.mutable_ended_at(), v.record.ended_at);
  }
  for (const auto& t : v.transitions) {
    auto* pt = p.add_transitions();
    if (t.from) pt->set_from(std::string(controller::to_string(*t.from)));
    pt->set_to(std::string(controller::to_string(t.to)));
    set_time(pt->mutable_time(), t.time);
    pt->set_reason(t.reason);
  }
  if (v.delivery) {
    auto* d = p.mutable_delivery();
    set_time(d->mutable_as_of(), v.delivery->as_of);
    d->set_requested_kw(v.delivery->requested_kw);
    d->set_baseline_kw(v.delivery->baseline_kw);
    d->set_metered_kw(v.delivery->metered_kw);
    d->set_delivered_kw(v.delivery->delivered_kw);
    d->set_requested_kwh(v.delivery->requested_kwh);
    d->set_delivered_kwh(v.delivery->delivered_kwh);
  }
  return p;
}

namespace {

void to_proto(pb::SettlementInterval* p, const controller::SettlementInterval& s) {
  set_time(p->mutable_start(), s.start);
  p->set_requested_kw(s.requested_kw);
  p->set_baseline_kw(s.baseline_kw);
  p->set_metered_kw(s.metered_kw);
  p->set_delivered_kw(s.delivered_kw);
  p->set_ratio(s.ratio);
}

// kWh over intervals of length `interval` from per-interval kW averages.
double kwh(const std::vector<controller::SettlementInterval>& rows, Duration interval, bool delivered) {
  double sum_kw = 0;
  for (const auto& r : rows) sum_kw += delivered ? r.delivered_kw : r.requested_kw;
  return sum_kw * to_seconds(interval) / 3600.0;
}

void csv_row(std::string& out, const std::string& event_id, const std::string& scope,
             const controller::SettlementInterval& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf, ",%.3f,%.3f,%.3f,%.3f,%.4f\n", s.requested_kw, s.baseline_kw, s.metered_kw,
                s.delivered_kw, s.ratio);
  out += event_id + "," + scope + "," + format_utc(s.start) + buf;
}

}  // namespace

pb::EventReport to_proto(const ReportView& r) {
  pb::EventReport p;
  p.set_event_id(r.event_id);
  p.set_final(r.final);
  set_duration(p.mutable_interval(), r.interval);
  for (const auto& s : r.fleet) to_proto(p.add_fleet(), s);
  for (const auto& [site, rows] : r.sites) {
    auto* ps = p.add_sites();
    ps->set_site_id(site);
    for (const auto& s : rows) to_proto(ps->add_intervals(), s);
    ps->set_requested_kwh(kwh(rows, r.interval, false));
    ps->set_delivered_kwh(kwh(rows, r.interval, true));
  }
  p.set_requested_kwh(r.requested_kwh);
  p.set_delivered_kwh(r.delivered_kwh);
  p.set_min_interval_ratio(r.min_interval_ratio);
  p.set_baseline_method(r.baseline_method);
  for (const auto& n : r.notes) p.add_notes(n);
  return p;
}

std::string report_csv(const ReportView& r) {
  std::string out = "event_id,scope,interval_start,requested_kw,baseline_kw,metered_kw,delivered_kw,ratio\n";
  for (const auto& s : r.fleet) csv_row(out, r.event_id, "fleet", s);
  for (const auto& [site, rows] : r.sites) {
    for (const auto& s : rows) csv_row(out, r.event_id, "site:" + site, s);
  }
  return out;
}

pb::SiteView to_proto(const SiteView& s) {
  pb::SiteView p;
  *p.mutable_site() = vpp::to_proto(s.site);
  set_time(p.mutable_enrolled_at(), s.enrolled_at);
  set_time(p.mutable_updated_at(), s.updated_at);
  p.set_assets_online(s.assets_online);
  return p;
}

pb::CommandContext to_proto(const CommandContext& c) {
  pb::CommandContext p;
  p.set_event_id(c.event_id);
  p.set_plan_id(c.plan_id);
  p.set_group(c.group);
  if (c.import_price) p.set_import_price(*c.import_price);
  if (c.carbon_intensity_kg_per_kwh) p.set_carbon_intensity_kg_per_kwh(*c.carbon_intensity_kg_per_kwh);
  p.set_explanation(c.explanation);
  return p;
}

CommandContext from_proto(const pb::CommandContext& p) {
  CommandContext c;
  c.event_id = p.event_id();
  c.plan_id = p.plan_id();
  c.group = p.group();
  if (p.has_import_price()) c.import_price = p.import_price();
  if (p.has_carbon_intensity_kg_per_kwh()) c.carbon_intensity_kg_per_kwh = p.carbon_intensity_kg_per_kwh();
  c.explanation = p.explanation();
  return c;
}

pb::CommandRecord to_proto(const CommandRecord& c) {
  pb::CommandRecord p;
  *p.mutable_command() = vpp::to_proto(c.command);
  p.set_ack_status(std::string(to_string(c.ack)));
  if (c.ack_time) set_time(p.mutable_ack_time(), *c.ack_time);
  p.set_ack_detail(c.ack_detail);
  *p.mutable_context() = to_proto(c.context);
  return p;
}

pb::FleetView to_proto(const FleetView& f) {
  pb::FleetView p;
  set_time(p.mutable_as_of(), f.as_of);
  p.set_sites(f.sites);
  p.set_assets(f.assets);
  p.set_assets_online(f.assets_online);
  for (const auto& a : f.asset_states) {
    auto* pa = p.add_asset_states();
    pa->set_site_id(a.site_id);
    pa->set_asset_id(a.asset_id);
    pa->set_kind(std::string(vpp::to_string(a.kind)));
    pa->set_online(a.online);
    pa->set_reason(a.reason);
  }
  set_duration(p.mutable_interval(), f.interval);
  for (const auto& x : f.flexibility) {
    auto* px = p.add_flexibility();
    set_time(px->mutable_start(), x.start);
    px->set_up_kw(x.up_kw);
    px->set_down_kw(x.down_kw);
  }
  return p;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '-';
  });
}

namespace {

constexpr const char* kIdRule = "must be 1-64 characters of A-Z a-z 0-9 . _ : -";

struct Check {
  std::optional<FieldError> err;
  void fail(const std::string& field, const std::string& reason) {
    if (!err) err = FieldError{field, reason};
  }
  void range(const std::string& field, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi)) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "must be in [%g, %g], found %g", lo, hi, v);
      fail(field, buf);
    }
  }
  void positive(const std::string& field, double v) {
    if (!(v > 0)) fail(field, "must be > 0");
  }
  void non_negative(const std::string& field, double v) {
    if (!(v >= 0)) fail(field, "must be >= 0");
  }
};

}  // namespace

std::optional<FieldError> check_limits(const SiteLimits& l, const std::string& lp, const std::string& ap) {
  Check c;
  // A comfort band outside 10-35 degC is not one any occupied building keeps (ASHRAE 55 spans
  // roughly 19-28 degC); values outside are typing errors, not policies.
  c.range(lp + "comfortMinC", l.comfort_min_c, 10, 35);
  c.range(lp + "comfortMaxC", l.comfort_max_c, 10, 35);
  if (!c.err && l.comfort_min_c >= l.comfort_max_c) c.fail(lp + "comfortMaxC", "must be above comfortMinC");
  c.range(lp + "batteryReservePct", l.battery_reserve_pct, 0, 100);
  c.range(lp + "maxCurtailmentPct", l.max_curtailment_pct, 0, 100);
  c.non_negative(lp + "importLimitKw", l.import_limit_kw);
  c.non_negative(lp + "exportLimitKw", l.export_limit_kw);
  for (std::size_t i = 0; i < l.availability.size(); ++i) {
    const auto& w = l.availability[i];
    const std::string f = ap + "[" + std::to_string(i) + "]";
    if (w.days_of_week.empty()) c.fail(f + ".daysOfWeek", "must name at least one day (1 = Monday .. 7 = Sunday)");
    for (std::size_t d = 0; d < w.days_of_week.size(); ++d) {
      if (w.days_of_week[d] < 1 || w.days_of_week[d] > 7) {
        c.fail(f + ".daysOfWeek[" + std::to_string(d) + "]", "must be 1 (Monday) .. 7 (Sunday)");
      }
    }
    if (w.start_minute < 0 || w.start_minute >= 1440) c.fail(f + ".startMinute", "must be in [0, 1440)");
    if (w.end_minute <= w.start_minute || w.end_minute > 1440) c.fail(f + ".endMinute", "must be in (startMinute, 1440]");
  }
  return c.err;
}

std::optional<FieldError> check_site(const Site& s) {
  Check c;
  if (!valid_id(s.id)) c.fail("siteId", kIdRule);
  if (s.name.size() > 256) c.fail("name", "must be at most 256 characters");
  c.range("latitudeDeg", s.latitude_deg, -90, 90);
  c.range("longitudeDeg", s.longitude_deg, -180, 180);
  if (c.err) return c.err;
  if (auto e = check_limits(s.limits, "limits.", "limits.availability")) return e;
  std::set<std::string> ids;
  int meters = 0;
  for (std::size_t i = 0; i < s.assets.size(); ++i) {
    const Asset& a = s.assets[i];
    const std::string f = "assets[" + std::to_string(i) + "]";
    if (!valid_id(a.id)) c.fail(f + ".id", kIdRule);
    if (!ids.insert(a.id).second) c.fail(f + ".id", "duplicate asset id '" + a.id + "'");
    if (const auto* x = a.get<PvSpec>()) {
      c.positive(f + ".pv.ratedKw", x->rated_kw);
      c.non_negative(f + ".pv.dcPeakKw", x->dc_peak_kw);
      c.range(f + ".pv.tiltDeg", x->tilt_deg, 0, 90);
      c.range(f + ".pv.azimuthDeg", x->azimuth_deg, 0, 360);
    } else if (const auto* b = a.get<BatterySpec>()) {
      c.positive(f + ".battery.capacityKwh", b->capacity_kwh);
      c.positive(f + ".battery.maxChargeKw", b->max_charge_kw);
      c.positive(f + ".battery.maxDischargeKw", b->max_discharge_kw);
      c.range(f + ".battery.chargeEfficiency", b->charge_efficiency, 0.01, 1);
      c.range(f + ".battery.dischargeEfficiency", b->discharge_efficiency, 0.01, 1);
      c.range(f + ".battery.socMinPct", b->soc_min_pct, 0, 100);
      c.range(f + ".battery.socMaxPct", b->soc_max_pct, 0, 100);
      if (!c.err && b->soc_min_pct >= b->soc_max_pct) c.fail(f + ".battery.socMaxPct", "must be above socMinPct");
    } else if (const auto* h = a.get<HvacZoneSpec>()) {
      c.positive(f + ".hvacZone.ratedElectricKw", h->rated_electric_kw);
      c.positive(f + ".hvacZone.ratedCop", h->rated_cop);
      c.non_negative(f + ".hvacZone.floorAreaM2", h->floor_area_m2);
      c.non_negative(f + ".hvacZone.thermalResistanceKPerKw", h->thermal_resistance_k_per_kw);
      c.non_negative(f + ".hvacZone.thermalCapacitanceKwhPerK", h->thermal_capacitance_kwh_per_k);
    } else if (const auto* l = a.get<FlexibleLoadSpec>()) {
      c.positive(f + ".flexibleLoad.ratedKw", l->rated_kw);
      c.range(f + ".flexibleLoad.maxCurtailPct", l->max_curtail_pct, 0, 100);
      c.non_negative(f + ".flexibleLoad.maxShiftKwh", l->max_shift_kwh);
    } else if (const auto* m = a.get<SiteMeterSpec>()) {
      c.non_negative(f + ".siteMeter.importLimitKw", m->import_limit_kw);
      c.non_negative(f + ".siteMeter.exportLimitKw", m->export_limit_kw);
      if (++meters > 1) c.fail(f, "a site has at most one site meter");
    } else if (const auto* ev = a.get<EvChargerSpec>()) {
      c.positive(f + ".evCharger.maxChargeKw", ev->max_charge_kw);
      c.non_negative(f + ".evCharger.maxDischargeKw", ev->max_discharge_kw);
      if (ev->connectors < 1) c.fail(f + ".evCharger.connectors", "must be >= 1");
    }
  }
  return c.err;
}

std::optional<FieldError> check_event(const CurtailmentEvent& e, TimePoint now, bool may_end_now) {
  Check c;
  if (!valid_id(e.event_id)) c.fail("eventId", kIdRule);
  if (e.program.size() > 128) c.fail("program", "must be at most 128 characters");
  if (e.ramp >= e.duration) c.fail("ramp", "must be shorter than duration");
  if (e.duration > std::chrono::days(7)) c.fail("duration", "must be at most 7 days");
  if (!may_end_now && e.end() <= now) c.fail("start", "the event would end in the past (" + format_utc(e.end()) + ")");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < e.site_ids.size(); ++i) {
    const std::string f = "siteIds[" + std::to_string(i) + "]";
    if (!valid_id(e.site_ids[i])) c.fail(f, kIdRule);
    if (!seen.insert(e.site_ids[i]).second) c.fail(f, "site '" + e.site_ids[i] + "' is named twice");
  }
  return c.err;
}

SiteLimitsPatch from_proto(const pb::SitePatch& p) {
  SiteLimitsPatch out;
  if (p.has_limits()) {
    const auto& l = p.limits();
    if (l.has_comfort_min_c()) out.comfort_min_c = l.comfort_min_c();
    if (l.has_comfort_max_c()) out.comfort_max_c = l.comfort_max_c();
    if (l.has_battery_reserve_pct()) out.battery_reserve_pct = l.battery_reserve_pct();
    if (l.has_max_curtailment_pct()) out.max_curtailment_pct = l.max_curtailment_pct();
    if (l.has_import_limit_kw()) out.import_limit_kw = l.import_limit_kw();
    if (l.has_export_limit_kw()) out.export_limit_kw = l.export_limit_kw();
  }
  if (p.has_availability()) {
    std::vector<AvailabilityWindow> ws;
    for (const auto& w : p.availability().windows()) {
      AvailabilityWindow aw;
      aw.days_of_week.assign(w.days_of_week().begin(), w.days_of_week().end());
      aw.start_minute = w.start_minute();
      aw.end_minute = w.end_minute();
      ws.push_back(std::move(aw));
    }
    out.availability = std::move(ws);
  }
  return out;
}

CurtailmentEvent apply_patch(CurtailmentEvent e, const pb::EventPatch& p) {
  if (p.has_program()) e.program = p.program();
  if (p.has_start()) e.start = get_time(p.start());
  if (p.has_duration()) e.duration = Duration{p.duration().seconds() * 1000 + p.duration().nanos() / 1'000'000};
  if (p.target_case() == pb::EventPatch::kTargetReductionKw) {
    e.target_reduction_kw = p.target_reduction_kw();
    e.import_cap_kw.reset();
  } else if (p.target_case() == pb::EventPatch::kImportCapKw) {
    e.import_cap_kw = p.import_cap_kw();
    e.target_reduction_kw.reset();
  }
  if (p.has_ramp()) e.ramp = Duration{p.ramp().seconds() * 1000 + p.ramp().nanos() / 1'000'000};
  if (p.has_priority()) e.priority = p.priority();
  return e;
}

}  // namespace vpp::http
