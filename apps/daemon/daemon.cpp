#include "apps/daemon/daemon.hpp"

#include <spdlog/spdlog.h>

#include "adapters/http/server.hpp"
#include "adapters/modbus/modbus_adapter.hpp"
#include "adapters/mqtt/mqtt_adapter.hpp"
#include "adapters/openadr/core_report_source.hpp"
#include "adapters/openadr/driver.hpp"
#include "adapters/openadr/store_report_queue.hpp"
#include "adapters/openadr/transport.hpp"
#include "adapters/store/store.hpp"
#include "apps/daemon/core_backend.hpp"
#include "apps/daemon/export_caps.hpp"
#include "apps/daemon/forecaster.hpp"
#include "apps/daemon/history.hpp"
#include "apps/daemon/solver.hpp"
#include "apps/daemon/worker.hpp"

namespace vpp::daemon {

namespace net = boost::asio;
using steady = std::chrono::steady_clock;

// ------------------------------------------------------------------------------------- inbox

void Inbox::push(adapters::AdapterInput in) {
  bool post = false;
  {
    std::lock_guard lock(mu_);
    if (items_.size() >= capacity_ && std::holds_alternative<Telemetry>(in)) {
      ++stats_.dropped;
      return;
    }
    items_.push_back(std::move(in));
    ++stats_.received;
    stats_.high_water = std::max(stats_.high_water, items_.size());
    if (!scheduled_) post = scheduled_ = true;
  }
  if (post) net::post(ioc_, [this] { drain(); });
}

void Inbox::drain() {
  std::vector<adapters::AdapterInput> batch;
  {
    std::lock_guard lock(mu_);
    const std::size_t n = std::min(items_.size(), kBatch);
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(items_.front()));
      items_.pop_front();
    }
  }
  for (auto& in : batch) handler_(in);
  bool again;
  {
    std::lock_guard lock(mu_);
    again = !items_.empty();
    scheduled_ = again;
  }
  // Behind whatever else is waiting: timers and HTTP requests get their turn.
  if (again) net::post(ioc_, [this] { drain(); });
}

void Inbox::drain_all() {
  for (;;) {
    std::deque<adapters::AdapterInput> all;
    {
      std::lock_guard lock(mu_);
      all.swap(items_);
    }
    if (all.empty()) return;
    for (auto& in : all) handler_(in);
  }
}

InboxStats Inbox::stats() const {
  std::lock_guard lock(mu_);
  InboxStats s = stats_;
  s.depth = items_.size();
  return s;
}

// ------------------------------------------------------------------------------------- parts

struct Daemon::Parts {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Daemon::Shell> shell;
  std::unique_ptr<CoreDriver> driver;
  std::unique_ptr<Forecaster> forecaster;
  std::unique_ptr<Inbox> inbox;
  std::unique_ptr<adapters::mqtt::MqttAdapter> mqtt;
  std::unique_ptr<adapters::modbus::ModbusAdapter> modbus;
  std::set<std::pair<std::string, std::string>> modbus_assets;
  std::unique_ptr<CoreBackend> backend;
  std::unique_ptr<Daemon::LoopBackend> loop_backend;
  std::unique_ptr<http::ApiService> service;
  // The API's own io_context and thread (see the header comment).
  net::io_context http_ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> http_work;
  std::thread http_thread;
  std::unique_ptr<http::HttpServer> server;
  // The OpenADR VEN (when configured): its outbox in the store, its reports from the core.
  std::unique_ptr<openadr::StoreReportQueue> oadr_queue;
  std::unique_ptr<openadr::CoreReportSource> oadr_source;
  std::unique_ptr<openadr::VenEngine> oadr_engine;
  std::unique_ptr<openadr::AsioVenDriver> oadr;
  ExportCaps export_caps;
  std::unique_ptr<net::steady_timer> tick;
  std::unique_ptr<net::signal_set> signals;
  std::optional<TimePoint> forecast_interval;       // interval of the last forecast
  std::optional<steady::time_point> profiles_at;
  std::optional<steady::time_point> mqtt_down_since;
  // Solves: the newest request per group; an older one still queued is skipped.
  std::mutex solve_mu;
  std::map<std::string, std::uint64_t> latest_solve;
  // Workers last: destroyed (joined) first, before anything their jobs touch.
  std::unique_ptr<Worker> solver;
  std::unique_ptr<Worker> reader;
};

