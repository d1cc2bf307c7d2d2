// JSON dialect topics and payload decoding (no broker).
#include <gtest/gtest.h>

#include "adapters/counters.hpp"
#include "adapters/mqtt/json_dialect.hpp"
#include "proto/convert.hpp"

namespace vpp::adapters::mqtt {
namespace {

const TimePoint kNow = from_unix_ms(1'780'000'000'000);

TEST(JsonTopic, ParseAndFormat) {
  auto t = parse_json_topic("vpp", "vpp/office-haidian/pv-roof/telemetry");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, JsonTopicKind::telemetry);
  EXPECT_EQ(t->site_id, "office-haidian");
  EXPECT_EQ(t->asset_id, "pv-roof");
  EXPECT_EQ(json_topic("vpp", JsonTopicKind::cmd, "s", "a"), "vpp/s/a/cmd");
  EXPECT_EQ(parse_json_topic("vpp", "vpp/grid/signal")->kind, JsonTopicKind::grid_signal);
  for (const char* bad : {"vpp", "vpp/", "other/s/a/telemetry", "vpp/s/a/b/telemetry", "vpp/s/a/state",
                          "vpp//a/telemetry", "vppx/s/a/telemetry", "vpp/grid/a/telemetry"}) {
    EXPECT_FALSE(parse_json_topic("vpp", bad)) << bad;
  }
}

JsonTopic telemetry_topic() { return {JsonTopicKind::telemetry, "s1", "bat"}; }

TEST(JsonDecode, Telemetry) {
  auto d = decode_json(telemetry_topic(),
                       R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":-12.5,"socPct":80})", kNow);
  ASSERT_TRUE(std::holds_alternative<AdapterInput>(d)) << std::get<JsonRejection>(d).detail;
  const auto& t = std::get<Telemetry>(std::get<AdapterInput>(d));
  EXPECT_DOUBLE_EQ(*t.p_kw, -12.5);
  EXPECT_DOUBLE_EQ(*t.soc_pct, 80);
  EXPECT_FALSE(t.q_kvar.has_value());
}

std::string_view why(const JsonDecoded& d) {
  return std::holds_alternative<JsonRejection>(d) ? std::get<JsonRejection>(d).why : "accepted";
}

TEST(JsonDecode, BadInputIsSortedByReason) {
  const auto t = telemetry_topic();
  EXPECT_EQ(why(decode_json(t, "{not json", kNow)), reason::malformed);
  EXPECT_EQ(why(decode_json(t, "", kNow)), reason::malformed);
  EXPECT_EQ(why(decode_json(t, R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":"NaN"})", kNow)),
            reason::non_finite);
  EXPECT_EQ(why(decode_json(t, R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":"lots"})", kNow)),
            reason::wrong_type);
  EXPECT_EQ(why(decode_json(t, R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":true})", kNow)),
            reason::wrong_type);
  EXPECT_EQ(why(decode_json(t, R"({"siteId":"s2","assetId":"bat","time":"2026-07-07T06:30:00Z"})", kNow)),
            reason::topic_mismatch);
  EXPECT_EQ(why(decode_json(t, R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","extra":1})", kNow)),
            reason::malformed);
  EXPECT_EQ(why(decode_json(t, R"({"siteId":"s1","assetId":"bat"})", kNow)), reason::malformed) << "time is required";
}

TEST(JsonDecode, GridSignalGetsReceiveTimeAndSource) {
  auto d = decode_json({JsonTopicKind::grid_signal, "", ""},
                       R"({"curtailment":{"eventId":"ev-1","start":"2026-07-07T06:00:00Z","duration":"3600s","targetReductionKw":500}})",
                       kNow);
  ASSERT_TRUE(std::holds_alternative<AdapterInput>(d)) << std::get<JsonRejection>(d).detail;
  const auto& g = std::get<GridSignal>(std::get<AdapterInput>(d));
  EXPECT_EQ(g.received, kNow);
  EXPECT_EQ(g.source, "mqtt");
  EXPECT_EQ(std::get<CurtailmentEvent>(g.signal).target_reduction_kw, 500.0);
}

TEST(JsonDecode, CommandRoundTripsThroughTheProtoMapping) {
  Command c{"c-1", "s1", "bat", SetpointKind::battery_p_kw, 25.5, kNow, kNow + std::chrono::minutes(5), "why"};
  const auto json = encode_command_json(c);
  auto back = json_to_model<vpp::v1::Command>(json);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, c);
}

}  // namespace
}  // namespace vpp::adapters::mqtt
