#pragma once
// Drivers run a VenEngine against real HTTP.
//
// SyncVenDriver: everything on the caller's thread at the time the caller gives. run(now) sends
// each request the engine asks for, feeds its response back at the same `now`, and repeats
// until the engine has nothing more to send at that instant. With a SimClock this runs an
// hour-long outage in seconds against a real VTN (the tests), and it is what a simulator would
// use.
//
// AsioVenDriver: vppd's. Threading model: the engine lives on the daemon's io_context (the
// thread that runs the controller core, so ReportSource calls into the core from there are
// safe); HTTP requests, which block for up to the request timeout, run one at a time on a
// worker thread owned by the driver, and each response is posted back to the io_context. A
// steady_timer wakes the engine at next_wake(). Webhook callbacks arrive on the HTTP server's
// strand; they and status() take the driver's mutex, which every engine call holds, so the
// engine is never entered from two threads at once. Grid signals go to the sink on the
// io_context.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "adapters/http/asio.hpp"
#include "adapters/openadr/engine.hpp"
#include "adapters/openadr/transport.hpp"

namespace vpp::openadr {

using OutputSink = std::function<void(const EngineOutput&)>;

class SyncVenDriver {
 public:
  SyncVenDriver(VenEngine& engine, Transport& transport, OutputSink sink)
      : engine_(engine), transport_(transport), sink_(std::move(sink)) {}
  // Returns the number of requests sent.
  int run(TimePoint now, int max_requests = 10000);
  CallbackResponse callback(const CallbackRequest& req, TimePoint now);

 private:
  VenEngine& engine_;
  Transport& transport_;
  OutputSink sink_;
};

class AsioVenDriver {
 public:
  // `now` gives UTC time (SystemClock::now in vppd).
  AsioVenDriver(boost::asio::io_context& ioc, VenEngine& engine, std::unique_ptr<Transport> transport, OutputSink sink,
                std::function<TimePoint()> now);
  ~AsioVenDriver();
  AsioVenDriver(const AsioVenDriver&) = delete;
  AsioVenDriver& operator=(const AsioVenDriver&) = delete;

  void start();
  // Stops the worker (waits for a request in progress, at most its timeout); handlers still
  // queued on the io_context do nothing afterwards. Call it (and the destructor) on the
  // io_context's thread or once the io_context has stopped: the timer is not thread safe.
  void stop();
  // Any thread.
  CallbackResponse callback(const CallbackRequest& req);
  Json status() const;

 private:
  void step();             // on the io_context
  void arm();
  void worker_loop();

  boost::asio::io_context& ioc_;
  VenEngine& engine_;
  std::unique_ptr<Transport> transport_;
  OutputSink sink_;
  std::function<TimePoint()> now_;
  boost::asio::steady_timer timer_;
  mutable std::mutex engine_mu_;

  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::deque<HttpRequest> work_;
  bool stopping_ = false;
  std::thread worker_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace vpp::openadr
