#pragma once
// A libmodbus connection to one bus: a TCP endpoint (a device or a gateway with several unit
// ids) or an RTU serial line. Blocking, and not thread-safe: exactly one worker thread of the
// ModbusAdapter owns each link, which is what serialises requests to devices on the same bus.
//
// Behaviour worth knowing:
//   - Connects lazily; after a timeout or a broken connection it closes, so the next request
//     starts on a fresh connection (a late answer to a timed-out request must not be taken for
//     the answer to the next one).
//   - Keeps `frame_gap` of silence between the end of one transaction and the start of the next
//     (RS-485 turnaround, slow gateways).
#include <chrono>
#include <string>

#include "adapters/modbus/register_io.hpp"

struct _modbus;

namespace vpp::adapters::modbus {

struct LinkSpec {
  bool rtu = false;
  std::string host;        // tcp
  int port = 502;          // tcp
  std::string serial_port; // rtu
  int baud = 9600;         // rtu, 8N1
  Duration frame_gap{0};
};

class ModbusLink final : public RegisterIo {
 public:
  explicit ModbusLink(LinkSpec spec);
  ~ModbusLink() override;
  ModbusLink(const ModbusLink&) = delete;
  ModbusLink& operator=(const ModbusLink&) = delete;

  IoStatus read(int unit, std::uint16_t address, std::uint16_t count, std::vector<std::uint16_t>& out) override;
  IoStatus write(int unit, std::uint16_t address, std::span<const std::uint16_t> regs) override;
  void set_timeout(Duration timeout) override { timeout_ = timeout; }
  void close();
  std::string describe() const;

 private:
  IoStatus prepare(int unit);
  IoStatus failure(const char* what);
  void gap();

  LinkSpec spec_;
  _modbus* ctx_ = nullptr;
  bool connected_ = false;
  Duration timeout_ = std::chrono::seconds(1);
  std::chrono::steady_clock::time_point last_end_{};
};

}  // namespace vpp::adapters::modbus