class Daemon::Shell final : public daemon::Shell {
 public:
  explicit Shell(Daemon& d) : d_(d) {}

  Route send_command(const Command& c, std::string& why) override {
    auto& p = *d_.p_;
    if (p.modbus && p.modbus_assets.count({c.site_id, c.asset_id})) {
      auto r = p.modbus->send(c);
      if (r) return Route::modbus;
      why = r.error();
      return Route::none;
    }
    if (p.mqtt) {
      auto r = p.mqtt->send(c);
      if (r) return Route::mqtt;  // published, or queued until the broker is back
      why = r.error();
      return Route::none;
    }
    why = "no adapter serves " + c.site_id + "/" + c.asset_id;
    return Route::none;
  }

  void solve(const controller::SolveRequest& r) override {
    auto& p = *d_.p_;
    {
      std::lock_guard lock(p.solve_mu);
      p.latest_solve[r.group] = r.id;
    }
    Daemon* d = &d_;
    p.solver->post([d, r] {
      auto& p = *d->p_;
      {
        std::lock_guard lock(p.solve_mu);
        if (p.latest_solve[r.group] != r.id) return;  // superseded while queued
      }
      const auto t0 = steady::now();
      auto result = solve_request(r, d->cfg_.optimizer.solver, d->cfg_.optimizer.threads);
      const double seconds = std::chrono::duration<double>(steady::now() - t0).count();
      net::post(d->ioc_, [d, result = std::move(result), seconds]() mutable {
        if (d->stopping_) return;
        d->p_->driver->on_solved(std::move(result), seconds, d->clock_.now());
      });
    });
  }

 private:
  Daemon& d_;
};

// The API backend as the HTTP thread sees it: every call runs on the loop, where the core
// backend lives. Arguments are copied into the hop (a call abandoned at shutdown may run late).
class Daemon::LoopBackend final : public http::ApiBackend {
 public:
  LoopBackend(Daemon& d, CoreBackend& inner) : d_(d), in_(inner) {}

  http::ApiResult<http::EventView> create_event(const CurtailmentEvent& e) override {
    return hop([this, e] { return in_.create_event(e); });
  }
  http::ApiResult<http::EventView> modify_event(const CurtailmentEvent& e) override {
    return hop([this, e] { return in_.modify_event(e); });
  }
  http::ApiResult<http::EventView> cancel_event(const std::string& id, const std::string& reason) override {
    return hop([this, id, reason] { return in_.cancel_event(id, reason); });
  }
  std::vector<http::EventView> list_events() override {
    return d_.on_loop([this] { return in_.list_events(); }).value_or(std::vector<http::EventView>{});
  }
  http::ApiResult<http::EventView> event(const std::string& id) override {
    return hop([this, id] { return in_.event(id); });
  }
  http::ApiResult<http::ReportView> report(const std::string& id) override {
    return hop([this, id] { return in_.report(id); });
  }
  http::ApiResult<http::Done> put_prices(const PriceSeries& p) override {
    return hop([this, p] { return in_.put_prices(p); });
  }
  http::ApiResult<http::Done> put_carbon(const CarbonSeries& c) override {
    return hop([this, c] { return in_.put_carbon(c); });
  }
  http::ApiResult<http::SiteView> enrol(const Site& s) override {
    return hop([this, s] { return in_.enrol(s); });
  }
  http::ApiResult<http::SiteView> site(const std::string& id) override {
    return hop([this, id] { return in_.site(id); });
  }
  http::ApiResult<http::SiteView> update_site(const std::string& id, const http::SiteLimitsPatch& patch) override {
    return hop([this, id, patch] { return in_.update_site(id, patch); });
  }
  http::ApiResult<http::Done> unenrol(const std::string& id) override {
    return hop([this, id] { return in_.unenrol(id); });
  }
  http::ApiResult<http::EventView> opt_out(const std::string& event_id, const std::string& site_id,
                                           const std::string& reason) override {
    return hop([this, event_id, site_id, reason] { return in_.opt_out(event_id, site_id, reason); });
  }
  http::ApiResult<std::vector<http::CommandRecord>> site_commands(const std::string& id, std::size_t limit) override {
    return hop([this, id, limit] { return in_.site_commands(id, limit); });
  }
  http::FleetView fleet() override {
    auto f = d_.on_loop([this] { return in_.fleet(); });
    if (f) return std::move(*f);
    http::FleetView empty;
    empty.as_of = d_.clock_.now();
    return empty;
  }

