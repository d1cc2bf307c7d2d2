#include "adapters/modbus/modbus_adapter.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vpp::adapters::modbus {

std::string_view reason_of(const IoStatus& s) {
  switch (s.error) {
    case IoError::exception: return reason::modbus_exception;
    case IoError::timeout: return reason::timeout;
    case IoError::connection: return reason::connection;
    case IoError::invalid:
      return s.message.find("read-back") != std::string::npos ? reason::verify_failed : reason::unsupported;
    case IoError::none: break;
  }
  return reason::unsupported;
}

Result<std::unique_ptr<ModbusAdapter>> ModbusAdapter::create(const std::vector<config::ModbusDevice>& devices,
                                                             InputSink& sink, const Clock& clock,
                                                             ModbusAdapterOptions options) {
  std::unique_ptr<ModbusAdapter> a(new ModbusAdapter(sink, clock, options));
  std::map<std::string, std::size_t> bus_of_key;
  for (const auto& d : devices) {
    const bool rtu = d.transport == config::ModbusTransport::rtu;
    const std::string key = rtu ? "rtu:" + d.serial_port : "tcp:" + d.host + ":" + std::to_string(d.port);
    auto [it, fresh] = bus_of_key.emplace(key, a->buses_.size());
    if (fresh) {
      auto b = std::make_unique<Bus>();
      b->key = key;
      a->buses_.push_back(std::move(b));
    }
    Bus& b = *a->buses_[it->second];
    for (const auto& other : b.devices) {
      if (other.cfg.unit_id == d.unit_id) {
        return Error{"modbus: devices '" + other.cfg.id + "' and '" + d.id + "' share " + key + " unit " +
                     std::to_string(d.unit_id)};
      }
    }
    if (!a->by_asset_.emplace(std::pair{d.site_id, d.asset_id}, std::pair{it->second, b.devices.size()}).second) {
      return Error{"modbus: two devices for asset " + d.site_id + "/" + d.asset_id};
    }
    b.devices.push_back(Device{d, {}, {}});
  }
  for (auto& b : a->buses_) {
    const auto& first = b->devices.front().cfg;
    LinkSpec spec{first.transport == config::ModbusTransport::rtu, first.host, first.port, first.serial_port, first.baud, {}};
    for (const auto& d : b->devices) spec.frame_gap = std::max(spec.frame_gap, d.cfg.frame_gap);
    b->link = std::make_unique<ModbusLink>(spec);
  }
  return a;
}

ModbusAdapter::~ModbusAdapter() { stop(); }

void ModbusAdapter::start() {
  for (auto& b : buses_) {
    std::lock_guard lock(b->mu);
    if (b->thread.joinable()) continue;
    b->stopping = false;
    Bus* bus = b.get();
    b->thread = std::thread([this, bus] { run(*bus); });
  }
}

void ModbusAdapter::stop() {
  for (auto& b : buses_) {
    {
      std::lock_guard lock(b->mu);
      b->stopping = true;
    }
    b->cv.notify_all();
  }
  for (auto& b : buses_) {
    if (b->thread.joinable()) b->thread.join();
  }
}

Result<bool> ModbusAdapter::send(const Command& c) {
  const auto it = by_asset_.find({c.site_id, c.asset_id});
  if (it == by_asset_.end()) return Error{"modbus: no device for " + c.site_id + "/" + c.asset_id};
  Bus& b = *buses_[it->second.first];
  {
    std::lock_guard lock(b.mu);
    b.commands.emplace_back(it->second.second, c);
  }
  b.cv.notify_all();
  return true;
}

std::optional<DeviceState> ModbusAdapter::device_state(const std::string& device_id) const {
  for (const auto& b : buses_) {
    std::lock_guard lock(b->mu);
    for (const auto& d : b->devices) {
      if (d.cfg.id == device_id) return d.state;
    }
  }
  return std::nullopt;
}

template <typename F>
IoStatus ModbusAdapter::with_retries(const Device& d, F&& f) {
  IoStatus s;
  for (int attempt = 0; attempt <= d.cfg.retries; ++attempt) {
    s = f();
    // An exception is the device's answer; a read-back mismatch or an unsupported command will
    // not change on a retry. Timeouts and broken connections might.
    if (s.ok() || s.error == IoError::exception || s.error == IoError::invalid) return s;
  }
  return s;
}

void ModbusAdapter::run(Bus& b) {
  std::unique_lock lock(b.mu);
  const auto start = std::chrono::steady_clock::now();
  for (auto& d : b.devices) d.next_poll = start;
  while (!b.stopping) {
    if (!b.commands.empty()) {
      auto [index, cmd] = std::move(b.commands.front());
      b.commands.pop_front();
      lock.unlock();
      execute(b, b.devices[index], cmd);
      lock.lock();
      continue;
    }
    auto next = std::min_element(b.devices.begin(), b.devices.end(),
                                 [](const Device& x, const Device& y) { return x.next_poll < y.next_poll; });
    if (next->next_poll <= std::chrono::steady_clock::now()) {
      lock.unlock();
      poll(b, *next);
      lock.lock();
      continue;
    }
    b.cv.wait_until(lock, next->next_poll, [&] { return b.stopping || !b.commands.empty(); });
  }
  lock.unlock();
  b.link->close();
}

