#include "adapters/mqtt/connection.hpp"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

namespace vpp::adapters::mqtt {

// Paho's callback interface, forwarding to the connection. One object instead of the separate
// handler setters because delivery_complete (the PUBACK of a QoS 1 publication) is only offered here.
class MqttConnection::Callbacks final : public ::mqtt::callback {
 public:
  explicit Callbacks(MqttConnection& c) : c_(c) {}
  void message_arrived(::mqtt::const_message_ptr m) override {
    try {
      c_.on_message_(m->get_topic(), m->get_payload_str());
    } catch (const std::exception& e) {
      // A handler must never throw into Paho's thread; this is a bug, logged, not fatal.
      spdlog::error("{}: message handler threw: {}", c_.name_, e.what());
    }
  }
  void connection_lost(const std::string& cause) override {
    spdlog::warn("{}: connection lost{}{}", c_.name_, cause.empty() ? "" : ": ", cause);
    c_.connection_lost();
  }
  void delivery_complete(::mqtt::delivery_token_ptr) override { ++c_.completed_; }

 private:
  MqttConnection& c_;
};

MqttConnection::MqttConnection(std::string name, ConnectionSpec spec, MessageHandler on_message,
                               ConnectedHook on_connected, LostHook on_lost, WillFactory will)
    : name_(std::move(name)),
      spec_(std::move(spec)),
      on_message_(std::move(on_message)),
      on_connected_(std::move(on_connected)),
      on_lost_(std::move(on_lost)),
      will_(std::move(will)),
      callbacks_(std::make_unique<Callbacks>(*this)) {
  // No persistence: vpp keeps its own outbox of unacknowledged commands (see MqttAdapter).
  ::mqtt::create_options create(MQTTVERSION_3_1_1);
  // Paho queues every publish until its socket takes it and refuses more than this many; an
  // event for a large fleet is tens of thousands of commands at once.
  create.set_max_buffered_messages(spec_.max_buffered);
  client_ = std::make_unique<::mqtt::async_client>(spec_.url, spec_.client_id, create);
  client_->set_callback(*callbacks_);
}

MqttConnection::~MqttConnection() { stop(); }

void MqttConnection::start() {
  std::lock_guard lock(mu_);
  if (supervisor_.joinable()) return;
  stopping_ = false;
  supervisor_ = std::thread([this] { run(); });
}

void MqttConnection::connection_lost() {
  const bool was = connected_.exchange(false);
  {
    std::lock_guard lock(mu_);
    lost_ = true;
  }
  cv_.notify_all();
  if (was && on_lost_) on_lost_();
}

void MqttConnection::run() {
  Duration backoff = spec_.reconnect_min;
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) return;
      lost_ = false;
    }
    auto b = ::mqtt::connect_options_builder();
    // The version is pinned: with Paho's default (3.1.1, falling back to 3.1) a connect refused at
    // TCP level reported failure while a fallback attempt stayed pending, and every later connect
    // on that client hung (about 1 broker restart in 10 left a connection down for good).
    b.mqtt_version(MQTTVERSION_3_1_1).clean_session(true).keep_alive_interval(spec_.keepalive).connect_timeout(spec_.connect_timeout)
        .max_inflight(spec_.max_inflight).automatic_reconnect(false);
    if (!spec_.username.empty()) b.user_name(spec_.username).password(spec_.password);
    if (spec_.tls) {
      ::mqtt::ssl_options ssl;
      if (!spec_.tls->ca_file.empty()) ssl.set_trust_store(spec_.tls->ca_file);
      if (!spec_.tls->cert_file.empty()) ssl.set_key_store(spec_.tls->cert_file);
      if (!spec_.tls->key_file.empty()) ssl.set_private_key(spec_.tls->key_file);
      ssl.set_enable_server_cert_auth(spec_.tls->verify_peer);
      ssl.set_verify(spec_.tls->verify_peer);
      // No set_error_handler: Paho C++ 1.2 hands the C library a pointer to this local object,
      // which the connect outlives (AddressSanitizer: stack-use-after-scope). A TLS failure still
      // fails the connect, which is logged with Paho's reason.
      b.ssl(std::move(ssl));
    }
    if (will_) {
      if (auto w = will_()) b.will(::mqtt::message(w->topic, w->payload, w->qos, w->retained));
    }
    bool ok = false;
    try {
      auto tok = client_->connect(b.finalize());
      ok = tok->wait_for(spec_.connect_timeout + std::chrono::seconds(1)) && client_->is_connected();
      if (!ok) spdlog::warn("{}: connect to {} timed out", name_, spec_.url);
    } catch (const ::mqtt::exception& e) {
      spdlog::warn("{}: connect to {} failed: {}", name_, spec_.url, e.what());
    }
    if (ok) {
      connected_ = true;
      ++connects_;
      spdlog::info("{}: connected to {}", name_, spec_.url);
      if (on_connected_ && !on_connected_(*this)) {
        spdlog::warn("{}: setup after connect failed; reconnecting", name_);
        try {
          client_->disconnect()->wait_for(std::chrono::seconds(1));
        } catch (const ::mqtt::exception&) {
        }
        connection_lost();
      } else {
        backoff = spec_.reconnect_min;
      }
    }
    std::unique_lock lock(mu_);
    if (ok) {
      cv_.wait(lock, [&] { return stopping_ || lost_; });
      if (stopping_) return;
    }
    // Backoff before the next attempt; doubling, capped (OpenEMS-style defective-device delay).
    cv_.wait_for(lock, backoff, [&] { return stopping_; });
    if (stopping_) return;
    backoff = std::min<Duration>(backoff * 2, spec_.reconnect_max);
  }
}

void MqttConnection::stop(std::optional<WillMessage> last) {
  {
    std::lock_guard lock(mu_);
    if (!supervisor_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  supervisor_.join();
  if (client_->is_connected()) {
    try {
      if (last) client_->publish(last->topic, last->payload.data(), last->payload.size(), last->qos, last->retained)
                    ->wait_for(std::chrono::seconds(1));
      client_->disconnect()->wait_for(std::chrono::seconds(2));
    } catch (const ::mqtt::exception& e) {
      spdlog::warn("{}: disconnect: {}", name_, e.what());
    }
  }
  connected_ = false;
}

bool MqttConnection::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  if (!connected_) return false;
  try {
    client_->publish(topic, payload.data(), payload.size(), qos, retained);
    return true;
  } catch (const ::mqtt::exception& e) {
    spdlog::debug("{}: publish to {} refused: {}", name_, topic, e.what());
    return false;
  }
}

bool MqttConnection::subscribe(const std::string& filter, int qos) {
  try {
    auto tok = client_->subscribe(filter, qos);
    if (!tok->wait_for(spec_.connect_timeout)) return false;
    // The SUBACK carries the granted QoS, or 0x80 when the broker refused the filter.
    const ::mqtt::subscribe_response rsp = tok->get_subscribe_response();
    const std::vector<::mqtt::ReasonCode> codes = rsp.get_reason_codes();
    return !codes.empty() && static_cast<int>(codes.front()) < 0x80;
  } catch (const ::mqtt::exception& e) {
    spdlog::warn("{}: subscribe {} failed: {}", name_, filter, e.what());
    return false;
  }
}

}  // namespace vpp::adapters::mqtt
