// Sparkplug host session rules, fed message by message (no broker).
#include <gtest/gtest.h>

#include <cmath>

#include "adapters/mqtt/sparkplug_host.hpp"

namespace vpp::adapters::mqtt {
namespace {

namespace sp = vpp::sparkplug;

const TimePoint kT0 = from_unix_ms(1'780'000'000'000);

class SparkplugHostTest : public ::testing::Test {
 protected:
  AdapterCounters counters{"test"};
  InputQueue sink;
  SparkplugHost host{"beijing", {{"office-dongcheng", {"battery", "pv-roof"}}}, {}, counters};
  std::uint64_t seq = 0;

  std::vector<Outgoing> send(sp::MessageType type, const std::string& device, sp::Payload p, TimePoint now = kT0) {
    return host.on_message(sp::Topic{type, "beijing", "office-dongcheng", device}, p.SerializeAsString(), now, sink);
  }
  static void metric(sp::Payload& p, const std::string& name, std::uint32_t dt, sp::MetricValue v,
                     std::optional<std::uint64_t> alias = std::nullopt) {
    auto* m = p.add_metrics();
    if (!name.empty()) m->set_name(name);
    if (alias) m->set_alias(*alias);
    ASSERT_TRUE(sp::set_metric_value(*m, dt, v));
  }
  sp::Payload nbirth(std::uint64_t bd) {
    sp::Payload p;
    p.set_timestamp(1);
    p.set_seq(seq = 0);
    metric(p, "Node Control/Rebirth", sp::Payload::BOOLEAN, false);
    metric(p, "bdSeq", sp::Payload::INT64, std::int64_t(bd));
    return p;
  }
  sp::Payload next(std::uint64_t ts = 1'780'000'000'500) {
    sp::Payload p;
    p.set_timestamp(ts);
    seq = (seq + 1) % 256;
    p.set_seq(seq);
    return p;
  }
  void born() {
    ASSERT_TRUE(send(sp::MessageType::nbirth, "", nbirth(3)).empty());
    auto d = next();
    metric(d, "P_kW", sp::Payload::DOUBLE, 12.5, 101);
    metric(d, "SoC_pct", sp::Payload::FLOAT, 55.0, 102);
    metric(d, "Ack/CommandId", sp::Payload::STRING, std::monostate{}, 104);
    metric(d, "Ack/Status", sp::Payload::STRING, std::monostate{}, 105);
    ASSERT_TRUE(send(sp::MessageType::dbirth, "battery", d).empty());
  }
  std::vector<AdapterInput> drained() { return sink.drain(); }
};

TEST_F(SparkplugHostTest, BirthThenAliasOnlyDataBecomeTelemetry) {
  born();
  auto in = drained();
  ASSERT_EQ(in.size(), 2u);
  const auto& st = std::get<DeviceStatus>(in[0]);
  EXPECT_TRUE(st.online);
  EXPECT_EQ(st.asset_id, "battery");
  const auto& t0 = std::get<Telemetry>(in[1]);
  EXPECT_EQ(t0.site_id, "office-dongcheng");
  EXPECT_DOUBLE_EQ(*t0.p_kw, 12.5);
  EXPECT_DOUBLE_EQ(*t0.soc_pct, 55.0);

  auto d = next(1'780'000'000'900);
  auto* m = d.add_metrics();
  m->set_alias(101);  // no name, no datatype: both come from the DBIRTH
  m->set_double_value(-40.0);
  EXPECT_TRUE(send(sp::MessageType::ddata, "battery", d).empty());
  in = drained();
  ASSERT_EQ(in.size(), 1u);
  const auto& t1 = std::get<Telemetry>(in[0]);
  EXPECT_DOUBLE_EQ(*t1.p_kw, -40.0);
  EXPECT_DOUBLE_EQ(*t1.soc_pct, 55.0) << "report by exception: the last SoC is kept";
  EXPECT_EQ(t1.time, from_unix_ms(1'780'000'000'900));
  EXPECT_EQ(counters.rejected_total(), 0u);
}

TEST_F(SparkplugHostTest, SeqGapRequestsOneRebirthAndDropsDataUntilNbirth) {
  born();
  drained();
  auto d = next();
  d.set_seq(seq = 5);  // expected 2
  auto out = send(sp::MessageType::ddata, "battery", d);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].topic, "spBv1.0/beijing/NCMD/office-dongcheng");
  auto req = sp::decode_payload(out[0].payload);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->metrics(0).name(), "Node Control/Rebirth");
  EXPECT_TRUE(req->metrics(0).boolean_value());
  EXPECT_EQ(counters.rejected(reason::seq_gap), 1u);
  EXPECT_FALSE(host.node_born("office-dongcheng"));
  // More data before the NBIRTH: dropped, and no second request within the hold-off.
  EXPECT_TRUE(send(sp::MessageType::ddata, "battery", next()).empty());
  EXPECT_EQ(counters.rejected(reason::before_birth), 1u);
  EXPECT_EQ(host.rebirths_requested(), 1u);
  // After the hold-off a new request goes out.
  EXPECT_EQ(send(sp::MessageType::ddata, "battery", next(), kT0 + std::chrono::seconds(6)).size(), 1u);
  EXPECT_TRUE(drained().empty());
  born();
  EXPECT_TRUE(host.node_born("office-dongcheng"));
  EXPECT_EQ(drained().size(), 2u);
}

