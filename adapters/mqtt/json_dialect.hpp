#pragma once
// The JSON dialect: topics under a prefix (default "vpp"), payloads in protobuf's canonical JSON
// mapping of proto/vpp.proto.
//   {prefix}/{site}/{asset}/telemetry   device -> vppd   vpp.v1.Telemetry
//   {prefix}/{site}/{asset}/cmd         vppd -> device   vpp.v1.Command      (QoS 1)
//   {prefix}/{site}/{asset}/ack         device -> vppd   vpp.v1.CommandAck   (QoS 1)
//   {prefix}/grid/signal                grid -> vppd     vpp.v1.GridSignal   (QoS 1)
//   {prefix}/status/{client_id}         vppd's retained "online"/"offline" (last will)
// The ids in a payload must equal the ids in its topic. Pure: no I/O.
#include <string>
#include <string_view>

#include "adapters/inputs.hpp"
#include "model/result.hpp"

namespace vpp::adapters::mqtt {

enum class JsonTopicKind { telemetry, cmd, ack, grid_signal };

struct JsonTopic {
  JsonTopicKind kind = JsonTopicKind::telemetry;
  std::string site_id;
  std::string asset_id;
};

Result<JsonTopic> parse_json_topic(std::string_view prefix, std::string_view topic);
std::string json_topic(std::string_view prefix, JsonTopicKind kind, std::string_view site, std::string_view asset);

// A decoded payload, or a rejection reason (one of adapters::reason) with a detail.
struct JsonRejection {
  std::string_view why;
  std::string detail;
};
using JsonDecoded = std::variant<AdapterInput, JsonRejection>;

// Decodes a telemetry, ack or grid-signal payload for `topic`; `now` stamps GridSignal.received
// when the sender left it unset.
JsonDecoded decode_json(const JsonTopic& topic, std::string_view payload, TimePoint now);
std::string encode_command_json(const Command& c);

}  // namespace vpp::adapters::mqtt
