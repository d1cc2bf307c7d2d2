#include "adapters/modbus/modbus_link.hpp"

#include <modbus/modbus.h>

#include <cerrno>
#include <thread>

namespace vpp::adapters::modbus {

ModbusLink::ModbusLink(LinkSpec spec) : spec_(std::move(spec)) {}

ModbusLink::~ModbusLink() {
  close();
  if (ctx_) modbus_free(ctx_);
}

std::string ModbusLink::describe() const {
  return spec_.rtu ? spec_.serial_port : spec_.host + ":" + std::to_string(spec_.port);
}

void ModbusLink::close() {
  if (ctx_ && connected_) modbus_close(ctx_);
  connected_ = false;
}

void ModbusLink::gap() {
  if (spec_.frame_gap.count() <= 0) return;
  const auto next = last_end_ + spec_.frame_gap;
  if (std::chrono::steady_clock::now() < next) std::this_thread::sleep_until(next);
}

IoStatus ModbusLink::prepare(int unit) {
  if (!ctx_) {
    ctx_ = spec_.rtu ? modbus_new_rtu(spec_.serial_port.c_str(), spec_.baud, 'N', 8, 1)
                     : modbus_new_tcp(spec_.host.c_str(), spec_.port);
    if (!ctx_) return {IoError::connection, 0, describe() + ": " + modbus_strerror(errno)};
  }
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout_).count();
  modbus_set_response_timeout(ctx_, static_cast<std::uint32_t>(us / 1000000), static_cast<std::uint32_t>(us % 1000000));
  if (!connected_) {
    if (modbus_connect(ctx_) != 0) {
      return {IoError::connection, 0, "cannot connect to " + describe() + ": " + modbus_strerror(errno)};
    }
    connected_ = true;
  }
  if (modbus_set_slave(ctx_, unit) != 0) return {IoError::invalid, 0, "invalid unit id " + std::to_string(unit)};
  gap();
  return IoStatus::success();
}

IoStatus ModbusLink::failure(const char* what) {
  const int e = errno;
  last_end_ = std::chrono::steady_clock::now();
  IoStatus s;
  s.message = std::string(what) + " " + describe() + ": " + modbus_strerror(e);
  if (e > MODBUS_ENOBASE && e <= EMBXGTAR) {
    s.error = IoError::exception;
    s.exception_code = e - MODBUS_ENOBASE;
    return s;  // the device is fine and in sync: keep the connection
  }
  if (e == ETIMEDOUT) {
    s.error = IoError::timeout;
  } else if (e == EMBBADCRC || e == EMBBADDATA || e == EMBBADEXC || e == EMBUNKEXC || e == EMBMDATA || e == EMBBADSLAVE) {
    s.error = IoError::invalid;
  } else {
    s.error = IoError::connection;
  }
  close();  // resynchronise on a fresh connection
  return s;
}

IoStatus ModbusLink::read(int unit, std::uint16_t address, std::uint16_t count, std::vector<std::uint16_t>& out) {
  if (count == 0 || count > MODBUS_MAX_READ_REGISTERS) return {IoError::invalid, 0, "read of " + std::to_string(count) + " registers"};
  if (auto s = prepare(unit); !s.ok()) return s;
  out.assign(count, 0);
  const int n = modbus_read_registers(ctx_, address, count, out.data());
  if (n < 0) return failure("read");
  last_end_ = std::chrono::steady_clock::now();
  if (n != count) return {IoError::invalid, 0, "short read from " + describe()};
  return IoStatus::success();
}

IoStatus ModbusLink::write(int unit, std::uint16_t address, std::span<const std::uint16_t> regs) {
  if (regs.empty() || regs.size() > MODBUS_MAX_WRITE_REGISTERS) return {IoError::invalid, 0, "write of " + std::to_string(regs.size()) + " registers"};
  if (auto s = prepare(unit); !s.ok()) return s;
  const int n = modbus_write_registers(ctx_, address, static_cast<int>(regs.size()), regs.data());
  if (n < 0) return failure("write");
  last_end_ = std::chrono::steady_clock::now();
  return IoStatus::success();
}

}  // namespace vpp::adapters::modbus
