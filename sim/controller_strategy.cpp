#include "sim/controller_strategy.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "optimizer/solvers.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim {

using namespace controller;

SolveResult solve(const SolveRequest& request, const std::string& solver) {
  SolveResult r;
  r.request_id = request.id;
  if (!request.problem) {
    r.error = "solve request without a problem";
    return r;
  }
  Result<optimizer::Plan> plan = Error{""};
  if (solver == "clp") {
    plan = optimizer::solve_clp(*request.problem);
  } else {
    optimizer::DecomposedOptions o;
    // One thread: the plan does not depend on the thread count, and the simulator's own
    // threads are busy with physics.
    o.threads = 1;
    o.initial_prices = request.warm_prices;
    plan = optimizer::solve_decomposed(*request.problem, o);
  }
  if (plan) {
    r.plan = std::make_shared<optimizer::Plan>(std::move(*plan));
  } else {
    r.error = plan.error();
  }
  return r;
}

ControllerStrategy::ControllerStrategy() = default;
ControllerStrategy::~ControllerStrategy() = default;

void ControllerStrategy::start(const StrategyContext& ctx) {
  ctx_ = ctx;
  // VPPSIM_TRACE=1 prints the first alarms of each kind to stderr, for engineers.
  trace_ = std::getenv("VPPSIM_TRACE") != nullptr;
  // VPPSIM_TRACE_SITE=ID prints that site's plan against its telemetry every 15 minutes.
  if (const char* site = std::getenv("VPPSIM_TRACE_SITE")) trace_site_ = site;
  if (ctx.scenario) {
    settings_ = ctx.scenario->controller;
    solver_ = ctx.scenario->solver;
  } else {
    solver_ = "decomposed";
  }
  settings_.utc_offset_minutes = ctx.utc_offset_minutes;
  core_ = std::make_unique<Core>(settings_, "sim-");
  if (!ctx.record_path.empty()) {
    inputs_ = std::make_unique<DelimitedWriter>(ctx.record_path);
    vpp::v1::RecordingHeader h;
    h.set_format("vpp-recording/1");
    if (ctx.scenario) {
      h.set_scenario_name(ctx.scenario->name);
      h.set_scenario_yaml(ctx.scenario->text);
    }
    h.set_seed(ctx.seed);
    h.set_strategy("controller");
    h.set_command_id_prefix("sim-");
    h.set_solver(solver_);
    inputs_->write(h);
  }
  if (!ctx.outputs_path.empty()) outputs_ = std::make_unique<DelimitedWriter>(ctx.outputs_path);
  recording_ = std::make_unique<RecordingCore>(*core_, inputs_.get(), outputs_.get());

  std::vector<Command> none;
  for (const auto& site : ctx.sites) handle_outputs(feed(EnrolSite{site}, ctx.start), ctx.start, none);
  for (const auto& day : ctx.history) {
    DayProfile p;
    p.day = day.local_day;
    p.eligible = day.working_day;
    p.kw = day.kw;
    handle_outputs(feed(MeterHistory{day.site_id, std::move(p)}, ctx.start), ctx.start, none);
  }
}

std::vector<Output> ControllerStrategy::feed(const Input& in, TimePoint now) { return recording_->handle(in, now); }