IoStatus ModbusAdapter::ensure_map(Bus& b, Device& d) {
  {
    std::lock_guard lock(b.mu);
    if (d.state.map) return IoStatus::success();
  }
  SunSpecMap map;
  auto s = with_retries(d, [&] { return discover(*b.link, d.cfg.unit_id, d.cfg.sunspec_base, map); });
  if (!s.ok()) return s;
  std::string ids;
  for (const auto& m : map.models) ids += (ids.empty() ? "" : ", ") + std::to_string(m.id);
  spdlog::info("modbus: {} ({} unit {}): SunSpec at {}: models {}", d.cfg.id, b.key, d.cfg.unit_id, map.base, ids);
  std::lock_guard lock(b.mu);
  d.state.map = std::move(map);
  return IoStatus::success();
}

void ModbusAdapter::failed(Bus& b, Device& d, const IoStatus& s, const std::string& what) {
  counters_.reject(reason_of(s), d.cfg.id, what + ": " + s.message);
  bool went_offline = false;
  {
    std::lock_guard lock(b.mu);
    ++d.state.polls_failed;
    went_offline = d.state.online;
    d.state.online = false;
    d.state.backoff = d.state.backoff.count() == 0 ? d.cfg.poll_period
                                                   : std::min<Duration>(d.state.backoff * 2, options_.backoff_max);
    d.next_poll = std::chrono::steady_clock::now() + d.state.backoff;
    // An exception on a known map (a device replaced or reconfigured): discover again.
    if (s.error == IoError::exception) d.state.map.reset();
  }
  if (went_offline) {
    sink_.push(DeviceStatus{d.cfg.site_id, d.cfg.asset_id, false, clock_.now(), what + ": " + s.message});
  }
}

void ModbusAdapter::poll(Bus& b, Device& d) {
  b.link->set_timeout(d.cfg.timeout);
  if (auto s = ensure_map(b, d); !s.ok()) {
    failed(b, d, s, "discovery");
    return;
  }
  SunSpecMap map;
  {
    std::lock_guard lock(b.mu);
    map = *d.state.map;
  }
  std::vector<ScannedModel> models;
  static constexpr std::uint16_t kPolled[] = {101, 102, 103, 122, 124, 701, 713, 802};
  auto s = with_retries(d, [&] {
    return read_models(*b.link, d.cfg.unit_id, map, models, [](std::uint16_t id) {
      return std::find(std::begin(kPolled), std::end(kPolled), id) != std::end(kPolled);
    });
  });
  if (!s.ok()) {
    failed(b, d, s, "poll");
    return;
  }
  counters_.count_in();
  for (const auto& m : models) {
    if (!m.error.empty()) counters_.reject(reason::malformed, d.cfg.id, m.error);
  }
  const TimePoint now = clock_.now();
  bool came_online = false;
  {
    std::lock_guard lock(b.mu);
    ++d.state.polls_ok;
    came_online = !d.state.online;
    d.state.online = true;
    d.state.backoff = Duration{0};
    d.next_poll = std::chrono::steady_clock::now() + d.cfg.poll_period;
  }
  if (came_online) sink_.push(DeviceStatus{d.cfg.site_id, d.cfg.asset_id, true, now, "SunSpec poll"});
  if (auto t = telemetry_from(models, d.cfg.site_id, d.cfg.asset_id, now)) sink_.push(std::move(*t));
}

void ModbusAdapter::execute(Bus& b, Device& d, const Command& c) {
  CommandAck ack{c.command_id, c.site_id, c.asset_id, AckStatus::rejected, {}, ""};
  b.link->set_timeout(d.cfg.timeout);
  const TimePoint now = clock_.now();
  if (c.expires != TimePoint{} && c.expires <= now) {
    ack.status = AckStatus::expired;
    ack.detail = "expired before it could be written";
  } else if (auto s = ensure_map(b, d); !s.ok()) {
    counters_.reject(reason_of(s), d.cfg.id, "command " + c.command_id + ": " + s.message);
    ack.detail = s.message;
  } else {
    SunSpecMap map;
    {
      std::lock_guard lock(b.mu);
      map = *d.state.map;
    }
    std::string detail;
    // The write sequence is idempotent (same values to the same points), so a connection that
    // breaks mid-write is simply reconnected and the whole sequence written again.
    s = with_retries(d, [&] { return apply_command(*b.link, d.cfg.unit_id, map, c, clock_.now(), detail); });
    if (s.ok()) {
      ack.status = AckStatus::accepted;
      ack.detail = detail;
      counters_.count_out();
    } else {
      counters_.reject(reason_of(s), d.cfg.id, "command " + c.command_id + ": " + s.message);
      ack.detail = s.message;
    }
  }
  ack.time = clock_.now();
  sink_.push(std::move(ack));
}

}  // namespace vpp::adapters::modbus
