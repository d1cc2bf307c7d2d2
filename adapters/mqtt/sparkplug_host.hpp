#pragma once
// Sparkplug B 3.0 host application logic for one Sparkplug group, without I/O: MQTT messages in,
// vpp inputs (to an InputSink) and MQTT messages to publish out. The MQTT adapter feeds it from
// Paho's callback thread; command() may be called from another thread (a mutex guards state).
//
// Mapping between Sparkplug and vpp (see adapters/mqtt/README.md):
//   group_id  = the config's device group `group_id`
//   edge node = a site gateway: edge_node_id = site id
//   device    = an asset:        device_id    = asset id
// Device metrics (DBIRTH/DDATA), any numeric datatype, units in the name:
//   P_kW, Q_kVAr, SoC_pct, IndoorTemp_C, Setpoint_C, Available_kW, Energy_kWh  -> vpp::Telemetry
//   Ack/CommandId (String), Ack/Status (String: ACCEPTED|REJECTED|EXPIRED, or the proto enum name),
//   Ack/Detail (String)                                                          -> vpp::CommandAck
// Commands go out as DCMD with metrics, by name and with their datatype (see the README on why):
//   Command/Id (String), Command/Kind (String: the proto SetpointKind name without its prefix,
//   e.g. BATTERY_P_KW), Command/Value (Double), Command/Issued and Command/Expires (DateTime ms),
//   Command/Reason (String).
// Other metrics are accepted and ignored. An optional `Quality` property (0 BAD, 192 GOOD,
// 500 STALE) on a telemetry metric sets the telemetry's quality (the worst one wins).
//
// Session rules enforced (Sparkplug 3.0 chapter 5/6): one seq counter per edge node over
// NBIRTH, DBIRTH, NDATA, DDATA, DDEATH; a gap, a message before NBIRTH, or an unknown alias drops
// the message and sends a rebirth request (NCMD `Node Control/Rebirth` = true, by name), at most
// once per node per `rebirth_holdoff`; until the NBIRTH arrives, the node's DATA are dropped
// (reorder timeout 0: act at once). NDEATH counts only with the bdSeq of the current NBIRTH
// (bdSeq accepted as Int64 or UInt64, in long_value or int_value); it takes every device of the
// node offline, stamped with the receive time; DDEATH takes one device offline, stamped with its
// payload timestamp.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/counters.hpp"
#include "adapters/inputs.hpp"
#include "model/messages.hpp"
#include "model/result.hpp"
#include "proto/sparkplug.hpp"

namespace vpp::adapters::mqtt {

struct Outgoing {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retained = false;
};

struct SparkplugHostOptions {
  Duration rebirth_holdoff = std::chrono::seconds(5);
  // Sparkplug says datatype SHOULD be left out of CMD metrics; the Tahu JS decoder then yields
  // null values, so vpp includes it unless told otherwise.
  bool datatype_in_commands = true;
};

class SparkplugHost {
 public:
  // `fleet`: the sites of this group (edge node ids) and their asset ids (device ids).
  SparkplugHost(std::string group_id, std::map<std::string, std::set<std::string>> fleet,
                SparkplugHostOptions options, AdapterCounters& counters);

  const std::string& group_id() const { return group_id_; }
  // Replaces the group's sites and assets (sites enrolled or unenrolled while running).
  void set_fleet(std::map<std::string, std::set<std::string>> fleet);

  // One message whose topic is in this group. Returns messages to publish (rebirth requests).
  std::vector<Outgoing> on_message(const sparkplug::Topic& topic, std::string_view payload, TimePoint now,
                                   InputSink& sink);
  // The DCMD for a command, or an error naming why it cannot be sent (unknown device).
  Result<Outgoing> command(const Command& c, TimePoint now);
  // Broker connection lost: every online device goes offline (its data are stale).
  void on_connection_lost(TimePoint now, InputSink& sink);
  // After a (re)connect: rebirth requests for every node that had a session, so the host's view
  // is rebuilt without waiting for the next DATA.
  std::vector<Outgoing> on_connected(TimePoint now);

  // For tests and /metrics.
  bool node_born(const std::string& node) const;
  bool device_online(const std::string& node, const std::string& device) const;
  std::uint64_t rebirths_requested() const;

 private:
  struct AliasEntry {
    std::string device;  // empty = a node metric
    std::string name;
    std::uint32_t datatype = 0;
  };
  struct Device {
    bool online = false;
    std::map<std::string, std::uint32_t, std::less<>> datatypes;  // from DBIRTH
    Telemetry last;  // last known values, report-by-exception merged into it
  };
  struct Node {
    bool born = false;
    bool ever_born = false;
    std::uint64_t bd_seq = 0;
    std::uint64_t seq = 0;
    std::map<std::uint64_t, AliasEntry> aliases;
    std::map<std::string, std::uint32_t, std::less<>> node_datatypes;
    std::map<std::string, Device, std::less<>> devices;
    std::optional<TimePoint> last_rebirth;
  };

  void request_rebirth(const std::string& node_id, Node& node, TimePoint now, std::vector<Outgoing>& out);
  // Applies a device's birth or data metrics; false if the message was rejected as a whole.
  bool apply_device_metrics(const std::string& node_id, Node& node, const std::string& device_id, Device& dev,
                            const sparkplug::Payload& p, bool birth, TimePoint payload_time, TimePoint now, InputSink& sink,
                            std::vector<Outgoing>& out);
  void take_offline(const std::string& node_id, Device& dev, const std::string& device_id, TimePoint t,
                    const std::string& why, InputSink& sink);

  std::string group_id_;
  std::map<std::string, std::set<std::string>> fleet_;  // guarded by mu_
  SparkplugHostOptions options_;
  AdapterCounters& counters_;
  mutable std::mutex mu_;
  std::map<std::string, Node, std::less<>> nodes_;
  std::uint64_t rebirths_ = 0;
};

// "BATTERY_P_KW" <-> SetpointKind; the names follow proto/vpp.proto without SETPOINT_KIND_.
std::string setpoint_kind_name(SetpointKind k);
std::optional<AckStatus> parse_ack_status(std::string_view s);

}  // namespace vpp::adapters::mqtt
