#include "apps/daemon/driver.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "adapters/http/views.hpp"
#include "proto/convert.hpp"
#include "sim/recording.hpp"

namespace vpp::daemon {

std::string_view to_string(Route r) {
  switch (r) {
    case Route::mqtt: return "mqtt";
    case Route::modbus: return "modbus";
    case Route::none: return "none";
  }
  return "?";
}

CoreDriver::CoreDriver(const controller::Settings& settings, std::string command_prefix, store::Store* store,
                       Shell& shell)
    : settings_(settings), core_(settings, std::move(command_prefix)), store_(store), shell_(shell) {}

const std::vector<controller::EventTransition>& CoreDriver::transitions(const std::string& event_id) const {
  static const std::vector<controller::EventTransition> kNone;
  const auto it = transitions_.find(event_id);
  return it == transitions_.end() ? kNone : it->second;
}

std::optional<StatusNote> CoreDriver::status(const std::string& site_id, const std::string& asset_id) const {
  const auto it = status_.find({site_id, asset_id});
  if (it == status_.end()) return std::nullopt;
  return it->second;
}

const std::string* CoreDriver::group_of(const std::string& site_id) const {
  const auto it = site_group_.find(site_id);
  return it == site_group_.end() ? nullptr : &it->second;
}

std::vector<controller::Output> CoreDriver::feed(const controller::Input& in, TimePoint now) {
  ++counters_.inputs;
  auto out = core_.handle(in, now);
  if (out.empty()) return out;
  std::set<std::string> touched_events;
  std::set<std::string> solved_groups;
  for (auto& o : out) {
    if (const auto* t = std::get_if<controller::EventTransition>(&o)) touched_events.insert(t->event_id);
    if (const auto* r = std::get_if<controller::SolveRequest>(&o)) solved_groups.insert(r->group);
    handle(o, now);
  }
  // The event's record as the core holds it after this input (state, revision, opt-outs).
  for (const auto& id : touched_events) {
    if (const auto* rec = core_.events().find(id); rec && store_) store_->save_event(*rec, now);
  }
  // A round of solve requests names every planning group there is now: plans of groups that are
  // gone (an event ended) are no longer followed.
  if (!solved_groups.empty()) std::erase_if(plans_, [&](const auto& kv) { return !solved_groups.count(kv.first); });
  // Transitions of events the core has forgotten (pruned two days after they ended).
  if (transitions_.size() > core_.events().all().size() + 64) {
    std::erase_if(transitions_, [&](const auto& kv) { return !core_.events().find(kv.first); });
  }
  return out;
}

void CoreDriver::handle(controller::Output& o, TimePoint now) {
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Command>) {
          on_command(x, now);
        } else if constexpr (std::is_same_v<T, controller::SolveRequest>) {
          requests_[x.id] = AdoptedPlan{nullptr, x.problem};
          request_group_[x.id] = x.group;
          // Bounded: results of requests the worker skipped (superseded) never come back.
          while (requests_.size() > 1024) requests_.erase(requests_.begin());
          while (request_group_.size() > 1024) request_group_.erase(request_group_.begin());
          if (x.problem) {
            for (const auto& s : x.problem->sites) site_group_[s.id] = x.group;
          }
          spdlog::debug("solve {} of group {} requested: {}", x.id, x.group, x.reason);
          shell_.solve(x);
        } else if constexpr (std::is_same_v<T, controller::EventTransition>) {
          transitions_[x.event_id].push_back(x);
          if (store_) store_->add_transition(x);
          spdlog::info("event {}: {} -> {} ({})", x.event_id, x.from ? controller::to_string(*x.from) : "new",
                       controller::to_string(x.to), x.reason);
        } else if constexpr (std::is_same_v<T, controller::EventReport>) {
          if (!store_) return;
          for (const auto& i : x.fleet) store_->save_settlement({x.event_id, "", i});
          for (const auto& [site, rows] : x.sites) {
            for (const auto& i : rows) {
              store_->save_settlement({x.event_id, site, i});
              store_->save_baseline({x.event_id, site, i.start, i.baseline_kw, x.baseline_method});
            }
          }
          if (x.final) {
            spdlog::info("event {} settled: requested {:.1f} kWh, delivered {:.1f} kWh, lowest interval ratio {:.2f}",
                         x.event_id, x.requested_kwh, x.delivered_kwh, x.min_interval_ratio);
          }
        } else if constexpr (std::is_same_v<T, controller::Alarm>) {
          ++counters_.alarms[x.code];
          switch (x.severity) {
            case controller::Severity::info: spdlog::info("{} {}: {}", x.code, x.subject, x.message); break;
            case controller::Severity::warning: spdlog::warn("alarm {} {}: {}", x.code, x.subject, x.message); break;
            case controller::Severity::error: spdlog::error("alarm {} {}: {}", x.code, x.subject, x.message); break;
          }
        } else if constexpr (std::is_same_v<T, controller::LeaseChange>) {
          spdlog::info("lease {}: {} -> {} ({})", x.asset_key, x.before ? x.before->owner : "dispatch",
                       x.after ? x.after->owner : "dispatch", x.reason);
        } else if constexpr (std::is_same_v<T, controller::AssetStatus>) {
          status_[{x.site_id, x.asset_id}] = StatusNote{x.online, x.reason, now};
          spdlog::info("asset {}/{} {}: {}", x.site_id, x.asset_id, x.online ? "online" : "offline", x.reason);
        }
      },
      o);
}