TEST_F(SparkplugHostTest, SeqWrapsAt256) {
  born();
  for (int i = 0; i < 300; ++i) {
    auto d = next();
    metric(d, "", sp::Payload::DOUBLE, double(i), 101);
    ASSERT_TRUE(send(sp::MessageType::ddata, "battery", d).empty()) << i;
  }
  EXPECT_EQ(counters.rejected_total(), 0u);
}

TEST_F(SparkplugHostTest, UnknownAliasAndDataBeforeBirthRequestRebirth) {
  auto d = next();
  EXPECT_EQ(send(sp::MessageType::ddata, "battery", d).size(), 1u);
  EXPECT_EQ(counters.rejected(reason::before_birth), 1u);
  born();
  drained();
  auto u = next();
  metric(u, "", sp::Payload::DOUBLE, 1.0, 999);
  EXPECT_EQ(send(sp::MessageType::ddata, "battery", u, kT0 + std::chrono::seconds(10)).size(), 1u);
  EXPECT_EQ(counters.rejected(reason::unknown_alias), 1u);
  EXPECT_TRUE(drained().empty());
}

TEST_F(SparkplugHostTest, NdeathNeedsTheBirthsBdSeq) {
  born();
  drained();
  sp::Payload death;
  metric(death, "bdSeq", sp::Payload::UINT64, std::uint64_t(2));  // an older session's Will
  send(sp::MessageType::ndeath, "", death);
  EXPECT_EQ(counters.rejected(reason::stale_death), 1u);
  EXPECT_TRUE(host.device_online("office-dongcheng", "battery"));
  sp::Payload real;
  metric(real, "bdSeq", sp::Payload::UINT64, std::uint64_t(3));
  send(sp::MessageType::ndeath, "", real, kT0 + std::chrono::seconds(1));
  auto in = drained();
  ASSERT_EQ(in.size(), 1u);
  const auto& st = std::get<DeviceStatus>(in[0]);
  EXPECT_FALSE(st.online);
  EXPECT_EQ(st.time, kT0 + std::chrono::seconds(1)) << "NDEATH is stamped with the receive time";
}

TEST_F(SparkplugHostTest, DdeathUsesThePayloadTimestamp) {
  born();
  drained();
  send(sp::MessageType::ddeath, "battery", next(1'780'000'000'777));
  auto in = drained();
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(std::get<DeviceStatus>(in[0]).time, from_unix_ms(1'780'000'000'777));
  EXPECT_FALSE(host.device_online("office-dongcheng", "battery"));
}

