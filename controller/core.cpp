#include "controller/core.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "controller/allocator.hpp"
#include "controller/envelope.hpp"
#include "model/building.hpp"

namespace vpp::controller {
namespace {

using namespace std::chrono_literals;

constexpr const char* kFleetGroup = "fleet";
// Share of a zone's heat capacity in its air and furnishings, which is what a thermostat moves
// within minutes (ISO 13790: about 20 of 165 kJ/(K m2) for the medium class).
constexpr double kAirShareOfCapacitance = 0.12;
// How far ahead of an event the real-time allocator starts steering toward it: 3 minutes, at
// most a fifth of a settlement interval (with 1-minute intervals, a 3-minute lead would deliver
// the next intervals' reduction in the ones before the event).
constexpr Duration kAllocatorLead = std::chrono::minutes(3);
constexpr double kAllocatorLeadMaxIntervals = 0.2;
// How much faster than an even spread a battery may spend its energy during an event.
constexpr double kEventSpendSlack = 1.25;
constexpr const char* kFreeGroup = "free";

std::string fmt(const char* f, double a, double b = 0) {
  char buf[200];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

std::string asset_key(const SiteState& s, const AssetState& a) { return s.site.id + "/" + a.asset.id; }

double held_series_value(const std::vector<SeriesPoint>& pts, TimePoint t, double fallback) {
  double v = fallback;
  for (const auto& p : pts) {
    if (p.start > t) break;
    v = p.value;
  }
  return v;
}

// Interval `t` of a forecast series, or nullopt when the forecast does not cover it.
template <typename T>
std::optional<T> forecast_at(const Forecast* f, const std::vector<T>& series, TimePoint t) {
  if (!f || f->step <= Duration::zero() || series.empty() || t < f->start) return std::nullopt;
  const auto k = static_cast<std::size_t>((t - f->start) / f->step);
  if (k >= series.size()) return std::nullopt;
  return series[k];
}

}  // namespace

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "?";
}

// --------------------------------------------------------------------------------- internals

struct Core::Impl {
  // A group of sites planned together under one fleet coupling.
  struct Group {
    std::vector<SiteIndex> sites;
    std::uint64_t pending = 0;          // request id in flight (0 = none)
    TimePoint requested_at{};
    std::shared_ptr<const optimizer::Problem> problem;   // of the adopted plan
    std::shared_ptr<const optimizer::Problem> requested; // of the request in flight
    std::shared_ptr<const optimizer::Plan> plan;
    std::map<SiteIndex, std::size_t> plan_site;           // site -> index in plan->sites
    TimePoint last_correction{};                          // of the real-time allocator
  };

  // What the plan says an asset should do, resolved to indices once per adopted plan.
  // Shared ownership: a site keeps following its last plan even when its group is re-formed
  // (an event starts or ends) until the new group's plan arrives.
  struct PlanRef {
    std::shared_ptr<const optimizer::Plan> plan;
    std::shared_ptr<const optimizer::Problem> problem;  // the plan's inputs (start temperatures)
    std::uint64_t plan_id = 0;          // the solve request that produced it
    std::size_t site = 0;
    int kind = -1;  // 0 battery, 1 pv, 2 hvac, 3 flexible
    std::size_t index = 0;
  };

  struct Control {
    double correction_kw = 0;           // allocator's reduction on top of the plan
    double hvac_base_kw = 0;            // an HVAC zone's power when its correction began
    std::optional<TimePoint> event_end; // end of the active event the asset serves, if any
    TimePoint hold_until{};             // rebound staging: keep the last command until then
    // An HVAC zone's thermal mass, how far it sits from where it would be had the plant held
    // the default setpoint (K; see update_mass_lags), and when that was last brought forward.
    double mass_lag_c = 0;
    TimePoint mass_at{};
    PlanRef plan;
  };

  struct Settlement {
    std::vector<SiteIndex> sites;
    std::map<SiteIndex, std::vector<double>> site_baseline;  // per event interval
    std::vector<double> fleet_baseline;
    std::vector<double> requested;                          // fleet, per event interval
    std::string method;
    std::vector<std::string> notes;
    int reported_intervals = 0;
    bool final_sent = false;
  };

  Settings s;
  Fleet fleet;
  EventBook book;
  LeaseTable leases;
  CommandTracker tracker;
  CoreCounters counters;
  std::optional<PriceSeries> prices;
  std::optional<CarbonSeries> carbon;
  std::optional<RegulationSignal> regulation;
  std::shared_ptr<const Forecast> forecast;
  std::vector<IntervalMeter> meters;                 // per site
  std::vector<Control> control;                      // per asset
  std::map<std::string, Group> groups;
  std::map<std::string, Settlement> settlements;     // per event
  // Per event: what the plan in force when the event arrived expected the participating sites
  // to import over its window (fleet kW per interval; NaN where no plan covered it). The event
  // asks for a reduction below what the plant would otherwise have done, so this, not the
  // settlement baseline (which the plant's own all-day optimisation biases), sets the target.
  std::map<std::string, std::vector<double>> reference_kw;
  std::map<std::string, std::string> alarm_state;    // subject -> last reported reason
  std::uint64_t next_request = 0;
  bool resolve_needed = false;
  std::string resolve_reason;
  TimePoint last_resolve{};
  std::optional<TimePoint> deviating_since;
  TimePoint last_tick{};

  Impl(Settings settings, std::string prefix)
      : s(settings), fleet(settings.gating), tracker(settings.commands, std::move(prefix)) {}

  // ------------------------------------------------------------------------------ helpers

  void need_resolve(const std::string& why) {
    if (!resolve_needed) resolve_reason = why;
    resolve_needed = true;
  }

  void alarm(std::vector<Output>& out, Severity sev, std::string code, std::string subject, std::string msg) {
    out.push_back(Alarm{sev, std::move(code), std::move(subject), std::move(msg)});
  }

  // Reports a recurring condition once, until it changes or clears.
  void alarm_once(std::vector<Output>& out, Severity sev, const std::string& code, const std::string& subject,
                  const std::string& msg) {
    auto& last = alarm_state[code + ":" + subject];
    if (last == msg) return;
    last = msg;
    alarm(out, sev, code, subject, msg);
  }
  void clear_alarm(const std::string& code, const std::string& subject) { alarm_state.erase(code + ":" + subject); }

  TimePoint interval_floor(TimePoint t) const {
    const auto ms = to_unix_ms(t);
    const auto step = s.interval.count();
    const auto off = static_cast<std::int64_t>(s.utc_offset_minutes) * 60'000;
    return from_unix_ms(ms - (((ms + off) % step) + step) % step);
  }

  bool site_available(const SiteState& site, TimePoint t) const {
    const auto& windows = site.site.limits.availability;
    if (windows.empty()) return true;
    const auto local = t + std::chrono::minutes(s.utc_offset_minutes);
    const auto day = std::chrono::floor<std::chrono::days>(local);
    const int minute = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
    const unsigned iso = std::chrono::weekday{day}.iso_encoding();
    for (const auto& w : windows) {
      const bool day_ok = std::find(w.days_of_week.begin(), w.days_of_week.end(), static_cast<int>(iso)) != w.days_of_week.end();
      if (day_ok && minute >= w.start_minute && minute < w.end_minute) return true;
    }
    return false;
  }

  bool participates(const EventRecord& e, const SiteState& site) const {
    if (!site.enrolled || e.opted_out.count(site.site.id)) return false;
    return e.event.site_ids.empty() ||
           std::find(e.event.site_ids.begin(), e.event.site_ids.end(), site.site.id) != e.event.site_ids.end();
  }

  // ----------------------------------------------------------------------- grouping sites

  // Each enrolled site belongs to one planning group: the highest-priority event with an
  // explicit site list that calls it, else "fleet" if every fleet-wide event in the horizon
  // calls it, else "free" (no coupling).
  std::map<std::string, std::vector<SiteIndex>> assign_groups(TimePoint now) const {
    std::map<std::string, std::vector<SiteIndex>> g;
    const auto events = book.overlapping(now, now + s.interval * s.horizon_steps);
    std::vector<SiteIndex>* bucket = nullptr;  // the last site's group: neighbours mostly share it
    std::string bucket_key;
    for (SiteIndex i = 0; i < fleet.sites().size(); ++i) {
      const auto& site = fleet.site(i);
      if (!site.enrolled) continue;
      std::string key;
      for (const auto* e : events) {
        if (!e->event.site_ids.empty() && participates(*e, site)) {
          key = "event:" + e->event.event_id;
          break;
        }
      }
      if (key.empty()) {
        bool fleet_wide = false, all = true;
        for (const auto* e : events) {
          if (e->event.site_ids.empty()) {
            fleet_wide = true;
            all = all && participates(*e, site);
          }
        }
        key = fleet_wide && all ? kFleetGroup : kFreeGroup;
      }
      if (!bucket || key != bucket_key) {
        bucket = &g[key];
        bucket_key = key;
      }
      bucket->push_back(i);
    }
    return g;
  }

  std::vector<const EventRecord*> group_events(const std::string& key, TimePoint from, TimePoint to) const {
    std::vector<const EventRecord*> out;
    for (const auto* e : book.overlapping(from, to)) {
      if (key == kFleetGroup ? e->event.site_ids.empty() : key == "event:" + e->event.event_id) out.push_back(e);
    }
    return out;
  }

  // ---------------------------------------------------------------------------- baselines

