#include "adapters/openadr/driver.hpp"

namespace vpp::openadr {

int SyncVenDriver::run(TimePoint now, int max_requests) {
  int sent = 0;
  while (sent < max_requests) {
    auto out = engine_.poll(now);
    const bool any = !out.requests.empty();
    std::vector<HttpRequest> reqs = std::move(out.requests);
    if (sink_ && (!out.signals.empty() || !out.export_limits.empty())) sink_(out);
    if (!any) break;
    for (const auto& r : reqs) {
      auto res = transport_.send(r);
      ++sent;
      engine_.on_response(r.id, res, now);
    }
  }
  return sent;
}

CallbackResponse SyncVenDriver::callback(const CallbackRequest& req, TimePoint now) {
  auto resp = engine_.on_callback(req, now);
  run(now);
  return resp;
}

AsioVenDriver::AsioVenDriver(boost::asio::io_context& ioc, VenEngine& engine, std::unique_ptr<Transport> transport,
                             OutputSink sink, std::function<TimePoint()> now)
    : ioc_(ioc), engine_(engine), transport_(std::move(transport)), sink_(std::move(sink)), now_(std::move(now)),
      timer_(ioc) {}

AsioVenDriver::~AsioVenDriver() { stop(); }

void AsioVenDriver::start() {
  worker_ = std::thread([this] { worker_loop(); });
  boost::asio::post(ioc_, [this, alive = alive_] {
    if (*alive) step();
  });
}

void AsioVenDriver::stop() {
  {
    std::lock_guard lock(work_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  *alive_ = false;
  work_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  boost::system::error_code ec;
  timer_.cancel(ec);
}

void AsioVenDriver::step() {
  EngineOutput out;
  {
    std::lock_guard lock(engine_mu_);
    out = engine_.poll(now_());
  }
  if (!out.requests.empty()) {
    std::lock_guard lock(work_mu_);
    for (auto& r : out.requests) work_.push_back(std::move(r));
    work_cv_.notify_one();
  }
  if (sink_ && (!out.signals.empty() || !out.export_limits.empty())) sink_(out);
  arm();
}

void AsioVenDriver::arm() {
  std::optional<TimePoint> wake;
  {
    std::lock_guard lock(engine_mu_);
    wake = engine_.next_wake();
  }
  // Without a wake time a response or a callback wakes the engine; poll at least every minute
  // anyway so reports falling due are never missed.
  const TimePoint now = now_();
  Duration wait = wake ? std::max(Duration::zero(), *wake - now) : std::chrono::minutes(1);
  wait = std::min<Duration>(wait, std::chrono::minutes(1));
  timer_.expires_after(wait);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    step();
  });
}

void AsioVenDriver::worker_loop() {
  for (;;) {
    HttpRequest r;
    {
      std::unique_lock lock(work_mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !work_.empty(); });
      if (stopping_) return;
      r = std::move(work_.front());
      work_.pop_front();
    }
    HttpResult res = transport_->send(r);
    boost::asio::post(ioc_, [this, alive = alive_, id = r.id, res = std::move(res)] {
      if (!*alive) return;
      {
        std::lock_guard lock(engine_mu_);
        engine_.on_response(id, res, now_());
      }
      step();
    });
  }
}

CallbackResponse AsioVenDriver::callback(const CallbackRequest& req) {
  CallbackResponse resp;
  {
    std::lock_guard lock(engine_mu_);
    resp = engine_.on_callback(req, now_());
  }
  boost::asio::post(ioc_, [this, alive = alive_] {
    if (*alive) step();
  });
  return resp;
}

Json AsioVenDriver::status() const {
  std::lock_guard lock(engine_mu_);
  return engine_.status(now_());
}

}  // namespace vpp::openadr