void CoreDriver::on_command(const Command& c, TimePoint now) {
  std::string why;
  const Route r = shell_.send_command(c, why);
  if (store_) store_->log_command(c, context_json(c, now));
  const std::string key = c.site_id + "/" + c.asset_id;
  if (r != Route::none) {
    ++counters_.commands_routed[std::string(to_string(r))];
    unserved_.erase(key);
    return;
  }
  ++counters_.commands_unserved;
  if (unserved_.insert(key).second) {
    ++counters_.alarms["command_unserved"];
    spdlog::warn("alarm command_unserved {}: {} (commands to it are counted, not sent)", key, why);
  }
  // The audit log says what happened to it; the core sees no ack and gives up after its retries.
  if (store_) store_->record_ack({c.command_id, c.site_id, c.asset_id, AckStatus::rejected, now, "not sent: " + why});
}

std::string CoreDriver::context_json(const Command& c, TimePoint now) const {
  http::CommandContext ctx;
  for (const auto& [id, rec] : core_.events().all()) {
    if (rec.state != controller::EventState::active || rec.opted_out.count(c.site_id)) continue;
    const auto& ids = rec.event.site_ids;
    if (ids.empty() || std::find(ids.begin(), ids.end(), c.site_id) != ids.end()) {
      ctx.event_id = id;
      break;
    }
  }
  // The core's reasons name the plan as "plan #N" (N = the solve request that produced it).
  if (const auto hash = c.reason.find('#'); hash != std::string::npos) {
    auto end = hash + 1;
    while (end < c.reason.size() && std::isdigit(static_cast<unsigned char>(c.reason[end]))) ++end;
    ctx.plan_id = c.reason.substr(hash + 1, end - hash - 1);
  }
  if (const auto it = site_group_.find(c.site_id); it != site_group_.end()) ctx.group = it->second;
  if (prices_) ctx.import_price = value_at(prices_->import_price, prices_->interval, now);
  if (carbon_) ctx.carbon_intensity_kg_per_kwh = value_at(carbon_->intensity_kg_per_kwh, carbon_->interval, now);
  ctx.explanation = c.reason;
  return to_json(http::to_proto(ctx));
}

std::vector<controller::Output> CoreDriver::signal(const GridSignal& g, TimePoint now) {
  auto out = feed(g, now);
  auto keep = [&](const char* key) {
    if (store_) store_->save_plan({key, now, "vpp.v1.GridSignal/json", to_json(to_proto(g))});
  };
  if (const auto* p = std::get_if<PriceSeries>(&g.signal)) {
    prices_ = *p;
    keep(kPricesKey);
  } else if (const auto* c = std::get_if<CarbonSeries>(&g.signal)) {
    carbon_ = *c;
    keep(kCarbonKey);
  }
  return out;
}

void CoreDriver::on_adapter_input(const adapters::AdapterInput& in, TimePoint now) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Telemetry>) {
          const auto before = core_.counters().telemetry_accepted;
          feed(x, now);
          // Roll-ups hold what the core accepted (gated values only), as the store would skip
          // samples without a finite P or of bad quality.
          if (core_.counters().telemetry_accepted > before && store_ && x.p_kw && std::isfinite(*x.p_kw) &&
              x.quality != Quality::bad && x.quality != Quality::stale) {
            store_->add_telemetry(x);
            ++counters_.telemetry_stored;
          }
        } else if constexpr (std::is_same_v<T, CommandAck>) {
          ++counters_.acks;
          feed(x, now);
          if (store_) store_->record_ack(x);
        } else if constexpr (std::is_same_v<T, GridSignal>) {
          signal(x, now);
        } else if constexpr (std::is_same_v<T, adapters::DeviceStatus>) {
          // The core takes devices offline by the staleness of their telemetry; the adapter's word
          // is kept as the reason shown in the fleet view.
          status_[{x.site_id, x.asset_id}] = StatusNote{x.online, x.reason, now};
          ++(x.online ? counters_.device_online : counters_.device_offline);
          spdlog::info("device {}/{} {} ({})", x.site_id, x.asset_id, x.online ? "online" : "offline", x.reason);
        }
      },
      in);
}

