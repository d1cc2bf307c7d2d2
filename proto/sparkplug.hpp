#pragma once
// Eclipse Sparkplug B 3.0 codec: topics, payload values, STATE messages. Pure (no I/O), so the
// MQTT adapter and the simulator's edge-node emulators share it. The schema is
// proto/sparkplug_b.proto, written from the public specification's field tables.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "model/result.hpp"
#include "proto/sparkplug_b.pb.h"

namespace vpp::sparkplug {

inline constexpr std::string_view kNamespace = "spBv1.0";
inline constexpr std::string_view kRebirthMetric = "Node Control/Rebirth";
inline constexpr std::string_view kBdSeqMetric = "bdSeq";

using Payload = vpp::sparkplug_b::Payload;
using Metric = vpp::sparkplug_b::Payload::Metric;
using DataType = vpp::sparkplug_b::Payload::DataType;

enum class MessageType { nbirth, ndeath, dbirth, ddeath, ndata, ddata, ncmd, dcmd, state };
std::string_view to_string(MessageType t);

// spBv1.0/{group}/{TYPE}/{edge_node}[/{device}], or spBv1.0/STATE/{host_id}.
struct Topic {
  MessageType type = MessageType::ndata;
  std::string group_id;      // empty for STATE
  std::string edge_node_id;  // the host id for STATE
  std::string device_id;     // D* messages only

  bool operator==(const Topic&) const = default;
};

// Rejects anything that is not a well-formed Sparkplug B 3.0 topic, naming the problem: other
// namespaces, unknown message types, a device id on N* messages or none on D* messages, empty
// ids, extra levels.
Result<Topic> parse_topic(std::string_view topic);
std::string format_topic(const Topic& t);
// UTF-8 ids must not contain MQTT wildcards or the level separator, and must not be empty.
bool valid_id(std::string_view id);

// A metric's value after decoding with its datatype. monostate = is_null (or no value set).
// Signed Sparkplug types decode to int64_t, unsigned ones to uint64_t, DateTime to uint64_t ms.
using MetricValue = std::variant<std::monostate, std::int64_t, std::uint64_t, double, bool, std::string>;

// Decodes the value of `m` as `datatype` (the metric's own, or the one its birth declared).
// Int8/16/32 arrive sign-extended in int_value; UInt32 is accepted in int_value (the spec) or
// long_value (Tahu and Ignition). Fails, naming the datatype, when the value field does not match
// it or the type is one vpp does not read (DataSet, Template, arrays, bytes).
Result<MetricValue> metric_value(const Metric& m, std::uint32_t datatype);
// The value as a double for numeric and boolean values; nullopt otherwise.
std::optional<double> as_double(const MetricValue& v);
// Sets the value field for `datatype` (and the datatype itself). UInt32 goes in long_value, where
// every Tahu client reads it. Fails when the value does not fit the type.
Result<bool> set_metric_value(Metric& m, std::uint32_t datatype, const MetricValue& v);

// Parses a payload; fails on bytes that are not a valid Payload message and on compressed payloads
// (uuid SPBV1.0_COMPRESSED), which vpp does not accept.
Result<Payload> decode_payload(std::string_view bytes);
// The same into an existing message, which is cleared first; reusing one message per thread keeps
// its allocated metrics (the host's hot path).
Result<bool> decode_payload_into(std::string_view bytes, Payload& out);

// STATE (Sparkplug 3.0): UTF-8 JSON {"online":bool,"timestamp":ms}.
struct HostState {
  bool online = false;
  std::uint64_t timestamp_ms = 0;
};
std::string state_json(const HostState& s);
Result<HostState> parse_state_json(std::string_view json);

// NCMD payload asking an edge node to republish its births: Node Control/Rebirth = true, by name.
Payload rebirth_request(std::uint64_t timestamp_ms);

}  // namespace vpp::sparkplug