 private:
  template <typename F>
  auto hop(F f) -> std::invoke_result_t<F&> {
    auto r = d_.on_loop(std::move(f));
    if (!r) return http::ApiError{503, "vppd is stopping", ""};
    return std::move(*r);
  }

  Daemon& d_;
  CoreBackend& in_;
};

// ------------------------------------------------------------------------------------ daemon

Daemon::Daemon(const config::Config& cfg) : cfg_(cfg), p_(std::make_unique<Parts>()) {}

Daemon::~Daemon() {
  if (!p_) return;
  // Threads that could call into the parts stop first.
  stopping_ = true;
  if (p_->server) p_->server->stop();
  p_->http_work.reset();
  p_->http_ioc.stop();
  if (p_->http_thread.joinable()) p_->http_thread.join();
  if (p_->oadr) p_->oadr->stop();
  if (p_->solver) p_->solver->stop();
  if (p_->reader) p_->reader->stop();
  if (p_->mqtt) p_->mqtt->stop();
  if (p_->modbus) p_->modbus->stop();
}

Result<std::unique_ptr<Daemon>> Daemon::create(const config::Config& cfg) {
  std::unique_ptr<Daemon> d(new Daemon(cfg));
  auto r = d->init();
  if (!r) return Error{r.error()};
  return d;
}

std::vector<Site> Daemon::enrolled_sites() const {
  std::vector<Site> out;
  for (const auto& s : p_->driver->core().fleet().sites()) {
    if (s.enrolled) out.push_back(s.site);
  }
  return out;
}

