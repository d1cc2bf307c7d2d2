#pragma once
// Holding-register access to Modbus devices, as the SunSpec client needs it. The interface lets
// the SunSpec logic run against libmodbus (ModbusLink) in the daemon and against fakes in tests.
// Addresses are 0-based PDU addresses (what libmodbus and the SunSpec discovery list use).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/time.hpp"

namespace vpp::adapters::modbus {

enum class IoError {
  none,
  exception,   // the device answered with a Modbus exception (exception_code says which)
  timeout,     // no (complete) answer within the response timeout
  connection,  // could not connect, or the connection broke
  invalid,     // a malformed answer (bad CRC, wrong length, wrong unit) or a bad request
};

struct IoStatus {
  IoError error = IoError::none;
  int exception_code = 0;  // 1 illegal function, 2 illegal data address, 3 illegal data value, ...
  std::string message;

  bool ok() const { return error == IoError::none; }
  static IoStatus success() { return {}; }
};

class RegisterIo {
 public:
  virtual ~RegisterIo() = default;
  // Reads `count` (1..125) holding registers (FC 3).
  virtual IoStatus read(int unit, std::uint16_t address, std::uint16_t count, std::vector<std::uint16_t>& out) = 0;
  // Writes 1..123 holding registers (FC 16).
  virtual IoStatus write(int unit, std::uint16_t address, std::span<const std::uint16_t> regs) = 0;
  // Response timeout for the following requests (per device: devices on one bus differ).
  virtual void set_timeout(Duration timeout) = 0;
};

}  // namespace vpp::adapters::modbus
