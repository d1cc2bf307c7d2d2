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

TEST(JsonDecode, FastPathAgreesWithProtobufsParser) {
  // The fast telemetry parser must produce exactly what protobuf's JSON parser produces, and hand
  // anything unusual to it.
  const char* payloads[] = {
      R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":-12.5,"socPct":80})",
      R"( { "site_id" : "s1", "asset_id":"bat", "time":"2024-02-29T23:59:59.123456789Z", "quality":"QUALITY_STALE",
            "qKvar":1e-3, "indoorTempC":26.25, "setpointC":0, "availableKw":1E2, "energyKwh":-0.0 } )",
      R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00.5Z"})",
      R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T14:30:00+08:00","pKw":1})",   // offset: slow path
      R"({"siteId":"s\u0031","assetId":"bat","time":"2026-07-07T06:30:00Z"})",          // escape: slow path
      R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":"1.5"})",     // quoted number
      R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":1,"pKw":2})", // repeated key
      R"({"siteId":"s1","assetId":"bat","time":"2026-02-30T06:30:00Z"})",                // no such day
      R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":01})",
      R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":null})",
      R"({"siteId":"s1","assetId":"bat","time":"2026-07-07T06:30:00Z"} trailing)",
      R"({})",
  };
  for (const char* p : payloads) {
    const auto fast = decode_json(telemetry_topic(), p, kNow);
    const auto slow = json_to_model<vpp::v1::Telemetry>(p);
    if (slow && slow->site_id == "s1" && slow->asset_id == "bat") {
      ASSERT_TRUE(std::holds_alternative<AdapterInput>(fast)) << p << ": " << std::get<JsonRejection>(fast).detail;
      EXPECT_EQ(std::get<Telemetry>(std::get<AdapterInput>(fast)), *slow) << p;
    } else {
      EXPECT_TRUE(std::holds_alternative<JsonRejection>(fast)) << p;
    }
  }
  auto t = decode_json(telemetry_topic(), payloads[1], kNow);
  const auto& tel = std::get<Telemetry>(std::get<AdapterInput>(t));
  EXPECT_EQ(tel.time, from_unix_ms(1709251199123)) << "2024-02-29T23:59:59.123Z, nanoseconds truncated to ms";
  EXPECT_EQ(tel.quality, Quality::stale);
  EXPECT_DOUBLE_EQ(*tel.q_kvar, 0.001);
}

TEST(JsonEncode, CommandJsonIsByteIdenticalToProtobufs) {
  const TimePoint t = from_unix_ms(1'783'405'800'000);
  const Command cmds[] = {
      {"c-1", "s1", "bat", SetpointKind::battery_p_kw, 25.5, t, t + std::chrono::minutes(5), "event ev-42 plan 17"},
      {"c-2", "office-haidian", "pv-roof", SetpointKind::pv_limit_pct, 0, t + std::chrono::milliseconds(250),
       t + std::chrono::milliseconds(1250), ""},
      {"c-3", "s", "a", SetpointKind::ev_p_kw, -150, t, t, "say \"hi\" \\ now"},
      {"c-4", "s", "a", SetpointKind::hvac_setpoint_offset_c, 0.1, from_unix_ms(0), from_unix_ms(999), "x"},
      {"c-5", "s", "a", SetpointKind::unspecified, 1e-7, t, t, ""},
  };
  for (const auto& c : cmds) EXPECT_EQ(encode_command_json(c), to_json(to_proto(c))) << c.command_id;
}

}  // namespace
}  // namespace vpp::adapters::mqtt
