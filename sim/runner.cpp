#include "sim/runner.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>

#include "model/clock.hpp"
#include "sim/fleet_gen.hpp"
#include "sim/forecasts.hpp"
#include "sim/signals.hpp"
#include "sim/strategy.hpp"
#include "sim/weather.hpp"

namespace vpp::sim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Largest number of per-site interval rows kept (about 130 MB of series).
constexpr std::size_t kMaxSiteRows = 2'000'000;

struct Prepared {
  const Scenario* sc = nullptr;
  std::uint64_t seed = 0;
  FleetSetup setup;
  std::unique_ptr<WeatherSeries> weather;
  std::size_t warm = 0, n = 0;
  std::size_t interval_steps = 1, intervals = 0;
  std::vector<std::vector<std::size_t>> event_sites;   // per event; all sites when the event names none
  std::vector<std::size_t> event_k0, event_k1;         // window in steps from start
  bool per_site = true;
  double initial_soc_pct = 50;
  std::string record_path, outputs_path;
};

struct PassOutput {
  PassTotals totals;
  std::vector<std::vector<double>> event_net;  // [event][step in window]
  std::vector<double> event_peak_kw;           // peak of each event's sites over the whole period
  std::vector<double> consumption_kw;          // [step] fleet load + HVAC
  std::vector<IntervalValues> fleet;           // [interval]
  std::vector<IntervalValues> per_site;        // [interval * sites + site]
  std::vector<std::array<double, kBuildingTypeCount>> indoor_by_type;
  FleetCounters fleet_counters;
  ChannelCounters channel;
};

struct Inbox {
  std::vector<Telemetry> telemetry;
  std::vector<CommandAck> acks;
  std::vector<GridSignal> signals;
};

// Accumulates one pass's step values into KPI totals and output intervals.
class Recorder {
 public:
  Recorder(const Prepared& p, const FleetModel& fleet, PassOutput& out) : p_(p), fleet_(fleet), out_(out) {
    // VPPSIM_TRACE_COMFORT=1 prints every step a zone is more than 1 K outside its band.
    trace_comfort_ = std::getenv("VPPSIM_TRACE_COMFORT") != nullptr;
    const std::size_t ns = fleet.site_count();
    out.totals.import_kwh.assign(p.n, 0);
    out.totals.export_kwh.assign(p.n, 0);
    out.totals.pv_kwh.assign(p.n, 0);
    out.totals.net_kw.assign(p.n, 0);
    out.consumption_kw.assign(p.n, 0);
    out.event_net.resize(p.event_sites.size());
    out.event_peak_kw.assign(p.event_sites.size(), -std::numeric_limits<double>::infinity());
    for (std::size_t e = 0; e < p.event_sites.size(); ++e) out.event_net[e].assign(p.event_k1[e] - p.event_k0[e], 0.0);
    out.fleet.assign(p.intervals, IntervalValues{});
    out.indoor_by_type.assign(p.intervals, {});
    if (p.per_site) out.per_site.assign(p.intervals * ns, IntervalValues{});
    site_area_.assign(ns, 0.0);
    for (std::size_t z = 0; z < fleet.zone_count(); ++z) site_area_[fleet.zone_site(z)] += fleet.zone_floor_area_m2(z);
    site_temp_.assign(ns, 0.0);
    for (const auto& s : fleet.sites()) {
      comfort_min_.push_back(s.limits.comfort_min_c);
      comfort_max_.push_back(s.limits.comfort_max_c);
    }
    type_sum_.assign(kBuildingTypeCount, 0.0);
    type_n_.assign(kBuildingTypeCount, 0);
  }

