#include "adapters/mqtt/json_dialect.hpp"

#include "adapters/counters.hpp"
#include "proto/convert.hpp"

namespace vpp::adapters::mqtt {

Result<JsonTopic> parse_json_topic(std::string_view prefix, std::string_view topic) {
  const std::string bad = "topic '" + std::string(topic) + "' is not a vpp JSON topic";
  if (!topic.starts_with(prefix) || topic.size() <= prefix.size() || topic[prefix.size()] != '/') return Error{bad};
  std::string_view rest = topic.substr(prefix.size() + 1);
  if (rest == "grid/signal") return JsonTopic{JsonTopicKind::grid_signal, "", ""};
  const auto a = rest.find('/');
  if (a == std::string_view::npos) return Error{bad};
  const auto b = rest.find('/', a + 1);
  if (b == std::string_view::npos || rest.find('/', b + 1) != std::string_view::npos) return Error{bad};
  const auto site = rest.substr(0, a), asset = rest.substr(a + 1, b - a - 1), kind = rest.substr(b + 1);
  if (site.empty() || asset.empty() || site == "grid" || site == "status") return Error{bad};
  JsonTopic t{JsonTopicKind::telemetry, std::string(site), std::string(asset)};
  if (kind == "telemetry") {
    t.kind = JsonTopicKind::telemetry;
  } else if (kind == "cmd") {
    t.kind = JsonTopicKind::cmd;
  } else if (kind == "ack") {
    t.kind = JsonTopicKind::ack;
  } else {
    return Error{bad};
  }
  return t;
}

std::string json_topic(std::string_view prefix, JsonTopicKind kind, std::string_view site, std::string_view asset) {
  std::string t(prefix);
  if (kind == JsonTopicKind::grid_signal) return t + "/grid/signal";
  t += "/";
  t += site;
  t += "/";
  t += asset;
  t += kind == JsonTopicKind::telemetry ? "/telemetry" : kind == JsonTopicKind::cmd ? "/cmd" : "/ack";
  return t;
}

namespace {

// protobuf's JSON parser and from_proto() name the problem; sort it into a counter reason.
JsonRejection classify(const std::string& error) {
  if (error.find("finite") != std::string::npos) return {reason::non_finite, error};
  if (error.find("invalid value") != std::string::npos ||
      error.find("Invalid value") != std::string::npos) {
    return {reason::wrong_type, error};
  }
  return {reason::malformed, error};
}

template <typename Model>
std::optional<JsonRejection> check_ids(const JsonTopic& t, const Model& m) {
  if (m.site_id != t.site_id || m.asset_id != t.asset_id) {
    return JsonRejection{reason::topic_mismatch, "payload names " + m.site_id + "/" + m.asset_id + " on the topic of " +
                                                     t.site_id + "/" + t.asset_id};
  }
  return std::nullopt;
}

}  // namespace

JsonDecoded decode_json(const JsonTopic& topic, std::string_view payload, TimePoint now) {
  switch (topic.kind) {
    case JsonTopicKind::telemetry: {
      auto t = json_to_model<vpp::v1::Telemetry>(payload);
      if (!t) return classify(t.error());
      if (auto bad = check_ids(topic, *t)) return *bad;
      return AdapterInput{std::move(t).value()};
    }
    case JsonTopicKind::ack: {
      auto a = json_to_model<vpp::v1::CommandAck>(payload);
      if (!a) return classify(a.error());
      if (auto bad = check_ids(topic, *a)) return *bad;
      if (a->command_id.empty()) return JsonRejection{reason::malformed, "ack without commandId"};
      return AdapterInput{std::move(a).value()};
    }
    case JsonTopicKind::grid_signal: {
      auto g = json_to_model<vpp::v1::GridSignal>(payload);
      if (!g) return classify(g.error());
      if (g->received == TimePoint{}) g->received = now;
      if (g->source.empty()) g->source = "mqtt";
      return AdapterInput{std::move(g).value()};
    }
    case JsonTopicKind::cmd:
      break;
  }
  return JsonRejection{reason::unknown_topic, "commands are sent by vppd, not received"};
}

std::string encode_command_json(const Command& c) { return to_json(to_proto(c)); }

}  // namespace vpp::adapters::mqtt
