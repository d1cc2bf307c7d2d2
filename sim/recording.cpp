#include "sim/recording.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "proto/convert.hpp"

namespace vpp::sim {
namespace pb = vpp::v1;
using namespace controller;

namespace {

class Fnv {
 public:
  void add(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h_ ^= (v >> (8 * i)) & 0xff;
      h_ *= 1099511628211ULL;
    }
  }
  void add(double d) {
    std::uint64_t v;
    std::memcpy(&v, &d, sizeof v);
    add(v);
  }
  void add(const std::string& s) {
    for (unsigned char c : s) {
      h_ ^= c;
      h_ *= 1099511628211ULL;
    }
    add(static_cast<std::uint64_t>(s.size()));
  }
  void add(const std::vector<double>& v) {
    add(static_cast<std::uint64_t>(v.size()));
    for (double d : v) add(d);
  }
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 14695981039346656037ULL;
};

void named(google::protobuf::RepeatedPtrField<pb::NamedSeries>* out, const std::map<std::string, std::vector<double>>& m) {
  for (const auto& [id, v] : m) {
    auto* n = out->Add();
    n->set_id(id);
    n->mutable_values()->Add(v.begin(), v.end());
  }
}

std::map<std::string, std::vector<double>> named(const google::protobuf::RepeatedPtrField<pb::NamedSeries>& in) {
  std::map<std::string, std::vector<double>> m;
  for (const auto& n : in) m[n.id()] = {n.values().begin(), n.values().end()};
  return m;
}

pb::LeaseRecord lease_record(const Lease& l) {
  pb::LeaseRecord r;
  r.set_owner(l.owner);
  r.set_priority(l.priority);
  r.set_expires_ms(to_unix_ms(l.expires));
  return r;
}

void settlement(pb::SettlementIntervalRecord* r, const SettlementInterval& s) {
  r->set_start_ms(to_unix_ms(s.start));
  r->set_requested_kw(s.requested_kw);
  r->set_baseline_kw(s.baseline_kw);
  r->set_metered_kw(s.metered_kw);
  r->set_delivered_kw(s.delivered_kw);
  r->set_ratio(s.ratio);
}

}  // namespace

std::uint64_t digest(const optimizer::Problem& p) {
  Fnv f;
  f.add(static_cast<std::uint64_t>(to_unix_ms(p.horizon.start)));
  f.add(static_cast<std::uint64_t>(p.horizon.step.count()));
  f.add(static_cast<std::uint64_t>(p.horizon.steps));
  f.add(p.signals.import_price);
  f.add(p.signals.export_price);
  f.add(p.signals.carbon_kg_per_kwh);
  for (const auto& c : p.signals.import_cap_kw) f.add(c ? *c : -1.0);
  for (const auto& s : p.sites) {
    f.add(s.id);
    f.add(s.base_load_kw);
    for (const auto& a : s.pv) {
      f.add(a.id);
      f.add(a.forecast_kw);
    }
    for (const auto& b : s.batteries) {
      f.add(b.id);
      f.add(b.soc_kwh);
    }
    for (const auto& z : s.hvac) {
      f.add(z.id);
      f.add(z.temp_c);
      f.add(z.outdoor_temp_c);
      f.add(z.gains_kw);
    }
    for (const auto& l : s.flexible) {
      f.add(l.id);
      f.add(l.power_kw);
    }
    f.add(static_cast<std::uint64_t>(s.excluded));
  }
  return f.value();
}

std::uint64_t digest(const optimizer::Plan& p) {
  Fnv f;
  f.add(p.fleet_import_kw);
  f.add(p.coordination_price_per_kwh);
  f.add(p.objective.total);
  for (const auto& s : p.sites) {
    f.add(s.id);
    for (const auto& b : s.batteries) f.add(b.p_kw);
    for (const auto& v : s.pv) f.add(v.limit_kw);
    for (const auto& h : s.hvac) {
      f.add(h.electric_kw);
      f.add(h.temp_c);
    }
    for (const auto& l : s.flexible) f.add(l.curtail_kw);
  }
  return f.value();
}