  void record(std::size_t k, const StepInputs& in) {
    const double dt_h = to_seconds(fleet_.step_length()) / 3600.0;
    const auto net = fleet_.site_net_kw();
    const auto pv = fleet_.site_pv_kw();
    const auto load = fleet_.site_load_kw();
    const auto hvac = fleet_.site_hvac_kw();
    const auto bat = fleet_.site_battery_kw();
    const std::size_t ns = fleet_.site_count();
    double imp = 0, exp = 0, pv_sum = 0, net_sum = 0, load_sum = 0, hvac_sum = 0, bat_sum = 0;
    for (std::size_t s = 0; s < ns; ++s) {
      imp += std::max(0.0, net[s]);
      exp += std::max(0.0, -net[s]);
      net_sum += net[s];
      pv_sum += pv[s];
      load_sum += load[s];
      hvac_sum += hvac[s];
      bat_sum += bat[s];
    }
    auto& t = out_.totals;
    t.import_kwh[k] = imp * dt_h;
    t.export_kwh[k] = exp * dt_h;
    t.pv_kwh[k] = pv_sum * dt_h;
    t.net_kw[k] = net_sum;
    out_.consumption_kw[k] = load_sum + hvac_sum;

    for (std::size_t e = 0; e < p_.event_sites.size(); ++e) {
      double v = 0;
      if (p_.event_sites[e].empty()) {
        v = net_sum;
      } else {
        for (auto s : p_.event_sites[e]) v += net[s];
      }
      out_.event_peak_kw[e] = std::max(out_.event_peak_kw[e], v);
      if (k >= p_.event_k0[e] && k < p_.event_k1[e]) out_.event_net[e][k - p_.event_k0[e]] = v;
    }

    // Comfort, while the building is occupied and conditioned, on end-of-step air temperatures.
    std::fill(site_temp_.begin(), site_temp_.end(), 0.0);
    for (std::size_t z = 0; z < fleet_.zone_count(); ++z) {
      const std::size_t s = fleet_.zone_site(z);
      const double ta = fleet_.zone_temp_c(z);
      site_temp_[s] += ta * fleet_.zone_floor_area_m2(z);
      const auto ty = static_cast<std::size_t>(type_index(fleet_.site_type(s)));
      if (in.occupancy[ty] >= kOccupiedFraction && in.hvac_scheduled[ty]) {
        const double exc = std::max({0.0, ta - comfort_max_[s], comfort_min_[s] - ta});
        t.comfort_degree_hours += exc * dt_h;
        if (trace_comfort_ && exc > 1.0) {
          std::fprintf(stderr, "comfort: step %zu site %s (%s) air %.2f C outside [%.1f, %.1f]\n", k,
                       fleet_.sites()[s].id.c_str(), std::string(to_string(fleet_.site_type(s))).c_str(), ta,
                       comfort_min_[s], comfort_max_[s]);
        }
        t.max_comfort_excursion_c = std::max(t.max_comfort_excursion_c, exc);
      }
    }

    // Intervals.
    const std::size_t i = k / p_.interval_steps;
    auto& f = out_.fleet[i];
    f.net_kw += net_sum;
    f.pv_kw += pv_sum;
    f.battery_kw += bat_sum;
    f.hvac_kw += hvac_sum;
    f.load_kw += load_sum;
    std::fill(type_sum_.begin(), type_sum_.end(), 0.0);
    std::fill(type_n_.begin(), type_n_.end(), 0);
    double temp_sum = 0;
    std::size_t temp_n = 0;
    for (std::size_t s = 0; s < ns; ++s) {
      if (site_area_[s] > 0) {
        const double ts = site_temp_[s] / site_area_[s];
        site_temp_[s] = ts;
        temp_sum += ts;
        ++temp_n;
        const int ty = type_index(fleet_.site_type(s));
        type_sum_[static_cast<std::size_t>(ty)] += ts;
        ++type_n_[static_cast<std::size_t>(ty)];
      }
    }
    if (!step_in_interval_) {
      f.indoor_temp_c = 0;
      for (auto& v : out_.indoor_by_type[i]) v = 0;
    }
    f.indoor_temp_c += temp_n ? temp_sum / static_cast<double>(temp_n) : 0.0;
    for (int ty = 0; ty < kBuildingTypeCount; ++ty) {
      if (type_n_[static_cast<std::size_t>(ty)]) {
        out_.indoor_by_type[i][static_cast<std::size_t>(ty)] +=
            type_sum_[static_cast<std::size_t>(ty)] / static_cast<double>(type_n_[static_cast<std::size_t>(ty)]);
      }
    }
    if (p_.per_site) {
      for (std::size_t s = 0; s < ns; ++s) {
        auto& v = out_.per_site[i * ns + s];
        v.net_kw += net[s];
        v.pv_kw += pv[s];
        v.battery_kw += bat[s];
        v.hvac_kw += hvac[s];
        v.load_kw += load[s];
        if (site_area_[s] > 0) v.indoor_temp_c = (step_in_interval_ ? v.indoor_temp_c : 0.0) + site_temp_[s];
      }
    }
    ++step_in_interval_;
    const bool closes = (k + 1) % p_.interval_steps == 0 || k + 1 == p_.n;
    if (closes) close_interval(i);
  }