std::shared_ptr<Forecast> ControllerStrategy::forecast(TimePoint now) const {
  auto f = std::make_shared<Forecast>();
  const Duration step = settings_.interval;
  const auto off = static_cast<std::int64_t>(settings_.utc_offset_minutes) * 60'000;
  const auto ms = to_unix_ms(now);
  f->start = from_unix_ms(ms - (((ms + off) % step.count()) + step.count()) % step.count());
  f->step = step;
  f->steps = settings_.horizon_steps;
  const Forecasts* fc = ctx_.forecasts;
  if (!fc) return f;
  const auto T = static_cast<std::size_t>(f->steps);
  f->outdoor_temp_c.resize(T);
  for (std::size_t k = 0; k < T; ++k) {
    f->outdoor_temp_c[k] = fc->outdoor_temp_c(f->start + step * static_cast<std::int64_t>(k) + step / 2);
  }
  for (const auto& site : ctx_.sites) {
    SiteForecast s;
    s.base_load_kw.resize(T);
    s.occupied.resize(T);
    s.hvac_available.resize(T);
    for (std::size_t k = 0; k < T; ++k) {
      const TimePoint mid = f->start + step * static_cast<std::int64_t>(k) + step / 2;
      double flexible = 0;
      for (const auto& a : site.assets) {
        if (a.get<FlexibleLoadSpec>()) {
          auto& v = s.flexible_kw[a.id];
          v.resize(T);
          v[k] = fc->flexible_load_kw(site.id, a.id, mid);
          flexible += v[k];
        } else if (a.get<PvSpec>()) {
          auto& v = s.pv_kw[a.id];
          v.resize(T);
          v[k] = fc->pv_expected_kw(site.id, a.id, mid);
        } else if (a.get<HvacZoneSpec>()) {
          auto& v = s.gains_kw[a.id];
          v.resize(T);
          v[k] = fc->zone_gains_kw(site.id, a.id, mid);
        }
      }
      s.base_load_kw[k] = std::max(0.0, fc->base_load_kw(site.id, mid) - flexible);
      s.occupied[k] = fc->occupied(site.id, mid) ? 1 : 0;
      s.hvac_available[k] = fc->hvac_scheduled(site.id, mid) ? 1 : 0;
    }
    f->sites[site.id] = std::move(s);
  }
  return f;
}

void ControllerStrategy::handle_outputs(std::vector<Output>&& outs, TimePoint now, std::vector<Command>& commands) {
  for (auto& o : outs) {
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Command>) {
            commands.push_back(std::move(x));
          } else if constexpr (std::is_same_v<T, SolveRequest>) {
            const auto a = std::chrono::steady_clock::now();
            ready_.push_back(solve(x, solver_));
            if (!trace_site_.empty()) {
              last_problem_ = x.problem;
              last_plan_ = ready_.back().plan;
            }
            stats_.solve_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
            ++stats_.solves;
          } else if constexpr (std::is_same_v<T, EventReport>) {
            reports_[x.event_id] = x;
          } else if constexpr (std::is_same_v<T, Alarm>) {
            if (trace_ && stats_.alarms[x.code] < 20) {
              std::fprintf(stderr, "[%s] alarm %s %s: %s\n", format_utc(now).c_str(), x.code.c_str(), x.subject.c_str(),
                           x.message.c_str());
            }
            ++stats_.alarms[x.code];
          }
        },
        o);
  }
}

