#pragma once
// SunSpec devices served over Modbus TCP with libmodbus: one listening port per endpoint (a site
// gateway with a unit id per device, or one device per port), all served by one thread with a
// select loop. Requests go to the image of the unit id they name (unknown unit ids get exception
// 0x0B, gateway target failed to respond, as a gateway answers for a device it does not reach).
// Reads (FC 3) are answered from the image; writes (FC 6, FC 16) are checked by the image
// (read-only registers, values out of range) before anything changes, then applied, and the
// control the written block now asks for is handed to `on_control` on the server thread.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/result.hpp"
#include "sim/emulators/sunspec_image.hpp"

namespace vpp::sim::emulators {

struct ServedSunSpec {
  std::string site_id;
  std::string asset_id;
  int port = 0;
  int unit_id = 1;
  SunSpecImage image;
  std::mutex mu;     // guards image: the server thread reads and writes it, the emulator updates it
};

struct SunSpecServerCounters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> writes_applied{0};
  std::atomic<std::uint64_t> writes_refused{0};
  std::atomic<std::uint64_t> unknown_unit{0};
};

class SunSpecServer {
 public:
  using OnControl = std::function<void(ServedSunSpec&, const SunSpecControl&)>;
  SunSpecServer(std::string host, std::vector<ServedSunSpec*> devices, OnControl on_control);
  ~SunSpecServer();
  SunSpecServer(const SunSpecServer&) = delete;
  SunSpecServer& operator=(const SunSpecServer&) = delete;

  // Listens on every port; fails naming the port that cannot be bound.
  Result<bool> start();
  void stop();
  const SunSpecServerCounters& counters() const { return counters_; }

 private:
  struct Port;
  void run();
  void handle(Port& p, int fd, const std::uint8_t* query, int length);

  std::string host_;
  std::vector<ServedSunSpec*> devices_;
  OnControl on_control_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  SunSpecServerCounters counters_;
};

}  // namespace vpp::sim::emulators