 private:
  void close_interval(std::size_t i) {
    const double c = static_cast<double>(step_in_interval_);
    auto scale = [&](IntervalValues& v) {
      v.net_kw /= c;
      v.pv_kw /= c;
      v.battery_kw /= c;
      v.hvac_kw /= c;
      v.load_kw /= c;
      v.indoor_temp_c /= c;
    };
    auto& f = out_.fleet[i];
    scale(f);
    if (site_area_.empty() || std::all_of(site_area_.begin(), site_area_.end(), [](double a) { return a <= 0; })) {
      f.indoor_temp_c = kNaN;
    }
    for (int ty = 0; ty < kBuildingTypeCount; ++ty) out_.indoor_by_type[i][static_cast<std::size_t>(ty)] /= c;
    // End-of-interval state of charge, fleet: energy over capacity.
    double e = 0, cap = 0;
    std::vector<double> site_e, site_cap;
    if (p_.per_site) {
      site_e.assign(fleet_.site_count(), 0.0);
      site_cap.assign(fleet_.site_count(), 0.0);
    }
    for (std::size_t b = 0; b < fleet_.battery_count(); ++b) {
      e += fleet_.battery_energy_kwh(b);
      cap += fleet_.battery_capacity_kwh(b);
      if (p_.per_site) {
        site_e[fleet_.battery_site(b)] += fleet_.battery_energy_kwh(b);
        site_cap[fleet_.battery_site(b)] += fleet_.battery_capacity_kwh(b);
      }
    }
    f.soc_pct = cap > 0 ? 100.0 * e / cap : kNaN;
    if (p_.per_site) {
      const std::size_t ns = fleet_.site_count();
      for (std::size_t s = 0; s < ns; ++s) {
        auto& v = out_.per_site[i * ns + s];
        scale(v);
        if (site_area_[s] <= 0) v.indoor_temp_c = kNaN;
        v.soc_pct = site_cap[s] > 0 ? 100.0 * site_e[s] / site_cap[s] : kNaN;
      }
    }
    step_in_interval_ = 0;
  }

  const Prepared& p_;
  const FleetModel& fleet_;
  PassOutput& out_;
  std::vector<double> site_area_, site_temp_, comfort_min_, comfort_max_;
  std::vector<double> type_sum_;
  std::vector<std::size_t> type_n_;
  std::size_t step_in_interval_ = 0;
  bool trace_comfort_ = false;
};

std::string format_kw(double kw) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f kW", kw);
  return buf;
}

FleetOptions fleet_options(const Prepared& p) {
  const Scenario& sc = *p.sc;
  FleetOptions fo;
  fo.step = sc.step;
  fo.seed = p.seed;
  fo.zone_model = sc.devices.zone_model;
  fo.pv_response_delay = sc.devices.pv_response_delay;
  fo.pv_ramp_pct_per_s = sc.devices.pv_ramp_pct_per_s;
  fo.battery_response_delay = sc.devices.battery_response_delay;
  fo.hvac_response_delay = sc.devices.hvac_response_delay;
  fo.load_response_delay = sc.devices.load_response_delay;
  fo.albedo = sc.weather.albedo;
  fo.initial_soc_pct = p.initial_soc_pct;
  return fo;
}