std::vector<Command> ControllerStrategy::tick(TimePoint now, std::span<const Telemetry> telemetry,
                                              std::span<const CommandAck> acks, std::span<const GridSignal> signals) {
  std::vector<Command> commands;
  // Plans computed at the previous tick arrive now: a control period of solve latency.
  auto ready = std::move(ready_);
  ready_.clear();
  for (auto& r : ready) handle_outputs(feed(r, now), now, commands);
  for (const auto& g : signals) handle_outputs(feed(g, now), now, commands);
  for (const auto& t : telemetry) {
    handle_outputs(feed(t, now), now, commands);
    if (!trace_site_.empty() && t.site_id == trace_site_) seen_[t.asset_id] = t;
  }
  if (!trace_site_.empty() && last_plan_ && (to_unix_ms(now) % (15 * 60'000) == 0 || std::getenv("VPPSIM_TRACE_MINUTES"))) trace_site(now);
  for (const auto& a : acks) handle_outputs(feed(a, now), now, commands);
  // A fresh forecast whenever the planning interval moves on.
  const auto interval = settings_.interval;
  if (!last_forecast_ || now - *last_forecast_ >= interval) {
    handle_outputs(feed(ForecastUpdate{forecast(now)}, now), now, commands);
    last_forecast_ = now;
  }
  handle_outputs(feed(Tick{}, now), now, commands);
  if (trace_ && (to_unix_ms(now) % (15 * 60'000) == 0 || std::getenv("VPPSIM_TRACE_MINUTES"))) {
    const auto d = core_->describe(now);
    for (std::size_t a = 0, b; a < d.size(); a = b + 1) {
      b = d.find('\n', a);
      if (b == std::string::npos) b = d.size();
      const auto line = d.substr(a, b - a);
      if (line.starts_with("group") || line.starts_with("core")) std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  return commands;
}

void ControllerStrategy::trace_site(TimePoint now) const {
  for (std::size_t i = 0; i < last_plan_->sites.size(); ++i) {
    const auto& sp = last_plan_->sites[i];
    if (sp.id != trace_site_) continue;
    const auto& pr = last_problem_->sites[i];
    const auto k = static_cast<std::size_t>((now - last_plan_->horizon.start) / last_plan_->horizon.step);
    if (k >= sp.import_kw.size()) return;
    std::fprintf(stderr, "%s %s plan import %.0f base %.0f", format_utc(now).c_str(), trace_site_.c_str(), sp.import_kw[k],
                 pr.base_load_kw[k]);
    for (std::size_t z = 0; z < sp.hvac.size(); ++z) {
      std::fprintf(stderr, " hvac %.0f kW -> %.2f C (gains %.0f out %.1f)", sp.hvac[z].electric_kw[k], sp.hvac[z].temp_c[k],
                   pr.hvac[z].gains_kw[k], pr.hvac[z].outdoor_temp_c[k]);
    }
    for (const auto& b : sp.batteries) std::fprintf(stderr, " bat %.0f", b.p_kw[k]);
    for (std::size_t v = 0; v < sp.pv.size(); ++v) std::fprintf(stderr, " pv %.0f/%.0f", sp.pv[v].limit_kw[k], pr.pv[v].forecast_kw[k]);
    std::fprintf(stderr, "\n   measured:");
    for (const auto& [id, t] : seen_) {
      std::fprintf(stderr, " %s p=%.0f", id.c_str(), t.p_kw.value_or(NAN));
      if (t.indoor_temp_c) std::fprintf(stderr, " T=%.2f sp=%.2f", *t.indoor_temp_c, t.setpoint_c.value_or(NAN));
      if (t.soc_pct) std::fprintf(stderr, " soc=%.1f", *t.soc_pct);
    }
    std::fprintf(stderr, "\n");
  }
}

std::vector<double> ControllerStrategy::settlement_baseline_kw(std::string_view event_id) const {
  const auto it = reports_.find(std::string(event_id));
  if (it == reports_.end()) return {};
  std::vector<double> out;
  for (const auto& i : it->second.fleet) out.push_back(i.baseline_kw);
  return out;
}

std::vector<std::string> ControllerStrategy::finish() {
  std::vector<std::string> notes;
  if (inputs_) inputs_->flush();
  if (outputs_) outputs_->flush();
  char buf[200];
  std::snprintf(buf, sizeof buf, "controller: %llu solves, %.2f s solving in total",
                static_cast<unsigned long long>(stats_.solves), stats_.solve_seconds);
  notes.emplace_back(buf);
  std::string alarms;
  for (const auto& [code, n] : stats_.alarms) alarms += (alarms.empty() ? "" : ", ") + code + " " + std::to_string(n);
  if (!alarms.empty()) notes.push_back("controller alarms: " + alarms);
  for (const auto& [id, r] : reports_) {
    std::snprintf(buf, sizeof buf, "controller settlement of %s: requested %.1f kWh, delivered %.1f kWh against %s",
                  id.c_str(), r.requested_kwh, r.delivered_kwh, r.baseline_method.c_str());
    notes.emplace_back(buf);
    if (trace_) {
      for (const auto& i : r.fleet) {
        std::fprintf(stderr, "settlement %s %s requested %.0f baseline %.0f metered %.0f ratio %.3f\n", id.c_str(),
                     format_utc(i.start).c_str(), i.requested_kw, i.baseline_kw, i.metered_kw, i.ratio);
      }
      for (std::size_t k = 0; k < std::min<std::size_t>(r.notes.size(), 5); ++k) std::fprintf(stderr, "note %s\n", r.notes[k].c_str());
    }
  }
  return notes;
}

std::unique_ptr<Strategy> make_controller_strategy() { return std::make_unique<ControllerStrategy>(); }

}  // namespace vpp::sim