Result<bool> Daemon::init() {
  auto& p = *p_;
  const TimePoint now = clock_.now();
  const auto& settings = cfg_.controller;
  auto store = store::Store::open({.path = cfg_.store.path});
  if (!store) return Error{store.error()};
  p.store = std::move(*store);
  // Enough calendar days for `of_y` working days, with a week to spare for holidays and event days.
  const int history_days = settings.baseline.of_y * 7 / 5 + 7;
  auto restored = p.store->restore(now, history_days, settings.utc_offset_minutes);
  if (!restored) return Error{restored.error()};
  // Ended events as long as the core keeps them (it forgets them two days after they end).
  auto ended = p.store->ended_events(now - std::chrono::days(2));
  if (!ended) return Error{ended.error()};

  p.shell = std::make_unique<Shell>(*this);
  // A command-id prefix of its own for every run: devices treat a repeated id as the same command.
  p.driver = std::make_unique<CoreDriver>(settings, "c" + std::to_string(to_unix_ms(now)) + "-", p.store.get(), *p.shell);
  std::vector<Site> sites = cfg_.sites;
  for (const auto& s : restored->sites) {
    if (std::none_of(sites.begin(), sites.end(), [&](const Site& x) { return x.id == s.site.id; })) sites.push_back(s.site);
  }
  std::string note;
  const auto history = meter_history(*p.store, *restored, sites, settings, now, history_days, &note);
  if (!note.empty()) spdlog::warn("{}", note);
  spdlog::info("restored: {}", p.driver->restore(cfg_.sites, *restored, history, now, *ended));

  p.forecaster = std::make_unique<Forecaster>(settings, cfg_.forecast.outdoor_temp);
  p.solver = std::make_unique<Worker>("solver");
  p.reader = std::make_unique<Worker>("reader");
  refresh_profiles(true);

  p.inbox = std::make_unique<Inbox>(ioc_, [this](adapters::AdapterInput& in) {
    p_->driver->on_adapter_input(in, clock_.now());
  });
  const auto fleet = enrolled_sites();
  if (cfg_.mqtt) {
    auto m = adapters::mqtt::MqttAdapter::create(*cfg_.mqtt, fleet, *p.inbox, clock_);
    if (!m) return Error{m.error()};
    p.mqtt = std::move(*m);
  }
  if (!cfg_.modbus_devices.empty()) {
    auto m = adapters::modbus::ModbusAdapter::create(cfg_.modbus_devices, *p.inbox, clock_);
    if (!m) return Error{m.error()};
    p.modbus = std::move(*m);
    for (const auto& dev : cfg_.modbus_devices) p.modbus_assets.insert({dev.site_id, dev.asset_id});
  }

  BackendOptions bo;
  bo.fleet_changed = [this] {
    if (p_->mqtt) p_->mqtt->set_fleet(enrolled_sites());
  };
  bo.as_enrolled = [this](const Site& s) { return p_->export_caps.enrolled(s); };
  p.backend = std::make_unique<CoreBackend>(*p.driver, clock_, bo);
  p.loop_backend = std::make_unique<LoopBackend>(*this, *p.backend);
  http::ApiOptions api;
  api.tokens = cfg_.http.tokens;
  api.rate_limit_per_s = cfg_.http.rate_limit_per_s;
  // Both run on the HTTP thread: the service's own counters are read there, the rest on the loop.
  api.metrics = [this] {
    const http::ApiCounters counters = p_->service->counters();
    return on_loop([this, counters] { return metrics(&counters); }).value_or("");
  };
  api.health = [this] {
    return on_loop([this] { return health(); }).value_or(std::pair<int, std::string>{503, "stopping\n"});
  };
  p.service = std::make_unique<http::ApiService>(*p.loop_backend, clock_, api);
  if (cfg_.openadr) {
    auto r = init_openadr();
    if (!r) return Error{r.error()};
  }
  try {
    p.server = std::make_unique<http::HttpServer>(p.http_ioc, http::ServerOptions::from_config(cfg_.http), *p.service);
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
  p.tick = std::make_unique<net::steady_timer>(ioc_);
  p.signals = std::make_unique<net::signal_set>(ioc_, SIGINT, SIGTERM);
  return true;
}

Result<bool> Daemon::init_openadr() {
  auto& p = *p_;
  const auto& oc = *cfg_.openadr;
  auto settings = openadr::VenSettings::from_config(oc, cfg_.controller.interval, [](const char* n) { return std::getenv(n); });
  if (!settings) return Error{settings.error()};
  p.oadr_queue = std::make_unique<openadr::StoreReportQueue>(*p.store);
  p.oadr_source = std::make_unique<openadr::CoreReportSource>(p.driver->core(), p.store.get());
  p.oadr_engine = std::make_unique<openadr::VenEngine>(std::move(*settings), *p.oadr_source, *p.oadr_queue);
  auto transport = std::make_unique<openadr::BeastTransport>(openadr::TransportOptions{.ca_file = oc.ca_file, .timeout = oc.request_timeout});
  // Signals reach the core like the API's and MQTT's; export caps lower the sites' export limits
  // while they are in force (export_caps.hpp).
  p.oadr = std::make_unique<openadr::AsioVenDriver>(
      ioc_, *p.oadr_engine, std::move(transport),
      [this](const openadr::EngineOutput& out) {
        const TimePoint now = clock_.now();
        for (const auto& g : out.signals) p_->driver->signal(g, now);
        for (const auto& l : out.export_limits) p_->export_caps.set(l);
        if (!out.export_limits.empty()) apply_export_caps(now);
      },
      [this] { return clock_.now(); });
  // The webhook (its path from callback_url) and the status document. Both run on the loop, like
  // every other call into the VEN, so the engine is only ever entered from one thread.
  if (!oc.callback_url.empty()) {
    const auto parts = openadr::split_url(oc.callback_url);
    if (!parts) return Error{"openadr.callback_url: not an absolute http(s) URL: '" + oc.callback_url + "'"};
    std::string path = parts->second.substr(0, parts->second.find('?'));
    p.service->add_route({path, false, [this](const http::ApiRequest& req) {
                            openadr::CallbackRequest cb{req.method, req.target, req.authorization, req.body};
                            auto r = on_loop([this, cb] { return p_->oadr->callback(cb); });
                            if (!r) return http::ApiService::error(503, "vppd is stopping");
                            return http::ApiResponse{r->status, r->content_type, r->body, {}};
                          }});
  }
  p.service->add_route({"/api/v1/openadr/status", true, [this](const http::ApiRequest& req) {
                          if (req.method != "GET") return http::ApiService::error(405, "only GET is allowed here");
                          auto r = on_loop([this] { return p_->oadr->status().dump(2); });
                          if (!r) return http::ApiService::error(503, "vppd is stopping");
                          return http::ApiResponse{200, "application/json", std::move(*r), {}};
                        }});
  return true;
}

void Daemon::apply_export_caps(TimePoint now) {
  auto& p = *p_;
  if (p.export_caps.idle()) return;
  for (auto& s : p.export_caps.apply(enrolled_sites(), now)) {
    spdlog::info("site {}: export limit {:.1f} kW ({})", s.id, s.limits.export_limit_kw,
                 p.export_caps.enrolled(s).limits.export_limit_kw == s.limits.export_limit_kw ? "enrolled limit restored"
                                                                                              : "OpenADR export cap");
    p.driver->feed(controller::EnrolSite{std::move(s)}, now);
  }
}

std::uint16_t Daemon::http_port() const { return p_->server ? p_->server->port() : 0; }

int Daemon::run() {
  auto& p = *p_;
  p.signals->async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    shutdown();
  });
  if (p.mqtt) p.mqtt->start();
  if (p.modbus) p.modbus->start();
  if (p.oadr) p.oadr->start();
  p.http_work.emplace(p.http_ioc.get_executor());
  p.http_thread = std::thread([this] {
    for (;;) {
      try {
        p_->http_ioc.run();
        return;
      } catch (const std::exception& e) {
        spdlog::critical("unexpected exception in the HTTP thread: {}", e.what());
      }
    }
  });
  spdlog::info("vppd running: {} sites, API on {}:{}, store {}", enrolled_sites().size(), cfg_.http.bind_address,
               http_port(), cfg_.store.path);
  net::post(ioc_, [this] { on_tick(); });
  // No exception escapes a handler by design; one that does is a bug: log it and stop cleanly.
  for (;;) {
    try {
      ioc_.run();
      break;
    } catch (const std::exception& e) {
      spdlog::critical("unexpected exception in the event loop: {}", e.what());
      shutdown();
    }
  }
  return 0;
}

