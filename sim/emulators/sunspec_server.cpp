#include "sim/emulators/sunspec_server.hpp"

#include <errno.h>
#include <modbus/modbus.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "sim/emulators/mqtt_link.hpp"

namespace vpp::sim::emulators {

struct SunSpecServer::Port {
  int port = 0;
  modbus_t* ctx = nullptr;
  int listen_fd = -1;
  std::map<int, ServedSunSpec*> units;
  std::vector<int> clients;
};

SunSpecServer::SunSpecServer(std::string host, std::vector<ServedSunSpec*> devices, OnControl on_control)
    : host_(std::move(host)), devices_(std::move(devices)), on_control_(std::move(on_control)) {}

SunSpecServer::~SunSpecServer() { stop(); }

Result<bool> SunSpecServer::start() {
  std::map<int, Port*> by_port;
  for (auto* d : devices_) {
    auto it = by_port.find(d->port);
    if (it == by_port.end()) {
      ports_.push_back(std::make_unique<Port>());
      ports_.back()->port = d->port;
      it = by_port.emplace(d->port, ports_.back().get()).first;
    }
    if (!it->second->units.emplace(d->unit_id, d).second) {
      return Error{"port " + std::to_string(d->port) + ": unit id " + std::to_string(d->unit_id) + " is used twice"};
    }
  }
  for (auto& p : ports_) {
    p->ctx = modbus_new_tcp(host_.c_str(), p->port);
    if (!p->ctx) return Error{"cannot create a Modbus TCP context for " + host_ + ":" + std::to_string(p->port)};
    p->listen_fd = modbus_tcp_listen(p->ctx, 16);
    if (p->listen_fd < 0) {
      return Error{"cannot listen for Modbus TCP on " + host_ + ":" + std::to_string(p->port) + ": " + modbus_strerror(errno)};
    }
  }
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
  return true;
}

void SunSpecServer::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  for (auto& p : ports_) {
    for (int fd : p->clients) ::close(fd);
    p->clients.clear();
    if (p->listen_fd >= 0) ::close(p->listen_fd);
    p->listen_fd = -1;
    if (p->ctx) modbus_free(p->ctx);
    p->ctx = nullptr;
  }
  ports_.clear();
}

void SunSpecServer::run() {
  std::uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  while (!stopping_) {
    fd_set set;
    FD_ZERO(&set);
    int max_fd = -1;
    for (auto& p : ports_) {
      FD_SET(p->listen_fd, &set);
      max_fd = std::max(max_fd, p->listen_fd);
      for (int fd : p->clients) {
        FD_SET(fd, &set);
        max_fd = std::max(max_fd, fd);
      }
    }
    timeval tv{0, 100'000};  // wake up to notice stop()
    const int n = ::select(max_fd + 1, &set, nullptr, nullptr, &tv);
    if (n <= 0) continue;
    for (auto& p : ports_) {
      if (FD_ISSET(p->listen_fd, &set)) {
        const int fd = ::accept(p->listen_fd, nullptr, nullptr);
        // select() cannot watch descriptors past FD_SETSIZE; refuse rather than corrupt the set.
        if (fd >= FD_SETSIZE) {
          ::close(fd);
        } else if (fd >= 0) {
          p->clients.push_back(fd);
        }
      }
      for (std::size_t i = 0; i < p->clients.size();) {
        const int fd = p->clients[i];
        if (!FD_ISSET(fd, &set)) {
          ++i;
          continue;
        }
        modbus_set_socket(p->ctx, fd);
        const int rc = modbus_receive(p->ctx, query);
        if (rc > 0) {
          handle(*p, fd, query, rc);
          ++i;
        } else if (rc == -1) {
          ::close(fd);  // the client went away, or sent a frame that is not Modbus TCP
          p->clients.erase(p->clients.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          ++i;  // rc 0: a request for another server id, ignored
        }
      }
    }
  }
}

void SunSpecServer::handle(Port& p, int fd, const std::uint8_t* q, int length) {
  ++counters_.requests;
  modbus_set_socket(p.ctx, fd);
  const int h = modbus_get_header_length(p.ctx);  // 7 for TCP: MBAP header, the unit id last
  if (length < h + 1) return;
  const int unit = q[h - 1];
  const int function = q[h];
  const auto it = p.units.find(unit);
  if (it == p.units.end()) {
    ++counters_.unknown_unit;
    modbus_reply_exception(p.ctx, q, MODBUS_EXCEPTION_GATEWAY_TARGET);
    return;
  }
  if (function == MODBUS_FC_MASK_WRITE_REGISTER || function == MODBUS_FC_WRITE_AND_READ_REGISTERS) {
    // Writes that would bypass the checks below; SunSpec clients use FC 6 and FC 16.
    modbus_reply_exception(p.ctx, q, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
    return;
  }
  ServedSunSpec& d = *it->second;
  std::unique_lock lock(d.mu);
  auto& regs = d.image.registers();
  modbus_mapping_t map{};
  map.start_registers = SunSpecImage::kBase;
  map.nb_registers = static_cast<int>(regs.size());
  map.tab_registers = regs.data();
  if (function == MODBUS_FC_WRITE_SINGLE_REGISTER || function == MODBUS_FC_WRITE_MULTIPLE_REGISTERS) {
    if (length < h + 5) return;
    const auto address = static_cast<std::uint16_t>((q[h + 1] << 8) | q[h + 2]);
    std::vector<std::uint16_t> values;
    if (function == MODBUS_FC_WRITE_SINGLE_REGISTER) {
      values.push_back(static_cast<std::uint16_t>((q[h + 3] << 8) | q[h + 4]));
    } else {
      const int count = (q[h + 3] << 8) | q[h + 4];
      if (count < 1 || count > 123 || length < h + 6 + 2 * count) {
        modbus_reply_exception(p.ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
        return;
      }
      for (int k = 0; k < count; ++k) {
        values.push_back(static_cast<std::uint16_t>((q[h + 6 + 2 * k] << 8) | q[h + 7 + 2 * k]));
      }
    }
    std::string why;
    if (const int code = d.image.check_write(address, values, why); code != 0) {
      ++counters_.writes_refused;
      log_line("warn", "modbus " + d.site_id + "/" + d.asset_id + ": write at " + std::to_string(address) + " refused: " + why);
      modbus_reply_exception(p.ctx, q, static_cast<unsigned>(code));
      return;
    }
    if (modbus_reply(p.ctx, q, length, &map) < 0) return;
    ++counters_.writes_applied;
    const auto control = d.image.control_after_write(address, static_cast<std::uint16_t>(values.size()));
    lock.unlock();
    if (control && on_control_) on_control_(d, *control);
    return;
  }
  modbus_reply(p.ctx, q, length, &map);
}

}  // namespace vpp::sim::emulators
