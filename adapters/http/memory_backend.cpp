#include "adapters/http/memory_backend.hpp"

#include <algorithm>

namespace vpp::http {

InMemoryBackend::InMemoryBackend(const Clock& clock, store::Store* store, MemoryBackendOptions options)
    : clock_(clock), store_(store), options_(options) {}

void InMemoryBackend::restore(const store::Restored& r) {
  for (const auto& s : r.sites) sites_[s.site.id] = SiteView{s.site, s.enrolled_at, s.updated_at, 0};
  for (const auto& e : r.events) {
    // EventBook has no way to load a record in a given state, so the definition is replayed at
    // an instant that yields the stored state (the start for an active event, just before it
    // otherwise); the replay's own transitions are dropped in favour of the stored history.
    // advance() below then records what really happened while the process was down.
    const auto& ev = e.record.event;
    const TimePoint at = e.record.state == controller::EventState::active ? ev.start : ev.start - Duration{1};
    (void)book_.receive(ev, at);
    for (const auto& site : e.record.opted_out) (void)book_.opt_out(ev.event_id, site);
    transitions_[ev.event_id] = e.transitions;
  }
  advance();
}

void InMemoryBackend::record(const std::vector<controller::EventTransition>& ts) {
  std::set<std::string> touched;
  for (const auto& t : ts) {
    transitions_[t.event_id].push_back(t);
    if (store_) store_->add_transition(t);
    touched.insert(t.event_id);
  }
  for (const auto& id : touched) persist_event(id);
}

void InMemoryBackend::persist_event(const std::string& id) {
  if (!store_) return;
  if (const auto* r = book_.find(id)) store_->save_event(*r, clock_.now());
}

void InMemoryBackend::advance() { record(book_.advance(clock_.now())); }

EventView InMemoryBackend::view(const controller::EventRecord& r) const {
  EventView v;
  v.record = r;
  if (auto it = transitions_.find(r.event.event_id); it != transitions_.end()) v.transitions = it->second;
  // Live delivery: the fleet's latest settled interval and the totals so far.
  if (auto it = settlement_.find(r.event.event_id); it != settlement_.end()) {
    std::map<TimePoint, controller::SettlementInterval> fleet;
    for (const auto& [site, rows] : it->second) {
      for (const auto& [t, row] : rows) {
        auto& f = fleet[t];
        f.start = t;
        f.requested_kw += row.requested_kw;
        f.baseline_kw += row.baseline_kw;
        f.metered_kw += row.metered_kw;
        f.delivered_kw += row.delivered_kw;
      }
    }
    if (!fleet.empty()) {
      const double h = to_seconds(options_.interval) / 3600.0;
      EventDelivery d;
      const auto& last = fleet.rbegin()->second;
      d.as_of = last.start + options_.interval;
      d.requested_kw = last.requested_kw;
      d.baseline_kw = last.baseline_kw;
      d.metered_kw = last.metered_kw;
      d.delivered_kw = last.delivered_kw;
      for (const auto& [t, f] : fleet) {
        d.requested_kwh += f.requested_kw * h;
        d.delivered_kwh += f.delivered_kw * h;
      }
      v.delivery = d;
    }
  }
  return v;
}

ApiResult<EventView> InMemoryBackend::create_event(const CurtailmentEvent& e) {
  advance();
  if (const auto* r = book_.find(e.event_id)) {
    return ApiError{409, "event " + e.event_id + " exists (" + std::string(controller::to_string(r->state)) +
                             "); use PATCH to modify it", "eventId"};
  }
  for (std::size_t i = 0; i < e.site_ids.size(); ++i) {
    if (!sites_.count(e.site_ids[i])) {
      return ApiError{422, "site " + e.site_ids[i] + " is not enrolled", "siteIds[" + std::to_string(i) + "]"};
    }
  }
  auto res = book_.receive(e, clock_.now());
  record(res.transitions);
  if (!res.error.empty()) return ApiError{422, res.error, ""};
  return view(*book_.find(e.event_id));
}

ApiResult<EventView> InMemoryBackend::modify_event(const CurtailmentEvent& e) {
  advance();
  if (!book_.find(e.event_id)) return ApiError{404, "unknown event " + e.event_id, ""};
  auto res = book_.receive(e, clock_.now());
  record(res.transitions);
  if (!res.error.empty()) return ApiError{409, res.error, ""};
  return view(*book_.find(e.event_id));
}

ApiResult<EventView> InMemoryBackend::cancel_event(const std::string& id, const std::string& reason) {
  advance();
  if (!book_.find(id)) return ApiError{404, "unknown event " + id, ""};
  auto res = book_.cancel(id, clock_.now(), reason);
  record(res.transitions);
  if (!res.error.empty()) return ApiError{409, res.error, ""};
  return view(*book_.find(id));
}

std::vector<EventView> InMemoryBackend::list_events() {
  advance();
  std::vector<EventView> out;
  for (const auto& [id, r] : book_.all()) out.push_back(view(r));
  return out;
}

ApiResult<EventView> InMemoryBackend::event(const std::string& id) {
  advance();
  const auto* r = book_.find(id);
  if (!r) return ApiError{404, "unknown event " + id, ""};
  return view(*r);
}

ApiResult<ReportView> InMemoryBackend::report(const std::string& id) {
  advance();
  const auto* rec = book_.find(id);
  if (!rec) return ApiError{404, "unknown event " + id, ""};
  ReportView r;
  r.event_id = id;
  r.final = rec->state == controller::EventState::completed || rec->state == controller::EventState::cancelled;
  r.interval = options_.interval;
  r.baseline_method = "as settled by the caller (in-memory backend)";
  const double h = to_seconds(options_.interval) / 3600.0;
  std::map<TimePoint, controller::SettlementInterval> fleet;
  bool first = true;
  if (auto it = settlement_.find(id); it != settlement_.end()) {
    for (const auto& [site, rows] : it->second) {
      auto& out = r.sites.emplace_back(site, std::vector<controller::SettlementInterval>{}).second;
      for (const auto& [t, row] : rows) {
        out.push_back(row);
        auto& f = fleet[t];
        f.start = t;
        f.requested_kw += row.requested_kw;
        f.baseline_kw += row.baseline_kw;
        f.metered_kw += row.metered_kw;
        f.delivered_kw += row.delivered_kw;
      }
    }
  }
  for (auto& [t, f] : fleet) {
    f.ratio = f.requested_kw > 0 ? f.delivered_kw / f.requested_kw : 0;
    r.requested_kwh += f.requested_kw * h;
    r.delivered_kwh += f.delivered_kw * h;
    if (f.requested_kw > 0) {
      r.min_interval_ratio = first ? f.ratio : std::min(r.min_interval_ratio, f.ratio);
      first = false;
    }
    r.fleet.push_back(f);
  }
  if (fleet.empty()) r.notes.push_back("no interval settled yet");
  return r;
}

ApiResult<Done> InMemoryBackend::put_prices(const PriceSeries& p) {
  prices_ = p;
  return Done{};
}

ApiResult<Done> InMemoryBackend::put_carbon(const CarbonSeries& c) {
  carbon_ = c;
  return Done{};
}

SiteView InMemoryBackend::site_view(const SiteView& s) const {
  SiteView v = s;
  v.assets_online = 0;
  for (const auto& a : s.site.assets) {
    auto it = online_.find({s.site.id, a.id});
    if (it == online_.end() || it->second.first) ++v.assets_online;
  }
  return v;
}

ApiResult<SiteView> InMemoryBackend::enrol(const Site& s) {
  if (sites_.count(s.id)) return ApiError{409, "site " + s.id + " is already enrolled; use PATCH", "siteId"};
  const TimePoint now = clock_.now();
  sites_[s.id] = SiteView{s, now, now, 0};
  if (store_) store_->save_site(s, now, now);
  return site_view(sites_[s.id]);
}

ApiResult<SiteView> InMemoryBackend::site(const std::string& id) {
  auto it = sites_.find(id);
  if (it == sites_.end()) return ApiError{404, "site " + id + " is not enrolled", ""};
  return site_view(it->second);
}

ApiResult<SiteView> InMemoryBackend::update_site(const std::string& id, const SiteLimitsPatch& patch) {
  auto it = sites_.find(id);
  if (it == sites_.end()) return ApiError{404, "site " + id + " is not enrolled", ""};
  it->second.site.limits = patch.applied_to(it->second.site.limits);
  it->second.updated_at = clock_.now();
  if (store_) store_->save_site(it->second.site, it->second.enrolled_at, it->second.updated_at);
  return site_view(it->second);
}

ApiResult<Done> InMemoryBackend::unenrol(const std::string& id) {
  auto it = sites_.find(id);
  if (it == sites_.end()) return ApiError{404, "site " + id + " is not enrolled", ""};
  sites_.erase(it);
  std::erase_if(online_, [&](const auto& kv) { return kv.first.first == id; });
  if (store_) store_->remove_site(id, clock_.now());
  return Done{};
}

ApiResult<EventView> InMemoryBackend::opt_out(const std::string& event_id, const std::string& site_id,
                                              const std::string& reason) {
  advance();
  if (!book_.find(event_id)) return ApiError{404, "unknown event " + event_id, ""};
  if (!sites_.count(site_id)) return ApiError{404, "site " + site_id + " is not enrolled", "siteId"};
  if (auto why = book_.opt_out(event_id, site_id)) return ApiError{409, *why, "siteId"};
  if (store_) {
    store_->add_opt_out(event_id, site_id, clock_.now(), reason);
    persist_event(event_id);
  }
  return view(*book_.find(event_id));
}

ApiResult<std::vector<CommandRecord>> InMemoryBackend::site_commands(const std::string& id, std::size_t limit) {
  if (!sites_.count(id)) return ApiError{404, "site " + id + " is not enrolled", ""};
  std::vector<CommandRecord> out;
  auto it = commands_.find(id);
  if (it == commands_.end()) return out;
  for (auto r = it->second.rbegin(); r != it->second.rend() && out.size() < limit; ++r) out.push_back(*r);
  return out;
}

void InMemoryBackend::record_command(const CommandRecord& c) {
  auto& log = commands_[c.command.site_id];
  log.push_back(c);
  if (log.size() > options_.max_commands_per_site) log.erase(log.begin());
  if (store_) {
    std::string ctx = "{\"eventId\":\"" + c.context.event_id + "\",\"planId\":\"" + c.context.plan_id +
                      "\",\"group\":\"" + c.context.group + "\"}";
    store_->log_command(c.command, ctx);
  }
}

void InMemoryBackend::record_ack(const CommandAck& a) {
  auto it = commands_.find(a.site_id);
  if (it == commands_.end()) return;
  for (auto& c : it->second) {
    if (c.command.command_id != a.command_id) continue;
    c.ack = a.status == AckStatus::accepted  ? AckState::accepted
            : a.status == AckStatus::rejected ? AckState::rejected
            : a.status == AckStatus::expired  ? AckState::expired
                                              : AckState::pending;
    c.ack_time = a.time;
    c.ack_detail = a.detail;
  }
  if (store_) store_->record_ack(a);
}

void InMemoryBackend::record_settlement(const std::string& event_id, const std::string& site_id,
                                        const controller::SettlementInterval& interval) {
  settlement_[event_id][site_id][interval.start] = interval;
  if (store_) store_->save_settlement({event_id, site_id, interval});
}

void InMemoryBackend::set_online(const std::string& site_id, const std::string& asset_id, bool online,
                                 const std::string& reason) {
  online_[{site_id, asset_id}] = {online, reason};
}

bool InMemoryBackend::available(const Site& s, TimePoint t) const {
  if (s.limits.availability.empty()) return true;
  const auto local = t + std::chrono::minutes(options_.utc_offset_minutes);
  const auto day = std::chrono::floor<std::chrono::days>(local);
  const int minute = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
  const int iso_day = static_cast<int>(std::chrono::weekday(std::chrono::sys_days(day)).iso_encoding());
  for (const auto& w : s.limits.availability) {
    const bool day_ok = std::find(w.days_of_week.begin(), w.days_of_week.end(), iso_day) != w.days_of_week.end();
    if (day_ok && minute >= w.start_minute && minute < w.end_minute) return true;
  }
  return false;
}

FleetView InMemoryBackend::fleet() {
  FleetView f;
  const TimePoint now = clock_.now();
  f.as_of = now;
  f.interval = options_.interval;
  f.sites = static_cast<int>(sites_.size());
  for (const auto& [id, s] : sites_) {
    for (const auto& a : s.site.assets) {
      AssetState st{id, a.id, a.kind(), true, ""};
      if (auto it = online_.find({id, a.id}); it != online_.end()) {
        st.online = it->second.first;
        st.reason = it->second.second;
      }
      ++f.assets;
      if (st.online) ++f.assets_online;
      f.asset_states.push_back(std::move(st));
    }
  }
  const TimePoint start = std::chrono::floor<Duration>(now - TimePoint{}) / options_.interval * options_.interval + TimePoint{};
  for (int k = 0; k < options_.flexibility_steps; ++k) {
    FlexibilityInterval x;
    x.start = start + k * options_.interval;
    for (const auto& [id, s] : sites_) {
      if (!available(s.site, x.start)) continue;
      const double site_curtail = s.site.limits.max_curtailment_pct / 100.0;
      for (const auto& a : s.site.assets) {
        if (auto it = online_.find({id, a.id}); it != online_.end() && !it->second.first) continue;
        if (const auto* b = a.get<BatterySpec>()) {
          x.up_kw += b->max_discharge_kw;
          x.down_kw += b->max_charge_kw;
        } else if (const auto* h = a.get<HvacZoneSpec>()) {
          x.up_kw += h->rated_electric_kw * site_curtail;
        } else if (const auto* l = a.get<FlexibleLoadSpec>()) {
          const double pct = site_curtail > 0 ? std::min(l->max_curtail_pct / 100.0, site_curtail) : l->max_curtail_pct / 100.0;
          x.up_kw += l->rated_kw * pct;
        } else if (const auto* pv = a.get<PvSpec>()) {
          x.down_kw += pv->rated_kw;  // curtailing generation raises import
        } else if (const auto* ev = a.get<EvChargerSpec>()) {
          x.up_kw += ev->max_discharge_kw;
          x.down_kw += ev->max_charge_kw;
        }
      }
    }
    f.flexibility.push_back(x);
  }
  return f;
}

}  // namespace vpp::http
