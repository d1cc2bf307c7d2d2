#pragma once
// vppd's MQTT adapter: device telemetry and command acks in, commands out, grid signals in, over
// one broker, in two dialects chosen per device group (config::MqttDeviceGroup):
//   - JSON (adapters/mqtt/json_dialect.hpp), and
//   - Sparkplug B 3.0 as a host application (adapters/mqtt/sparkplug_host.hpp).
//
// Connections. The adapter opens one MQTT connection for vppd itself (JSON topics, grid
// signals, and the retained status topic `{prefix}/status/{client_id}` = "online", whose Will is
// "offline"), and, when a Sparkplug group is configured, a second one as the Sparkplug host
// (client id `{client_id}-spb`, host id = client_id) because MQTT allows one Will per connection
// and the host's Will must be its STATE `spBv1.0/STATE/{host_id}` {"online":false,...}.
//
// Threading. Each connection has a supervisor thread (connect, subscribe, reconnect with backoff)
// and Paho's callback thread, which decodes messages and pushes inputs into the InputSink.
// send() may be called from any thread. Shared state (outbox, ack de-duplication, Sparkplug
// sessions) is behind mutexes.
//
// Commands and acks. Commands go out at QoS 1. Every command stays in an outbox until its first
// ack or its expiry; on every reconnect, and every `command_retry` while unacknowledged, it is
// published again, so a broker restart loses no command (devices must treat a repeated command
// id as the same command). A retry thread owned by the adapter does the periodic republishing. Acks are
// de-duplicated by command id: the first one is delivered, repeats are counted as
// duplicate_ack, and acks for commands this instance never sent as unknown_command.
//
// Bad input of any kind (oversized payload, unknown topic or device, malformed JSON or protobuf,
// wrong types, NaN, Sparkplug seq gaps, ...) is dropped, counted by reason in counters() and
// logged once per reason and source; nothing a peer sends can throw out of the adapter.
#include <condition_variable>
#include <deque>
#include <thread>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "adapters/counters.hpp"
#include "adapters/inputs.hpp"
#include "adapters/mqtt/connection.hpp"
#include "adapters/mqtt/sparkplug_host.hpp"
#include "config/config.hpp"
#include "model/clock.hpp"
#include "model/result.hpp"
#include "model/site.hpp"

namespace vpp::adapters::mqtt {

struct MqttAdapterOptions {
  std::size_t max_payload_bytes = 256 * 1024;
  Duration connect_timeout = std::chrono::seconds(5);
  Duration reconnect_min = std::chrono::milliseconds(200);
  Duration reconnect_max = std::chrono::seconds(30);
  SparkplugHostOptions sparkplug;
  std::size_t ack_memory = 100000;        // command ids remembered for de-duplication
  std::size_t max_pending_commands = 200000;
  // JSON commands go out over this many extra connections ("lanes", client ids
  // `{client_id}-cmd{i}`), a site always on the same lane so a device sees its commands in order.
  // Reason, measured with vpp-bench mqtt-ingest: Paho C's per-client bookkeeping grows with the
  // number of QoS 1 messages in flight (list scans under one mutex), so 10,000 commands through
  // one client take ~4x longer than through four. 0 = send commands on the main connection.
  int command_lanes = 4;
  // An unacknowledged command is published again after this long, until it is acked or expires
  // (a command may be lost when the broker restarts before the device has resubscribed).
  Duration command_retry = std::chrono::seconds(5);
};

class MqttAdapter {
 public:
  // Validates the configuration against the fleet (every group resolvable) and reads the password
  // file. Does not connect: start() does.
  static Result<std::unique_ptr<MqttAdapter>> create(const config::MqttConfig& cfg, const std::vector<Site>& fleet,
                                                     InputSink& sink, const Clock& clock,
                                                     MqttAdapterOptions options = {});
  ~MqttAdapter();
  MqttAdapter(const MqttAdapter&) = delete;
  MqttAdapter& operator=(const MqttAdapter&) = delete;