pb::CoreInputRecord to_record(const Input& in, TimePoint t) {
  pb::CoreInputRecord r;
  r.set_time_ms(to_unix_ms(t));
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Telemetry>) {
          *r.mutable_telemetry() = to_proto(x);
        } else if constexpr (std::is_same_v<T, CommandAck>) {
          *r.mutable_ack() = to_proto(x);
        } else if constexpr (std::is_same_v<T, GridSignal>) {
          *r.mutable_signal() = to_proto(x);
        } else if constexpr (std::is_same_v<T, EnrolSite>) {
          *r.mutable_enrol() = to_proto(x.site);
        } else if constexpr (std::is_same_v<T, UnenrolSite>) {
          r.set_unenrol_site_id(x.site_id);
        } else if constexpr (std::is_same_v<T, OptOut>) {
          r.mutable_opt_out()->set_event_id(x.event_id);
          r.mutable_opt_out()->set_site_id(x.site_id);
        } else if constexpr (std::is_same_v<T, LeaseRequest>) {
          auto* l = r.mutable_lease_request();
          l->set_site_id(x.site_id);
          l->set_asset_id(x.asset_id);
          *l->mutable_lease() = lease_record(x.lease);
          l->set_kind(x.kind ? static_cast<pb::SetpointKind>(*x.kind) : pb::SETPOINT_KIND_UNSPECIFIED);
          l->set_value(x.value);
        } else if constexpr (std::is_same_v<T, LeaseRelease>) {
          auto* l = r.mutable_lease_release();
          l->set_site_id(x.site_id);
          l->set_asset_id(x.asset_id);
          l->set_owner(x.owner);
        } else if constexpr (std::is_same_v<T, Tick>) {
          r.set_tick(true);
        } else if constexpr (std::is_same_v<T, SolveResult>) {
          auto* s = r.mutable_solve_result();
          s->set_request_id(x.request_id);
          s->set_failed(!x.plan);
          s->set_error(x.error);
          if (x.plan) s->set_plan_digest(digest(*x.plan));
        } else if constexpr (std::is_same_v<T, ForecastUpdate>) {
          auto* f = r.mutable_forecast();
          const auto& fc = *x.forecast;
          f->set_start_ms(to_unix_ms(fc.start));
          f->set_step_ms(fc.step.count());
          f->set_steps(fc.steps);
          f->mutable_outdoor_temp_c()->Add(fc.outdoor_temp_c.begin(), fc.outdoor_temp_c.end());
          for (const auto& [id, s] : fc.sites) {
            auto* sr = f->add_sites();
            sr->set_site_id(id);
            sr->mutable_base_load_kw()->Add(s.base_load_kw.begin(), s.base_load_kw.end());
            named(sr->mutable_pv_kw(), s.pv_kw);
            named(sr->mutable_gains_kw(), s.gains_kw);
            named(sr->mutable_flexible_kw(), s.flexible_kw);
            sr->set_occupied(std::string(s.occupied.begin(), s.occupied.end()));
            sr->set_hvac_available(std::string(s.hvac_available.begin(), s.hvac_available.end()));
          }
        } else if constexpr (std::is_same_v<T, RestorePlan>) {
          auto* e = r.mutable_restore_plan();
          e->set_group(x.group);
          if (x.plan) *e->mutable_plan() = plan_to_record(*x.plan);
        } else if constexpr (std::is_same_v<T, RestoreEvent>) {
          auto* e = r.mutable_restore_event();
          GridSignal g{{}, "", x.record.event};
          *e->mutable_event() = to_proto(g).curtailment();
          e->set_state(std::string(to_string(x.record.state)));
          for (const auto& site : x.record.opted_out) e->add_opted_out(site);
          e->set_received_at_ms(to_unix_ms(x.record.received_at));
          e->set_ended_at_ms(to_unix_ms(x.record.ended_at));
          e->set_revision(x.record.revision);
        } else if constexpr (std::is_same_v<T, MeterHistory>) {
          auto* m = r.mutable_meter_history();
          m->set_site_id(x.site_id);
          m->set_day_unix_days(x.day.day.time_since_epoch().count());
          m->set_eligible(x.day.eligible);
          m->mutable_kw()->Add(x.day.kw.begin(), x.day.kw.end());
        }
      },
      in);
  return r;
}

