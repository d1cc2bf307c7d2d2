// Every message of proto/vpp.proto survives model -> proto -> binary -> proto -> model and
// model -> proto -> JSON -> proto -> model unchanged; malformed input is rejected by name.
#include <gtest/gtest.h>

#include "proto/convert.hpp"

namespace vpp {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const TimePoint t0 = *parse_utc("2026-07-07T14:00:00+08:00");

template <typename Model, typename Proto>
void expect_round_trips(const Model& m, const Proto& /*type tag*/) {
  const Proto p = to_proto(m);
  // binary
  std::string bytes;
  ASSERT_TRUE(p.SerializeToString(&bytes));
  Proto back;
  ASSERT_TRUE(back.ParseFromString(bytes));
  auto from_bin = from_proto(back);
  ASSERT_TRUE(from_bin) << from_bin.error();
  EXPECT_EQ(*from_bin, m);
  // JSON
  const std::string json = to_json(p);
  auto from_json = json_to_model<Proto>(json);
  ASSERT_TRUE(from_json) << from_json.error() << "\n" << json;
  EXPECT_EQ(*from_json, m) << json;
}

Site full_site() {
  Site s;
  s.id = "office-1";
  s.name = "Office";
  s.owner = "Owner Ltd";
  s.type = BuildingType::hospital;
  s.latitude_deg = 39.9;
  s.longitude_deg = 116.4;
  s.limits = {21.5, 26.5, 20, 30, 2500, 100, {{{1, 2, 3, 4, 5}, 480, 1200}}};
  s.assets = {
      {"pv", "roof", PvSpec{300, 330, 15, 180, -0.0035}},
      {"bat", "", BatterySpec{1000, 500, 450, 0.96, 0.94, 5, 95, 0.2, 100}},
      {"hvac", "", HvacZoneSpec{520, 5.5, 45000, 0.05, 2000, 26, 1}},
      {"light", "", FlexibleLoadSpec{400, 25, 100}},
      {"meter", "", SiteMeterSpec{2500, 0}},
      {"ev", "", EvChargerSpec{150, 50, 6}},
  };
  return s;
}

TEST(ProtoRoundTrip, SiteEnrolmentWithEveryAssetKind) { expect_round_trips(full_site(), v1::SiteEnrolment{}); }

TEST(ProtoRoundTrip, Telemetry) {
  Telemetry t{"s", "a", t0 + Duration(250), Quality::uncertain, -12.5, 1.5, 55.5, 24.25, 26, 300, 12};
  expect_round_trips(t, v1::Telemetry{});
  Telemetry sparse{"s", "a", t0, Quality::good, 3.0, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                   std::nullopt, std::nullopt};
  expect_round_trips(sparse, v1::Telemetry{});
}

TEST(ProtoRoundTrip, CommandAndAck) {
  Command c{"cmd-1", "s", "bat", SetpointKind::battery_p_kw, -250, t0, t0 + minutes(15), "event ev-1"};
  expect_round_trips(c, v1::Command{});
  CommandAck a{"cmd-1", "s", "bat", AckStatus::rejected, t0 + Duration(800), "beyond rating"};
  expect_round_trips(a, v1::CommandAck{});
}

TEST(ProtoRoundTrip, EveryGridSignal) {
  CurtailmentEvent ev{"ev-1", "beijing-dr", t0, hours(2), 1200.0, std::nullopt, minutes(15), 3, {"a", "b"}};
  expect_round_trips(GridSignal{t0, "mqtt", ev}, v1::GridSignal{});
  CurtailmentEvent cap{"ev-2", "", t0, hours(1), std::nullopt, 5000.0, {}, 0, {}};
  expect_round_trips(GridSignal{t0, "http", cap}, v1::GridSignal{});
  PriceSeries prices{"CNY", hours(1), {{t0, 0.54}, {t0 + hours(1), 1.2595}}, {{t0, 0.3}}};
  expect_round_trips(GridSignal{t0, "http", prices}, v1::GridSignal{});
  CarbonSeries carbon{minutes(15), {{t0, 0.6361}, {t0 + minutes(15), 0.6}}};
  expect_round_trips(GridSignal{t0, "openadr", carbon}, v1::GridSignal{});
  expect_round_trips(GridSignal{t0, "mqtt", RegulationSignal{t0 + Duration(2000), -0.5, 800}}, v1::GridSignal{});
  expect_round_trips(GridSignal{t0, "mqtt", CancelEvent{"ev-1"}}, v1::GridSignal{});
}

TEST(ProtoJson, UsesCanonicalMappingWithUtcTimes) {
  Command c{"cmd-1", "s", "pv", SetpointKind::pv_limit_kw, 100, t0, t0 + minutes(15), ""};
  const auto json = to_json(to_proto(c));
  EXPECT_NE(json.find("\"commandId\":\"cmd-1\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"kind\":\"SETPOINT_KIND_PV_LIMIT_KW\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"issued\":\"2026-07-07T06:00:00Z\""), std::string::npos) << json;
}

struct BadJson {
  const char* name;
  const char* json;
  const char* expected;  // substring of the error
};
void PrintTo(const BadJson& c, std::ostream* os) { *os << c.name; }

class MalformedTelemetry : public ::testing::TestWithParam<BadJson> {};

TEST_P(MalformedTelemetry, IsRejectedWithAClearMessage) {
  const auto r = json_to_model<v1::Telemetry>(GetParam().json);
  ASSERT_FALSE(r) << GetParam().name;
  EXPECT_NE(r.error().find(GetParam().expected), std::string::npos) << "error was: " << r.error();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedTelemetry,
    ::testing::Values(
        BadJson{"syntax", R"({"siteId": "s", )", "invalid Telemetry JSON"},
        BadJson{"not an object", R"([1, 2])", "invalid Telemetry JSON"},
        BadJson{"unknown field", R"({"siteId":"s","assetId":"a","time":"2026-07-07T06:00:00Z","pKilowatts":1})",
                "pKilowatts"},
        BadJson{"wrong type", R"({"siteId":"s","assetId":"a","time":"2026-07-07T06:00:00Z","pKw":"lots"})",
                "invalid Telemetry JSON"},
        BadJson{"NaN", R"({"siteId":"s","assetId":"a","time":"2026-07-07T06:00:00Z","pKw":"NaN"})",
                "pKw: must be a finite number"},
        BadJson{"Infinity", R"({"siteId":"s","assetId":"a","time":"2026-07-07T06:00:00Z","socPct":"Infinity"})",
                "socPct: must be a finite number"},
        BadJson{"bad time", R"({"siteId":"s","assetId":"a","time":"yesterday"})", "invalid Telemetry JSON"},
        BadJson{"missing time", R"({"siteId":"s","assetId":"a","pKw":1})", "time: is required"},
        BadJson{"missing asset", R"({"siteId":"s","time":"2026-07-07T06:00:00Z"})", "assetId: is required"},
        BadJson{"bad enum", R"({"siteId":"s","assetId":"a","time":"2026-07-07T06:00:00Z","quality":"SHINY"})",
                "invalid Telemetry JSON"}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (auto& c : n) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(ProtoJson, RejectsSemanticallyInvalidSignals) {
  auto no_target = json_to_model<v1::GridSignal>(
      R"({"curtailment":{"eventId":"e","start":"2026-07-07T06:00:00Z","duration":"3600s"}})");
  ASSERT_FALSE(no_target);
  EXPECT_NE(no_target.error().find("curtailment: needs a target"), std::string::npos) << no_target.error();

  auto negative = json_to_model<v1::GridSignal>(
      R"({"curtailment":{"eventId":"e","start":"2026-07-07T06:00:00Z","duration":"3600s","targetReductionKw":-5}})");
  ASSERT_FALSE(negative);
  EXPECT_NE(negative.error().find("curtailment.targetReductionKw: must be > 0"), std::string::npos);

  auto unordered = json_to_model<v1::GridSignal>(
      R"({"prices":{"interval":"3600s","importPrice":[{"start":"2026-07-07T07:00:00Z","value":1},)"
      R"({"start":"2026-07-07T06:00:00Z","value":2}]}})");
  ASSERT_FALSE(unordered);
  EXPECT_NE(unordered.error().find("prices.importPrice[1].start"), std::string::npos) << unordered.error();

  auto empty = json_to_model<v1::GridSignal>(R"({"source":"x"})");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("signal: is required"), std::string::npos);

  auto cmd = json_to_model<v1::Command>(
      R"({"commandId":"c","siteId":"s","assetId":"a","kind":"SETPOINT_KIND_BATTERY_P_KW","value":1,)"
      R"("issued":"2026-07-07T06:00:00Z"})");
  ASSERT_FALSE(cmd);
  EXPECT_NE(cmd.error().find("expires: is required"), std::string::npos) << cmd.error();
}

TEST(ProtoBinary, GarbageBytesDoNotParse) {
  v1::Telemetry t;
  EXPECT_FALSE(t.ParseFromString(std::string("\xff\xff\xff\xff\x0f garbage", 14)));
}

}  // namespace
}  // namespace vpp
