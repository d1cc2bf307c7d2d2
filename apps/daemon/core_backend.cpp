#include "apps/daemon/core_backend.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "adapters/http/views.hpp"
#include "proto/convert.hpp"

namespace vpp::daemon {

using controller::EventState;
using http::ApiError;

std::optional<std::string> refusal(const std::vector<controller::Output>& outs, std::string_view code,
                                   std::string_view subject) {
  for (const auto& o : outs) {
    if (const auto* a = std::get_if<controller::Alarm>(&o); a && a->code == code && a->subject == subject) {
      return a->message;
    }
  }
  return std::nullopt;
}

CoreBackend::CoreBackend(CoreDriver& driver, const Clock& clock, BackendOptions options)
    : driver_(driver), clock_(clock), options_(std::move(options)) {}

controller::SiteIndex CoreBackend::enrolled(const std::string& id) const {
  const auto& fleet = driver_.core().fleet();
  const auto si = fleet.find_site(id);
  return si != controller::kNone && fleet.site(si).enrolled ? si : controller::kNone;
}

void CoreBackend::changed() {
  if (options_.fleet_changed) options_.fleet_changed();
}

// ------------------------------------------------------------------------------------ events

std::optional<http::ReportView> CoreBackend::live_report(const std::string& id, TimePoint now) const {
  const auto* rec = driver_.core().events().find(id);
  if (!rec) return std::nullopt;
  http::ReportView v;
  v.event_id = id;
  v.interval = driver_.core().settings().interval;
  const bool ended = rec->state == EventState::completed || rec->state == EventState::cancelled;
  const auto r = driver_.core().report(id, now);
  if (!r) {
    v.final = ended || rec->state == EventState::rejected;
    v.notes.push_back(rec->state == EventState::rejected ? "the event was rejected"
                                                          : "no interval settled yet: the event has not started");
    return v;
  }
  v.final = ended && now >= rec->ended_at + kSettlementGrace;
  v.fleet = r->fleet;
  for (const auto& [site, rows] : r->sites) v.sites.emplace_back(site, rows);
  v.requested_kwh = r->requested_kwh;
  v.delivered_kwh = r->delivered_kwh;
  v.min_interval_ratio = r->min_interval_ratio;
  v.baseline_method = r->baseline_method;
  v.notes = r->notes;
  if (v.fleet.empty()) v.notes.push_back("no interval settled yet");
  return v;
}

http::EventView CoreBackend::view(const controller::EventRecord& r, TimePoint now) const {
  http::EventView v;
  v.record = r;
  v.transitions = driver_.transitions(r.event.event_id);
  if (const auto rep = driver_.core().report(r.event.event_id, now); rep && !rep->fleet.empty()) {
    http::EventDelivery d;
    const auto& last = rep->fleet.back();
    d.as_of = last.start + driver_.core().settings().interval;
    d.requested_kw = last.requested_kw;
    d.baseline_kw = last.baseline_kw;
    d.metered_kw = last.metered_kw;
    d.delivered_kw = last.delivered_kw;
    d.requested_kwh = rep->requested_kwh;
    d.delivered_kwh = rep->delivered_kwh;
    v.delivery = d;
  }
  return v;
}

http::ApiResult<http::EventView> CoreBackend::create_event(const CurtailmentEvent& e) {
  const TimePoint now = clock_.now();
  if (const auto* r = driver_.core().events().find(e.event_id)) {
    return ApiError{409, "event " + e.event_id + " exists (" + std::string(controller::to_string(r->state)) +
                             "); use PATCH to modify it", "eventId"};
  }
  for (std::size_t i = 0; i < e.site_ids.size(); ++i) {
    if (enrolled(e.site_ids[i]) == controller::kNone) {
      return ApiError{422, "site " + e.site_ids[i] + " is not enrolled", "siteIds[" + std::to_string(i) + "]"};
    }
  }
  const auto outs = driver_.signal(GridSignal{now, "api", e}, now);
  const auto* rec = driver_.core().events().find(e.event_id);
  if (!rec) return ApiError{422, refusal(outs, "event_refused", e.event_id).value_or("the controller refused the event"), ""};
  if (rec->state == EventState::rejected) {
    const auto& ts = driver_.transitions(e.event_id);
    return ApiError{422, ts.empty() ? "the event was rejected" : ts.back().reason, ""};
  }
  return view(*rec, now);
}

http::ApiResult<http::EventView> CoreBackend::modify_event(const CurtailmentEvent& e) {
  const TimePoint now = clock_.now();
  if (!driver_.core().events().find(e.event_id)) return ApiError{404, "unknown event " + e.event_id, ""};
  for (std::size_t i = 0; i < e.site_ids.size(); ++i) {
    if (enrolled(e.site_ids[i]) == controller::kNone) {
      return ApiError{422, "site " + e.site_ids[i] + " is not enrolled", "siteIds[" + std::to_string(i) + "]"};
    }
  }
  const auto outs = driver_.signal(GridSignal{now, "api", e}, now);
  if (auto why = refusal(outs, "event_refused", e.event_id)) return ApiError{409, *why, ""};
  return view(*driver_.core().events().find(e.event_id), now);
}

http::ApiResult<http::EventView> CoreBackend::cancel_event(const std::string& id, const std::string& reason) {
  const TimePoint now = clock_.now();
  if (!driver_.core().events().find(id)) return ApiError{404, "unknown event " + id, ""};
  // The core writes "cancelled by <source>"; the API's reason usually starts the same way.
  std::string source = reason;
  if (source.starts_with("cancelled by ")) source.erase(0, 13);
  const auto outs = driver_.signal(GridSignal{now, source.empty() ? "api" : source, CancelEvent{id}}, now);
  if (auto why = refusal(outs, "cancel_refused", id)) return ApiError{409, *why, ""};
  return view(*driver_.core().events().find(id), now);
}

std::vector<http::EventView> CoreBackend::list_events() {
  const TimePoint now = clock_.now();
  std::vector<http::EventView> out;
  for (const auto& [id, r] : driver_.core().events().all()) out.push_back(view(r, now));
  return out;
}

http::ApiResult<http::EventView> CoreBackend::event(const std::string& id) {
  const auto* r = driver_.core().events().find(id);
  if (!r) return ApiError{404, "unknown event " + id, ""};
  return view(*r, clock_.now());
}

http::ApiResult<http::ReportView> CoreBackend::report(const std::string& id) {
  const TimePoint now = clock_.now();
  auto live = live_report(id, now);
  if (live && !live->fleet.empty()) return *live;
  // An event that had ended before the last restart (the core settles only what it metered
  // itself): its settlement as it was persisted.
  auto* store = driver_.store();
  const auto rows = store ? store->settlements(id) : std::vector<store::SettlementRow>{};
  if (rows.empty()) {
    if (live) return *live;
    return ApiError{404, "unknown event " + id, ""};
  }
  http::ReportView v;
  v.event_id = id;
  v.interval = driver_.core().settings().interval;
  const auto ts = store->transitions(id);
  v.final = !ts.empty() && (ts.back().to == EventState::completed || ts.back().to == EventState::cancelled);
  const auto baselines = store->baselines(id);
  if (!baselines.empty()) v.baseline_method = baselines.front().method;
  const double h = to_seconds(v.interval) / 3600.0;
  bool first = true;
  for (const auto& row : rows) {
    if (row.site_id.empty()) {
      v.fleet.push_back(row.interval);
      v.requested_kwh += row.interval.requested_kw * h;
      v.delivered_kwh += row.interval.delivered_kw * h;
      if (row.interval.requested_kw > 0) {
        v.min_interval_ratio = first ? row.interval.ratio : std::min(v.min_interval_ratio, row.interval.ratio);
        first = false;
      }
    } else {
      if (v.sites.empty() || v.sites.back().first != row.site_id) v.sites.emplace_back(row.site_id, std::vector<controller::SettlementInterval>{});
      v.sites.back().second.push_back(row.interval);
    }
  }
  v.notes.push_back("as settled before vppd's last restart (from the store)");
  return v;
}

http::ApiResult<http::Done> CoreBackend::put_prices(const PriceSeries& p) {
  const TimePoint now = clock_.now();
  driver_.signal(GridSignal{now, "api", p}, now);
  return http::Done{};
}

http::ApiResult<http::Done> CoreBackend::put_carbon(const CarbonSeries& c) {
  const TimePoint now = clock_.now();
  driver_.signal(GridSignal{now, "api", c}, now);
  return http::Done{};
}

// ------------------------------------------------------------------------------------- sites

http::SiteView CoreBackend::site_view(controller::SiteIndex si) const {
  const auto& fleet = driver_.core().fleet();
  const auto& s = fleet.site(si);
  http::SiteView v;
  v.site = s.site;
  if (const auto it = driver_.site_times().find(s.site.id); it != driver_.site_times().end()) {
    v.enrolled_at = it->second.enrolled_at;
    v.updated_at = it->second.updated_at;
  }
  for (auto ai : s.assets) v.assets_online += fleet.asset(ai).online ? 1 : 0;
  return v;
}

http::ApiResult<http::SiteView> CoreBackend::enrol(const Site& s) {
  if (enrolled(s.id) != controller::kNone) return ApiError{409, "site " + s.id + " is already enrolled; use PATCH", "siteId"};
  const TimePoint now = clock_.now();
  driver_.feed(controller::EnrolSite{s}, now);
  driver_.set_site_times(s.id, {now, now});
  if (auto* store = driver_.store()) store->save_site(s, now, now);
  changed();
  return site_view(enrolled(s.id));
}

http::ApiResult<http::SiteView> CoreBackend::site(const std::string& id) {
  const auto si = enrolled(id);
  if (si == controller::kNone) return ApiError{404, "site " + id + " is not enrolled", ""};
  return site_view(si);
}

http::ApiResult<http::SiteView> CoreBackend::update_site(const std::string& id, const http::SiteLimitsPatch& patch) {
  const auto si = enrolled(id);
  if (si == controller::kNone) return ApiError{404, "site " + id + " is not enrolled", ""};
  const TimePoint now = clock_.now();
  Site s = driver_.core().fleet().site(si).site;
  if (options_.as_enrolled) s = options_.as_enrolled(s);
  s.limits = patch.applied_to(s.limits);
  // Re-enrolment with the same assets keeps their state (controller/fleet.hpp).
  driver_.feed(controller::EnrolSite{s}, now);
  SiteTimes t{now, now};
  if (const auto it = driver_.site_times().find(id); it != driver_.site_times().end()) t.enrolled_at = it->second.enrolled_at;
  driver_.set_site_times(id, t);
  if (auto* store = driver_.store()) store->save_site(s, t.enrolled_at, t.updated_at);
  return site_view(si);
}

http::ApiResult<http::Done> CoreBackend::unenrol(const std::string& id) {
  if (enrolled(id) == controller::kNone) return ApiError{404, "site " + id + " is not enrolled", ""};
  const TimePoint now = clock_.now();
  driver_.feed(controller::UnenrolSite{id}, now);
  driver_.forget_site_times(id);
  if (auto* store = driver_.store()) store->remove_site(id, now);
  changed();
  return http::Done{};
}

http::ApiResult<http::EventView> CoreBackend::opt_out(const std::string& event_id, const std::string& site_id,
                                                      const std::string& reason) {
  if (!driver_.core().events().find(event_id)) return ApiError{404, "unknown event " + event_id, ""};
  if (enrolled(site_id) == controller::kNone) return ApiError{404, "site " + site_id + " is not enrolled", "siteId"};
  const TimePoint now = clock_.now();
  const auto outs = driver_.feed(controller::OptOut{event_id, site_id}, now);
  if (auto why = refusal(outs, "opt_out_refused", event_id)) return ApiError{409, *why, "siteId"};
  const auto* rec = driver_.core().events().find(event_id);
  if (auto* store = driver_.store()) {
    store->add_opt_out(event_id, site_id, now, reason);
    store->save_event(*rec, now);
  }
  return view(*rec, now);
}

http::ApiResult<std::vector<http::CommandRecord>> CoreBackend::site_commands(const std::string& id, std::size_t limit) {
  if (enrolled(id) == controller::kNone) return ApiError{404, "site " + id + " is not enrolled", ""};
  std::vector<http::CommandRecord> out;
  auto* store = driver_.store();
  if (!store) return out;
  // The audit log as committed: the writer commits within milliseconds of a command.
  for (auto& sc : store->commands(id, limit)) {
    http::CommandRecord r;
    r.command = std::move(sc.command);
    r.ack = sc.ack_status == "accepted"   ? http::AckState::accepted
            : sc.ack_status == "rejected" ? http::AckState::rejected
            : sc.ack_status == "expired"  ? http::AckState::expired
                                          : http::AckState::pending;
    r.ack_time = sc.ack_time;
    r.ack_detail = sc.ack_detail;
    vpp::v1::CommandContext ctx;
    if (parse_json(sc.context_json, ctx)) r.context = http::from_proto(ctx);
    if (r.context.explanation.empty()) r.context.explanation = r.command.reason;
    out.push_back(std::move(r));
  }
  return out;
}

// ------------------------------------------------------------------------------------- fleet

namespace {

bool available(const SiteLimits& l, TimePoint t, int utc_offset_minutes) {
  if (l.availability.empty()) return true;
  const auto local = t + std::chrono::minutes(utc_offset_minutes);
  const auto day = std::chrono::floor<std::chrono::days>(local);
  const int minute = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
  const int iso = static_cast<int>(std::chrono::weekday(std::chrono::sys_days(day)).iso_encoding());
  for (const auto& w : l.availability) {
    if (std::find(w.days_of_week.begin(), w.days_of_week.end(), iso) != w.days_of_week.end() && minute >= w.start_minute &&
        minute < w.end_minute) {
      return true;
    }
  }
  return false;
}

template <typename V>
const V* by_id(const std::vector<V>& v, const std::string& id) {
  for (const auto& x : v) {
    if (x.id == id) return &x;
  }
  return nullptr;
}

double at(const std::vector<double>& v, std::ptrdiff_t k, double fallback) {
  return k >= 0 && k < static_cast<std::ptrdiff_t>(v.size()) ? v[static_cast<std::size_t>(k)] : fallback;
}

}  // namespace

http::FleetView CoreBackend::fleet() {
  const auto& core = driver_.core();
  const auto& fleet = core.fleet();
  const auto& s = core.settings();
  const TimePoint now = clock_.now();
  http::FleetView f;
  f.as_of = now;
  f.interval = s.interval;
  for (controller::SiteIndex si = 0; si < fleet.sites().size(); ++si) {
    const auto& site = fleet.site(si);
    if (!site.enrolled) continue;
    ++f.sites;
    for (auto ai : site.assets) {
      const auto& a = fleet.asset(ai);
      http::AssetState st{site.site.id, a.asset.id, a.asset.kind(), a.online, ""};
      if (!a.online) {
        const auto note = driver_.status(site.site.id, a.asset.id);
        st.reason = note && !note->online ? note->reason
                    : !a.gated_reason.empty() ? a.gated_reason
                    : a.last ? "no accepted telemetry recently"
                             : "no telemetry yet";
      }
      ++f.assets;
      f.assets_online += a.online ? 1 : 0;
      f.asset_states.push_back(std::move(st));
    }
  }
  // Flexibility ahead: what each online asset could still move away from its plan, per interval.
  const std::int64_t step = s.interval.count();
  const std::int64_t local = to_unix_ms(now) + static_cast<std::int64_t>(s.utc_offset_minutes) * 60'000;
  const TimePoint start = from_unix_ms(to_unix_ms(now) - ((local % step) + step) % step);
  const double h = to_seconds(s.interval) / 3600.0;
  f.flexibility.resize(static_cast<std::size_t>(std::max(0, options_.flexibility_steps)));
  for (std::size_t k = 0; k < f.flexibility.size(); ++k) f.flexibility[k].start = start + s.interval * static_cast<std::int64_t>(k);
  // Sites of each adopted plan by id (a plan of a large fleet has thousands).
  struct PlanIndex {
    std::unordered_map<std::string_view, const optimizer::SitePlan*> plan;
    std::unordered_map<std::string_view, const optimizer::SiteProblem*> problem;
    std::ptrdiff_t offset = 0;
  };
  std::map<std::string, PlanIndex> indexed;
  auto index_of = [&](const std::string& group) -> const PlanIndex* {
    const auto it = driver_.plans().find(group);
    if (it == driver_.plans().end() || !it->second.plan || !it->second.problem) return nullptr;
    auto [ix, fresh] = indexed.try_emplace(group);
    if (fresh) {
      for (const auto& x : it->second.plan->sites) ix->second.plan.emplace(x.id, &x);
      for (const auto& x : it->second.problem->sites) ix->second.problem.emplace(x.id, &x);
      ix->second.offset = static_cast<std::ptrdiff_t>((start - it->second.plan->horizon.start) / s.interval);
    }
    return &ix->second;
  };
  for (controller::SiteIndex si = 0; si < fleet.sites().size(); ++si) {
    const auto& site = fleet.site(si);
    if (!site.enrolled) continue;
    // The plan the site follows, and where in it each interval falls.
    const optimizer::SitePlan* sp = nullptr;
    const optimizer::SiteProblem* pp = nullptr;
    std::ptrdiff_t offset = 0;
    if (const auto* g = driver_.group_of(site.site.id)) {
      if (const auto* ix = index_of(*g)) {
        if (const auto a = ix->plan.find(site.site.id); a != ix->plan.end()) sp = a->second;
        if (const auto b = ix->problem.find(site.site.id); b != ix->problem.end()) pp = b->second;
        offset = ix->offset;
      }
    }
    const auto& lim = site.site.limits;
    const double site_share = lim.max_curtailment_pct / 100.0;
    for (std::size_t k = 0; k < f.flexibility.size(); ++k) {
      auto& x = f.flexibility[k];
      if (!available(lim, x.start, s.utc_offset_minutes)) continue;
      const std::ptrdiff_t pk = sp ? offset + static_cast<std::ptrdiff_t>(k) : -1;
      for (auto ai : site.assets) {
        const auto& a = fleet.asset(ai);
        if (!a.online || !a.last) continue;
        const double p_now = std::isnan(a.last->p_kw) ? 0 : a.last->p_kw;
        if (const auto* b = a.asset.get<BatterySpec>()) {
          if (std::isnan(a.last->soc_pct)) continue;
          const auto* bp = sp ? by_id(sp->batteries, a.asset.id) : nullptr;
          const double p = bp ? at(bp->p_kw, pk, 0) : 0;
          // State of charge at the start of the interval: the plan's, else now's.
          double soc = a.last->soc_pct / 100 * b->capacity_kwh;
          if (bp && pk > 0) soc = at(bp->soc_kwh, pk - 1, soc);
          const double floor_kwh = std::max(lim.battery_reserve_pct, b->soc_min_pct) / 100 * b->capacity_kwh;
          const double ceil_kwh = b->soc_max_pct / 100 * b->capacity_kwh;
          const double discharge = std::min(b->max_discharge_kw, std::max(0.0, soc - floor_kwh) * b->discharge_efficiency / h);
          const double charge = std::min(b->max_charge_kw, std::max(0.0, ceil_kwh - soc) / b->charge_efficiency / h);
          x.up_kw += std::max(0.0, discharge - p);
          x.down_kw += std::max(0.0, charge + p);
        } else if (const auto* pv = a.asset.get<PvSpec>()) {
          const auto* pvp = sp ? by_id(sp->pv, a.asset.id) : nullptr;
          const auto* pvf = pp ? by_id(pp->pv, a.asset.id) : nullptr;
          const double used = pvp ? at(pvp->limit_kw, pk, p_now) : std::max(0.0, p_now);
          const double can = pvf ? at(pvf->forecast_kw, pk, used) : used;
          x.down_kw += std::clamp(used, 0.0, pv->rated_kw);   // curtailing generation raises import
          x.up_kw += std::max(0.0, can - used);               // releasing a curtailment lowers it
        } else if (a.asset.get<HvacZoneSpec>()) {
          const auto* hp = sp ? by_id(sp->hvac, a.asset.id) : nullptr;
          x.up_kw += std::max(0.0, hp ? at(hp->electric_kw, pk, p_now) : p_now) * site_share;
        } else if (const auto* fl = a.asset.get<FlexibleLoadSpec>()) {
          const auto* fp = sp ? by_id(sp->flexible, a.asset.id) : nullptr;
          const auto* ff = pp ? by_id(pp->flexible, a.asset.id) : nullptr;
          const double share = std::min(fl->max_curtail_pct / 100.0, site_share > 0 ? site_share : 1.0);
          const double power = ff ? at(ff->power_kw, pk, p_now) : p_now;
          const double curtailed = fp ? at(fp->curtail_kw, pk, 0) : 0;
          x.up_kw += std::max(0.0, power * share - curtailed);
          x.down_kw += std::max(0.0, curtailed);
        } else if (const auto* ev = a.asset.get<EvChargerSpec>()) {
          x.up_kw += std::max(0.0, p_now + ev->max_discharge_kw);
          x.down_kw += std::max(0.0, ev->max_charge_kw - p_now);
        }
      }
    }
  }
  return f;
}

}  // namespace vpp::daemon
