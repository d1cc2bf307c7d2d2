#pragma once
// vppd's Modbus adapter: SunSpec devices over Modbus TCP or RTU (libmodbus), polled for
// telemetry and written for commands.
//
// Threading. Devices are grouped by bus: one TCP endpoint (host:port, e.g. a gateway with
// several unit ids) or one serial line. Each bus has one worker thread that owns its ModbusLink,
// so requests to devices on one bus are serialised (with the bus's frame gap between frames),
// and a slow or dead device delays only its own bus, never the others. Workers push inputs into
// the InputSink; send() queues a command to the device's worker and returns at once; the
// worker's CommandAck (accepted after read-back verification, rejected with the reason, or
// expired) arrives through the sink.
//
// Schedule per device: a poll every poll_period; each request is retried `retries` times on a
// timeout or a broken connection (never on a Modbus exception, which is an answer); a failed
// poll takes the device offline and doubles its wait (starting at poll_period, capped at
// backoff_max: OpenEMS's defective-device rule), the next good poll brings it back online.
// Commands go before polls. Every failure is counted by reason and logged once (counters()).
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/counters.hpp"
#include "adapters/inputs.hpp"
#include "adapters/modbus/modbus_link.hpp"
#include "adapters/modbus/sunspec_device.hpp"
#include "config/config.hpp"
#include "model/clock.hpp"
#include "model/result.hpp"

namespace vpp::adapters::modbus {

struct ModbusAdapterOptions {
  Duration backoff_max = std::chrono::minutes(5);
};

struct DeviceState {
  bool online = false;
  std::optional<SunSpecMap> map;
  std::uint64_t polls_ok = 0;
  std::uint64_t polls_failed = 0;
  Duration backoff{0};
};

class ModbusAdapter {
 public:
  static Result<std::unique_ptr<ModbusAdapter>> create(const std::vector<config::ModbusDevice>& devices, InputSink& sink,
                                                       const Clock& clock, ModbusAdapterOptions options = {});
  ~ModbusAdapter();
  ModbusAdapter(const ModbusAdapter&) = delete;
  ModbusAdapter& operator=(const ModbusAdapter&) = delete;

  void start();
  void stop();

  // Queues a command for its device. Error: no Modbus device is configured for its asset.
  Result<bool> send(const Command& c);

  const AdapterCounters& counters() const { return counters_; }
  std::optional<DeviceState> device_state(const std::string& device_id) const;
  std::size_t bus_count() const { return buses_.size(); }

 private:
  struct Device {
    config::ModbusDevice cfg;
    DeviceState state;  // guarded by the bus mutex
    std::chrono::steady_clock::time_point next_poll{};
  };
  struct Bus {
    std::string key;
    std::unique_ptr<ModbusLink> link;
    std::vector<Device> devices;
    std::deque<std::pair<std::size_t, Command>> commands;  // device index, command
    std::thread thread;
    mutable std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
  };

  ModbusAdapter(InputSink& sink, const Clock& clock, ModbusAdapterOptions options)
      : sink_(sink), clock_(clock), options_(options) {}
  void run(Bus& b);
  void poll(Bus& b, Device& d);
  void execute(Bus& b, Device& d, const Command& c);
  IoStatus ensure_map(Bus& b, Device& d);
  template <typename F>
  IoStatus with_retries(const Device& d, F&& f);
  void failed(Bus& b, Device& d, const IoStatus& s, const std::string& what);

  InputSink& sink_;
  const Clock& clock_;
  ModbusAdapterOptions options_;
  AdapterCounters counters_{"modbus"};
  std::vector<std::unique_ptr<Bus>> buses_;
  std::map<std::pair<std::string, std::string>, std::pair<std::size_t, std::size_t>> by_asset_;  // -> bus, device
};

std::string_view reason_of(const IoStatus& s);

}  // namespace vpp::adapters::modbus
