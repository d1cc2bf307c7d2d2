#include "proto/convert.hpp"

#include <google/protobuf/util/json_util.h>

#include <cmath>

namespace vpp {
namespace pb = vpp::v1;
namespace {

// Timestamp's valid range per google/protobuf/timestamp.proto: 0001-01-01 to 9999-12-31.
constexpr std::int64_t kMinSeconds = -62135596800;
constexpr std::int64_t kMaxSeconds = 253402300799;

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

// Collects the first problem; later checks are skipped once one is found.
struct Checker {
  std::string error;
  bool ok() const { return error.empty(); }
  void fail(std::string_view field, std::string_view why) {
    if (error.empty()) error = std::string(field) + ": " + std::string(why);
  }
  double finite(std::string_view field, double v) {
    if (!std::isfinite(v)) fail(field, "must be a finite number");
    return v;
  }
  std::optional<double> finite(std::string_view field, bool has, double v) {
    if (!has) return std::nullopt;
    return finite(field, v);
  }
  TimePoint time(std::string_view field, const google::protobuf::Timestamp& ts) {
    if (ts.seconds() < kMinSeconds || ts.seconds() > kMaxSeconds || ts.nanos() < 0 || ts.nanos() > 999'999'999) {
      fail(field, "timestamp out of range");
      return {};
    }
    return from_unix_ms(ts.seconds() * 1000 + ts.nanos() / 1'000'000);
  }
  Duration duration(std::string_view field, const google::protobuf::Duration& d) {
    if (d.seconds() < 0 || d.nanos() < 0) {
      fail(field, "must not be negative");
      return {};
    }
    return Duration{d.seconds() * 1000 + d.nanos() / 1'000'000};
  }
  void required(std::string_view field, const std::string& v) {
    if (v.empty()) fail(field, "is required");
  }
};

template <typename T>
Result<T> finish(Checker& c, T value) {
  if (!c.ok()) return Error{c.error};
  return value;
}

pb::Quality to_proto(Quality q) { return static_cast<pb::Quality>(q); }
pb::SetpointKind to_proto(SetpointKind k) { return static_cast<pb::SetpointKind>(k); }
pb::AckStatus to_proto(AckStatus s) { return static_cast<pb::AckStatus>(s); }

std::vector<SeriesPoint> from_points(Checker& c, std::string_view field,
                                     const google::protobuf::RepeatedPtrField<pb::SeriesPoint>& pts) {
  std::vector<SeriesPoint> out;
  out.reserve(static_cast<std::size_t>(pts.size()));
  for (int i = 0; i < pts.size(); ++i) {
    const std::string f = std::string(field) + "[" + std::to_string(i) + "]";
    out.push_back({c.time(f + ".start", pts[i].start()), c.finite(f + ".value", pts[i].value())});
    if (i > 0 && out[static_cast<std::size_t>(i)].start <= out[static_cast<std::size_t>(i) - 1].start) {
      c.fail(f + ".start", "points must be in strictly increasing time order");
    }
  }
  return out;
}

void to_points(google::protobuf::RepeatedPtrField<pb::SeriesPoint>* out, const std::vector<SeriesPoint>& pts) {
  for (const auto& p : pts) {
    auto* q = out->Add();
    set_time(q->mutable_start(), p.start);
    q->set_value(p.value);
  }
}

}  // namespace

// ------------------------------------------------------------------------------------- sites

pb::SiteEnrolment to_proto(const Site& s) {
  pb::SiteEnrolment p;
  p.set_site_id(s.id);
  p.set_name(s.name);
  p.set_owner(s.owner);
  p.set_building_type(static_cast<pb::BuildingType>(static_cast<int>(s.type) + 1));
  p.set_latitude_deg(s.latitude_deg);
  p.set_longitude_deg(s.longitude_deg);
  auto* l = p.mutable_limits();
  l->set_comfort_min_c(s.limits.comfort_min_c);
  l->set_comfort_max_c(s.limits.comfort_max_c);
  l->set_battery_reserve_pct(s.limits.battery_reserve_pct);
  l->set_max_curtailment_pct(s.limits.max_curtailment_pct);
  l->set_import_limit_kw(s.limits.import_limit_kw);
  l->set_export_limit_kw(s.limits.export_limit_kw);
  for (const auto& w : s.limits.availability) {
    auto* pw = l->add_availability();
    for (int d : w.days_of_week) pw->add_days_of_week(d);
    pw->set_start_minute(w.start_minute);
    pw->set_end_minute(w.end_minute);
  }
  for (const auto& a : s.assets) {
    auto* pa = p.add_assets();
    pa->set_id(a.id);
    pa->set_name(a.name);
    std::visit(
        [pa](const auto& spec) {
          using T = std::decay_t<decltype(spec)>;
          if constexpr (std::is_same_v<T, PvSpec>) {
            auto* x = pa->mutable_pv();
            x->set_rated_kw(spec.rated_kw);
            x->set_dc_peak_kw(spec.dc_peak_kw);
            x->set_tilt_deg(spec.tilt_deg);
            x->set_azimuth_deg(spec.azimuth_deg);
            x->set_temp_coeff_per_c(spec.temp_coeff_per_c);
          } else if constexpr (std::is_same_v<T, BatterySpec>) {
            auto* x = pa->mutable_battery();
            x->set_capacity_kwh(spec.capacity_kwh);
            x->set_max_charge_kw(spec.max_charge_kw);
            x->set_max_discharge_kw(spec.max_discharge_kw);
            x->set_charge_efficiency(spec.charge_efficiency);
            x->set_discharge_efficiency(spec.discharge_efficiency);
            x->set_soc_min_pct(spec.soc_min_pct);
            x->set_soc_max_pct(spec.soc_max_pct);
            x->set_self_discharge_pct_per_day(spec.self_discharge_pct_per_day);
            x->set_ramp_kw_per_s(spec.ramp_kw_per_s);
          } else if constexpr (std::is_same_v<T, HvacZoneSpec>) {
            auto* x = pa->mutable_hvac_zone();
            x->set_rated_electric_kw(spec.rated_electric_kw);
            x->set_rated_cop(spec.rated_cop);
            x->set_floor_area_m2(spec.floor_area_m2);
            x->set_thermal_resistance_k_per_kw(spec.thermal_resistance_k_per_kw);
            x->set_thermal_capacitance_kwh_per_k(spec.thermal_capacitance_kwh_per_k);
            x->set_default_setpoint_c(spec.default_setpoint_c);
            x->set_deadband_c(spec.deadband_c);
          } else if constexpr (std::is_same_v<T, FlexibleLoadSpec>) {
            auto* x = pa->mutable_flexible_load();
            x->set_rated_kw(spec.rated_kw);
            x->set_max_curtail_pct(spec.max_curtail_pct);
            x->set_max_shift_kwh(spec.max_shift_kwh);
          } else if constexpr (std::is_same_v<T, SiteMeterSpec>) {
            auto* x = pa->mutable_site_meter();
            x->set_import_limit_kw(spec.import_limit_kw);
            x->set_export_limit_kw(spec.export_limit_kw);
          } else {
            auto* x = pa->mutable_ev_charger();
            x->set_max_charge_kw(spec.max_charge_kw);
            x->set_max_discharge_kw(spec.max_discharge_kw);
            x->set_connectors(spec.connectors);
          }
        },
        a.spec);
  }
  return p;
}

Result<Site> from_proto(const pb::SiteEnrolment& p) {
  Checker c;
  Site s;
  c.required("siteId", p.site_id());
  s.id = p.site_id();
  s.name = p.name();
  s.owner = p.owner();
  if (p.building_type() == pb::BUILDING_TYPE_UNSPECIFIED) {
    c.fail("buildingType", "is required");
  } else {
    s.type = static_cast<BuildingType>(static_cast<int>(p.building_type()) - 1);
  }
  s.latitude_deg = c.finite("latitudeDeg", p.latitude_deg());
  s.longitude_deg = c.finite("longitudeDeg", p.longitude_deg());
  const auto& l = p.limits();
  s.limits.comfort_min_c = c.finite("limits.comfortMinC", l.comfort_min_c());
  s.limits.comfort_max_c = c.finite("limits.comfortMaxC", l.comfort_max_c());
  s.limits.battery_reserve_pct = c.finite("limits.batteryReservePct", l.battery_reserve_pct());
  s.limits.max_curtailment_pct = c.finite("limits.maxCurtailmentPct", l.max_curtailment_pct());
  s.limits.import_limit_kw = c.finite("limits.importLimitKw", l.import_limit_kw());
  s.limits.export_limit_kw = c.finite("limits.exportLimitKw", l.export_limit_kw());
  for (const auto& w : l.availability()) {
    AvailabilityWindow aw;
    aw.days_of_week.assign(w.days_of_week().begin(), w.days_of_week().end());
    aw.start_minute = w.start_minute();
    aw.end_minute = w.end_minute();
    s.limits.availability.push_back(std::move(aw));
  }
  for (int i = 0; i < p.assets_size(); ++i) {
    const auto& pa = p.assets(i);
    const std::string f = "assets[" + std::to_string(i) + "]";
    Asset a;
    a.id = pa.id();
    a.name = pa.name();
    c.required(f + ".id", a.id);
    switch (pa.spec_case()) {
      case pb::AssetSpec::kPv: {
        const auto& x = pa.pv();
        a.spec = PvSpec{c.finite(f + ".pv.ratedKw", x.rated_kw()), c.finite(f + ".pv.dcPeakKw", x.dc_peak_kw()),
                        c.finite(f + ".pv.tiltDeg", x.tilt_deg()), c.finite(f + ".pv.azimuthDeg", x.azimuth_deg()),
                        c.finite(f + ".pv.tempCoeffPerC", x.temp_coeff_per_c())};
        break;
      }
      case pb::AssetSpec::kBattery: {
        const auto& x = pa.battery();
        a.spec = BatterySpec{c.finite(f + ".battery.capacityKwh", x.capacity_kwh()),
                             c.finite(f + ".battery.maxChargeKw", x.max_charge_kw()),
                             c.finite(f + ".battery.maxDischargeKw", x.max_discharge_kw()),
                             c.finite(f + ".battery.chargeEfficiency", x.charge_efficiency()),
                             c.finite(f + ".battery.dischargeEfficiency", x.discharge_efficiency()),
                             c.finite(f + ".battery.socMinPct", x.soc_min_pct()),
                             c.finite(f + ".battery.socMaxPct", x.soc_max_pct()),
                             c.finite(f + ".battery.selfDischargePctPerDay", x.self_discharge_pct_per_day()),
                             c.finite(f + ".battery.rampKwPerS", x.ramp_kw_per_s())};
        break;
      }
      case pb::AssetSpec::kHvacZone: {
        const auto& x = pa.hvac_zone();
        a.spec = HvacZoneSpec{c.finite(f + ".hvacZone.ratedElectricKw", x.rated_electric_kw()),
                              c.finite(f + ".hvacZone.ratedCop", x.rated_cop()),
                              c.finite(f + ".hvacZone.floorAreaM2", x.floor_area_m2()),
                              c.finite(f + ".hvacZone.thermalResistanceKPerKw", x.thermal_resistance_k_per_kw()),
                              c.finite(f + ".hvacZone.thermalCapacitanceKwhPerK", x.thermal_capacitance_kwh_per_k()),
                              c.finite(f + ".hvacZone.defaultSetpointC", x.default_setpoint_c()),
                              c.finite(f + ".hvacZone.deadbandC", x.deadband_c())};
        break;
      }
      case pb::AssetSpec::kFlexibleLoad: {
        const auto& x = pa.flexible_load();
        a.spec = FlexibleLoadSpec{c.finite(f + ".flexibleLoad.ratedKw", x.rated_kw()),
                                  c.finite(f + ".flexibleLoad.maxCurtailPct", x.max_curtail_pct()),
                                  c.finite(f + ".flexibleLoad.maxShiftKwh", x.max_shift_kwh())};
        break;
      }
      case pb::AssetSpec::kSiteMeter: {
        const auto& x = pa.site_meter();
        a.spec = SiteMeterSpec{c.finite(f + ".siteMeter.importLimitKw", x.import_limit_kw()),
                               c.finite(f + ".siteMeter.exportLimitKw", x.export_limit_kw())};
        break;
      }
      case pb::AssetSpec::kEvCharger: {
        const auto& x = pa.ev_charger();
        a.spec = EvChargerSpec{c.finite(f + ".evCharger.maxChargeKw", x.max_charge_kw()),
                               c.finite(f + ".evCharger.maxDischargeKw", x.max_discharge_kw()), x.connectors()};
        break;
      }
      case pb::AssetSpec::SPEC_NOT_SET:
        c.fail(f, "has no spec (one of pv, battery, hvacZone, flexibleLoad, siteMeter, evCharger)");
        break;
    }
    s.assets.push_back(std::move(a));
  }
  return finish(c, std::move(s));
}

// ---------------------------------------------------------------------------------- telemetry

pb::Telemetry to_proto(const Telemetry& t) {
  pb::Telemetry p;
  p.set_site_id(t.site_id);
  p.set_asset_id(t.asset_id);
  set_time(p.mutable_time(), t.time);
  p.set_quality(to_proto(t.quality));
  if (t.p_kw) p.set_p_kw(*t.p_kw);
  if (t.q_kvar) p.set_q_kvar(*t.q_kvar);
  if (t.soc_pct) p.set_soc_pct(*t.soc_pct);
  if (t.indoor_temp_c) p.set_indoor_temp_c(*t.indoor_temp_c);
  if (t.setpoint_c) p.set_setpoint_c(*t.setpoint_c);
  if (t.available_kw) p.set_available_kw(*t.available_kw);
  if (t.energy_kwh) p.set_energy_kwh(*t.energy_kwh);
  return p;
}

Result<Telemetry> from_proto(const pb::Telemetry& p) {
  Checker c;
  Telemetry t;
  c.required("siteId", p.site_id());
  c.required("assetId", p.asset_id());
  t.site_id = p.site_id();
  t.asset_id = p.asset_id();
  if (!p.has_time()) c.fail("time", "is required");
  t.time = c.time("time", p.time());
  t.quality = p.quality() == pb::QUALITY_UNSPECIFIED ? Quality::good : static_cast<Quality>(p.quality());
  t.p_kw = c.finite("pKw", p.has_p_kw(), p.p_kw());
  t.q_kvar = c.finite("qKvar", p.has_q_kvar(), p.q_kvar());
  t.soc_pct = c.finite("socPct", p.has_soc_pct(), p.soc_pct());
  t.indoor_temp_c = c.finite("indoorTempC", p.has_indoor_temp_c(), p.indoor_temp_c());
  t.setpoint_c = c.finite("setpointC", p.has_setpoint_c(), p.setpoint_c());
  t.available_kw = c.finite("availableKw", p.has_available_kw(), p.available_kw());
  t.energy_kwh = c.finite("energyKwh", p.has_energy_kwh(), p.energy_kwh());
  return finish(c, std::move(t));
}

// ----------------------------------------------------------------------------------- commands

pb::Command to_proto(const Command& c) {
  pb::Command p;
  p.set_command_id(c.command_id);
  p.set_site_id(c.site_id);
  p.set_asset_id(c.asset_id);
  p.set_kind(to_proto(c.kind));
  p.set_value(c.value);
  set_time(p.mutable_issued(), c.issued);
  set_time(p.mutable_expires(), c.expires);
  p.set_reason(c.reason);
  return p;
}

Result<Command> from_proto(const pb::Command& p) {
  Checker c;
  Command cmd;
  c.required("commandId", p.command_id());
  c.required("siteId", p.site_id());
  c.required("assetId", p.asset_id());
  cmd.command_id = p.command_id();
  cmd.site_id = p.site_id();
  cmd.asset_id = p.asset_id();
  if (p.kind() == pb::SETPOINT_KIND_UNSPECIFIED) c.fail("kind", "is required");
  cmd.kind = static_cast<SetpointKind>(p.kind());
  cmd.value = c.finite("value", p.value());
  if (!p.has_expires()) c.fail("expires", "is required (every command carries an expiry)");
  cmd.issued = c.time("issued", p.issued());
  cmd.expires = c.time("expires", p.expires());
  if (c.ok() && cmd.expires <= cmd.issued) c.fail("expires", "must be after issued");
  cmd.reason = p.reason();
  return finish(c, std::move(cmd));
}

pb::CommandAck to_proto(const CommandAck& a) {
  pb::CommandAck p;
  p.set_command_id(a.command_id);
  p.set_site_id(a.site_id);
  p.set_asset_id(a.asset_id);
  p.set_status(to_proto(a.status));
  set_time(p.mutable_time(), a.time);
  p.set_detail(a.detail);
  return p;
}

Result<CommandAck> from_proto(const pb::CommandAck& p) {
  Checker c;
  CommandAck a;
  c.required("commandId", p.command_id());
  a.command_id = p.command_id();
  a.site_id = p.site_id();
  a.asset_id = p.asset_id();
  if (p.status() == pb::ACK_STATUS_UNSPECIFIED) c.fail("status", "is required");
  a.status = static_cast<AckStatus>(p.status());
  a.time = c.time("time", p.time());
  a.detail = p.detail();
  return finish(c, std::move(a));
}

// ------------------------------------------------------------------------------------ signals

pb::GridSignal to_proto(const GridSignal& g) {
  pb::GridSignal p;
  set_time(p.mutable_received(), g.received);
  p.set_source(g.source);
  std::visit(
      [&p](const auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, CurtailmentEvent>) {
          auto* e = p.mutable_curtailment();
          e->set_event_id(s.event_id);
          e->set_program(s.program);
          set_time(e->mutable_start(), s.start);
          set_duration(e->mutable_duration(), s.duration);
          if (s.target_reduction_kw) e->set_target_reduction_kw(*s.target_reduction_kw);
          if (s.import_cap_kw) e->set_import_cap_kw(*s.import_cap_kw);
          set_duration(e->mutable_ramp(), s.ramp);
          e->set_priority(s.priority);
          for (const auto& id : s.site_ids) e->add_site_ids(id);
        } else if constexpr (std::is_same_v<T, PriceSeries>) {
          auto* e = p.mutable_prices();
          e->set_currency(s.currency);
          set_duration(e->mutable_interval(), s.interval);
          to_points(e->mutable_import_price(), s.import_price);
          to_points(e->mutable_export_price(), s.export_price);
        } else if constexpr (std::is_same_v<T, CarbonSeries>) {
          auto* e = p.mutable_carbon();
          set_duration(e->mutable_interval(), s.interval);
          to_points(e->mutable_intensity_kg_per_kwh(), s.intensity_kg_per_kwh);
        } else if constexpr (std::is_same_v<T, RegulationSignal>) {
          auto* e = p.mutable_regulation();
          set_time(e->mutable_time(), s.time);
          e->set_value(s.value);
          e->set_capacity_kw(s.capacity_kw);
        } else {
          p.mutable_cancel()->set_event_id(s.event_id);
        }
      },
      g.signal);
  return p;
}