Result<Input> from_record(const pb::CoreInputRecord& r) {
  switch (r.input_case()) {
    case pb::CoreInputRecord::kTelemetry: {
      auto t = from_proto(r.telemetry());
      if (!t) return Error{t.error()};
      return Input{*t};
    }
    case pb::CoreInputRecord::kAck: {
      auto a = from_proto(r.ack());
      if (!a) return Error{a.error()};
      return Input{*a};
    }
    case pb::CoreInputRecord::kSignal: {
      auto g = from_proto(r.signal());
      if (!g) return Error{g.error()};
      return Input{*g};
    }
    case pb::CoreInputRecord::kEnrol: {
      auto s = from_proto(r.enrol());
      if (!s) return Error{s.error()};
      return Input{EnrolSite{*s}};
    }
    case pb::CoreInputRecord::kUnenrolSiteId: return Input{UnenrolSite{r.unenrol_site_id()}};
    case pb::CoreInputRecord::kOptOut: return Input{OptOut{r.opt_out().event_id(), r.opt_out().site_id()}};
    case pb::CoreInputRecord::kLeaseRequest: {
      const auto& l = r.lease_request();
      LeaseRequest q;
      q.site_id = l.site_id();
      q.asset_id = l.asset_id();
      q.lease = {l.lease().owner(), l.lease().priority(), from_unix_ms(l.lease().expires_ms())};
      if (l.kind() != pb::SETPOINT_KIND_UNSPECIFIED) q.kind = static_cast<SetpointKind>(l.kind());
      q.value = l.value();
      return Input{q};
    }
    case pb::CoreInputRecord::kLeaseRelease:
      return Input{LeaseRelease{r.lease_release().site_id(), r.lease_release().asset_id(), r.lease_release().owner()}};
    case pb::CoreInputRecord::kTick: return Input{Tick{}};
    case pb::CoreInputRecord::kSolveResult:
      // The plan is filled in by the replayer from its own solve of the matching request.
      return Input{SolveResult{r.solve_result().request_id(), nullptr, r.solve_result().error()}};
    case pb::CoreInputRecord::kForecast: {
      const auto& f = r.forecast();
      auto fc = std::make_shared<Forecast>();
      fc->start = from_unix_ms(f.start_ms());
      fc->step = Duration{f.step_ms()};
      fc->steps = f.steps();
      fc->outdoor_temp_c.assign(f.outdoor_temp_c().begin(), f.outdoor_temp_c().end());
      for (const auto& s : f.sites()) {
        SiteForecast sf;
        sf.base_load_kw.assign(s.base_load_kw().begin(), s.base_load_kw().end());
        sf.pv_kw = named(s.pv_kw());
        sf.gains_kw = named(s.gains_kw());
        sf.flexible_kw = named(s.flexible_kw());
        sf.occupied.assign(s.occupied().begin(), s.occupied().end());
        sf.hvac_available.assign(s.hvac_available().begin(), s.hvac_available().end());
        fc->sites[s.site_id()] = std::move(sf);
      }
      return Input{ForecastUpdate{std::move(fc)}};
    }
    case pb::CoreInputRecord::kMeterHistory: {
      const auto& m = r.meter_history();
      DayProfile d;
      d.day = LocalDay{std::chrono::days{m.day_unix_days()}};
      d.eligible = m.eligible();
      d.kw.assign(m.kw().begin(), m.kw().end());
      return Input{MeterHistory{m.site_id(), std::move(d)}};
    }
    case pb::CoreInputRecord::kRestoreEvent: {
      const auto& e = r.restore_event();
      pb::GridSignal g;
      *g.mutable_curtailment() = e.event();
      auto sig = from_proto(g);
      if (!sig) return Error{sig.error()};
      EventRecord rec;
      rec.event = std::get<CurtailmentEvent>(sig->signal);
      bool known = false;
      for (auto st : {EventState::received, EventState::scheduled, EventState::active, EventState::completed,
                      EventState::cancelled, EventState::rejected}) {
        if (to_string(st) == e.state()) {
          rec.state = st;
          known = true;
        }
      }
      if (!known) return Error{"restored event " + rec.event.event_id + ": unknown state '" + e.state() + "'"};
      rec.opted_out.insert(e.opted_out().begin(), e.opted_out().end());
      rec.received_at = from_unix_ms(e.received_at_ms());
      rec.ended_at = from_unix_ms(e.ended_at_ms());
      rec.revision = e.revision();
      return Input{RestoreEvent{std::move(rec)}};
    }
    case pb::CoreInputRecord::kRestorePlan: {
      auto plan = plan_from_record(r.restore_plan().plan());
      if (!plan) return Error{"restored plan of " + r.restore_plan().group() + ": " + plan.error()};
      return Input{RestorePlan{r.restore_plan().group(), std::move(*plan)}};
    }
    case pb::CoreInputRecord::INPUT_NOT_SET: break;
  }
  return Error{"recorded input has no content"};
}

