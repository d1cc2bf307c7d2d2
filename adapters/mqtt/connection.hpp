#pragma once
// One MQTT client connection (Paho MQTT C++ async client) with vpp's reconnect policy.
//
// Threading: a supervisor thread owned by this object connects, runs the on-connected hook
// (subscriptions, birth/status publications), and after a lost connection waits with
// exponential backoff (min, 2*min, ... up to max) before it connects again. Paho delivers
// messages on its own callback thread; `on_message` runs there and must not block. publish() may
// be called from any thread. Paho's own automatic reconnect is not used: it does not retry the
// first connect and does not resubscribe with a clean session, and one code path for both is
// easier to reason about.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "model/time.hpp"

namespace mqtt {
class async_client;
}

namespace vpp::adapters::mqtt {

struct WillMessage {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = false;
};

struct ConnectionSpec {
  std::string url;
  std::string client_id;
  std::string username;
  std::string password;               // already read from the password file
  std::optional<config::TlsFiles> tls;
  Duration keepalive = std::chrono::seconds(30);
  Duration connect_timeout = std::chrono::seconds(5);
  Duration reconnect_min = std::chrono::milliseconds(200);
  Duration reconnect_max = std::chrono::seconds(30);
  int max_inflight = 65535;           // QoS 1 messages in flight (the MQTT packet id space): an
                                      // event for 10,000 assets goes out without waiting for PUBACKs
  int max_buffered = 1'000'000;       // publications Paho may queue before its socket takes them
};

class MqttConnection {
 public:
  using MessageHandler = std::function<void(const std::string& topic, const std::string& payload)>;
  // Runs on the supervisor thread after every successful connect; may block (subscribe waits).
  // Returns false to drop the connection and retry (e.g. a subscription was refused).
  using ConnectedHook = std::function<bool(MqttConnection&)>;
  using LostHook = std::function<void()>;
  // Builds the Will for the next connect attempt (Sparkplug STATE wants a fresh timestamp).
  using WillFactory = std::function<std::optional<WillMessage>()>;

  MqttConnection(std::string name, ConnectionSpec spec, MessageHandler on_message, ConnectedHook on_connected,
                 LostHook on_lost, WillFactory will);
  ~MqttConnection();
  MqttConnection(const MqttConnection&) = delete;
  MqttConnection& operator=(const MqttConnection&) = delete;

  void start();
  // Publishes `last` (if any, waiting up to 1 s for it), disconnects and joins the supervisor.
  void stop(std::optional<WillMessage> last = std::nullopt);

  // Queues a publication. False when not connected or Paho refuses it (the caller keeps it).
  bool publish(const std::string& topic, const std::string& payload, int qos, bool retained);
  // Blocking subscribe, for use inside the connected hook.
  bool subscribe(const std::string& filter, int qos);

  bool connected() const { return connected_.load(); }
  std::uint64_t connects() const { return connects_.load(); }
  // QoS 1 publications the broker has acknowledged (PUBACK), over the connection's lifetime.
  std::uint64_t completed() const { return completed_.load(); }
  const std::string& name() const { return name_; }

 private:
  void run();
  void connection_lost();

  std::string name_;
  ConnectionSpec spec_;
  MessageHandler on_message_;
  ConnectedHook on_connected_;
  LostHook on_lost_;
  WillFactory will_;
  class Callbacks;
  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<::mqtt::async_client> client_;
  std::thread supervisor_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool lost_ = false;
  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> completed_{0};
};

}  // namespace vpp::adapters::mqtt