  void start();
  // Publishes "offline" status and STATE, disconnects. Pending commands are dropped: devices fall
  // back when the commands expire.
  void stop();

  // Replaces the fleet the adapter serves (sites enrolled or unenrolled while running): which
  // group each site belongs to and which assets it has. Safe from any thread.
  void set_fleet(const std::vector<Site>& fleet);

  // Sends a command to its device in its group's dialect. Ok(true): published; Ok(false): queued
  // until the broker is back. Error: the device is not served by this adapter.
  Result<bool> send(const Command& c);

  // Every connection up / any connection up.
  bool connected() const;
  bool any_connected() const;
  bool wait_connected(Duration timeout) const;
  const AdapterCounters& counters() const { return counters_; }
  std::size_t pending_commands() const;
  std::uint64_t connects() const;  // successful connects over all connections
  // QoS 1 publications (commands, status) acknowledged by the broker, over all connections.
  std::uint64_t publications_completed() const;
  std::string status_topic() const;
  const SparkplugHost* sparkplug_host(const std::string& group_id) const;

 private:
  struct Group {
    config::MqttDeviceGroup cfg;
    std::unique_ptr<SparkplugHost> host;  // sparkplug_b only
  };
  struct Pending {
    Command command;
    Outgoing msg;
    int lane = 0;  // kSparkplugLane, or an index into lanes_
    TimePoint last_sent{};
  };
  class AckFilter;

  MqttAdapter(const config::MqttConfig& cfg, InputSink& sink, const Clock& clock, MqttAdapterOptions options);
  void on_json_message(const std::string& topic, const std::string& payload);
  void on_sparkplug_message(const std::string& topic, const std::string& payload);
  bool on_json_connected(MqttConnection& c);
  bool on_sparkplug_connected(MqttConnection& c);
  // Republishes unacknowledged, unexpired commands of one connection; `only_older_than` limits it
  // to those last sent that long ago (the periodic retry), nullopt republishes all (reconnect).
  void republish_pending(int lane, std::optional<Duration> only_older_than = std::nullopt);
  MqttConnection& connection_of_lane(int lane);
  static constexpr int kSparkplugLane = -1;
  void retry_loop();
  void publish(MqttConnection& c, const Outgoing& m);
  const Group* group_of_site(const std::string& site) const;
  bool has_asset(const std::string& site, const std::string& asset) const;

  config::MqttConfig cfg_;
  InputSink& sink_;
  const Clock& clock_;
  MqttAdapterOptions options_;
  std::string status_topic_;
  AdapterCounters counters_{"mqtt"};
  std::unique_ptr<AckFilter> ack_filter_;
  std::vector<Group> groups_;
  // Routing, replaced by set_fleet(); read by Paho's callback threads and send().
  void assign(const std::vector<Site>& fleet);
  mutable std::shared_mutex fleet_mu_;
  std::map<std::string, std::size_t> site_group_;          // site -> index in groups_
  std::map<std::string, std::set<std::string>> assets_;    // site -> asset ids
  std::unique_ptr<MqttConnection> json_conn_;
  std::unique_ptr<MqttConnection> spb_conn_;
  std::vector<std::unique_ptr<MqttConnection>> cmd_conns_;
  std::vector<MqttConnection*> lanes_;  // JSON command lanes: cmd_conns_, or json_conn_ alone
  std::mutex state_mu_;
  std::uint64_t state_timestamp_ms_ = 0;  // STATE of the current Sparkplug session (Will and online)

  mutable std::mutex pending_mu_;
  std::map<std::string, Pending> pending_;  // by command id
  std::set<std::string> acked_;
  std::deque<std::string> acked_order_;
  std::thread retry_thread_;
  std::condition_variable retry_cv_;
  bool retry_stop_ = false;
  friend class AckFilter;
};

// Reads a password file: the whole file, one trailing newline removed. Errors name the file.
Result<std::string> read_password_file(const std::string& path);

}  // namespace vpp::adapters::mqtt