void CoreDriver::on_solved(controller::SolveResult r, double seconds, TimePoint now) {
  ++(r.plan ? counters_.solves_ok : counters_.solves_failed);
  counters_.solve_seconds_sum += seconds;
  counters_.solve_seconds_last = seconds;
  counters_.solve_seconds_max = std::max(counters_.solve_seconds_max, seconds);
  std::string group;
  AdoptedPlan adopted;
  if (const auto it = request_group_.find(r.request_id); it != request_group_.end()) {
    group = it->second;
    request_group_.erase(it);
  }
  if (const auto it = requests_.find(r.request_id); it != requests_.end()) {
    adopted = it->second;
    requests_.erase(it);
  }
  adopted.plan = r.plan;
  const auto before = core_.counters().plans_adopted;
  spdlog::debug("solve {} of group {} done in {:.3f} s{}", r.request_id, group, seconds,
                r.plan ? "" : ": " + r.error);
  feed(std::move(r), now);
  if (core_.counters().plans_adopted > before && adopted.plan && !group.empty()) {
    // Kept for a restart: the plan a restored event follows until its fresh solve arrives.
    if (store_) store_->save_plan({group, now, kPlanFormat, sim::plan_to_record(*adopted.plan).SerializeAsString()});
    plans_[group] = std::move(adopted);
  }
}

std::size_t CoreDriver::resume_plans(TimePoint now) {
  std::size_t taken = 0;
  for (auto& rp : restored_plans_) {
    const auto before = core_.counters().plans_restored;
    const std::string group = rp.group;
    auto plan = rp.plan;
    feed(std::move(rp), now);
    if (core_.counters().plans_restored > before) {
      plans_[group] = AdoptedPlan{std::move(plan), nullptr};
      ++taken;
      spdlog::info("following the plan group {} had before the restart until its fresh solve arrives", group);
    }
  }
  restored_plans_.clear();
  return taken;
}

std::string CoreDriver::restore(const std::vector<Site>& config_sites, const store::Restored& r,
                                const std::vector<controller::MeterHistory>& history, TimePoint now,
                                const std::vector<store::StoredEvent>& ended) {
  std::map<std::string, const store::SiteRecord*> stored;
  for (const auto& s : r.sites) stored[s.site.id] = &s;
  std::set<std::string> from_config;
  int changed_over_api = 0;
  for (const auto& site : config_sites) {
    from_config.insert(site.id);
    if (const auto it = stored.find(site.id); it != stored.end()) {
      // Changed over the API since: the API's version is the newer word on this site.
      feed(controller::EnrolSite{it->second->site}, now);
      site_times_[site.id] = {it->second->enrolled_at, it->second->updated_at};
      ++changed_over_api;
    } else {
      feed(controller::EnrolSite{site}, now);
      site_times_[site.id] = {now, now};
    }
  }
  int api_sites = 0;
  for (const auto& s : r.sites) {
    if (from_config.count(s.site.id)) continue;
    feed(controller::EnrolSite{s.site}, now);
    site_times_[s.site.id] = {s.enrolled_at, s.updated_at};
    ++api_sites;
  }
  // Meter history before events: a restored active event freezes its baselines at once.
  for (const auto& h : history) feed(h, now);
  for (const char* key : {kPricesKey, kCarbonKey}) {
    const auto it = r.plans.find(key);
    if (it == r.plans.end()) continue;
    auto g = json_to_model<vpp::v1::GridSignal>(it->second.body);
    if (!g) {
      spdlog::warn("store: the stored {} cannot be read ({}); planning without it", key, g.error());
      continue;
    }
    signal(*g, now);
  }
  for (const auto* events : {&ended, &r.events}) {
    for (const auto& e : *events) {
      transitions_[e.record.event.event_id] = e.transitions;
      feed(controller::RestoreEvent{e.record}, now);
    }
  }
  // The last plans, for resume_plans() (the core skips those whose horizon has run out). The
  // store keeps the last plan of every group there ever was: those made longer than a horizon
  // ago are not even parsed.
  restored_plans_.clear();
  for (const auto& [group, stored] : r.plans) {
    if (stored.format != kPlanFormat || stored.created + settings_.interval * settings_.horizon_steps <= now) continue;
    vpp::v1::PlanRecord rec;
    if (!rec.ParseFromString(stored.body)) {
      spdlog::warn("store: the last plan of {} cannot be read; waiting for a fresh solve", group);
      continue;
    }
    auto plan = sim::plan_from_record(rec);
    if (!plan) {
      spdlog::warn("store: the last plan of {} is inconsistent ({}); waiting for a fresh solve", group, plan.error());
      continue;
    }
    restored_plans_.push_back({group, std::move(*plan)});
  }
  return std::to_string(config_sites.size()) + " sites from the configuration (" + std::to_string(changed_over_api) +
         " as last changed over the API), " + std::to_string(api_sites) + " enrolled over the API, " +
         std::to_string(history.size()) + " days of meter history, " + std::to_string(r.events.size()) +
         " live events, " + std::to_string(ended.size()) + " recently ended, " + std::to_string(restored_plans_.size()) +
         " stored plans";
}

}  // namespace vpp::daemon