namespace {

void put(pb::PlanSeries* out, const std::vector<double>& v) { out->mutable_v()->Add(v.begin(), v.end()); }

// A series of the horizon's length, or an error naming it.
Result<std::vector<double>> series(const pb::PlanSeries& in, int steps, const std::string& what) {
  if (in.v_size() != steps) {
    return Error{what + ": " + std::to_string(in.v_size()) + " values for " + std::to_string(steps) + " intervals"};
  }
  return std::vector<double>(in.v().begin(), in.v().end());
}

}  // namespace

pb::PlanRecord plan_to_record(const optimizer::Plan& p) {
  pb::PlanRecord r;
  r.set_start_ms(to_unix_ms(p.horizon.start));
  r.set_step_ms(p.horizon.step.count());
  r.set_steps(p.horizon.steps);
  for (const auto& sp : p.sites) {
    auto* s = r.add_sites();
    s->set_id(sp.id);
    put(s->mutable_import_kw(), sp.import_kw);
    for (const auto& b : sp.batteries) {
      auto* o = s->add_batteries();
      o->set_id(b.id);
      put(o->mutable_p_kw(), b.p_kw);
      put(o->mutable_charge_kw(), b.charge_kw);
      put(o->mutable_discharge_kw(), b.discharge_kw);
      put(o->mutable_soc_kwh(), b.soc_kwh);
    }
    for (const auto& v : sp.pv) {
      auto* o = s->add_pv();
      o->set_id(v.id);
      put(o->mutable_limit_kw(), v.limit_kw);
    }
    for (const auto& h : sp.hvac) {
      auto* o = s->add_hvac();
      o->set_id(h.id);
      put(o->mutable_electric_kw(), h.electric_kw);
      put(o->mutable_temp_c(), h.temp_c);
    }
    for (const auto& f : sp.flexible) {
      auto* o = s->add_flexible();
      o->set_id(f.id);
      put(o->mutable_curtail_kw(), f.curtail_kw);
      put(o->mutable_defer_kw(), f.defer_kw);
      put(o->mutable_recover_kw(), f.recover_kw);
      put(o->mutable_backlog_kwh(), f.backlog_kwh);
    }
  }
  for (const auto& id : p.excluded_sites) r.add_excluded_sites(id);
  put(r.mutable_fleet_import_kw(), p.fleet_import_kw);
  for (const auto& c : p.fleet_cap_kw) r.mutable_fleet_cap_kw()->add_v(c ? *c : std::numeric_limits<double>::quiet_NaN());
  put(r.mutable_shortfall_kw(), p.shortfall_kw);
  put(r.mutable_coordination_price_per_kwh(), p.coordination_price_per_kwh);
  r.set_objective_total(p.objective.total);
  r.set_solver(p.stats.solver);
  return r;
}

