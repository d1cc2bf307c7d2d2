#pragma once
// vppd: the imperative shell around the controller core.
//
// One Boost.Asio io_context, run by the main thread only (the loop), owns everything that
// touches the core: the core driver, the control tick, the forecaster, signal handling. Other
// threads only hand work over:
//   - the HTTP API runs on an io_context of its own, on one thread: sockets, parsing, auth and
//     rendering JSON (measured: rendering GET /fleet of 500 sites in protobuf's JSON printer
//     took 86 % of a loop that also served the API) stay off the loop; every backend call hops
//     onto the loop (posted, the HTTP thread waits for its result), so the backend over the core
//     stays single-threaded and the control loop is never starved by API load;
//   - adapter threads (Paho callbacks, one per Modbus bus) push inputs into the Inbox, which
//     posts a drain to the loop when it goes from empty to non-empty: inputs are handled as soon
//     as the loop is free, in arrival order, in bursts of at most Inbox::kBatch so timers and
//     HTTP requests interleave with a flood of telemetry (chosen over polling the queue on a
//     timer, which adds up to a period of latency to every command ack and grid signal);
//   - the solver worker runs the optimizer and posts each SolveResult back to the loop; a slow
//     solve never blocks the loop, and a request superseded before it starts is skipped (the
//     core would discard its plan anyway);
//   - a reader worker rebuilds the forecaster's load profiles from the store every hour;
//   - the OpenADR VEN (when configured) sends its HTTP requests one at a time from a worker of
//     its own (adapters/openadr/driver.hpp); the engine runs on the loop, its grid signals go to
//     the core like the API's, its webhook and status routes hop onto the loop.
//
// Restart: every output is persisted as it happens (store writes are queued, the store's writer
// commits them within milliseconds), so after SIGKILL vppd restores enrolments, events with
// their state and opt-outs, meter history (past days for baselines, today's ended intervals for
// the report of a running event), the last price and carbon series, and each planning group's
// last plan, which the fleet follows from the first tick until the fresh solve the restored
// events ask for replaces it. SIGTERM/SIGINT: the API stops accepting, adapters disconnect (MQTT
// publishes the retained `offline` status), queued acks are handled, the store is flushed, and
// run() returns 0; devices fall back to their own behaviour when their commands expire.
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <thread>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "adapters/http/api_service.hpp"
#include "adapters/http/asio.hpp"
#include "adapters/inputs.hpp"
#include "apps/daemon/driver.hpp"
#include "apps/daemon/metrics.hpp"
#include "config/config.hpp"
#include "model/clock.hpp"
#include "model/result.hpp"

namespace vpp::daemon {

// The loop's inbox for adapter inputs (see the header comment).
class Inbox final : public adapters::InputSink {
 public:
  static constexpr std::size_t kBatch = 256;
  using Handler = std::function<void(adapters::AdapterInput&)>;

  // Beyond `capacity` waiting inputs, telemetry is dropped and counted (the loop cannot keep up;
  // fresher readings follow); acks, grid signals and device status are always kept.
  Inbox(boost::asio::io_context& ioc, Handler handler, std::size_t capacity = 1'000'000)
      : ioc_(ioc), handler_(std::move(handler)), capacity_(capacity) {}

  void push(adapters::AdapterInput in) override;
  // Handles everything waiting now, on the calling (loop) thread.
  void drain_all();
  InboxStats stats() const;

 private:
  void drain();

  boost::asio::io_context& ioc_;
  Handler handler_;
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::deque<adapters::AdapterInput> items_;
  bool scheduled_ = false;
  InboxStats stats_;
};

class Daemon {
 public:
  // Opens the store and restores from it, creates the adapters and binds the HTTP API. Errors
  // name what failed (store file, listen address, MQTT password file, ...).
  static Result<std::unique_ptr<Daemon>> create(const config::Config& cfg);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs the event loop until SIGTERM or SIGINT (or stop()); returns the process exit code.
  int run();
  // Asks the loop to stop gracefully. Safe from any thread.
  void stop();

  std::uint16_t http_port() const;

  // Runs `f` on the loop and waits for its result (from another thread: the HTTP thread).
  // nullopt when the daemon stops before `f` ran. `f` must own what it uses (it may run after
  // the caller gave up).
  template <typename F>
  auto on_loop(F f) -> std::optional<std::invoke_result_t<F&>>;

 private:
  class Shell;
  class LoopBackend;
  explicit Daemon(const config::Config& cfg);
  Result<bool> init();
  Result<bool> init_openadr();
  void apply_export_caps(TimePoint now);
  void schedule_tick();
  void on_tick();
  void refresh_profiles(bool now);
  void shutdown();
  std::string metrics(const http::ApiCounters* api);
  std::pair<int, std::string> health();
  std::vector<Site> enrolled_sites() const;

  config::Config cfg_;
  boost::asio::io_context ioc_;
  SystemClock clock_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  struct Parts;
  std::unique_ptr<Parts> p_;
  std::atomic<bool> stopping_{false};
};

template <typename F>
auto Daemon::on_loop(F f) -> std::optional<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  auto done = std::make_shared<std::promise<R>>();
  auto result = done->get_future();
  boost::asio::post(ioc_, [done, f = std::move(f)]() mutable {
    try {
      done->set_value(f());
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  });
  while (result.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    if (stopping_) return std::nullopt;
  }
  return result.get();
}

}  // namespace vpp::daemon