  std::vector<DayProfile> history(SiteIndex site, LocalDay before) const {
    std::vector<DayProfile> out;
    const auto& m = meters[site];
    for (const auto d : m.days()) {
      if (d >= before) continue;
      auto p = m.day(d);
      for (const auto& [id, e] : book.all()) {
        if (e.state != EventState::rejected && m.local_day(e.event.start) == d) p.eligible = false;
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  // Customer baseline of a site over an event window (one value per interval), and a note on
  // the method actually used.
  std::vector<double> site_baseline(SiteIndex si, const CurtailmentEvent& e, std::string& method,
                                    std::vector<std::string>& notes) const {
    const auto& m = meters[si];
    const int n = static_cast<int>((e.end() - interval_floor(e.start) + s.interval - Duration(1)) / s.interval);
    std::vector<double> out(static_cast<std::size_t>(n), NAN);
    const LocalDay day = m.local_day(e.start);
    const int first = m.interval_of_day(interval_floor(e.start));
    BaselineRequest req;
    req.first_interval = first;
    req.last_interval = std::min(first + n, m.intervals_per_day());
    const int gap = static_cast<int>(s.baseline.adjustment_gap / s.interval);
    const int win = static_cast<int>(s.baseline.adjustment_window / s.interval);
    req.adjust_last = first - gap;
    req.adjust_first = req.adjust_last - win;
    const auto r = compute_baseline(history(si, day), m.day(day), req, s.baseline);
    if (r) {
      for (std::size_t i = 0; i < r->kw.size(); ++i) out[i] = r->kw[i];
      method = "high " + std::to_string(s.baseline.high_x) + " of " + std::to_string(s.baseline.of_y) +
               (s.baseline.adjustment == BaselineSettings::Adjustment::none
                    ? std::string()
                    : s.baseline.adjustment == BaselineSettings::Adjustment::additive ? ", additive adjustment"
                                                                                       : ", multiplicative adjustment");
      if (!r->note.empty()) notes.push_back(fleet.site(si).site.id + ": " + r->note);
    }
    // Fallback (Jiangsu 2015 real-time events): the load in the interval before the event.
    std::optional<double> before = m.average(interval_floor(e.start) - s.interval);
    if (!before) before = fleet.site_import_kw(si);
    bool fell_back = false;
    for (auto& v : out) {
      if (std::isnan(v) && before) {
        v = *before;
        fell_back = true;
      }
    }
    if (fell_back) notes.push_back(fleet.site(si).site.id + ": baseline from the load before the event (no history)");
    return out;
  }

  // What an event asks of a group at interval start `t`: a ceiling on its import, aiming
  // `margin` beyond the requested reduction, and that reduction; `reduction` for an event that
  // asks for a reduction below what the sites would otherwise import (rather than for a cap)
  // measured from the model's reference. Where no forecast gave a reference, the settlement
  // baseline stands in: it is what the event is settled against, and nothing better is known,
  // so the meters are steered to it.
  // Plans aim further beyond the request than the real-time allocator does, so they set aside
  // flexibility (pre-cooling, stored energy) the allocator can call on when the buildings give
  // less than the plan's model expects.
  struct Aim {
    double ceiling_kw = 0;
    double request_kw = 0;
    bool reduction = false;
  };
  std::optional<Aim> aim(const std::string& key, TimePoint t, double margin) const {
    const auto mid = t + s.interval / 2;
    std::optional<Aim> best;
    int best_priority = 0;
    for (const auto* e : group_events(key, t, t + s.interval)) {
      if (!(e->event.start <= mid && mid < e->event.end())) continue;
      const auto k = static_cast<std::size_t>((t - interval_floor(e->event.start)) / s.interval);
      double base = 0;
      bool modelled = false;
      const auto ref = reference_kw.find(e->event.event_id);
      if (ref != reference_kw.end() && k < ref->second.size() && !std::isnan(ref->second[k])) {
        base = ref->second[k];
        modelled = true;
      } else if (const auto it = settlements.find(e->event.event_id); it != settlements.end()) {
        base = k < it->second.fleet_baseline.size() ? it->second.fleet_baseline[k] : 0;
      }
      // A cap asks for the reduction from the reference down to it: aim the same margin beyond.
      const double request =
          e->event.import_cap_kw ? std::max(0.0, base - *e->event.import_cap_kw) : *e->event.target_reduction_kw;
      const double c = e->event.import_cap_kw ? *e->event.import_cap_kw - margin * request : base - request * (1 + margin);
      if (!best || e->event.priority > best_priority || (e->event.priority == best_priority && c < best->ceiling_kw)) {
        if (best && e->event.priority < best_priority) continue;
        best = Aim{c, request, !e->event.import_cap_kw && modelled};
        best_priority = e->event.priority;
      }
    }
    return best;
  }
  std::optional<double> ceiling(const std::string& key, TimePoint t, double margin) const {
    const auto a = aim(key, t, margin);
    return a ? std::optional<double>(a->ceiling_kw) : std::nullopt;
  }

  // What a site would import at interval start `t` left alone: its forecast base and flexible
  // load, HVAC holding the default setpoint in steady state (1R1C: (gains + (T_out - T_set)/R)
  // / COP, within the plant's rating, none when the plant is scheduled off), less forecast PV.
  // The batteries' own self-consumption is left out. nullopt without a forecast of the base load.
  std::optional<double> counterfactual_kw(SiteIndex si, TimePoint t) const {
    const Forecast* f = forecast.get();
    if (!f || f->outdoor_temp_c.empty()) return std::nullopt;
    const auto& site = fleet.site(si);
    const auto it = f->sites.find(site.site.id);
    if (it == f->sites.end()) return std::nullopt;
    const SiteForecast& sf = it->second;
    const auto k = (t - f->start) / f->step;
    if (k < 0 || k >= static_cast<std::int64_t>(f->outdoor_temp_c.size())) return std::nullopt;
    const auto kk = static_cast<std::size_t>(k);
    // Without a base-load forecast (vppd before it has a load profile or readings) what the site
    // would import is unknown: the settlement baseline stands in.
    if (kk >= sf.base_load_kw.size()) return std::nullopt;
    auto at = [&](const std::vector<double>& v) { return kk < v.size() ? v[kk] : 0.0; };
    double kw = at(sf.base_load_kw);
    for (const auto& [id, v] : sf.flexible_kw) kw += at(v);
    for (const auto& [id, v] : sf.pv_kw) kw -= at(v);
    const bool plant = sf.hvac_available.empty() || (kk < sf.hvac_available.size() && sf.hvac_available[kk]);
    for (const auto& a : site.site.assets) {
      const auto* hz = a.get<HvacZoneSpec>();
      if (!hz || !plant) continue;
      const auto g = sf.gains_kw.find(a.id);
      const double gains = g == sf.gains_kw.end() ? 0.0 : at(g->second);
      const double t_out = f->outdoor_temp_c[kk];
      const double cooling = gains + (t_out - hz->default_setpoint_c) / hz->thermal_resistance_k_per_kw;
      kw += std::clamp(cooling / cooling_cop(hz->rated_cop, t_out), 0.0, hz->rated_electric_kw);
    }
    return kw;
  }

  // The reference import of an event's sites over its window: the model counterfactual where a
  // forecast covers it, else NaN (the settlement baseline stands in). The event asks for a
  // reduction below what the sites would otherwise import; the settlement baseline, built from
  // other days, is biased by the weather and by the plant's own all-day optimisation, so it
  // settles the event but does not steer it.
  void capture_reference(const EventRecord& e) {
    const int n = static_cast<int>((e.event.end() - interval_floor(e.event.start) + s.interval - Duration(1)) / s.interval);
    std::vector<double> ref(static_cast<std::size_t>(n), 0.0);
    for (SiteIndex si = 0; si < fleet.sites().size(); ++si) {
      if (!participates(e, fleet.site(si))) continue;
      for (int k = 0; k < n; ++k) {
        auto& v = ref[static_cast<std::size_t>(k)];
        const auto c = counterfactual_kw(si, interval_floor(e.event.start) + s.interval * k + s.interval / 2);
        v = c ? v + *c : NAN;
      }
    }
    reference_kw[e.event.event_id] = std::move(ref);
  }

  // Baselines are computed when an event is first planned for and frozen when it starts, so
  // that settlement uses the figure known at the start.
  void prepare_settlement(const EventRecord& e, bool freeze) {
    auto it = settlements.find(e.event.event_id);
    if (it != settlements.end() && it->second.reported_intervals > 0) return;  // frozen
    if (it != settlements.end() && !freeze) return;
    Settlement st;
    std::string method = "load before the event";
    for (SiteIndex i = 0; i < fleet.sites().size(); ++i) {
      if (!participates(e, fleet.site(i))) continue;
      st.sites.push_back(i);
      st.site_baseline[i] = site_baseline(i, e.event, method, st.notes);
    }
    st.method = method;
    const int n = static_cast<int>((e.event.end() - interval_floor(e.event.start) + s.interval - Duration(1)) / s.interval);
    st.fleet_baseline.assign(static_cast<std::size_t>(n), 0.0);
    for (const auto& [si, b] : st.site_baseline) {
      for (std::size_t k = 0; k < b.size(); ++k) st.fleet_baseline[k] += std::isnan(b[k]) ? 0 : b[k];
    }
    st.requested.assign(static_cast<std::size_t>(n), 0.0);
    for (std::size_t k = 0; k < st.requested.size(); ++k) {
      st.requested[k] = e.event.target_reduction_kw ? *e.event.target_reduction_kw
                                                    : std::max(0.0, st.fleet_baseline[k] - *e.event.import_cap_kw);
    }
    settlements[e.event.event_id] = std::move(st);
  }

  // ------------------------------------------------------------------------------ planning

  optimizer::SiteProblem site_problem(SiteIndex si, const optimizer::Horizon& h) const {
    const auto& site = fleet.site(si);
    const auto& lim = site.site.limits;
    const Forecast* f = forecast.get();
    const SiteForecast* sf = nullptr;
    if (f) {
      const auto it = f->sites.find(site.site.id);
      if (it != f->sites.end()) sf = &it->second;
    }
    const int T = h.steps;
    auto series = [&](const std::vector<double>* fc, double fallback) {
      std::vector<double> v(static_cast<std::size_t>(T), fallback);
      if (!fc) return v;
      for (int t = 0; t < T; ++t) {
        if (auto x = forecast_at(f, *fc, h.start + h.step * t)) v[static_cast<std::size_t>(t)] = *x;
      }
      return v;
    };
    auto named = [](const std::map<std::string, std::vector<double>>* m, const std::string& id) -> const std::vector<double>* {
      if (!m) return nullptr;
      const auto it = m->find(id);
      return it == m->end() ? nullptr : &it->second;
    };

    optimizer::SiteProblem p;
    p.id = site.site.id;
    // Base load: the forecast, or what the meter says the site uses beyond its assets (held).
    double base_now = 0;
    if (auto imp = fleet.site_import_kw(si)) base_now = *imp;
    double uncontrolled_hvac = 0;
    for (auto ai : site.assets) {
      const auto& a = fleet.asset(ai);
      if (!a.last || std::isnan(a.last->p_kw)) continue;
      switch (a.asset.kind()) {
        case AssetKind::pv: base_now += a.last->p_kw; break;
        case AssetKind::battery: base_now += a.last->p_kw; break;
        case AssetKind::hvac_zone: base_now -= a.last->p_kw; break;
        case AssetKind::flexible_load: base_now -= a.last->p_kw; break;
        case AssetKind::ev_charger: base_now -= a.last->p_kw; break;
        case AssetKind::site_meter: break;
      }
    }
    p.base_load_kw = series(sf && !sf->base_load_kw.empty() ? &sf->base_load_kw : nullptr, std::max(0.0, base_now));

    for (auto ai : site.assets) {
      const auto& a = fleet.asset(ai);
      const bool usable = a.online && a.last;
      switch (a.asset.kind()) {
        case AssetKind::pv: {
          const auto& spec = *a.asset.get<PvSpec>();
          const auto* fc = named(sf ? &sf->pv_kw : nullptr, a.asset.id);
          if (!usable && !fc) break;
          optimizer::PvAsset pv;
          pv.id = a.asset.id;
          pv.rated_kw = spec.rated_kw;
          double held = 0;
          if (usable) held = !std::isnan(a.last->available_kw) ? a.last->available_kw : std::max(0.0, a.last->p_kw);
          pv.forecast_kw = series(fc, held);
          for (auto& v : pv.forecast_kw) v = std::clamp(v, 0.0, spec.rated_kw);
          if (!usable) {  // not controllable now: its forecast generation offsets the base load
            for (int t = 0; t < T; ++t) p.base_load_kw[static_cast<std::size_t>(t)] -= pv.forecast_kw[static_cast<std::size_t>(t)];
            break;
          }
          p.pv.push_back(std::move(pv));
          break;
        }
        case AssetKind::battery: {
          if (!usable || std::isnan(a.last->soc_pct)) break;
          const auto& b = *a.asset.get<BatterySpec>();
          optimizer::BatteryAsset ba;
          ba.id = a.asset.id;
          ba.capacity_kwh = b.capacity_kwh;
          ba.soc_kwh = a.last->soc_pct / 100 * b.capacity_kwh;
          ba.max_charge_kw = b.max_charge_kw;
          ba.max_discharge_kw = b.max_discharge_kw;
          ba.charge_efficiency = b.charge_efficiency;
          ba.discharge_efficiency = b.discharge_efficiency;
          ba.soc_min_kwh = b.soc_min_pct / 100 * b.capacity_kwh;
          ba.soc_max_kwh = b.soc_max_pct / 100 * b.capacity_kwh;
          ba.reserve_kwh = lim.battery_reserve_pct / 100 * b.capacity_kwh;
          ba.terminal_soc_kwh = std::clamp(ba.soc_kwh, std::max(ba.reserve_kwh, ba.soc_min_kwh), ba.soc_max_kwh);
          ba.self_discharge_per_h = b.self_discharge_pct_per_day / 100 / 24;
          ba.cycle_cost_per_kwh = s.allocator.battery_cost_per_kwh;
          p.batteries.push_back(std::move(ba));
          break;
        }
        case AssetKind::hvac_zone: {
          const auto& hz = *a.asset.get<HvacZoneSpec>();
          const bool weather = f && !f->outdoor_temp_c.empty();
          if (!usable || std::isnan(a.last->indoor_temp_c) || !weather) {
            // Not plannable: its present consumption stays part of the base load.
            if (usable && !std::isnan(a.last->p_kw)) uncontrolled_hvac += a.last->p_kw;
            break;
          }
          optimizer::HvacZone z;
          z.id = a.asset.id;
          z.r_k_per_kw = hz.thermal_resistance_k_per_kw;
          z.c_kwh_per_k = hz.thermal_capacitance_kwh_per_k * s.planning.zone_capacitance_factor;
          z.temp_c = a.last->indoor_temp_c;
          z.max_electric_kw = hz.rated_electric_kw;
          z.outdoor_temp_c = series(&f->outdoor_temp_c, 30);
          z.gains_kw = series(named(sf ? &sf->gains_kw : nullptr, a.asset.id), 0);
          z.cop.resize(static_cast<std::size_t>(T));
          z.comfort_min_c.resize(static_cast<std::size_t>(T));
          z.comfort_max_c.resize(static_cast<std::size_t>(T));
          const auto flag = [&](const std::vector<std::uint8_t>& v, int t) {
            if (v.empty() || !f || t < 0) return true;
            const auto k = (h.start + h.step * t - f->start) / f->step;
            return k < 0 || k >= static_cast<std::int64_t>(v.size()) || v[static_cast<std::size_t>(k)] != 0;
          };
          if (sf && !sf->hvac_available.empty()) {
            z.plant_available.resize(static_cast<std::size_t>(T));
            for (int t = 0; t < T; ++t) z.plant_available[static_cast<std::size_t>(t)] = flag(sf->hvac_available, t) ? 1 : 0;
          }
          for (int t = 0; t < T; ++t) {
            const auto k = static_cast<std::size_t>(t);
            z.cop[k] = cooling_cop(hz.rated_cop, z.outdoor_temp_c[k]);
            const bool occupied = !sf || flag(sf->occupied, t);
            // Occupied: the band less the thermostat's half-deadband swing; empty: relaxed.
            const double half = std::min(hz.deadband_c / 2, (lim.comfort_max_c - lim.comfort_min_c) / 2);
            const double relax = occupied ? -half : s.planning.unoccupied_comfort_relax_c;
            z.comfort_min_c[k] = lim.comfort_min_c - relax;
            z.comfort_max_c[k] = lim.comfort_max_c + relax;
          }
          z.discomfort_penalty_per_kh = s.planning.comfort_penalty_per_kw_kh * hz.rated_electric_kw;
          p.hvac.push_back(std::move(z));
          break;
        }
        case AssetKind::flexible_load: {
          if (!usable) break;
          const auto& fl = *a.asset.get<FlexibleLoadSpec>();
          optimizer::FlexibleLoad l;
          l.id = a.asset.id;
          l.power_kw = series(named(sf ? &sf->flexible_kw : nullptr, a.asset.id), std::isnan(a.last->p_kw) ? 0 : a.last->p_kw);
          const double site_max = lim.max_curtailment_pct > 0 ? lim.max_curtailment_pct : 100;
          l.curtailable_share = std::min(fl.max_curtail_pct, site_max) / 100;
          l.curtail_cost_per_kwh = s.planning.curtail_cost_per_kwh;
          l.shift_max_kwh = fl.max_shift_kwh;
          l.shift_max_kw = fl.max_shift_kwh > 0 ? fl.rated_kw * l.curtailable_share : 0;
          p.flexible.push_back(std::move(l));
          // Its consumption is in power_kw, not in the base load.
          for (int t = 0; t < T; ++t) p.base_load_kw[static_cast<std::size_t>(t)] = std::max(0.0, p.base_load_kw[static_cast<std::size_t>(t)]);
          break;
        }
        case AssetKind::ev_charger:
        case AssetKind::site_meter: break;
      }
    }
    for (auto& v : p.base_load_kw) v = std::max(0.0, v + uncontrolled_hvac);
    // The tighter of the enrolled and the meters' limits, as the envelope applies them.
    p.import_limit_kw = site.import_limit_kw > 0 ? site.import_limit_kw : optimizer::kNoLimit;
    p.export_limit_kw = site.export_limit_kw;
    if (!lim.availability.empty()) {
      p.available.resize(static_cast<std::size_t>(T));
      for (int t = 0; t < T; ++t) p.available[static_cast<std::size_t>(t)] = site_available(site, h.start + h.step * t) ? 1 : 0;
    }
    p.excluded = p.pv.empty() && p.batteries.empty() && p.hvac.empty() && p.flexible.empty();
    return p;
  }

  std::shared_ptr<optimizer::Problem> build_problem(const std::string& key, const std::vector<SiteIndex>& sites,
                                                    TimePoint now) {
    auto p = std::make_shared<optimizer::Problem>();
    p->horizon.start = interval_floor(now);
    p->horizon.step = s.interval;
    p->horizon.steps = s.horizon_steps;
    const int T = s.horizon_steps;
    auto& sig = p->signals;
    sig.import_price.resize(static_cast<std::size_t>(T));
    sig.export_price.resize(static_cast<std::size_t>(T));
    sig.carbon_kg_per_kwh.resize(static_cast<std::size_t>(T));
    sig.carbon_price_per_kg = s.planning.carbon_price_per_kg;
    sig.shortfall_penalty_per_kwh = s.planning.shortfall_penalty_per_kwh;
    bool coupled = false;
    std::vector<std::optional<double>> caps(static_cast<std::size_t>(T));
    // Outside its events a coupled group should not make a new peak getting ready for them
    // (pre-cooling, recharging): its import stays under the highest the sites would draw left
    // alone over the horizon.
    std::optional<double> guard;
    if (key != kFreeGroup && s.planning.peak_guard) {
      for (int t = 0; t < T; ++t) {
        double sum = 0;
        bool all = true;
        for (auto si : sites) {
          const auto c = counterfactual_kw(si, p->horizon.start + s.interval * t + s.interval / 2);
          all = all && c.has_value();
          sum += c.value_or(0);
        }
        if (all && !sites.empty()) guard = std::max(guard.value_or(sum), sum);
      }
    }
    for (int t = 0; t < T; ++t) {
      const auto k = static_cast<std::size_t>(t);
      const auto ts = p->horizon.start + s.interval * t;
      const double imp = prices ? held_series_value(prices->import_price, ts, 0) : 0;
      sig.import_price[k] = imp;
      sig.export_price[k] = std::min(imp, prices ? held_series_value(prices->export_price, ts, 0) : 0);
      sig.carbon_kg_per_kwh[k] = carbon ? held_series_value(carbon->intensity_kg_per_kwh, ts, 0) : 0;
      if (key != kFreeGroup) {
        caps[k] = ceiling(key, ts, s.planning.delivery_margin);
        if (!caps[k]) caps[k] = guard;
        coupled = coupled || caps[k].has_value();
      }
    }
    if (coupled) sig.import_cap_kw = std::move(caps);
    for (auto si : sites) p->sites.push_back(site_problem(si, p->horizon));
    return p;
  }

  void request_solves(std::vector<Output>& out, TimePoint now) {
    // Events in the horizon get their (unfrozen) planning baselines.
    for (const auto* e : book.overlapping(now, now + s.interval * s.horizon_steps)) {
      if (e->event.target_reduction_kw) prepare_settlement(*e, false);
    }
    auto assigned = assign_groups(now);
    // Groups that disappeared (an event ended): drop their plans.
    for (auto it = groups.begin(); it != groups.end();) {
      it = assigned.count(it->first) ? std::next(it) : groups.erase(it);
    }
    for (auto& [key, sites] : assigned) {
      auto& g = groups[key];
      g.sites = sites;
      auto problem = build_problem(key, sites, now);
      SolveRequest r;
      r.id = ++next_request;
      r.group = key;
      r.reason = resolve_reason.empty() ? "periodic" : resolve_reason;
      if (g.plan && !g.plan->coordination_price_per_kwh.empty()) {
        // Warm start: the last plan's prices, shifted to the new horizon start.
        const auto shift = static_cast<std::size_t>(std::max<std::int64_t>(0, (problem->horizon.start - g.plan->horizon.start) / s.interval));
        const auto& old = g.plan->coordination_price_per_kwh;
        r.warm_prices.assign(static_cast<std::size_t>(s.horizon_steps), 0.0);
        for (std::size_t k = 0; k + shift < old.size() && k < r.warm_prices.size(); ++k) r.warm_prices[k] = old[k + shift];
      }
      r.problem = std::move(problem);
      g.requested = r.problem;
      g.pending = r.id;
      g.requested_at = now;
      ++counters.solves_requested;
      out.push_back(std::move(r));
    }
    resolve_needed = false;
    resolve_reason.clear();
    last_resolve = now;
  }

  // A group follows `plan` from now on: every asset's place in it resolved once.
  void install(const std::string& key, Group& g, std::shared_ptr<const optimizer::Plan> plan,
               std::shared_ptr<const optimizer::Problem> problem, std::uint64_t plan_id, std::vector<Output>& out) {
    g.plan = plan;
    g.problem = problem;
    g.plan_site.clear();
    for (std::size_t i = 0; i < plan->sites.size(); ++i) {
      const auto si = fleet.find_site(plan->sites[i].id);
      if (si != kNone) g.plan_site[si] = i;
    }
    // Resolve every asset's place in the plan once.
    for (auto si : g.sites) {
      const auto ps = g.plan_site.find(si);
      for (auto ai : fleet.site(si).assets) {
        // The allocator's corrections stay: a new plan starts from measured states but knows
        // nothing of the demand a power cap holds back, and releasing every cap at once would
        // make a spike. Corrections wind down as the allocator finds the fleet over target.
        auto& c = ctl(ai);
        c.plan = {};
        if (ps == g.plan_site.end()) continue;
        const auto& sp = plan->sites[ps->second];
        const auto& id = fleet.asset(ai).asset.id;
        auto find = [&](const auto& v, int kind) {
          for (std::size_t k = 0; k < v.size(); ++k) {
            if (v[k].id == id) c.plan = {plan, g.problem, plan_id, ps->second, kind, k};
          }
        };
        find(sp.batteries, 0);
        find(sp.pv, 1);
        find(sp.hvac, 2);
        find(sp.flexible, 3);
      }
    }
    for (const auto& m : plan->messages) alarm_once(out, Severity::info, "plan_diagnosis", key, m);
  }

  void adopt(const SolveResult& r, std::vector<Output>& out, TimePoint now) {
    for (auto& [key, g] : groups) {
      if (g.pending != r.request_id) continue;
      g.pending = 0;
      if (!r.plan) {
        alarm(out, Severity::error, "solve_failed", key, r.error.empty() ? "solver returned no plan" : r.error);
        need_resolve("retry after a failed solve");
        return;
      }
      install(key, g, r.plan, g.requested, r.request_id, out);
      ++counters.plans_adopted;
      apply_setpoints(out, now, nullptr);
      return;
    }
    ++counters.plans_discarded;  // superseded by a newer request: a newer plan is on its way
  }

  Control& ctl(AssetIndex ai) {
    if (ai >= control.size()) control.resize(ai + 1);
    return control[ai];
  }
  // Read-only, without growing `control` (nor copying the entry: it holds the plan's pointers).
  const Control& control_of(AssetIndex ai) const {
    static const Control none;
    return ai < control.size() ? control[ai] : none;
  }

  // ----------------------------------------------------------------------------- commands

  // A setpoint and where it came from; the reason text is only built for commands sent.
  struct Setpoint {
    SetpointKind kind = SetpointKind::unspecified;
    double value = 0;
    const char* source = "plan";        // "plan", "allocator", "rebound hold", "release"
    std::uint64_t plan_id = 0;
    double correction_kw = 0;
  };

  // What every command sent at `now` says after its own source: the events it serves and the
  // price. The same for the whole fleet, so built once per pass (see apply_setpoints).
  std::string reason_context(TimePoint now) const {
    std::string r;
    for (const auto* e : book.overlapping(now, now + Duration(1))) {
      if (e->state == EventState::active) r += " for event " + e->event.event_id;
    }
    if (prices) r += fmt(" at %.4f/kWh", held_series_value(prices->import_price, now, 0));
    return r;
  }

  // Built for every command sent, so without printf.
  std::string reason(const Setpoint& sp, const std::string& context) const {
    std::string r = sp.source;
    if (sp.plan_id) r += " #" + std::to_string(sp.plan_id);
    if (sp.correction_kw != 0) {
      char buf[32];
      const auto end = std::to_chars(buf, buf + sizeof buf, sp.correction_kw, std::chars_format::fixed, 1).ptr;
      r.append(" + correction ").append(buf, end).append(" kW");
    }
    r += context;
    return r;
  }

  // Each asset has up to two command channels: an HVAC zone takes a setpoint offset (following
  // the plan's temperature, so its own thermostat handles the fast dynamics) and, independently,
  // an electric power cap (the allocator's real-time corrections); every other asset has one.
  // The command tracker is keyed by channel ("slot").
  static constexpr AssetIndex kChannels = 2;
  static AssetIndex channel_of(SetpointKind k) { return k == SetpointKind::hvac_power_cap_kw ? 1 : 0; }
  static AssetIndex slot(AssetIndex ai, AssetIndex channel) { return ai * kChannels + channel; }
  static AssetIndex slot(AssetIndex ai, SetpointKind k) { return slot(ai, channel_of(k)); }
  static AssetIndex asset_of(AssetIndex slot) { return slot / kChannels; }
  static AssetIndex channels(const AssetState& a) { return a.asset.kind() == AssetKind::hvac_zone ? 2 : 1; }

  bool any_in_force(AssetIndex ai, TimePoint now) const {
    return tracker.in_force(slot(ai, AssetIndex{0}), now) || tracker.in_force(slot(ai, AssetIndex{1}), now);
  }
  void forget(AssetIndex ai) {
    tracker.forget(slot(ai, AssetIndex{0}));
    tracker.forget(slot(ai, AssetIndex{1}));
  }

  using Desired = std::array<std::optional<Setpoint>, kChannels>;

  // The setpoints an asset should have now, per channel: the plan's value for this interval
  // plus the allocator's correction, or nothing (the device's own default) where neither applies.
  Desired desired(AssetIndex ai, TimePoint now) const {
    Desired d;
    const auto& a = fleet.asset(ai);
    const Control& c = control_of(ai);
    const optimizer::Plan* plan = c.plan.plan.get();
    int k = -1;
    if (plan) {
      k = static_cast<int>((now - plan->horizon.start) / plan->horizon.step);
      if (k < 0 || k >= plan->horizon.steps) plan = nullptr;
    }
    const double corr = c.correction_kw;
    const auto kk = static_cast<std::size_t>(k);
    const char* src = plan ? (c.plan.plan_id ? "plan" : "restored plan") : "allocator";
    const std::uint64_t pid = plan ? c.plan.plan_id : 0;
    auto sp = [&](SetpointKind kind, double value, const char* source = nullptr) {
      return Setpoint{kind, value, source ? source : src, pid, corr};
    };
    // The plan's inputs for the asset's site (forecasts, start temperatures), by pointer: this
    // runs for every asset on every tick.
    const optimizer::SiteProblem* inputs = plan && c.plan.problem ? &c.plan.problem->sites[c.plan.site] : nullptr;
    switch (a.asset.kind()) {
      case AssetKind::battery: {
        if (!plan && corr == 0) break;
        double base = plan && c.plan.kind == 0 ? plan->sites[c.plan.site].batteries[c.plan.index].p_kw[kk] : 0;
        // During an event a battery spends what it holds evenly over what is left of it (with
        // some slack), whatever the plan front-loads: a plan that counted on more from the
        // buildings than they give later must still find energy in the last intervals.
        if (base > 0 && c.event_end && *c.event_end > now && a.last && !std::isnan(a.last->soc_pct)) {
          const auto& b = *a.asset.get<BatterySpec>();
          const auto& lim = fleet.site(a.site).site.limits;
          const double floor_pct = std::max(lim.battery_reserve_pct, b.soc_min_pct);
          const double energy = std::max(0.0, (a.last->soc_pct - floor_pct) / 100 * b.capacity_kwh * b.discharge_efficiency);
          base = std::min(base, kEventSpendSlack * energy / (to_seconds(*c.event_end - now) / 3600));
        }
        d[0] = sp(SetpointKind::battery_p_kw, base + corr);
        break;
      }
      case AssetKind::pv: {
        const auto& spec = *a.asset.get<PvSpec>();
        if (!plan || c.plan.kind != 1) break;
        const auto& pv = plan->sites[c.plan.site].pv[c.plan.index];
        const double avail = a.last && !std::isnan(a.last->available_kw) ? a.last->available_kw : spec.rated_kw;
        const double tol = std::max(1.0, 0.02 * spec.rated_kw);
        // A plan that uses all the PV it was forecast to have curtails nothing: the panels give
        // what the sky gives, more than forecast included.
        if (inputs && c.plan.index < inputs->pv.size() && kk < inputs->pv[c.plan.index].forecast_kw.size() &&
            pv.limit_kw[kk] >= inputs->pv[c.plan.index].forecast_kw[kk] - tol) {
          break;
        }
        // Only a limit well below what the panels give is a curtailment worth commanding;
        // un-curtailing (a correction) reduces import.
        if (pv.limit_kw[kk] + std::max(0.0, corr) < avail - tol) {
          d[0] = sp(SetpointKind::pv_limit_kw, pv.limit_kw[kk] + std::max(0.0, corr));
        }
        break;
      }
      case AssetKind::hvac_zone: {
        const auto& hz = *a.asset.get<HvacZoneSpec>();
        if (plan && c.plan.kind == 2) {
          // Follow the planned trajectory within the interval, from where the plan starts it to
          // where it ends it, so setpoints move in small steps: stepping every zone's setpoint
          // at the same instant synchronises the thermostats and the fleet's load swings.
          const auto& temps = plan->sites[c.plan.site].hvac[c.plan.index].temp_c;
          const double from =
              kk > 0 ? temps[kk - 1] : (inputs && c.plan.index < inputs->hvac.size() ? inputs->hvac[c.plan.index].temp_c : temps[kk]);
          const TimePoint start = plan->horizon.start + plan->horizon.step * k;
          const double f = std::clamp(to_seconds(now + s.scheduling.control_tick - start) / to_seconds(plan->horizon.step), 0.0, 1.0);
          const double offset = from + (temps[kk] - from) * f - hz.default_setpoint_c;
          if (std::fabs(offset) >= s.commands.deadband_c) d[0] = sp(SetpointKind::hvac_setpoint_offset_c, offset);
        }
        if (corr > 0) d[1] = sp(SetpointKind::hvac_power_cap_kw, std::max(0.0, c.hvac_base_kw - corr), "allocator");
        break;
      }
      case AssetKind::flexible_load: {
        const auto& fl = *a.asset.get<FlexibleLoadSpec>();
        double curtail_kw = plan && c.plan.kind == 3 ? plan->sites[c.plan.site].flexible[c.plan.index].curtail_kw[kk] : 0;
        curtail_kw += corr;
        if (curtail_kw <= 0) break;
        const double p = a.last && !std::isnan(a.last->p_kw) && a.last->p_kw > 0 ? a.last->p_kw : fl.rated_kw;
        d[0] = sp(SetpointKind::load_curtail_pct, 100 * curtail_kw / std::max(p, 1e-6));
        break;
      }
      default: break;
    }
    return d;
  }

  // Sends what changed. `only` limits the pass to some assets (the allocator's shares).
  void apply_setpoints(std::vector<Output>& out, TimePoint now, const std::vector<AssetIndex>* only) {
    std::optional<std::string> context;  // reason_context, once something is sent
    auto emit = [&](AssetIndex ai, const Setpoint& sp) { send(out, ai, sp, now, context); };
    auto one = [&](AssetIndex ai) {
      const auto& a = fleet.asset(ai);
      const auto& site = fleet.site(a.site);
      if (!site.enrolled || !a.online || a.asset.kind() == AssetKind::site_meter) return;
      if (!leases.all().empty() && !leases.dispatch_may_write(asset_key(site, a))) return;
      const auto& c = control_of(ai);
      if (now < c.hold_until) {
        // Rebound staging: keep what it has until its stage is released.
        for (AssetIndex ch = 0; ch < channels(a); ++ch) {
          if (const auto* last = tracker.last(slot(ai, ch)); last && !last->rejected) {
            emit(ai, Setpoint{last->kind, last->value, "rebound hold"});
          }
        }
        return;
      }
      const auto d = site_available(site, now) ? desired(ai, now) : Desired{};
      for (AssetIndex ch = 0; ch < channels(a); ++ch) {
        if (d[ch]) {
          emit(ai, *d[ch]);
          continue;
        }
        // Nothing to ask on this channel: release what is still in force, so the device
        // returns to its own behaviour now rather than when the command expires.
        const AssetIndex sl = slot(ai, ch);
        if (const auto* last = tracker.last(sl); last && tracker.in_force(sl, now)) {
          const double neutral = neutral_value(a.asset, last->kind);
          if (last->value != neutral) emit(ai, Setpoint{last->kind, neutral, "release"});
        }
      }
    };
    if (only) {
      for (auto ai : *only) one(ai);
    } else {
      for (AssetIndex ai = 0; ai < fleet.assets().size(); ++ai) one(ai);
    }
  }

  void send(std::vector<Output>& out, AssetIndex ai, const Setpoint& sp, TimePoint now, std::optional<std::string>& context) {
    const SetpointKind kind = sp.kind;
    const AssetIndex sl = slot(ai, kind);
    const auto& a = fleet.asset(ai);
    const auto& site = fleet.site(a.site);
    EnvelopeInput in;
    in.asset = &a;
    in.site = &site;
    in.site_import_kw = fleet.site_import_kw(a.site);
    in.kind = kind;
    in.requested = sp.value;
    if (const auto* last = tracker.last(sl); last && last->kind == kind) {
      in.last_sent = last->value;
      in.last_sent_at = last->last_sent_at;
    }
    in.now = now;
    in.ttl = s.commands.ttl;
    in.max_setpoint_offset_c = s.commands.max_setpoint_offset_c;
    const auto env = apply_envelope(in);
    if (!env.allowed) {
      alarm_once(out, Severity::warning, "command_refused", asset_key(site, a), env.refusal);
      return;
    }
    if (kind == SetpointKind::hvac_power_cap_kw && env.clamps.contains("comfort")) {
      // Comfort took the cap away: so does the allocator, which must judge the zone afresh
      // rather than cap it again the moment it has cooled a little.
      ctl(ai).correction_kw = 0;
    }
    if (tracker.decide(sl, kind, env.value, now) != SendDecision::send) return;
    if (!context) context = reason_context(now);
    std::string why = reason(sp, *context);
    if (!env.clamps.empty()) {
      ++counters.commands_clamped;
      const char* sep = " (clamped: ";
      for (const char* c : env.clamps) {
        why += sep;
        why += c;
        sep = ", ";
      }
      why += ")";
    }
    out.push_back(tracker.issue(sl, site.site.id, a.asset.id, kind, env.value, now, std::move(why)));
    ++counters.commands_sent;
  }

  // ---------------------------------------------------------------------------- allocator

  // Measured import of a group's sites: the sum of their meters that are online.
  std::optional<double> measured(const std::vector<SiteIndex>& sites) const {
    double sum = 0;
    bool any = false;
    for (auto si : sites) {
      if (auto v = fleet.site_import_kw(si)) {
        sum += *v;
        any = true;
      }
    }
    return any ? std::optional<double>(sum) : std::nullopt;
  }

  // Setpoints about to change the group's import faster than the readings show it: a value not
  // sent yet (such as the plan's event setpoint) or one sent after the asset's last reading.
  // The allocator's immediate answer at an event's start counts it, so it does not correct for
  // a step already on its way (with readings from before the start it would double the plan's
  // step). Batteries follow within seconds: the change in their output (one at a SoC limit has
  // read back since, and counts for nothing). With `zones`, HVAC zones too: they follow the
  // plan's setpoints within the interval, so what they draw beyond the plan's power for it. A
  // reduction steered by the sites' response counts them: without them, the first answer capped
  // zones on top of the plan's own step and the demo's fleet gave 145 % of the request for
  // minutes, spending thermal headroom its last intervals needed. The meters' aim does not (a
  // cap is a limit, and the zones' step comes over the interval, so counting it at once leaves
  // the import above the cap meanwhile; a settlement baseline is met by the meters as they
  // read). Between starts the settle time covers it (counting it there made delivery worse in
  // the demo). kW of reduction.
  double pending_change(const std::vector<SiteIndex>& sites, TimePoint now, bool zones) const {
    double sum = 0;
    for (auto si : sites) {
      for (auto ai : fleet.site(si).assets) {
        const auto& a = fleet.asset(ai);
        if (!a.online || !a.last || std::isnan(a.last->p_kw)) continue;
        if (const auto* b = a.asset.get<BatterySpec>()) {
          const auto d = desired(ai, now)[0];
          if (!d) continue;
          const double want = std::clamp(d->value, -b->max_charge_kw, b->max_discharge_kw);
          const auto* sent = tracker.last(slot(ai, AssetIndex{0}));
          const bool unsent = !sent || std::fabs(sent->value - want) > 0.5;
          if (unsent || sent->issued >= a.last->time) sum += want - a.last->p_kw;
        } else if (zones && a.asset.get<HvacZoneSpec>()) {
          const auto& c = control_of(ai);
          const auto* plan = c.plan.plan.get();
          if (!plan || c.plan.kind != 2) continue;
          const auto k = (now - plan->horizon.start) / plan->horizon.step;
          if (k < 0 || k >= plan->horizon.steps) continue;
          sum += std::max(0.0, a.last->p_kw - plan->sites[c.plan.site].hvac[c.plan.index].electric_kw[static_cast<std::size_t>(k)]);
        }
      }
    }
    return sum;
  }

  // The newest meter reading among a group's sites.
  TimePoint newest_reading(const std::vector<SiteIndex>& sites) const {
    TimePoint t{};
    for (auto si : sites) {
      const auto m = fleet.site(si).meter;
      if (m != kNone && fleet.asset(m).online && fleet.asset(m).last) t = std::max(t, fleet.asset(m).last->time);
    }
    return t;
  }

  // `event_end`: when the event the asset is serving ends, so energy-limited assets spread what
  // they hold over the rest of it instead of spending it at the start.
  Flex flex_of(AssetIndex ai, TimePoint now, std::optional<TimePoint> event_end) {
    Flex f;
    f.asset = ai;
    const auto& a = fleet.asset(ai);
    const AssetKind kind = a.asset.kind();
    if (kind != AssetKind::battery && kind != AssetKind::hvac_zone && kind != AssetKind::flexible_load && kind != AssetKind::pv) {
      return f;  // nothing the allocator moves
    }
    const auto& site = fleet.site(a.site);
    const Control& c = control_of(ai);
    if (!a.online || !a.last || !site.enrolled || (!leases.all().empty() && !leases.dispatch_may_write(asset_key(site, a))) ||
        !site_available(site, now) || now < c.hold_until) {
      return f;
    }
    const auto& lim = site.site.limits;
    const double corr = c.correction_kw;
    f.down_kw = std::max(0.0, corr);
    // What the asset is told now on its main channel (HVAC zones are judged by their power).
    const auto d = kind == AssetKind::hvac_zone ? std::nullopt : desired(ai, now)[0];
    switch (kind) {
      case AssetKind::battery: {
        // A battery may also give back the plan's own discharge: energy not needed now is
        // energy for the rest of the event.
        if (d) f.down_kw = std::max(0.0, d->value);
        if (std::isnan(a.last->soc_pct)) return f;
        const auto& b = *a.asset.get<BatterySpec>();
        const double current = d ? d->value : 0;
        EnvelopeInput in{&a, &site, fleet.site_import_kw(a.site), SetpointKind::battery_p_kw, 1e9, std::nullopt, {}, now,
                         s.commands.ttl, s.commands.max_setpoint_offset_c};
        double top = apply_envelope(in).value;
        const double floor_pct = std::max(lim.battery_reserve_pct, b.soc_min_pct);
        if (event_end && *event_end > now) {
          const double hours_left = to_seconds(*event_end - now) / 3600;
          const double energy_kwh = std::max(0.0, (a.last->soc_pct - floor_pct) / 100 * b.capacity_kwh * b.discharge_efficiency);
          top = std::min(top, energy_kwh / hours_left);
        }
        f.up_kw = std::max(0.0, top - current);
        const double margin = std::max(0.01, (a.last->soc_pct - floor_pct) / 100);
        f.cost = s.allocator.battery_cost_per_kwh * (1 + 0.1 / margin);
        break;
      }
      case AssetKind::hvac_zone: {
        if (std::isnan(a.last->indoor_temp_c) || std::isnan(a.last->p_kw)) return f;
        const auto& hz = *a.asset.get<HvacZoneSpec>();
        // Comfort margin where the zone is heading (see the envelope), in kelvin.
        const double heading = a.last->indoor_temp_c + std::max(0.0, Fleet::temp_slope_c_per_s(a)) * kComfortLookaheadS;
        const double margin = lim.comfort_max_c - kComfortGuardC - heading;
        if (margin <= 0) return f;
        // Reduction is taken against the power drawn when the first correction was made.
        const double base = corr > 0 ? c.hvac_base_kw : a.last->p_kw;
        // A cap is not lifted to correct over-delivery: a zone held back has demand waiting and
        // would return far more than the cap gave. Caps end with comfort (the envelope), the
        // event, or the asset going offline.
        f.down_kw = 0;
        // The air warms at (cooling withheld) / (air heat capacity): cut no more than keeps the
        // zone inside its margin for `hvac_hold` (a released plant needs minutes to pull a zone
        // back), so a fast zone (a data hall) gives a little and a slow one (an office) a lot.
        const double air_kwh_per_k = kAirShareOfCapacitance * hz.thermal_capacitance_kwh_per_k;
        const double cop = std::max(0.5, hz.rated_cop);
        const double hold_h = to_seconds(s.allocator.hvac_hold) / 3600;
        const double safe_kw = margin * air_kwh_per_k / (cop * std::max(hold_h, 1e-3));
        f.up_kw = std::max(0.0, std::min(base * std::min(1.0, margin / 1.5), safe_kw) - std::max(0.0, corr));
        f.cost = s.allocator.comfort_cost_per_c / margin;
        break;
      }
      case AssetKind::flexible_load: {
        const auto& fl = *a.asset.get<FlexibleLoadSpec>();
        const double site_max = lim.max_curtailment_pct > 0 ? lim.max_curtailment_pct : 100;
        const double p = std::isnan(a.last->p_kw) ? 0 : a.last->p_kw;
        const double curtailed = d ? d->value / 100 * p : 0;
        f.up_kw = std::max(0.0, p * std::min(fl.max_curtail_pct, site_max) / 100 - curtailed);
        f.cost = s.planning.curtail_cost_per_kwh;
        break;
      }
      case AssetKind::pv: {
        if (!d || std::isnan(a.last->available_kw)) return f;
        f.up_kw = std::max(0.0, a.last->available_kw - d->value);
        f.cost = 0;
        break;
      }
      default: break;
    }
    return f;
  }

  // Whether a zone's plant is scheduled to run at `t` (the forecast's availability; unknown:
  // assumed to run).
  bool plant_scheduled(const SiteState& site, TimePoint t) const {
    const Forecast* f = forecast.get();
    if (!f) return true;
    const auto it = f->sites.find(site.site.id);
    if (it == f->sites.end()) return true;
    const auto v = forecast_at(f, it->second.hvac_available, t);
    return !v || *v != 0;
  }

  // The thermal mass of a zone follows its air: C_m dTm/dt = h_ms (Ta - Tm) + gains. Had the
  // plant held the default setpoint, the same equation would hold with Ta = setpoint, so the
  // difference between the two masses is a first-order lag of (Ta - setpoint) with time
  // constant C_m / h_ms, whatever the weather and the gains were. Brought forward every tick.
  void update_mass_lags(TimePoint now) {
    for (const auto& site : fleet.sites()) {
      std::optional<bool> scheduled;  // the site's plant schedule, looked up once
      for (auto ai : site.assets) {
        const auto& a = fleet.asset(ai);
        const auto* hz = a.asset.get<HvacZoneSpec>();
        if (!hz) continue;
        auto& c = ctl(ai);
        const double dt = c.mass_at == TimePoint{} ? 0.0 : to_seconds(now - c.mass_at);
        c.mass_at = now;
        if (dt <= 0) continue;
        const double h_ms = mass_coupling_kw_per_k(site.site.type, hz->floor_area_m2);
        const double c_mass_kj = (1 - kAirShareOfCapacitance) * hz->thermal_capacitance_kwh_per_k * 3600;
        if (!(h_ms > 0) || !(c_mass_kj > 0)) continue;
        // A zone under no command of ours is where it would be left alone (whatever setpoint its
        // own thermostat holds); so is one whose plant is off in both worlds, or whose air
        // temperature is unknown: the difference fades.
        const bool known = a.online && a.last && !std::isnan(a.last->indoor_temp_c) && any_in_force(ai, now);
        if (known && !scheduled) scheduled = plant_scheduled(site, now);
        const double x = known && *scheduled ? a.last->indoor_temp_c - hz->default_setpoint_c : 0.0;
        c.mass_lag_c += (x - c.mass_lag_c) * (1 - std::exp(-dt * h_ms / c_mass_kj));
      }
    }
  }

  // The reduction the group's control delivers now, from its measurements alone: what each
  // asset would draw left alone less what it draws. Batteries: their discharge (counted idle
  // left alone, as counterfactual_kw does). PV: minus its curtailment. Flexible loads: the share
  // curtailed. HVAC zones: a zone held at the default setpoint would take out, on top of what
  // the plant removes now, the heat its air gained above the setpoint (from outside and from
  // its mass, (h_out + h_ms)(Ta - Tset)) and the heat stored in its air as it warms (C_air
  // dTa/dt), less what its mass, cooler by `mass_lag_c`, gives back. Weather, PV and load
  // forecast errors do not enter: it measures against the sites' own readings.
  double estimated_reduction(const std::vector<SiteIndex>& sites, TimePoint now) const {
    const Forecast* f = forecast.get();
    const auto t_out = f ? forecast_at(f, f->outdoor_temp_c, now) : std::nullopt;
    double sum = 0;
    for (auto si : sites) {
      const auto& site = fleet.site(si);
      std::optional<bool> scheduled;  // the site's plant schedule, looked up once
      for (auto ai : site.assets) {
        const auto& a = fleet.asset(ai);
        if (!a.online || !a.last || std::isnan(a.last->p_kw)) continue;
        const double p = a.last->p_kw;
        switch (a.asset.kind()) {
          case AssetKind::battery: sum += p; break;
          case AssetKind::pv:
            if (!std::isnan(a.last->available_kw)) sum -= std::max(0.0, a.last->available_kw - p);
            break;
          case AssetKind::flexible_load: {
            const auto* sent = tracker.last(slot(ai, AssetIndex{0}));
            if (!sent || !tracker.in_force(slot(ai, AssetIndex{0}), now)) break;
            const double pct = std::clamp(sent->value, 0.0, 99.0);
            sum += p * pct / (100 - pct);
            break;
          }
          case AssetKind::hvac_zone: {
            const auto& hz = *a.asset.get<HvacZoneSpec>();
            if (std::isnan(a.last->indoor_temp_c) || !(hz.thermal_resistance_k_per_kw > 0)) break;
            if (!scheduled) scheduled = plant_scheduled(site, now);
            if (!*scheduled) break;
            const double h_ms = mass_coupling_kw_per_k(site.site.type, hz.floor_area_m2);
            const double c_air_kj = kAirShareOfCapacitance * hz.thermal_capacitance_kwh_per_k * 3600;
            // The air term only for a zone under our command (see update_mass_lags).
            const double air = any_in_force(ai, now) ? (1 / hz.thermal_resistance_k_per_kw + h_ms) * (a.last->indoor_temp_c - hz.default_setpoint_c) +
                                                           c_air_kj * Fleet::temp_slope_c_per_s(a)
                                                     : 0.0;
            const double dq = air - h_ms * control_of(ai).mass_lag_c;
            const double cop = cooling_cop(hz.rated_cop, t_out.value_or(35.0));
            sum += std::clamp(p + dq / cop, 0.0, std::max(p, hz.rated_electric_kw)) - p;
            break;
          }
          default: break;
        }
      }
    }
    return sum;
  }

  // Follows each group's target between solves, and sends what it moved. `immediate`: a new
  // event, answered at once from the fleet's known headroom, without waiting for the settle
  // time.
  void allocate_tick(std::vector<Output>& out, TimePoint now, bool immediate) {
    std::vector<AssetIndex> touched;
    for (auto& [key, g] : groups) {
      if (key == kFreeGroup) continue;
      // Judge a correction only by readings taken after it had time to act.
      if (!immediate && (now - g.last_correction < s.allocator.settle_time ||
                         newest_reading(g.sites) <= g.last_correction)) {
        continue;
      }
      // Look a little ahead, so the fleet is at its target when an event starts rather than a
      // telemetry round-trip later.
      const double margin = s.allocator.delivery_margin;
      auto target = aim(key, interval_floor(now), margin);
      const Duration lead = std::min(kAllocatorLead, std::chrono::duration_cast<Duration>(s.interval * kAllocatorLeadMaxIntervals));
      if (const auto ahead = aim(key, interval_floor(now + lead), margin);
          !target || (ahead && ahead->ceiling_kw < target->ceiling_kw)) {
        target = ahead;
      }
      if (!target) continue;
      const double request = target->request_kw;
      const auto m = measured(g.sites);
      if (!m) continue;
      const double pending = immediate ? pending_change(g.sites, now, target->reduction) : 0.0;
      // How far the group is from its aim, kW of import. A reduction event is steered by the
      // reduction the fleet's own readings show (estimated_reduction), not by the measured import
      // against the model's reference: the reference carries the day-ahead forecast's errors
      // (the demo day's PV and temperature put it 8 MW, 9 % of the request, off in one interval),
      // and the estimate does not. A cap, and a reduction from the settlement baseline (no
      // forecast), is steered by the measured import.
      const double e = target->reduction ? request * (1 + margin) - estimated_reduction(g.sites, now) - pending
                                         : *m - pending - target->ceiling_kw;
      // A share of what the event asks, not of the fleet's whole import: 1 % of a large fleet's
      // import can be several percent of the request.
      const double band = std::max(s.allocator.deadband_min_kw, s.allocator.deadband_fraction * request);
      if (std::fabs(e) < band && !(e < 0)) continue;
      if (e < 0 && -e < 2 * band) continue;  // over-delivering slightly: leave it
      const double need = (immediate ? 1.0 : s.allocator.gain) * e;
      std::vector<Flex> flex;
      std::optional<TimePoint> event_end;
      for (const auto* e : group_events(key, now, now + Duration(1))) {
        if (e->state == EventState::active) event_end = event_end ? std::min(*event_end, e->event.end()) : e->event.end();
      }
      for (auto si : g.sites) {
        for (auto ai : fleet.site(si).assets) {
          auto f = flex_of(ai, now, event_end);
          if (f.up_kw > 0 || f.down_kw > 0) flex.push_back(f);
        }
      }
      double unmet = 0;
      const auto shares = allocate(flex, need, unmet);
      for (const auto& sh : shares) {
        auto& c = ctl(sh.asset);
        const auto& a = fleet.asset(sh.asset);
        if (c.correction_kw <= 0 && a.asset.kind() == AssetKind::hvac_zone) c.hvac_base_kw = a.last->p_kw;
        c.correction_kw += sh.delta_kw;
        if (a.asset.kind() != AssetKind::battery) c.correction_kw = std::max(0.0, c.correction_kw);
        // A share within a command's deadband goes out with the next tick's pass over the fleet
        // (with whatever else the asset has gathered by then): a fleet short of its target hands
        // thousands of assets a few watts each, every tick.
        if (std::fabs(sh.delta_kw) >= s.commands.deadband_kw) touched.push_back(sh.asset);
      }
      if (!shares.empty()) g.last_correction = now;
      if (unmet > band) {
        alarm_once(out, Severity::warning, "flexibility_exhausted", key,
                   fmt("%.0f kW of the target cannot be met by the fleet's headroom now", unmet));
      } else {
        clear_alarm("flexibility_exhausted", key);
      }
    }
    std::sort(touched.begin(), touched.end());
    apply_setpoints(out, now, &touched);
  }

  // ---------------------------------------------------------------------------- lifecycle

  void on_transitions(const std::vector<EventTransition>& ts, std::vector<Output>& out, TimePoint now) {
    for (const auto& t : ts) {
      out.push_back(t);
      const auto* rec = book.find(t.event_id);
      if (!rec) continue;
      if (t.to == EventState::active && t.from == EventState::scheduled) {
        prepare_settlement(*rec, true);
        need_resolve("event " + t.event_id + " started");
        // The first answer: the allocator acts on the fleet's known headroom at once. Battery
        // corrections made while leading into the event stood in for the plan's event setpoints,
        // which take over now.
        groups_for_now(now);
        for (SiteIndex si = 0; si < fleet.sites().size(); ++si) {
          if (!participates(*rec, fleet.site(si))) continue;
          for (auto ai : fleet.site(si).assets) {
            if (fleet.asset(ai).asset.kind() == AssetKind::battery) ctl(ai).correction_kw = 0;
          }
        }
        allocate_tick(out, now, true);
      } else if (t.to == EventState::completed || t.to == EventState::cancelled) {
        stage_rebound(*rec, now);
        need_resolve("event " + t.event_id + " " + std::string(to_string(t.to)));
      } else if (t.to == EventState::scheduled || (t.from && *t.from == t.to)) {
        if (t.to == EventState::scheduled && !reference_kw.count(t.event_id)) capture_reference(*rec);
        if (t.from && *t.from == t.to) {
          // A modification: baselines and requests follow the new window.
          auto it = settlements.find(t.event_id);
          if (it != settlements.end()) {
            const bool frozen = it->second.reported_intervals > 0;
            if (!frozen) settlements.erase(it);
            if (rec->state == EventState::active && !frozen) prepare_settlement(*rec, true);
          }
        }
        need_resolve("event " + t.event_id + " " + t.reason);
      }
    }
  }

  // Groups must exist for the allocator even before the first plan arrives. Each asset learns
  // when the active event it serves ends (for spending stored energy evenly).
  void groups_for_now(TimePoint now) {
    auto assigned = assign_groups(now);
    for (auto& [key, sites] : assigned) groups[key].sites = sites;
    for (auto it = groups.begin(); it != groups.end();) {
      it = assigned.count(it->first) ? std::next(it) : groups.erase(it);
    }
    for (const auto& [key, g] : groups) {
      std::optional<TimePoint> end;
      if (key != kFreeGroup) {
        for (const auto* e : group_events(key, now, now + Duration(1))) {
          if (e->state == EventState::active) end = end ? std::min(*end, e->event.end()) : e->event.end();
        }
      }
      for (auto si : g.sites) {
        for (auto ai : fleet.site(si).assets) ctl(ai).event_end = end;
      }
    }
  }

  // Loads released after an event in stages, so the fleet does not snap back into a new peak.
  void stage_rebound(const EventRecord& e, TimePoint now) {
    const int stages = std::max(1, s.scheduling.rebound_stages);
    int n = 0;
    for (SiteIndex si = 0; si < fleet.sites().size(); ++si) {
      if (!participates(e, fleet.site(si))) continue;
      for (auto ai : fleet.site(si).assets) {
        const auto& a = fleet.asset(ai);
        if (a.asset.kind() != AssetKind::hvac_zone && a.asset.kind() != AssetKind::flexible_load) continue;
        ctl(ai).correction_kw = 0;
        if (!any_in_force(ai, now)) continue;
        // Stage 0 is released at once; stage k after k gaps.
        ctl(ai).hold_until = now + s.scheduling.rebound_stage_gap * (n % stages);
        ++n;
      }
    }
    for (auto& c : control) {
      if (c.correction_kw != 0 && now >= c.hold_until) c.correction_kw = 0;
    }
  }

  void settle(std::vector<Output>& out, TimePoint now) {
    for (auto& [id, st] : settlements) {
      const auto* rec = book.find(id);
      if (!rec || st.final_sent) continue;
      if (rec->state != EventState::active && rec->state != EventState::completed && rec->state != EventState::cancelled) continue;
      if (st.reported_intervals == 0 && rec->state != EventState::active && rec->ended_at <= rec->event.start) continue;
      const TimePoint first = interval_floor(rec->event.start);
      const TimePoint end = rec->state == EventState::active ? rec->event.end() : std::min(rec->event.end(), rec->ended_at);
      // An interval is reported once it has ended and its last readings had time to arrive.
      const auto grace = kSettlementGrace;
      int done = 0;
      while (first + s.interval * (done + 1) <= std::min(now - grace, end + s.interval - Duration(1)) &&
             done < static_cast<int>(st.requested.size())) {
        ++done;
      }
      const bool ended = rec->state != EventState::active && now >= end + grace;
      if (done > st.reported_intervals || ended) {
        st.reported_intervals = std::max(done, st.reported_intervals);
        if (auto r = report_of(id, now)) {
          r->final = ended;
          if (ended) st.final_sent = true;
          out.push_back(std::move(*r));
        }
      }
    }
  }

  std::optional<EventReport> report_of(const std::string& id, TimePoint now) const {
    const auto it = settlements.find(id);
    const auto* rec = book.find(id);
    if (it == settlements.end() || !rec) return std::nullopt;
    const auto& st = it->second;
    EventReport r;
    r.event_id = id;
    r.baseline_method = st.method;
    r.notes = st.notes;
    const TimePoint first = interval_floor(rec->event.start);
    const TimePoint end = rec->state == EventState::cancelled ? std::min(rec->event.end(), rec->ended_at) : rec->event.end();
    double min_ratio = INFINITY;
    for (std::size_t k = 0; k < st.requested.size(); ++k) {
      const TimePoint ts = first + s.interval * static_cast<int>(k);
      if (ts >= end || ts + s.interval > now) break;
      SettlementInterval fi;
      fi.start = ts;
      fi.requested_kw = st.requested[k];
      fi.baseline_kw = st.fleet_baseline[k];
      bool metered = true;
      for (auto si : st.sites) {
        const auto b = st.site_baseline.at(si)[k];
        const auto mv = meters[si].average(ts);
        if (!mv) metered = false;
        SettlementInterval sit;
        sit.start = ts;
        sit.baseline_kw = std::isnan(b) ? 0 : b;
        sit.metered_kw = mv.value_or(NAN);
        sit.delivered_kw = sit.baseline_kw - sit.metered_kw;
        sit.requested_kw = st.fleet_baseline[k] > 0 ? st.requested[k] * sit.baseline_kw / st.fleet_baseline[k] : 0;
        sit.ratio = sit.requested_kw > 0 ? sit.delivered_kw / sit.requested_kw : 0;
        fi.metered_kw += mv.value_or(0);
        r.sites[fleet.site(si).site.id].push_back(sit);
      }
      fi.delivered_kw = fi.baseline_kw - fi.metered_kw;
      fi.ratio = fi.requested_kw > 0 ? fi.delivered_kw / fi.requested_kw : 0;
      if (!metered) r.notes.push_back("interval " + format_utc(ts) + ": some sites not metered (counted as 0 kW)");
      const double h = to_seconds(s.interval) / 3600;
      r.requested_kwh += fi.requested_kw * h;
      r.delivered_kwh += fi.delivered_kw * h;
      if (fi.requested_kw > 0) min_ratio = std::min(min_ratio, fi.ratio);
      r.fleet.push_back(fi);
    }
    r.min_interval_ratio = std::isfinite(min_ratio) ? min_ratio : 0;
    return r;
  }

  // ---------------------------------------------------------------------------------- tick

  void tick(std::vector<Output>& out, TimePoint now) {
    last_tick = now;
    for (auto ai : fleet.sweep_offline(now, s.scheduling.offline_after)) {
      const auto& a = fleet.asset(ai);
      const auto& site = fleet.site(a.site);
      out.push_back(AssetStatus{site.site.id, a.asset.id, false,
                                "no accepted telemetry for " + format_duration(s.scheduling.offline_after)});
      alarm(out, Severity::warning, "asset_offline", asset_key(site, a), "taken out of the plan; its share is reassigned");
      ctl(ai).correction_kw = 0;
      forget(ai);  // no retries into the void; the device reverts when its command expires
      need_resolve("asset " + asset_key(site, a) + " offline");
    }
    // Re-plan: on request, periodically, when a solve is overdue, or on deviation from plan.
    if (now - last_resolve >= s.scheduling.resolve_period) need_resolve("periodic");
    for (const auto& [key, g] : groups) {
      if (g.pending && now - g.requested_at > s.planning.solve_timeout) need_resolve("solve of " + key + " overdue");
    }
    check_deviation(now);
    groups_for_now(now);
    if (resolve_needed && (forecast || prices)) {
      bool in_flight = false;
      for (const auto& [key, g] : groups) in_flight = in_flight || (g.pending && now - g.requested_at <= s.planning.solve_timeout);
      if (!in_flight) request_solves(out, now);
    }
    apply_setpoints(out, now, nullptr);
    update_mass_lags(now);
    allocate_tick(out, now, false);
    // Retries last: a command superseded above is no longer pending.
    std::vector<Command> resend;
    std::vector<AssetIndex> gave_up;
    tracker.overdue(now, resend, gave_up);
    for (auto& c : resend) {
      ++counters.commands_resent;
      out.push_back(std::move(c));
    }
    for (auto sl : gave_up) {
      const auto& a = fleet.asset(asset_of(sl));
      alarm(out, Severity::error, "command_unacknowledged", asset_key(fleet.site(a.site), a),
            "no acknowledgement after " + std::to_string(s.commands.max_retries) + " retries");
    }
    settle(out, now);
    book.prune(now - std::chrono::days(2));
  }

  void check_deviation(TimePoint now) {
    const auto g = groups.find(kFleetGroup);
    if (g == groups.end() || !g->second.plan) {
      deviating_since.reset();
      return;
    }
    const auto& plan = *g->second.plan;
    const auto k = (now - plan.horizon.start) / plan.horizon.step;
    const auto m = measured(g->second.sites);
    if (k < 0 || k >= plan.horizon.steps || !m) return;
    const double planned = plan.fleet_import_kw[static_cast<std::size_t>(k)];
    if (std::fabs(*m - planned) > s.scheduling.deviation_resolve_fraction * std::max(std::fabs(planned), 1.0)) {
      if (!deviating_since) deviating_since = now;
      if (now - *deviating_since >= s.scheduling.deviation_resolve_after) {
        need_resolve(fmt("fleet deviates from plan: %.0f kW measured, %.0f kW planned", *m, planned));
        deviating_since.reset();
      }
    } else {
      deviating_since.reset();
    }
  }

  // ------------------------------------------------------------------------------ dispatch

  void on(const Telemetry& t, std::vector<Output>& out, TimePoint now) {
    const auto r = fleet.ingest(t, now);
    const std::string subject = t.site_id + "/" + t.asset_id;
    if (r.outcome == GateOutcome::rejected) {
      ++counters.telemetry_rejected;
      alarm_once(out, Severity::warning, "telemetry_gated", subject, r.reason);
      return;
    }
    ++counters.telemetry_accepted;
    clear_alarm("telemetry_gated", subject);
    const auto& a = fleet.asset(r.asset);
    if (a.asset.kind() == AssetKind::site_meter && t.p_kw) {
      if (meters.size() <= a.site) meters.resize(a.site + 1, IntervalMeter(s.interval, s.utc_offset_minutes));
      meters[a.site].add(t.time, *t.p_kw);
    }
    if (r.came_online) {
      out.push_back(AssetStatus{t.site_id, t.asset_id, true, "telemetry accepted"});
      need_resolve("asset " + subject + " online");
    }
  }

  void on(const CommandAck& ack, std::vector<Output>& out, TimePoint) {
    const auto r = tracker.on_ack(ack);
    if (r.asset == kNone) {
      ++counters.acks_unknown;
      return;
    }
    if (!r.problem.empty()) {
      const auto& a = fleet.asset(asset_of(r.asset));
      alarm(out, Severity::warning, "command_rejected", asset_key(fleet.site(a.site), a),
            "command " + ack.command_id + " " + r.problem);
    }
  }

  void on(const GridSignal& g, std::vector<Output>& out, TimePoint now) {
    std::visit(
        [&](const auto& sig) {
          using T = std::decay_t<decltype(sig)>;
          if constexpr (std::is_same_v<T, CurtailmentEvent>) {
            auto r = book.receive(sig, now);
            if (!r.error.empty()) {
              ++counters.signals_rejected;
              alarm(out, Severity::warning, "event_refused", sig.event_id, r.error);
            }
            on_transitions(r.transitions, out, now);
          } else if constexpr (std::is_same_v<T, CancelEvent>) {
            auto r = book.cancel(sig.event_id, now, "cancelled by " + (g.source.empty() ? std::string("grid") : g.source));
            if (!r.error.empty()) {
              ++counters.signals_rejected;
              alarm(out, Severity::warning, "cancel_refused", sig.event_id, r.error);
            }
            on_transitions(r.transitions, out, now);
          } else if constexpr (std::is_same_v<T, PriceSeries>) {
            prices = sig;
            need_resolve("new prices");
          } else if constexpr (std::is_same_v<T, CarbonSeries>) {
            carbon = sig;
            need_resolve("new carbon intensity");
          } else {
            regulation = sig;
          }
        },
        g.signal);
  }

  void on(const EnrolSite& e, std::vector<Output>& out, TimePoint) {
    fleet.enrol(e.site);
    const auto si = fleet.find_site(e.site.id);
    if (meters.size() <= si) meters.resize(si + 1, IntervalMeter(s.interval, s.utc_offset_minutes));
    for (auto ai : fleet.site(si).assets) ctl(ai);
    alarm(out, Severity::info, "site_enrolled", e.site.id, std::to_string(e.site.assets.size()) + " assets");
    need_resolve("site " + e.site.id + " enrolled");
  }

  void on(const UnenrolSite& u, std::vector<Output>& out, TimePoint now) {
    const auto si = fleet.find_site(u.site_id);
    if (si == kNone || !fleet.site(si).enrolled) {
      alarm(out, Severity::warning, "unknown_site", u.site_id, "cannot unenrol: not enrolled");
      return;
    }
    // Devices revert: release what is in force, then stop tracking.
    for (auto ai : fleet.site(si).assets) {
      const auto& a = fleet.asset(ai);
      for (AssetIndex ch = 0; ch < kChannels; ++ch) {
        const AssetIndex sl = slot(ai, ch);
        const auto* last = tracker.last(sl);
        if (last && tracker.in_force(sl, now)) {
          Command c = tracker.issue(sl, u.site_id, a.asset.id, last->kind, neutral_value(a.asset, last->kind), now,
                                    "site unenrolled: release");
          c.expires = now + s.commands.ack_timeout * (s.commands.max_retries + 1);
          out.push_back(std::move(c));
          ++counters.commands_sent;
        }
      }
      forget(ai);
      ctl(ai) = Control{};
    }
    fleet.unenrol(u.site_id);
    alarm(out, Severity::info, "site_unenrolled", u.site_id, "commands stopped");
    need_resolve("site " + u.site_id + " unenrolled");
  }

  void on(const OptOut& o, std::vector<Output>& out, TimePoint) {
    if (fleet.find_site(o.site_id) == kNone) {
      alarm(out, Severity::warning, "opt_out_refused", o.event_id, "unknown site " + o.site_id);
      return;
    }
    if (auto err = book.opt_out(o.event_id, o.site_id)) {
      alarm(out, Severity::warning, "opt_out_refused", o.event_id, *err);
      return;
    }
    alarm(out, Severity::info, "opt_out", o.event_id, "site " + o.site_id + " opted out");
    need_resolve("opt-out of " + o.site_id + " from " + o.event_id);
  }

  void on(const LeaseRequest& l, std::vector<Output>& out, TimePoint now) {
    const auto ai = fleet.find_asset(l.site_id, l.asset_id);
    const std::string key = l.site_id + "/" + l.asset_id;
    if (ai == kNone) {
      alarm(out, Severity::warning, "lease_refused", key, "unknown asset");
      return;
    }
    std::string why;
    auto change = leases.acquire(key, l.lease, now, why);
    if (!change) {
      alarm(out, Severity::warning, "lease_refused", key, why);
      return;
    }
    out.push_back(*change);
    ctl(ai).correction_kw = 0;
    if (l.kind) {
      // Sent on the holder's behalf, through the same envelope as dispatch.
      const auto& a = fleet.asset(ai);
      const auto& site = fleet.site(a.site);
      EnvelopeInput in{&a, &site, fleet.site_import_kw(a.site), *l.kind, l.value, std::nullopt, {}, now, s.commands.ttl,
                       s.commands.max_setpoint_offset_c};
      const auto env = apply_envelope(in);
      if (!env.allowed) {
        alarm(out, Severity::warning, "command_refused", key, env.refusal);
        return;
      }
      out.push_back(tracker.issue(slot(ai, *l.kind), l.site_id, l.asset_id, *l.kind, env.value, now, "lease " + l.lease.owner));
      ++counters.commands_sent;
    }
  }

  void on(const LeaseRelease& l, std::vector<Output>& out, TimePoint now) {
    if (auto c = leases.release(l.site_id + "/" + l.asset_id, l.owner, now)) {
      out.push_back(*c);
    } else {
      alarm(out, Severity::warning, "lease_release_refused", l.site_id + "/" + l.asset_id, l.owner + " holds no lease");
    }
  }

  void on(const Tick&, std::vector<Output>& out, TimePoint now) { tick(out, now); }
  void on(const SolveResult& r, std::vector<Output>& out, TimePoint now) { adopt(r, out, now); }

  void on(const ForecastUpdate& f, std::vector<Output>&, TimePoint) {
    const bool first = !forecast;
    forecast = f.forecast;
    if (first) need_resolve("first forecast");
    // References follow the forecast until their event starts, then stay as they were.
    for (const auto& [id, rec] : book.all()) {
      if (rec.state == EventState::scheduled && rec.event.target_reduction_kw) capture_reference(rec);
    }
  }

  void on(const RestoreEvent& r, std::vector<Output>&, TimePoint) {
    book.restore(r.record);
    const auto& rec = *book.find(r.record.event.event_id);
    if (rec.event.target_reduction_kw && !reference_kw.count(rec.event.event_id)) capture_reference(rec);
    if (rec.state == EventState::active) prepare_settlement(rec, true);
    need_resolve("event " + rec.event.event_id + " restored");
  }

  void on(const RestorePlan& r, std::vector<Output>& out, TimePoint now) {
    if (!r.plan || r.plan->horizon.steps <= 0) return;
    const auto& h = r.plan->horizon;
    if (now >= h.start + h.step * h.steps || now < h.start) return;  // run out, or not begun
    groups_for_now(now);
    const auto it = groups.find(r.group);
    if (it == groups.end() || it->second.plan) return;  // gone, or a fresh plan came first
    for (const auto& sp : r.plan->sites) {
      if (fleet.find_site(sp.id) == kNone) return;      // enrolments changed since: wait for a solve
    }
    // No problem: it only gives the start temperatures of the first interval, long past.
    install(r.group, it->second, r.plan, nullptr, 0, out);
    ++counters.plans_restored;
    apply_setpoints(out, now, nullptr);
  }

  void on(const MeterHistory& h, std::vector<Output>& out, TimePoint) {
    const auto si = fleet.find_site(h.site_id);
    if (si == kNone) {
      alarm(out, Severity::warning, "unknown_site", h.site_id, "meter history for a site that is not enrolled");
      return;
    }
    if (meters.size() <= si) meters.resize(si + 1, IntervalMeter(s.interval, s.utc_offset_minutes));
    meters[si].set_day(h.day);
  }
};

// -------------------------------------------------------------------------------- interface

Core::Core(Settings settings, std::string command_id_prefix)
    : impl_(std::make_unique<Impl>(settings, std::move(command_id_prefix))) {}
Core::~Core() = default;
Core::Core(Core&&) noexcept = default;
Core& Core::operator=(Core&&) noexcept = default;

std::vector<Output> Core::handle(const Input& input, TimePoint now) {
  std::vector<Output> out;
  auto& m = *impl_;
  // Time moves first: events that start or end by now, leases that expire.
  m.on_transitions(m.book.advance(now), out, now);
  for (auto& c : m.leases.expire(now)) out.push_back(std::move(c));
  std::visit([&](const auto& in) { m.on(in, out, now); }, input);
  return out;
}

const Fleet& Core::fleet() const { return impl_->fleet; }
const EventBook& Core::events() const { return impl_->book; }
const LeaseTable& Core::leases() const { return impl_->leases; }
const CoreCounters& Core::counters() const { return impl_->counters; }
const Settings& Core::settings() const { return impl_->s; }

std::optional<EventReport> Core::report(const std::string& event_id, TimePoint now) const {
  return impl_->report_of(event_id, now);
}

std::optional<double> Core::target_kw(TimePoint now) const {
  return impl_->ceiling(kFleetGroup, impl_->interval_floor(now), impl_->s.allocator.delivery_margin);
}

double Core::measured_reduction_kw(TimePoint now) const {
  std::vector<SiteIndex> sites;
  for (SiteIndex i = 0; i < impl_->fleet.sites().size(); ++i) {
    if (impl_->fleet.site(i).enrolled) sites.push_back(i);
  }
  return impl_->estimated_reduction(sites, now);
}

std::string Core::describe(TimePoint now) const {
  const auto& m = *impl_;
  std::string out = "core at " + format_utc(now) + "\n";
  out += "fleet: " + std::to_string(m.fleet.sites().size()) + " sites, " + std::to_string(m.fleet.assets().size()) +
         " assets, " + std::to_string(m.fleet.online_assets()) + " online\n";
  for (const auto& [id, e] : m.book.all()) {
    out += "event " + id + ": " + std::string(to_string(e.state)) + " " + format_utc(e.event.start) + " + " +
           format_duration(e.event.duration) + "\n";
  }
  for (const auto& [key, g] : m.groups) {
    out += "group " + key + ": " + std::to_string(g.sites.size()) + " sites";
    if (auto t = m.ceiling(key, m.interval_floor(now), m.s.allocator.delivery_margin)) out += fmt(", target %.1f kW", *t);
    if (auto mv = m.measured(g.sites)) out += fmt(", measured %.1f kW", *mv);
    if (g.plan) {
      out += ", plan of " + format_utc(g.plan->horizon.start);
      const auto k = (now - g.plan->horizon.start) / g.plan->horizon.step;
      if (k >= 0 && k < g.plan->horizon.steps) {
        out += fmt(" expecting %.1f kW", g.plan->fleet_import_kw[static_cast<std::size_t>(k)]);
        if (g.plan->shortfall_kw[static_cast<std::size_t>(k)] > 0) {
          out += fmt(" (shortfall %.1f kW)", g.plan->shortfall_kw[static_cast<std::size_t>(k)]);
        }
      }
    }
    if (g.pending) out += ", solve " + std::to_string(g.pending) + " pending";
    out += "\n";
  }
  for (AssetIndex ai = 0; ai < m.fleet.assets().size(); ++ai) {
    const auto& a = m.fleet.asset(ai);
    for (AssetIndex ch = 0; ch < Impl::kChannels; ++ch) {
      const auto* last = m.tracker.last(Impl::slot(ai, ch));
      if (!last) continue;
      out += "  " + m.fleet.site(a.site).site.id + "/" + a.asset.id + ": " + fmt("%.2f", last->value) + " (" +
             m.tracker.command(Impl::slot(ai, ch))->reason + ")" + (last->acked ? "" : " unacked") + "\n";
    }
  }
  return out;
}

}  // namespace vpp::controller