Result<std::shared_ptr<const optimizer::Plan>> plan_from_record(const pb::PlanRecord& r) {
  auto p = std::make_shared<optimizer::Plan>();
  const int T = r.steps();
  if (T <= 0 || r.step_ms() <= 0) return Error{"plan without a horizon"};
  p->horizon = {from_unix_ms(r.start_ms()), Duration(r.step_ms()), T};
  std::string err;
  auto take = [&](const pb::PlanSeries& in, std::vector<double>& out, const std::string& what) {
    if (!err.empty()) return;
    auto v = series(in, T, what);
    if (v) {
      out = std::move(*v);
    } else {
      err = v.error();
    }
  };
  for (const auto& s : r.sites()) {
    optimizer::SitePlan sp;
    sp.id = s.id();
    take(s.import_kw(), sp.import_kw, s.id() + " import_kw");
    for (const auto& b : s.batteries()) {
      optimizer::BatteryPlan o;
      o.id = b.id();
      const std::string at = s.id() + "/" + b.id();
      take(b.p_kw(), o.p_kw, at + " p_kw");
      take(b.charge_kw(), o.charge_kw, at + " charge_kw");
      take(b.discharge_kw(), o.discharge_kw, at + " discharge_kw");
      take(b.soc_kwh(), o.soc_kwh, at + " soc_kwh");
      sp.batteries.push_back(std::move(o));
    }
    for (const auto& v : s.pv()) {
      optimizer::PvPlan o;
      o.id = v.id();
      take(v.limit_kw(), o.limit_kw, s.id() + "/" + v.id() + " limit_kw");
      sp.pv.push_back(std::move(o));
    }
    for (const auto& h : s.hvac()) {
      optimizer::HvacPlan o;
      o.id = h.id();
      take(h.electric_kw(), o.electric_kw, s.id() + "/" + h.id() + " electric_kw");
      take(h.temp_c(), o.temp_c, s.id() + "/" + h.id() + " temp_c");
      sp.hvac.push_back(std::move(o));
    }
    for (const auto& f : s.flexible()) {
      optimizer::FlexPlan o;
      o.id = f.id();
      const std::string at = s.id() + "/" + f.id();
      take(f.curtail_kw(), o.curtail_kw, at + " curtail_kw");
      take(f.defer_kw(), o.defer_kw, at + " defer_kw");
      take(f.recover_kw(), o.recover_kw, at + " recover_kw");
      take(f.backlog_kwh(), o.backlog_kwh, at + " backlog_kwh");
      sp.flexible.push_back(std::move(o));
    }
    p->sites.push_back(std::move(sp));
  }
  p->excluded_sites.assign(r.excluded_sites().begin(), r.excluded_sites().end());
  take(r.fleet_import_kw(), p->fleet_import_kw, "fleet_import_kw");
  std::vector<double> caps;
  take(r.fleet_cap_kw(), caps, "fleet_cap_kw");
  for (double c : caps) p->fleet_cap_kw.push_back(std::isnan(c) ? std::nullopt : std::optional<double>(c));
  take(r.shortfall_kw(), p->shortfall_kw, "shortfall_kw");
  take(r.coordination_price_per_kwh(), p->coordination_price_per_kwh, "coordination_price_per_kwh");
  if (!err.empty()) return Error{err};
  p->objective.total = r.objective_total();
  p->stats.solver = r.solver();
  return std::shared_ptr<const optimizer::Plan>(std::move(p));
}