void Daemon::stop() {
  net::post(ioc_, [this] { shutdown(); });
}

void Daemon::shutdown() {
  if (stopping_.exchange(true)) return;
  auto& p = *p_;
  // The API first: a request waiting for the loop gives up (503) once stopping_ is set.
  if (p.server) p.server->stop();
  p.http_work.reset();
  p.http_ioc.stop();
  if (p.http_thread.joinable()) p.http_thread.join();
  if (p.tick) p.tick->cancel();
  if (p.signals) p.signals->cancel();
  if (p.oadr) p.oadr->stop();
  // Adapters first (no new inputs; MQTT publishes its offline status), then the workers.
  if (p.mqtt) p.mqtt->stop();
  if (p.modbus) p.modbus->stop();
  if (p.solver) p.solver->stop();
  if (p.reader) p.reader->stop();
  // Acks and readings that arrived before the adapters stopped still reach the core and store.
  if (p.inbox) p.inbox->drain_all();
  if (p.store) {
    auto f = p.store->flush();
    if (!f) spdlog::error("{}", f.error());
  }
  spdlog::info("vppd stopped");
  ioc_.stop();
}

void Daemon::schedule_tick() {
  auto& p = *p_;
  p.tick->expires_after(cfg_.controller.scheduling.control_tick);
  p.tick->async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopping_) on_tick();
  });
}

