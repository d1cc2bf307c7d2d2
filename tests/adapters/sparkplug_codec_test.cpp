// Sparkplug B codec: topics, value encoding by datatype, wire bytes, STATE.
#include <gtest/gtest.h>

#include "proto/sparkplug.hpp"

namespace vpp::sparkplug {
namespace {

TEST(SparkplugTopic, ParsesEveryMessageType) {
  auto t = parse_topic("spBv1.0/beijing/DDATA/office-dongcheng/battery");
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->type, MessageType::ddata);
  EXPECT_EQ(t->group_id, "beijing");
  EXPECT_EQ(t->edge_node_id, "office-dongcheng");
  EXPECT_EQ(t->device_id, "battery");
  EXPECT_EQ(format_topic(*t), "spBv1.0/beijing/DDATA/office-dongcheng/battery");

  t = parse_topic("spBv1.0/g/NBIRTH/n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->type, MessageType::nbirth);
  EXPECT_TRUE(t->device_id.empty());

  t = parse_topic("spBv1.0/STATE/vppd");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->type, MessageType::state);
  EXPECT_EQ(t->edge_node_id, "vppd");
  EXPECT_EQ(format_topic(*t), "spBv1.0/STATE/vppd");

  for (auto [type, name] : {std::pair{MessageType::ndeath, "NDEATH"}, {MessageType::ncmd, "NCMD"}}) {
    auto p = parse_topic(std::string("spBv1.0/g/") + name + "/n");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type, type);
  }
}

TEST(SparkplugTopic, RejectsMalformedTopicsWithAReason) {
  const std::pair<const char*, const char*> bad[] = {
      {"spAv1.0/g/NDATA/n", "namespace"},
      {"spBv1.0/g/NDATA", "too few"},
      {"spBv1.0/g/XDATA/n", "unknown message type"},
      {"spBv1.0/g/DDATA/n", "needs a device id"},
      {"spBv1.0/g/NDATA/n/d", "takes no device id"},
      {"spBv1.0//NDATA/n", "empty id"},
      {"spBv1.0/g/DDATA/n/", "empty id"},
      {"spBv1.0/STATE", "host id"},
      {"spBv1.0/STATE/a/b", "host id"},
  };
  for (auto [topic, why] : bad) {
    auto r = parse_topic(topic);
    ASSERT_FALSE(r) << topic;
    EXPECT_NE(r.error().find(why), std::string::npos) << topic << ": " << r.error();
  }
  EXPECT_FALSE(valid_id("a+b"));
  EXPECT_FALSE(valid_id(""));
  EXPECT_TRUE(valid_id("office-1"));
}

Metric with_int(std::uint32_t v) {
  Metric m;
  m.set_name("x");
  m.set_int_value(v);
  return m;
}

TEST(SparkplugValue, SignedTypesAreSignExtendedOnTheWire) {
  // Int8 -1 travels as 4294967295 (sign extension to 32 bits), as Tahu sends it.
  auto v = metric_value(with_int(4294967295u), Payload::INT8);
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(std::get<std::int64_t>(*v), -1);
  v = metric_value(with_int(static_cast<std::uint32_t>(-300)), Payload::INT16);
  ASSERT_TRUE(v);
  EXPECT_EQ(std::get<std::int64_t>(*v), -300);
  EXPECT_FALSE(metric_value(with_int(static_cast<std::uint32_t>(-300)), Payload::INT8)) << "out of Int8 range";
  EXPECT_FALSE(metric_value(with_int(300), Payload::UINT8));
  Metric l;
  l.set_long_value(static_cast<std::uint64_t>(-5));
  v = metric_value(l, Payload::INT64);
  ASSERT_TRUE(v);
  EXPECT_EQ(std::get<std::int64_t>(*v), -5);
}

TEST(SparkplugValue, UInt32InEitherFieldAndWrittenAsLong) {
  auto v = metric_value(with_int(4000000000u), Payload::UINT32);
  ASSERT_TRUE(v);
  EXPECT_EQ(std::get<std::uint64_t>(*v), 4000000000u);
  Metric l;
  l.set_long_value(7);
  v = metric_value(l, Payload::UINT32);
  ASSERT_TRUE(v);
  EXPECT_EQ(std::get<std::uint64_t>(*v), 7u);
  l.set_long_value(1ULL << 33);
  EXPECT_FALSE(metric_value(l, Payload::UINT32));
  Metric out;
  out.set_name("u");
  ASSERT_TRUE(set_metric_value(out, Payload::UINT32, std::uint64_t(12)));
  EXPECT_TRUE(out.has_long_value()) << "Tahu clients read UInt32 from long_value only";
  EXPECT_FALSE(set_metric_value(out, Payload::UINT32, std::int64_t(-1)));
}