pb::CoreOutputRecord to_record(const Output& out, TimePoint t) {
  pb::CoreOutputRecord r;
  r.set_time_ms(to_unix_ms(t));
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Command>) {
          *r.mutable_command() = to_proto(x);
        } else if constexpr (std::is_same_v<T, SolveRequest>) {
          auto* s = r.mutable_solve_request();
          s->set_id(x.id);
          s->set_group(x.group);
          s->set_reason(x.reason);
          s->set_sites(x.problem ? static_cast<int>(x.problem->sites.size()) : 0);
          if (x.problem) s->set_problem_digest(digest(*x.problem));
        } else if constexpr (std::is_same_v<T, EventTransition>) {
          auto* e = r.mutable_transition();
          e->set_event_id(x.event_id);
          if (x.from) e->set_from(std::string(to_string(*x.from)));
          e->set_to(std::string(to_string(x.to)));
          e->set_reason(x.reason);
        } else if constexpr (std::is_same_v<T, EventReport>) {
          auto* e = r.mutable_report();
          e->set_event_id(x.event_id);
          e->set_final(x.final);
          for (const auto& i : x.fleet) settlement(e->add_fleet(), i);
          for (const auto& [site, v] : x.sites) {
            auto* s = e->add_sites();
            s->set_site_id(site);
            for (const auto& i : v) settlement(s->add_intervals(), i);
          }
          e->set_requested_kwh(x.requested_kwh);
          e->set_delivered_kwh(x.delivered_kwh);
          e->set_min_interval_ratio(x.min_interval_ratio);
          e->set_baseline_method(x.baseline_method);
          for (const auto& n : x.notes) e->add_notes(n);
        } else if constexpr (std::is_same_v<T, Alarm>) {
          auto* a = r.mutable_alarm();
          a->set_severity(std::string(to_string(x.severity)));
          a->set_code(x.code);
          a->set_subject(x.subject);
          a->set_message(x.message);
        } else if constexpr (std::is_same_v<T, LeaseChange>) {
          auto* l = r.mutable_lease_change();
          l->set_asset(x.asset_key);
          if (x.before) *l->mutable_before() = lease_record(*x.before);
          if (x.after) *l->mutable_after() = lease_record(*x.after);
          l->set_reason(x.reason);
        } else if constexpr (std::is_same_v<T, AssetStatus>) {
          auto* a = r.mutable_asset_status();
          a->set_site_id(x.site_id);
          a->set_asset_id(x.asset_id);
          a->set_online(x.online);
          a->set_reason(x.reason);
        }
      },
      out);
  return r;
}

DelimitedWriter::DelimitedWriter(const std::string& path) : path_(path), out_(path, std::ios::binary | std::ios::trunc) {}

void DelimitedWriter::write(const google::protobuf::MessageLite& m) {
  google::protobuf::util::SerializeDelimitedToOstream(m, &out_);
}

struct DelimitedReader::Impl {
  std::ifstream in;
  std::unique_ptr<google::protobuf::io::IstreamInputStream> stream;
};

DelimitedReader::DelimitedReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->in.open(path, std::ios::binary);
  opened_ = static_cast<bool>(impl_->in);
  if (opened_) impl_->stream = std::make_unique<google::protobuf::io::IstreamInputStream>(&impl_->in);
  if (!opened_) error_ = "cannot read " + path;
}

DelimitedReader::~DelimitedReader() = default;

bool DelimitedReader::next(google::protobuf::MessageLite& m) {
  if (!opened_ || !error_.empty()) return false;
  m.Clear();  // protobuf's delimited parse merges into the message
  bool clean_eof = false;
  if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&m, impl_->stream.get(), &clean_eof)) {
    if (!clean_eof) error_ = "corrupt or truncated message after " + std::to_string(count_) + " messages";
    return false;
  }
  ++count_;
  return true;
}

std::vector<Output> RecordingCore::handle(const Input& in, TimePoint now) {
  if (inputs_) inputs_->write(to_record(in, now));
  auto out = core_.handle(in, now);
  if (outputs_) {
    for (const auto& o : out) outputs_->write(to_record(o, now));
  }
  return out;
}

}  // namespace vpp::sim
