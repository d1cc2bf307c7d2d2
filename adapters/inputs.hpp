#pragma once
// What device and grid adapters deliver to the daemon's loop, and the thread-safe queue they
// deliver it through. Adapters own their I/O threads (Paho's callback thread, one worker per
// Modbus bus); the daemon owns the controller core, which is single-threaded. The queue is the
// only hand-over point: adapters push from their threads, the daemon pops on its own.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/messages.hpp"
#include "model/time.hpp"

namespace vpp::adapters {

// A device came online (birth, first good poll) or went offline (death, timeouts, lost broker).
struct DeviceStatus {
  std::string site_id;
  std::string asset_id;
  bool online = false;
  TimePoint time{};
  std::string reason;  // e.g. "DBIRTH", "NDEATH bdSeq 3", "3 polls timed out", "broker connection lost"

  bool operator==(const DeviceStatus&) const = default;
};

using AdapterInput = std::variant<Telemetry, CommandAck, GridSignal, DeviceStatus>;

class InputSink {
 public:
  virtual ~InputSink() = default;
  // Called from adapter threads; must be thread-safe and must not block for long.
  virtual void push(AdapterInput in) = 0;
};

// Unbounded FIFO. Delivery order is the order of push() calls; inputs from one device keep
// their order because each device is served by exactly one adapter thread.
class InputQueue final : public InputSink {
 public:
  void push(AdapterInput in) override {
    {
      std::lock_guard lock(mu_);
      items_.push_back(std::move(in));
    }
    cv_.notify_all();
  }

  // Waits up to `timeout` for one input.
  std::optional<AdapterInput> pop_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !items_.empty(); })) return std::nullopt;
    AdapterInput in = std::move(items_.front());
    items_.pop_front();
    return in;
  }

  std::vector<AdapterInput> drain() {
    std::lock_guard lock(mu_);
    std::vector<AdapterInput> out(std::make_move_iterator(items_.begin()), std::make_move_iterator(items_.end()));
    items_.clear();
    return out;
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<AdapterInput> items_;
};

}  // namespace vpp::adapters