TEST(SparkplugValue, TypeMismatchNullAndUnsupported) {
  Metric m;
  m.set_name("P_kW");
  m.set_double_value(1.5);
  auto r = metric_value(m, Payload::FLOAT);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("float_value"), std::string::npos) << r.error();
  r = metric_value(m, Payload::DOUBLE);
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(*as_double(*r), 1.5);
  m.set_is_null(true);
  r = metric_value(m, Payload::DOUBLE);
  ASSERT_TRUE(r);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(*r));
  Metric ds;
  ds.set_name("table");
  ds.mutable_dataset_value();
  EXPECT_FALSE(metric_value(ds, Payload::DATASET));
  Metric b;
  EXPECT_FALSE(set_metric_value(b, Payload::BOOLEAN, std::string("yes")));
  EXPECT_FALSE(set_metric_value(b, Payload::INT16, std::int64_t(70000)));
}

TEST(SparkplugWire, FieldNumbersMatchTheSpecification) {
  // Payload{timestamp=1, seq=2, metrics=[{name "a", alias 5, datatype 10 (Double), double 1.0}]}
  // encoded by hand from the spec's field numbers: timestamp 1 (varint), metrics 2 (message),
  // seq 3; Metric name 1, alias 2, datatype 4, double_value 13 (fixed64).
  Payload p;
  p.set_timestamp(1);
  p.set_seq(2);
  auto* m = p.add_metrics();
  m->set_name("a");
  m->set_alias(5);
  ASSERT_TRUE(set_metric_value(*m, Payload::DOUBLE, 1.0));
  const std::string bytes = p.SerializeAsString();
  const std::string expected(
      "\x08\x01"                       // timestamp = 1
      "\x12\x10"                       // metrics, 16 bytes
      "\x0a\x01" "a"                   // name
      "\x10\x05"                       // alias
      "\x20\x0a"                       // datatype = 10
      "\x69\x00\x00\x00\x00\x00\x00\xf0\x3f"  // double_value (field 13, wire type 1) = 1.0
      "\x18\x02",                      // seq = 2
      2 + 2 + 16 + 2);
  EXPECT_EQ(bytes, expected);
  auto back = decode_payload(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->metrics(0).alias(), 5u);
}

TEST(SparkplugWire, RejectsGarbageAndCompressedPayloads) {
  EXPECT_FALSE(decode_payload(std::string("\xff\xff\xff\xff\x0f", 5)));
  EXPECT_FALSE(decode_payload("{\"json\":true}"));
  Payload c;
  c.set_uuid("SPBV1.0_COMPRESSED");
  c.set_body("xyz");
  auto r = decode_payload(c.SerializeAsString());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("compressed"), std::string::npos);
  EXPECT_TRUE(decode_payload(""));  // an empty payload is a valid (empty) message
}

TEST(SparkplugState, JsonRoundTripAndStrictParsing) {
  const auto s = state_json({true, 1720000000123});
  EXPECT_EQ(s, "{\"online\":true,\"timestamp\":1720000000123}");
  auto p = parse_state_json(s);
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->online);
  EXPECT_EQ(p->timestamp_ms, 1720000000123u);
  p = parse_state_json(" { \"timestamp\" : 5 , \"online\" : false } ");
  ASSERT_TRUE(p) << p.error();
  EXPECT_FALSE(p->online);
  for (const char* bad : {"", "OFFLINE", "{\"online\":true}", "{\"online\":1,\"timestamp\":1}",
                          "{\"online\":true,\"timestamp\":-1}", "{\"online\":true,\"timestamp\":1,\"x\":2}",
                          "{\"online\":true,\"timestamp\":1} x"}) {
    EXPECT_FALSE(parse_state_json(bad)) << bad;
  }
}

TEST(SparkplugRebirth, RequestIsNamedBooleanTrue) {
  const auto p = rebirth_request(99);
  ASSERT_EQ(p.metrics_size(), 1);
  EXPECT_EQ(p.metrics(0).name(), "Node Control/Rebirth");
  EXPECT_FALSE(p.metrics(0).has_alias());
  EXPECT_EQ(p.metrics(0).datatype(), Payload::BOOLEAN);
  EXPECT_TRUE(p.metrics(0).boolean_value());
  EXPECT_FALSE(p.has_seq()) << "NCMD carries no seq";
}

}  // namespace
}  // namespace vpp::sparkplug
