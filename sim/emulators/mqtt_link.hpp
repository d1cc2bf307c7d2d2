#pragma once
// One MQTT connection of an emulated device (Paho MQTT C++, async client): a supervisor thread
// connects, calls the on-connected hook (subscriptions, births), waits for the loss of the
// connection and reconnects with a doubling backoff. The Will is asked for before every connect,
// because a Sparkplug edge node's NDEATH carries a bdSeq that changes with each session.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "model/time.hpp"

namespace mqtt {
class async_client;
}

namespace vpp::sim::emulators {

struct LinkMessage {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retained = false;
};

struct MqttLinkSpec {
  std::string url;          // tcp://host:port
  std::string client_id;
  Duration keepalive{std::chrono::seconds(10)};
  Duration reconnect_min{std::chrono::milliseconds(200)};
  Duration reconnect_max{std::chrono::seconds(5)};
};

class MqttLink {
 public:
  using OnMessage = std::function<void(const std::string& topic, const std::string& payload)>;
  // Runs on the supervisor thread after each successful connect; false = disconnect and retry.
  using OnConnected = std::function<bool(MqttLink&)>;
  using WillFactory = std::function<std::optional<LinkMessage>()>;

  MqttLink(std::string name, MqttLinkSpec spec, OnMessage on_message, OnConnected on_connected, WillFactory will = {});
  ~MqttLink();
  MqttLink(const MqttLink&) = delete;
  MqttLink& operator=(const MqttLink&) = delete;

  void start();
  // Publishes `last` (e.g. an explicit NDEATH: a clean disconnect suppresses the Will), then
  // disconnects.
  void stop(std::optional<LinkMessage> last = std::nullopt);

  bool publish(const std::string& topic, const std::string& payload, int qos, bool retained = false);
  bool subscribe(const std::string& filter, int qos);
  bool connected() const { return connected_; }
  std::uint64_t connects() const { return connects_; }
  const std::string& name() const { return name_; }

 private:
  class Callbacks;
  void run();
  void lost();

  std::string name_;
  MqttLinkSpec spec_;
  OnMessage on_message_;
  OnConnected on_connected_;
  WillFactory will_;
  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<::mqtt::async_client> client_;
  std::thread supervisor_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool lost_ = false;
  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> connects_{0};
};

// Emulator log lines go to stderr ("vppsim serve: warn: ..."); `level` is info, warn or error.
void log_line(const char* level, const std::string& message);

}  // namespace vpp::sim::emulators