void Daemon::on_tick() {
  auto& p = *p_;
  const TimePoint now = clock_.now();
  // A fresh forecast whenever the planning interval moves on.
  const Duration step = cfg_.controller.interval;
  const std::int64_t off = static_cast<std::int64_t>(cfg_.controller.utc_offset_minutes) * 60'000;
  const std::int64_t ms = to_unix_ms(now);
  const TimePoint interval = from_unix_ms(ms - (((ms + off) % step.count()) + step.count()) % step.count());
  if (!p.forecast_interval || *p.forecast_interval != interval) {
    p.driver->feed(controller::ForecastUpdate{p.forecaster->build(now, p.driver->core().fleet())}, now);
    p.forecast_interval = interval;
  }
  apply_export_caps(now);
  p.driver->resume_plans(now);   // after a restart, once: the adapters run now
  p.driver->feed(controller::Tick{}, now);
  refresh_profiles(false);
  schedule_tick();
}

void Daemon::refresh_profiles(bool now_on_this_thread) {
  auto& p = *p_;
  const auto t = steady::now();
  if (!now_on_this_thread && p.profiles_at && t - *p.profiles_at < std::chrono::hours(1)) return;
  p.profiles_at = t;
  auto job = [this, sites = enrolled_sites(), now = clock_.now(), post = !now_on_this_thread] {
    std::map<std::string, LoadProfile> profiles;
    for (const auto& s : sites) {
      std::map<std::string, std::vector<store::Rollup>> rollups;
      for (const auto& a : s.assets) rollups[a.id] = p_->store->rollups(s.id, a.id, 900, now - std::chrono::days(7), now);
      profiles[s.id] = base_load_profile(s, rollups, cfg_.controller.utc_offset_minutes);
    }
    auto apply = [this, profiles = std::move(profiles)] {
      for (const auto& [id, pr] : profiles) p_->forecaster->set_profile(id, pr);
    };
    if (post) {
      net::post(ioc_, std::move(apply));
    } else {
      apply();
    }
  };
  if (now_on_this_thread) {
    job();
  } else {
    p.reader->post(std::move(job));
  }
}

std::string Daemon::metrics(const http::ApiCounters* api) {
  auto& p = *p_;
  MetricsSources m;
  m.driver = p.driver.get();
  if (p.mqtt) {
    m.mqtt = &p.mqtt->counters();
    m.mqtt_connected = p.mqtt->connected();
    m.mqtt_pending_commands = p.mqtt->pending_commands();
  }
  if (p.modbus) m.modbus = &p.modbus->counters();
  m.api = api;
  if (p.server) m.http = p.server->counters();
  if (p.store) m.store = p.store->counters();
  if (p.inbox) m.inbox = p.inbox->stats();
  if (p.oadr) {
    m.openadr = p.oadr_engine->counters();
    m.openadr_reports = p.oadr_queue->stats();
    m.openadr_online = p.oadr_engine->connection_state() == "online";
    m.export_caps = p.export_caps.caps();
    m.export_capped_sites = p.export_caps.sites_capped();
  }
  m.uptime_s = std::chrono::duration<double>(steady::now() - started_).count();
  m.now = clock_.now();
  return metrics_text(m);
}

std::pair<int, std::string> Daemon::health() {
  auto& p = *p_;
  std::string text;
  bool ok = true;
  if (p.mqtt) {
    // A broker outage makes vppd unready after a grace period (reconnects are quick).
    const bool up = p.mqtt->connected();
    const auto t = steady::now();
    if (up) {
      p.mqtt_down_since.reset();
    } else if (!p.mqtt_down_since) {
      p.mqtt_down_since = t;
    }
    const double down_s = p.mqtt_down_since ? std::chrono::duration<double>(t - *p.mqtt_down_since).count() : 0;
    if (down_s > 30) ok = false;
    text += up ? "mqtt: connected\n" : "mqtt: disconnected for " + std::to_string(static_cast<int>(down_s)) + " s\n";
  }
  if (p.store) {
    const auto c = p.store->counters();
    text += c.write_errors ? "store: " + std::to_string(c.write_errors) + " failed batches\n" : "store: ok\n";
  }
  if (p.inbox) {
    const auto s = p.inbox->stats();
    if (s.dropped) text += "inbox: " + std::to_string(s.dropped) + " telemetry readings dropped (overload)\n";
  }
  return {ok ? 200 : 503, (ok ? "ok\n" : "degraded\n") + text};
}

}  // namespace vpp::daemon