TEST_F(SparkplugHostTest, BadValuesAreCountedAndTheRestKept) {
  born();
  drained();
  auto d = next();
  metric(d, "", sp::Payload::DOUBLE, std::nan(""), 101);
  metric(d, "", sp::Payload::FLOAT, 60.0, 102);
  send(sp::MessageType::ddata, "battery", d);
  EXPECT_EQ(counters.rejected(reason::non_finite), 1u);
  auto in = drained();
  ASSERT_EQ(in.size(), 1u);
  EXPECT_DOUBLE_EQ(*std::get<Telemetry>(in[0]).soc_pct, 60.0);
  EXPECT_DOUBLE_EQ(*std::get<Telemetry>(in[0]).p_kw, 12.5);

  auto w = next();
  auto* m = w.add_metrics();
  m->set_alias(101);
  m->set_string_value("twelve");  // DBIRTH said Double
  send(sp::MessageType::ddata, "battery", w);
  EXPECT_EQ(counters.rejected(reason::wrong_type), 1u);

  EXPECT_EQ(host.on_message({sp::MessageType::ddata, "beijing", "office-dongcheng", "battery"},
                            std::string("\xff\xff\xff", 3), kT0 + std::chrono::minutes(1), sink).size(), 1u);
  EXPECT_EQ(counters.rejected(reason::malformed), 1u);
}

TEST_F(SparkplugHostTest, UnknownDevicesAreRejectedWithoutBreakingTheSession) {
  born();
  drained();
  auto d = next();
  metric(d, "P_kW", sp::Payload::DOUBLE, 1.0);
  EXPECT_TRUE(send(sp::MessageType::dbirth, "chiller-9", d).empty());
  EXPECT_EQ(counters.rejected(reason::unknown_device), 1u);
  auto ok = next();
  metric(ok, "", sp::Payload::DOUBLE, 2.0, 101);
  EXPECT_TRUE(send(sp::MessageType::ddata, "battery", ok).empty());
  EXPECT_EQ(counters.rejected(reason::seq_gap), 0u);
  host.on_message({sp::MessageType::nbirth, "beijing", "unknown-site", ""}, nbirth(1).SerializeAsString(), kT0, sink);
  EXPECT_EQ(counters.rejected(reason::unknown_device), 2u);
}

TEST_F(SparkplugHostTest, AcksAndCommands) {
  born();
  drained();
  auto a = next();
  metric(a, "", sp::Payload::STRING, std::string("cmd-7"), 104);
  metric(a, "", sp::Payload::STRING, std::string("ACCEPTED"), 105);
  send(sp::MessageType::ddata, "battery", a);
  auto in = drained();
  ASSERT_EQ(in.size(), 1u);
  const auto& ack = std::get<CommandAck>(in[0]);
  EXPECT_EQ(ack.command_id, "cmd-7");
  EXPECT_EQ(ack.status, AckStatus::accepted);
  EXPECT_EQ(ack.asset_id, "battery");

  Command c{"cmd-8", "office-dongcheng", "battery", SetpointKind::battery_p_kw, -150.0, kT0,
            kT0 + std::chrono::minutes(15), "test"};
  auto out = host.command(c, kT0);
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(out->topic, "spBv1.0/beijing/DCMD/office-dongcheng/battery");
  auto p = sp::decode_payload(out->payload);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->has_seq());
  std::map<std::string, sp::MetricValue> v;
  for (const auto& m : p->metrics()) v[m.name()] = *sp::metric_value(m, m.datatype());
  EXPECT_EQ(std::get<std::string>(v["Command/Id"]), "cmd-8");
  EXPECT_EQ(std::get<std::string>(v["Command/Kind"]), "BATTERY_P_KW");
  EXPECT_DOUBLE_EQ(std::get<double>(v["Command/Value"]), -150.0);
  EXPECT_EQ(std::get<std::uint64_t>(v["Command/Expires"]), std::uint64_t(to_unix_ms(kT0 + std::chrono::minutes(15))));
  c.asset_id = "nope";
  EXPECT_FALSE(host.command(c, kT0));
}

TEST_F(SparkplugHostTest, ConnectionLossTakesDevicesOfflineAndReconnectAsksForBirths) {
  born();
  drained();
  host.on_connection_lost(kT0, sink);
  auto in = drained();
  ASSERT_EQ(in.size(), 1u);
  EXPECT_FALSE(std::get<DeviceStatus>(in[0]).online);
  auto out = host.on_connected(kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].topic, "spBv1.0/beijing/NCMD/office-dongcheng");
}

}  // namespace
}  // namespace vpp::adapters::mqtt