// Metered history for customer baselines: the days before the period, simulated uncontrolled
// on the scenario's weather made cooler by a seeded 0.5-4 K per day (the period's day is the
// hot one the event was called for), until `history_days` working days are covered. Returns
// every simulated day, oldest first, as 15-minute averages of each site's net import.
Result<std::vector<MeteredDay>> simulate_history(const Prepared& p) {
  const Scenario& sc = *p.sc;
  std::vector<MeteredDay> days;
  if (sc.history_days <= 0) return days;
  const auto offset = std::chrono::minutes(sc.utc_offset_minutes);
  const auto first_day = std::chrono::floor<std::chrono::days>(sc.start + offset);
  std::vector<std::chrono::sys_days> calendar;  // newest first
  int working = 0;
  for (auto d = first_day - std::chrono::days(1); working < sc.history_days; d -= std::chrono::days(1)) {
    const std::chrono::weekday wd{d};
    if (wd != std::chrono::Saturday && wd != std::chrono::Sunday) ++working;
    calendar.push_back(d);
  }
  std::reverse(calendar.begin(), calendar.end());
  auto built = FleetModel::build(p.setup.sites, p.setup.loads, fleet_options(p));
  if (!built) return Error{built.error()};
  FleetModel& fleet = *built;
  const std::size_t per_day = static_cast<std::size_t>(std::chrono::days(1) / sc.step);
  const std::size_t per_interval = static_cast<std::size_t>(std::chrono::minutes(15) / sc.step);
  const std::size_t ns = fleet.site_count();
  StepInputs in;
  for (std::size_t i = 0; i < calendar.size(); ++i) {
    Rng rng(hash3(p.seed, 0x4157'0A1D, i));
    const double cooler = 0.5 + 3.5 * rng.uniform();
    WeatherConfig w = sc.weather;
    w.min_c -= cooler * 0.6;
    w.max_c -= cooler;
    for (auto& v : w.hourly_temp_c) v -= cooler;
    const TimePoint begin = TimePoint{calendar[i].time_since_epoch()} - offset;
    WeatherSeries series(w, p.setup.locations, begin, sc.step, per_day, sc.utc_offset_minutes, hash3(p.seed, 0xDA75, i));
    const std::uint64_t noise_offset = (i + 1) * 100'000'000ULL;
    if (i == 0) {  // warm the building masses up on the first day's weather
      for (std::size_t k = 0; k < p.warm; ++k) {
        make_step_inputs(series, k % per_day, noise_offset + 50'000'000ULL, in);
        fleet.step(in);
      }
    }
    std::vector<MeteredDay> today(ns);
    for (std::size_t s = 0; s < ns; ++s) {
      const std::chrono::weekday wd{calendar[i]};
      today[s] = {p.setup.sites[s].id, calendar[i], wd != std::chrono::Saturday && wd != std::chrono::Sunday,
                  std::chrono::minutes(15), std::vector<double>(per_day / per_interval, 0.0)};
    }
    for (std::size_t k = 0; k < per_day; ++k) {
      make_step_inputs(series, k, noise_offset, in);
      fleet.step(in);
      const auto net = fleet.site_net_kw();
      for (std::size_t s = 0; s < ns; ++s) today[s].kw[k / per_interval] += net[s] / static_cast<double>(per_interval);
    }
    for (auto& d : today) days.push_back(std::move(d));
  }
  return days;
}

Result<PassOutput> run_pass(const Prepared& p, Strategy* strategy, const std::vector<GridSignal>& signals,
                            const Forecasts* forecasts, const std::function<void(double)>& progress,
                            std::span<const MeteredDay> history = {}) {
  const Scenario& sc = *p.sc;
  auto built = FleetModel::build(p.setup.sites, p.setup.loads, fleet_options(p));
  if (!built) return Error{built.error()};
  FleetModel& fleet = *built;

  PassOutput out;
  StepInputs in;
  // Warm-up: same weather, no strategy, so thermal masses reach a periodic state.
  for (std::size_t k = 0; k < p.warm; ++k) {
    make_step_inputs(*p.weather, k, 0, in);
    fleet.step(in);
  }
  fleet.reset_batteries(p.initial_soc_pct);

  Recorder rec(p, fleet, out);
  Inbox inbox;
  Channel channel(sc.channel, p.seed);
  SimClock clock(sc.start);
  std::vector<Telemetry> sample;
  const std::size_t control_steps = static_cast<std::size_t>(sc.control_period / sc.step);
  const std::size_t telemetry_steps = static_cast<std::size_t>(sc.telemetry_period / sc.step);

  // Scenario faults: an asset (or site) in a fault window is cut off both ways.
  auto cut_off = [&](const std::string& site, const std::string& asset, TimePoint t) {
    for (const auto& f : sc.faults) {
      if (f.site == site && (f.asset.empty() || f.asset == asset) && t >= f.from && t < f.to) return true;
    }
    return false;
  };
  auto publish_telemetry = [&](TimePoint t) {
    sample.clear();
    fleet.telemetry(t, sample);
    auto batch = std::make_shared<std::vector<Telemetry>>();
    batch->reserve(sample.size());
    std::optional<TimePoint> arrival;
    for (auto& m : sample) {
      if (!sc.faults.empty() && cut_off(m.site_id, m.asset_id, t)) continue;
      if (auto a = channel.up(t)) {
        arrival = a;
        batch->push_back(std::move(m));
      }
    }
    if (arrival) {
      clock.call_at(*arrival, [&inbox, batch] {
        inbox.telemetry.insert(inbox.telemetry.end(), std::make_move_iterator(batch->begin()),
                               std::make_move_iterator(batch->end()));
      });
    }
  };

  if (strategy) {
    for (const auto& g : signals) {
      clock.call_at(std::max(g.received, sc.start), [&inbox, g] { inbox.signals.push_back(g); });
    }
    StrategyContext ctx;
    ctx.sites = fleet.sites();
    ctx.start = sc.start;
    ctx.end = sc.end();
    ctx.step = sc.step;
    ctx.control_period = sc.control_period;
    ctx.utc_offset_minutes = sc.utc_offset_minutes;
    ctx.forecasts = forecasts;
    ctx.seed = p.seed;
    ctx.history = history;
    ctx.scenario = p.sc;
    ctx.record_path = p.record_path;
    ctx.outputs_path = p.outputs_path;
    strategy->start(ctx);
    publish_telemetry(sc.start);
  }

  const std::size_t report_every = std::max<std::size_t>(1, p.n / 200);
  for (std::size_t k = 0; k < p.n; ++k) {
    const TimePoint t = sc.start + sc.step * static_cast<std::int64_t>(k);
    if (strategy) {
      clock.advance_to(t);
      if (k % control_steps == 0) {
        std::vector<Command> cmds;
        try {
          cmds = strategy->tick(t, inbox.telemetry, inbox.acks, inbox.signals);
        } catch (const std::exception& ex) {
          return Error{"strategy '" + std::string(strategy->name()) + "' failed at " + format_utc(t) + ": " + ex.what()};
        }
        inbox.telemetry.clear();
        inbox.acks.clear();
        inbox.signals.clear();
        for (auto& c : cmds) {
          if (!sc.faults.empty() && cut_off(c.site_id, c.asset_id, t)) continue;
          const auto arrival = channel.down(t);
          if (!arrival) continue;
          clock.call_at(*arrival, [&fleet, &clock, &channel, &inbox, c = std::move(c)] {
            CommandAck ack = fleet.apply(c, clock.now());
            if (auto back = channel.up(clock.now())) {
              clock.call_at(*back, [&inbox, ack = std::move(ack)] { inbox.acks.push_back(ack); });
            }
          });
        }
      }
      // Commands that arrive during this step act within it (from their arrival plus the
      // device's response delay).
      clock.advance_to(t + sc.step - Duration(1));
    }
    make_step_inputs(*p.weather, p.warm + k, 0, in);
    fleet.step(in);
    rec.record(k, in);
    if (strategy && (k + 1) % telemetry_steps == 0) publish_telemetry(t + sc.step);
    if (progress && k % report_every == 0) progress(static_cast<double>(k) / static_cast<double>(p.n));
  }
  if (strategy) clock.advance_to(sc.end());
  out.fleet_counters = fleet.counters();
  out.channel = channel.counters();
  out.totals.reserve_violations = fleet.reserve_violations();
  out.totals.rating_violations = fleet.counters().rejected_rating;
  return out;
}

}  // namespace

Result<RunResult> run_scenario(const Scenario& sc, const RunOptions& opt) {
  Result<std::unique_ptr<Strategy>> strategy =
      opt.strategy_factory ? Result<std::unique_ptr<Strategy>>(opt.strategy_factory())
                           : make_strategy(opt.strategy.value_or(sc.strategy));
  if (!strategy) return Error{strategy.error()};
  if (!*strategy) return Error{"the strategy factory returned no strategy"};
  const std::string strategy_name((*strategy)->name());
  auto progress = [&](double f, std::string_view phase) {
    if (opt.progress) opt.progress(std::clamp(f, 0.0, 1.0), phase);
  };

  Prepared p;
  p.sc = &sc;
  p.seed = opt.seed.value_or(sc.seed);
  p.setup = make_fleet(sc, p.seed);
  p.warm = sc.warmup_steps();
  p.n = sc.steps();
  p.per_site = opt.per_site_series;
  p.initial_soc_pct = opt.initial_soc_pct;
  p.record_path = opt.record_path;
  p.outputs_path = opt.outputs_path;
  if (p.n == 0) return Error{"scenario '" + sc.name + "' has no steps"};
  p.interval_steps = static_cast<std::size_t>(sc.output_interval / sc.step);
  p.intervals = (p.n + p.interval_steps - 1) / p.interval_steps;
  std::vector<std::string> early_notes;
  if (p.per_site && p.intervals * p.setup.sites.size() > kMaxSiteRows) {
    // Per-site rows would not fit comfortably in memory (and nobody reads a CSV that long).
    p.per_site = false;
    early_notes.push_back("per-site series omitted: " + std::to_string(p.intervals * p.setup.sites.size()) +
                          " rows exceed " + std::to_string(kMaxSiteRows) +
                          "; timeseries.csv has the fleet rows (use a longer output.interval for site rows)");
  }
  p.weather = std::make_unique<WeatherSeries>(sc.weather, p.setup.locations, sc.start - sc.warmup, sc.step,
                                              p.warm + p.n, sc.utc_offset_minutes, p.seed);
  std::map<std::string, std::size_t> site_index;
  for (std::size_t s = 0; s < p.setup.sites.size(); ++s) site_index[p.setup.sites[s].id] = s;
  for (const auto& f : sc.faults) {
    if (!site_index.count(f.site)) return Error{"fault: unknown site '" + f.site + "'"};
  }
  for (const auto& e : sc.events) {
    std::vector<std::size_t> idx;
    for (const auto& id : e.sites) {
      const auto it = site_index.find(id);
      if (it == site_index.end()) return Error{"event '" + e.id + "': unknown site '" + id + "'"};
      idx.push_back(it->second);
    }
    p.event_sites.push_back(std::move(idx));
    p.event_k0.push_back(static_cast<std::size_t>((e.start - sc.start) / sc.step));
    p.event_k1.push_back(static_cast<std::size_t>((e.start + e.duration - sc.start + sc.step - Duration(1)) / sc.step));
  }

  RunResult r;
  r.scenario = sc.name;
  r.strategy = strategy_name;
  r.seed = p.seed;
  r.currency = sc.tariff.currency;
  r.steps = p.n;
  r.step = sc.step;
  r.utc_offset_minutes = sc.utc_offset_minutes;
  r.sites = p.setup.sites;
  r.interval = sc.output_interval;
  r.notes = early_notes;

  // Pass 1: the uncontrolled baseline.
  auto base = run_pass(p, nullptr, {}, nullptr, [&](double f) { progress(0.45 * f, "baseline"); });
  if (!base) return Error{base.error()};

  // Event targets given relative to the baseline.
  std::vector<EventResult> events;
  for (std::size_t e = 0; e < sc.events.size(); ++e) {
    const auto& ec = sc.events[e];
    EventResult er;
    er.id = ec.id;
    er.program = ec.program;
    er.start = ec.start;
    er.duration = ec.duration;
    if (ec.reduction_kw) {
      er.target_kw = *ec.reduction_kw;
      er.target_basis = "fixed reduction of " + format_kw(*ec.reduction_kw);
    } else if (ec.import_cap_kw) {
      er.import_cap_kw = *ec.import_cap_kw;
      er.target_basis = "import cap of " + format_kw(*ec.import_cap_kw);
    } else {
      const double peak = std::max(0.0, base->event_peak_kw[e]);
      er.target_kw = *ec.pct_of_baseline_peak / 100.0 * peak;
      char buf[200];
      std::snprintf(buf, sizeof buf, "%g %% of the uncontrolled baseline peak %.1f kW (seed %llu) = %.1f kW",
                    *ec.pct_of_baseline_peak, peak, static_cast<unsigned long long>(p.seed), *er.target_kw);
      er.target_basis = buf;
    }
    r.notes.push_back("event " + ec.id + ": target " + er.target_basis);
    events.push_back(std::move(er));
  }

  // Per-step prices and carbon intensity; the derived carbon curve uses the baseline load.
  std::vector<double> ghi(p.n);
  for (std::size_t k = 0; k < p.n; ++k) ghi[k] = p.weather->sky(p.warm + k)[0].ghi;
  const CarbonSeries carbon = make_carbon_series(sc.carbon, sc.start, sc.end(), sc.step, sc.utc_offset_minutes,
                                                 base->consumption_kw, ghi);
  std::vector<double> price(p.n), export_price(p.n), intensity(p.n);
  for (std::size_t k = 0; k < p.n; ++k) {
    const TimePoint t = sc.start + sc.step * static_cast<std::int64_t>(k);
    price[k] = import_price(sc.tariff, t, sc.utc_offset_minutes);
    export_price[k] = sc.tariff.defined ? sc.tariff.export_price : 0.0;
    intensity[k] = value_at(carbon.intensity_kg_per_kwh, carbon.interval, t).value_or(sc.carbon.kg_per_kwh);
  }

  // Signals as the operator sends them: tariff and carbon at the start, events at their notice.
  std::vector<GridSignal> signals;
  if (sc.tariff.defined) {
    signals.push_back({sc.start, "scenario", make_price_series(sc.tariff, sc.start, sc.end(), sc.utc_offset_minutes)});
  }
  signals.push_back({sc.start, "scenario", carbon});
  for (std::size_t e = 0; e < sc.events.size(); ++e) {
    const auto& ec = sc.events[e];
    CurtailmentEvent ce;
    ce.event_id = ec.id;
    ce.program = ec.program;
    ce.start = ec.start;
    ce.duration = ec.duration;
    ce.target_reduction_kw = events[e].target_kw;
    ce.import_cap_kw = events[e].import_cap_kw;
    ce.site_ids = ec.sites;
    signals.push_back({std::max(ec.announced, sc.start), "scenario", ce});
  }
  std::stable_sort(signals.begin(), signals.end(), [](const auto& a, const auto& b) { return a.received < b.received; });

  // Pass 2: the strategy, with metered history if the scenario asks for it.
  auto history = simulate_history(p);
  if (!history) return Error{history.error()};
  if (!history->empty()) {
    r.notes.push_back("history: " + std::to_string(history->size() / std::max<std::size_t>(1, p.setup.sites.size())) +
                      " days simulated before the period for baselines (" + std::to_string(sc.history_days) +
                      " working days)");
  }
  ScenarioForecasts forecasts(sc.weather, sc.location, sc.utc_offset_minutes, p.setup.sites, p.setup.loads, sc.start,
                              sc.end() + std::chrono::days(2), p.seed);
  auto run = run_pass(p, strategy->get(), signals, &forecasts,
                      [&](double f) { progress(0.45 + 0.5 * f, std::string_view(strategy_name)); }, *history);
  if (!run) return Error{run.error()};
  for (auto& note : (*strategy)->finish()) r.notes.push_back(std::move(note));

  r.baseline_kpis = compute_kpis(base->totals, price, export_price, intensity, sc.carbon);
  r.kpis = compute_kpis(run->totals, price, export_price, intensity, sc.carbon);
  const std::size_t settlement = std::max<std::size_t>(1, static_cast<std::size_t>(std::chrono::minutes(15) / sc.step));
  const std::size_t hour_steps = static_cast<std::size_t>(std::chrono::hours(1) / sc.step);
  for (std::size_t e = 0; e < events.size(); ++e) {
    evaluate_event(events[e], base->event_net[e], run->event_net[e], to_seconds(sc.step), settlement);
    // Rebound: the highest fleet import in the hour after the event, controlled and not.
    const std::size_t k1 = p.event_k1[e], k2 = std::min(p.n, k1 + hour_steps);
    if (k1 < k2) {
      double peak = -INFINITY, base_peak = -INFINITY;
      for (std::size_t k = k1; k < k2; ++k) {
        peak = std::max(peak, run->totals.net_kw[k]);
        base_peak = std::max(base_peak, base->totals.net_kw[k]);
      }
      events[e].rebound_peak_kw = peak;
      events[e].baseline_rebound_peak_kw = base_peak;
    }
    // How fair the strategy's settlement baseline is against the true counterfactual.
    const auto settle = (*strategy)->settlement_baseline_kw(events[e].id);
    if (!settle.empty()) {
      double est = 0, truth = 0;
      const auto& b = base->event_net[e];
      for (std::size_t i = 0; i < settle.size() && i * settlement < b.size(); ++i) {
        double t = 0;
        std::size_t n = 0;
        for (std::size_t k = i * settlement; k < std::min(b.size(), (i + 1) * settlement); ++k, ++n) t += b[k];
        truth += t / static_cast<double>(std::max<std::size_t>(1, n));
        est += settle[i];
      }
      if (truth != 0) events[e].baseline_error_pct = 100.0 * (est - truth) / truth;
    }
  }
  r.events = std::move(events);
  r.channel = run->channel;
  r.fleet_counters = run->fleet_counters;

  // Output intervals.
  r.fleet = run->fleet;
  for (std::size_t i = 0; i < p.intervals; ++i) {
    r.fleet[i].baseline_net_kw = base->fleet[i].net_kw;
    r.interval_start.push_back(sc.start + sc.output_interval * static_cast<std::int64_t>(i));
    double t_sum = 0, g_sum = 0, pr = 0, co = 0;
    const std::size_t k0 = i * p.interval_steps, k1 = std::min(p.n, k0 + p.interval_steps);
    for (std::size_t k = k0; k < k1; ++k) {
      t_sum += p.weather->outdoor_temp_c(p.warm + k);
      g_sum += ghi[k];
      pr += price[k];
      co += intensity[k];
    }
    const double c = static_cast<double>(k1 - k0);
    r.outdoor_temp_c.push_back(t_sum / c);
    r.ghi_w_m2.push_back(g_sum / c);
    r.price.push_back(pr / c);
    r.carbon_kg_per_kwh.push_back(co / c);
  }
  r.indoor_by_type_c = run->indoor_by_type;
  if (p.per_site) {
    r.per_site = run->per_site;
    for (std::size_t i = 0; i < r.per_site.size(); ++i) r.per_site[i].baseline_net_kw = base->per_site[i].net_kw;
  }
  std::array<int, kBuildingTypeCount> count{};
  for (const auto& s : p.setup.sites) {
    const auto t = static_cast<std::size_t>(type_index(s.type));
    r.type_present[t] = true;
    r.comfort_min_by_type[t] += s.limits.comfort_min_c;
    r.comfort_max_by_type[t] += s.limits.comfort_max_c;
    ++count[t];
  }
  for (std::size_t t = 0; t < kBuildingTypeCount; ++t) {
    if (count[t]) {
      r.comfort_min_by_type[t] /= count[t];
      r.comfort_max_by_type[t] /= count[t];
    }
    if (!r.type_present[t]) {
      for (auto& v : r.indoor_by_type_c) v[t] = kNaN;
    }
  }
  progress(1.0, "done");
  return r;
}

}  // namespace vpp::sim
