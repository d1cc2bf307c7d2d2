#include "sim/emulators/mqtt_link.hpp"

#include <mqtt/async_client.h>

#include <cstdio>

namespace vpp::sim::emulators {

void log_line(const char* level, const std::string& message) {
  std::fprintf(stderr, "vppsim serve: %s: %s\n", level, message.c_str());
}

class MqttLink::Callbacks final : public ::mqtt::callback {
 public:
  explicit Callbacks(MqttLink& l) : l_(l) {}
  void message_arrived(::mqtt::const_message_ptr m) override {
    try {
      l_.on_message_(m->get_topic(), m->get_payload_str());
    } catch (const std::exception& e) {
      // Never throw into Paho's thread: a handler that throws is a bug, logged.
      log_line("error", l_.name_ + ": message handler threw: " + e.what());
    }
  }
  void connection_lost(const std::string& cause) override {
    log_line("warn", l_.name_ + ": connection lost" + (cause.empty() ? "" : ": " + cause));
    l_.lost();
  }

 private:
  MqttLink& l_;
};

MqttLink::MqttLink(std::string name, MqttLinkSpec spec, OnMessage on_message, OnConnected on_connected, WillFactory will)
    : name_(std::move(name)),
      spec_(std::move(spec)),
      on_message_(std::move(on_message)),
      on_connected_(std::move(on_connected)),
      will_(std::move(will)),
      callbacks_(std::make_unique<Callbacks>(*this)) {
  ::mqtt::create_options create(MQTTVERSION_3_1_1);
  create.set_max_buffered_messages(100000);
  client_ = std::make_unique<::mqtt::async_client>(spec_.url, spec_.client_id, create);
  client_->set_callback(*callbacks_);
}

MqttLink::~MqttLink() { stop(); }

void MqttLink::start() {
  std::lock_guard lock(mu_);
  if (supervisor_.joinable()) return;
  stopping_ = false;
  supervisor_ = std::thread([this] { run(); });
}

void MqttLink::lost() {
  connected_ = false;
  {
    std::lock_guard lock(mu_);
    lost_ = true;
  }
  cv_.notify_all();
}

void MqttLink::run() {
  Duration backoff = spec_.reconnect_min;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      lost_ = false;
    }
    auto b = ::mqtt::connect_options_builder();
    // Version pinned, as in adapters/mqtt/connection.cpp: Paho's 3.1 fallback after a refused
    // TCP connect can leave the client hanging on every later connect.
    b.mqtt_version(MQTTVERSION_3_1_1).clean_session(true).keep_alive_interval(spec_.keepalive)
        .connect_timeout(std::chrono::seconds(5))
        .automatic_reconnect(false);
    if (will_) {
      if (auto w = will_()) b.will(::mqtt::message(w->topic, w->payload, w->qos, w->retained));
    }
    bool ok = false;
    try {
      auto tok = client_->connect(b.finalize());
      ok = tok->wait_for(std::chrono::seconds(6)) && client_->is_connected();
    } catch (const ::mqtt::exception& e) {
      log_line("warn", name_ + ": connect to " + spec_.url + " failed: " + e.what());
    }
    if (ok) {
      connected_ = true;
      ++connects_;
      if (on_connected_ && !on_connected_(*this)) {
        log_line("warn", name_ + ": setup after connect failed; reconnecting");
        try {
          client_->disconnect()->wait_for(std::chrono::seconds(1));
        } catch (const ::mqtt::exception&) {
        }
        lost();
      } else {
        backoff = spec_.reconnect_min;
      }
    }
    std::unique_lock lock(mu_);
    if (ok) {
      cv_.wait(lock, [&] { return stopping_ || lost_; });
      if (stopping_) return;
    }
    cv_.wait_for(lock, backoff, [&] { return stopping_; });
    if (stopping_) return;
    backoff = std::min<Duration>(backoff * 2, spec_.reconnect_max);
  }
}

void MqttLink::stop(std::optional<LinkMessage> last) {
  {
    std::lock_guard lock(mu_);
    if (!supervisor_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  supervisor_.join();
  if (client_->is_connected()) {
    try {
      if (last) {
        client_->publish(last->topic, last->payload.data(), last->payload.size(), last->qos, last->retained)
            ->wait_for(std::chrono::seconds(1));
      }
      client_->disconnect()->wait_for(std::chrono::seconds(2));
    } catch (const ::mqtt::exception& e) {
      log_line("warn", name_ + ": disconnect: " + e.what());
    }
  }
  connected_ = false;
}

bool MqttLink::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  if (!connected_) return false;
  try {
    client_->publish(topic, payload.data(), payload.size(), qos, retained);
    return true;
  } catch (const ::mqtt::exception& e) {
    return false;
  }
}

bool MqttLink::subscribe(const std::string& filter, int qos) {
  try {
    auto tok = client_->subscribe(filter, qos);
    if (!tok->wait_for(std::chrono::seconds(5))) return false;
    const auto codes = tok->get_subscribe_response().get_reason_codes();
    return !codes.empty() && static_cast<int>(codes.front()) < 0x80;
  } catch (const ::mqtt::exception& e) {
    log_line("warn", name_ + ": subscribe " + filter + " failed: " + e.what());
    return false;
  }
}

}  // namespace vpp::sim::emulators