Result<GridSignal> from_proto(const pb::GridSignal& p) {
  Checker c;
  GridSignal g;
  g.received = c.time("received", p.received());
  g.source = p.source();
  switch (p.signal_case()) {
    case pb::GridSignal::kCurtailment: {
      const auto& e = p.curtailment();
      CurtailmentEvent ev;
      c.required("curtailment.eventId", e.event_id());
      ev.event_id = e.event_id();
      ev.program = e.program();
      if (!e.has_start()) c.fail("curtailment.start", "is required");
      ev.start = c.time("curtailment.start", e.start());
      ev.duration = c.duration("curtailment.duration", e.duration());
      if (c.ok() && ev.duration.count() == 0) c.fail("curtailment.duration", "must be > 0");
      switch (e.target_case()) {
        case pb::CurtailmentEvent::kTargetReductionKw:
          ev.target_reduction_kw = c.finite("curtailment.targetReductionKw", e.target_reduction_kw());
          if (c.ok() && *ev.target_reduction_kw <= 0) c.fail("curtailment.targetReductionKw", "must be > 0");
          break;
        case pb::CurtailmentEvent::kImportCapKw:
          ev.import_cap_kw = c.finite("curtailment.importCapKw", e.import_cap_kw());
          if (c.ok() && *ev.import_cap_kw < 0) c.fail("curtailment.importCapKw", "must be >= 0");
          break;
        case pb::CurtailmentEvent::TARGET_NOT_SET:
          c.fail("curtailment", "needs a target: targetReductionKw or importCapKw");
          break;
      }
      ev.ramp = c.duration("curtailment.ramp", e.ramp());
      ev.priority = e.priority();
      ev.site_ids.assign(e.site_ids().begin(), e.site_ids().end());
      g.signal = std::move(ev);
      break;
    }
    case pb::GridSignal::kPrices: {
      const auto& e = p.prices();
      PriceSeries s;
      s.currency = e.currency();
      s.interval = c.duration("prices.interval", e.interval());
      if (c.ok() && s.interval.count() == 0) c.fail("prices.interval", "must be > 0");
      s.import_price = from_points(c, "prices.importPrice", e.import_price());
      s.export_price = from_points(c, "prices.exportPrice", e.export_price());
      if (c.ok() && s.import_price.empty()) c.fail("prices.importPrice", "must have at least one point");
      g.signal = std::move(s);
      break;
    }
    case pb::GridSignal::kCarbon: {
      const auto& e = p.carbon();
      CarbonSeries s;
      s.interval = c.duration("carbon.interval", e.interval());
      if (c.ok() && s.interval.count() == 0) c.fail("carbon.interval", "must be > 0");
      s.intensity_kg_per_kwh = from_points(c, "carbon.intensityKgPerKwh", e.intensity_kg_per_kwh());
      for (const auto& pt : s.intensity_kg_per_kwh) {
        if (pt.value < 0) c.fail("carbon.intensityKgPerKwh", "must be >= 0");
      }
      g.signal = std::move(s);
      break;
    }
    case pb::GridSignal::kRegulation: {
      const auto& e = p.regulation();
      RegulationSignal r;
      r.time = c.time("regulation.time", e.time());
      r.value = c.finite("regulation.value", e.value());
      if (c.ok() && (r.value < -1 || r.value > 1)) c.fail("regulation.value", "must be in [-1, 1]");
      r.capacity_kw = c.finite("regulation.capacityKw", e.capacity_kw());
      g.signal = r;
      break;
    }
    case pb::GridSignal::kCancel:
      c.required("cancel.eventId", p.cancel().event_id());
      g.signal = CancelEvent{p.cancel().event_id()};
      break;
    case pb::GridSignal::SIGNAL_NOT_SET:
      c.fail("signal", "is required (one of curtailment, prices, carbon, regulation, cancel)");
      break;
  }
  return finish(c, std::move(g));
}

// --------------------------------------------------------------------------------------- JSON

std::string to_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = false;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

Result<bool> parse_json(std::string_view json, google::protobuf::Message& out) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  const auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out, opts);
  if (!st.ok()) {
    return Error{"invalid " + out.GetDescriptor()->name() + " JSON: " + std::string(st.message())};
  }
  return true;
}

}  // namespace vpp
