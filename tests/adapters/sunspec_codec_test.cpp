// SunSpec tables (generated from the official JSON models) and the generic block codec.
// Offsets below were counted by hand from the model files' point sizes.
#include <gtest/gtest.h>

#include <cmath>

#include "proto/sunspec_codec.hpp"

namespace vpp::sunspec {
namespace {

const ModelDef& model(std::uint16_t id) {
  const ModelDef* m = find_model(id);
  EXPECT_NE(m, nullptr) << id;
  return *m;
}

TEST(SunSpecTables, AllCopiedModelsArePresentWithTheirFixedLength) {
  // L values from the SunSpec model files (7xx declare L; 1xx computed from point sizes).
  const std::pair<std::uint16_t, std::uint16_t> expected[] = {
      {1, 66},   {101, 50}, {102, 50}, {103, 50}, {120, 26}, {121, 30}, {122, 44}, {123, 24}, {124, 24},
      {160, 8},  {701, 153}, {702, 50}, {703, 17}, {704, 65}, {713, 7}, {714, 18}, {802, 62}, {63001, 134},
  };
  EXPECT_EQ(all_models().size(), std::size(expected));
  for (auto [id, l] : expected) EXPECT_EQ(model(id).fixed_length, l) << "model " << id;
  EXPECT_EQ(find_model(64001), nullptr);
}

TEST(SunSpecTables, Model103PointsWhereInstallersFindThem) {
  // With base 40000 (0-based PDU addresses), model 1 at 40002 and model 103 at 40070, W sits at
  // 40084: the model's ID register + 14.
  const auto& m = model(103);
  const PointDef* w = find_point(m.group, "W");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->offset, 14);
  EXPECT_EQ(w->type, PointType::int16);
  EXPECT_EQ(w->sf_point, "W_SF");
  EXPECT_EQ(w->units, "W");
  EXPECT_TRUE(w->mandatory);
  const PointDef* wh = find_point(m.group, "WH");
  ASSERT_NE(wh, nullptr);
  EXPECT_EQ(wh->offset, 24);
  EXPECT_EQ(wh->type, PointType::acc32);
  EXPECT_EQ(wh->size, 2);
  const PointDef* st = find_point(m.group, "St");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->type, PointType::enum16);
  bool has_mppt = false;
  for (const auto& s : st->symbols) has_mppt = has_mppt || (s.name == "MPPT" && s.value == 4);
  EXPECT_TRUE(has_mppt);
}

TEST(SunSpecTables, ControlPointsAreWritable) {
  const PointDef* lim = find_point(model(123).group, "WMaxLimPct");
  ASSERT_NE(lim, nullptr);
  EXPECT_TRUE(lim->writable);
  EXPECT_EQ(lim->sf_point, "WMaxLimPct_SF");
  const PointDef* wset = find_point(model(704).group, "WSet");
  ASSERT_NE(wset, nullptr);
  EXPECT_EQ(wset->type, PointType::int32);
  EXPECT_TRUE(wset->writable);
  EXPECT_FALSE(find_point(model(103).group, "W")->writable);
}

TEST(SunSpecTables, TestModelOffsets) {
  const auto& g = model(63001).group;
  const std::pair<const char*, int> offsets[] = {
      {"sunssf_1", 2},  {"int16_1", 6},    {"int16_u", 11},   {"uint16_1", 12}, {"acc16", 18},
      {"enum16", 20},   {"bitfield16", 22}, {"int32_1", 24},  {"uint32_4", 42}, {"acc32", 48},
      {"ipaddr", 60},   {"int64", 64},     {"acc64", 72},     {"ipv6addr", 80}, {"float32", 96},
      {"string", 100},  {"string_u", 116}, {"sunssf_5", 132}, {"pad_1", 135},
  };
  for (auto [name, off] : offsets) {
    const PointDef* p = find_point(g, name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_EQ(p->offset, off) << name;
  }
  ASSERT_EQ(g.groups.size(), 1u);
  EXPECT_EQ(g.groups[0].repeat, GroupRepeat::fill);
  EXPECT_EQ(g.groups[0].offset, 136);
  EXPECT_EQ(g.groups[0].size, 18);
  EXPECT_TRUE(find_point(g, "uint32_4")->has_sf_fixed);
  EXPECT_EQ(find_point(g, "uint32_4")->sf_fixed, 1);
}

// A 63001 block with two repeating groups, written register by register (not with encode_model,
// so the decoder is checked against an independent layout).
std::vector<std::uint16_t> test_model_image() {
  std::vector<std::uint16_t> r(136 + 2 * 18, 0);
  r[0] = 63001;
  r[1] = static_cast<std::uint16_t>(r.size() - 2);
  r[2] = static_cast<std::uint16_t>(-1);  // sunssf_1 = -1
  r[3] = 2;                               // sunssf_2
  r[4] = 0x8000;                          // sunssf_3 not implemented
  r[5] = 0;                               // sunssf_4
  r[6] = static_cast<std::uint16_t>(-5);  // int16_1 = -5 -> -0.5
  r[7] = 7;                               // int16_2 = 7 -> 700
  r[8] = 3;                               // int16_3: its SF is unimplemented -> no value
  r[9] = 0x8000;                          // int16_4 unimplemented
  r[10] = 0x7FFF;                         // int16_5, no SF
  r[11] = 0x8000;                         // int16_u
  r[12] = 65534;                          // uint16_1 -> 6553.4
  for (int i = 13; i <= 17; ++i) r[i] = 0xFFFF;
  r[18] = 42;                             // acc16
  r[19] = 0;                              // acc16_u
  r[20] = 3;                              // enum16
  r[21] = 0xFFFF;
  r[22] = 0x0005;                         // bitfield16
  r[23] = 0xFFFF;
  r[24] = 0xFFFF; r[25] = 0xFFFE;         // int32_1 = -2, sunssf_5 = 3 -> -2000
  r[26] = 0x0001; r[27] = 0x0000;         // int32_2 = 65536, sunssf_6 = -2 -> 655.36
  r[34] = 0x8000; r[35] = 0;              // int32_u
  r[42] = 0; r[43] = 25;                  // uint32_4 = 25, fixed sf 1 -> 250
  r[46] = 0xFFFF; r[47] = 0xFFFF;         // uint32_u
  r[48] = 0x0001; r[49] = 0x86A0;         // acc32 = 100000
  r[60] = 0xC0A8; r[61] = 0x0102;         // ipaddr 192.168.1.2
  r[64] = 0xFFFF; r[65] = 0xFFFF; r[66] = 0xFFFF; r[67] = 0xFFFD;  // int64 = -3
  r[68] = 0x8000;                         // int64_u
  r[72] = 0; r[73] = 0; r[74] = 0x0001; r[75] = 0x0000;            // acc64 = 65536
  r[80] = 0xFE80; r[87] = 0x0001;         // ipv6addr fe80::1
  r[96] = 0x3FC0; r[97] = 0x0000;         // float32 = 1.5
  r[98] = 0x7FC0; r[99] = 0x0000;         // float32_u NaN
  r[100] = ('v' << 8) | 'p'; r[101] = ('p' << 8) | '1';  // string "vpp1"
  r[132] = 3;                             // sunssf_5
  r[133] = static_cast<std::uint16_t>(-2);// sunssf_6
  r[134] = 0;                             // sunssf_7
  // Repeating group 0 at 136, group 1 at 154.
  for (int k = 0; k < 2; ++k) {
    const int b = 136 + 18 * k;
    r[b + 0] = static_cast<std::uint16_t>(-k);  // sunssf_8: 0, then -1
    r[b + 1] = 10;                               // int16_11 (sunssf_8)
    r[b + 2] = 0x8000;                           // int16_12 unimplemented
    r[b + 3] = 0x8000;
    r[b + 7] = 0xFFFF;
    r[b + 8] = 0; r[b + 9] = 4;                  // int32, scaled by the parent's sunssf_1 = -1
    r[b + 10] = 0x8000;
    r[b + 14] = 0xFFFF; r[b + 15] = 0xFFFF;
    r[b + 16] = 1;                               // sunssf_9
  }
  return r;
}

TEST(SunSpecCodec, DecodesEveryPointTypeOfTheTestModel) {
  const auto regs = test_model_image();
  auto d = decode_model(model(63001), regs);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->length, 170);
  EXPECT_DOUBLE_EQ(*d->value("int16_1"), -0.5);
  EXPECT_DOUBLE_EQ(*d->value("int16_2"), 700);
  EXPECT_TRUE(d->find("int16_3")->implemented());
  EXPECT_FALSE(d->value("int16_3").has_value()) << "unimplemented SF must not scale";
  EXPECT_FALSE(d->find("int16_4")->implemented());
  EXPECT_DOUBLE_EQ(*d->value("int16_5"), 32767);
  EXPECT_FALSE(d->find("int16_u")->implemented());
  EXPECT_NEAR(*d->value("uint16_1"), 6553.4, 1e-9);
  EXPECT_FALSE(d->find("uint16_u")->implemented());
  EXPECT_DOUBLE_EQ(*d->value("acc16"), 42);
  EXPECT_FALSE(d->find("acc16_u")->implemented());
  EXPECT_DOUBLE_EQ(*d->value("enum16"), 3);
  EXPECT_FALSE(d->find("enum16_u")->implemented());
  EXPECT_EQ(std::get<std::uint64_t>(d->find("bitfield16")->raw), 5u);
  EXPECT_DOUBLE_EQ(*d->value("int32_1"), -2000);
  EXPECT_NEAR(*d->value("int32_2"), 655.36, 1e-9);
  EXPECT_FALSE(d->find("int32_u")->implemented());
  EXPECT_DOUBLE_EQ(*d->value("uint32_4"), 250);
  EXPECT_FALSE(d->find("uint32_u")->implemented());
  EXPECT_DOUBLE_EQ(*d->value("acc32"), 100000);
  EXPECT_EQ(std::get<std::string>(d->find("ipaddr")->raw), "192.168.1.2");
  EXPECT_FALSE(d->find("ipaddr_u")->implemented());
  EXPECT_EQ(std::get<std::int64_t>(d->find("int64")->raw), -3);
  EXPECT_FALSE(d->find("int64_u")->implemented());
  EXPECT_EQ(std::get<std::uint64_t>(d->find("acc64")->raw), 65536u);
  EXPECT_EQ(std::get<std::string>(d->find("ipv6addr")->raw), "fe80:0000:0000:0000:0000:0000:0000:0001");
  EXPECT_FALSE(d->find("ipv6addr_u")->implemented());
  EXPECT_DOUBLE_EQ(*d->value("float32"), 1.5);
  EXPECT_FALSE(d->find("float32_u")->implemented());
  EXPECT_EQ(std::get<std::string>(d->find("string")->raw), "vpp1");
  EXPECT_FALSE(d->find("string_u")->implemented());
  EXPECT_EQ(d->find("pad_1"), nullptr) << "pad points are not reported";
  // Repeating groups: count from L, group-local and parent scale factors.
  EXPECT_EQ(d->repeats.at("repeating"), 2u);
  EXPECT_DOUBLE_EQ(*d->value("repeating[0].int16_11"), 10);
  EXPECT_DOUBLE_EQ(*d->value("repeating[1].int16_11"), 1.0);
  EXPECT_FALSE(d->find("repeating[1].int16_12")->implemented());
  EXPECT_DOUBLE_EQ(*d->value("repeating[1].int32"), 0.4);
  EXPECT_EQ(d->find("repeating[1].int32")->address, 154 + 8);
}

TEST(SunSpecCodec, RejectsMalformedBlocksWithAReason) {
  auto regs = test_model_image();
  auto wrong_id = regs;
  wrong_id[0] = 1;
  auto r = decode_model(model(63001), wrong_id);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("block starts with ID 1"), std::string::npos) << r.error();

  auto short_l = regs;
  short_l[1] = 100;
  r = decode_model(model(63001), short_l);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("shorter than"), std::string::npos) << r.error();

  auto ragged = regs;
  ragged[1] = 134 + 20;  // not a whole number of 18-register groups
  r = decode_model(model(63001), ragged);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("whole number"), std::string::npos) << r.error();

  r = decode_model(model(63001), std::span(regs).first(100));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("only 100 registers"), std::string::npos) << r.error();

  r = decode_model(model(63001), std::span(regs).first(1));
  ASSERT_FALSE(r);
}

TEST(SunSpecCodec, ByPointRepeatCountMustFit) {
  // Model 714: NPrt ports of 25 registers after an 18-register fixed part.
  auto img = encode_model(model(714), {{"DCW", std::int64_t(1500)}, {"DCW_SF", std::int64_t(0)},
                                       {"Prt[0].DCW", std::int64_t(1000)}, {"Prt[1].DCW", std::int64_t(500)}},
                          2);
  ASSERT_TRUE(img) << img.error();
  EXPECT_EQ((*img)[1], 18 + 2 * 25);
  auto d = decode_model(model(714), *img);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->repeats.at("Prt"), 2u);
  EXPECT_DOUBLE_EQ(*d->value("NPrt"), 2);
  EXPECT_DOUBLE_EQ(*d->value("Prt[1].DCW"), 500);
  // Claim 3 ports in a block that holds 2.
  auto lie = *img;
  const auto nprt = find_point(model(714).group, "NPrt")->offset;
  lie[nprt] = 3;
  auto r = decode_model(model(714), lie);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("do not fit"), std::string::npos) << r.error();
}

TEST(SunSpecCodec, EncodeModelRoundTripsAndRejectsUnknownPaths) {
  std::map<std::string, RawValue> v{{"sunssf_1", std::int64_t(-1)}, {"int16_1", std::int64_t(-123)},
                                    {"uint32_1", std::uint64_t(4000000000u)}, {"string", std::string("hello")},
                                    {"float32", 2.25}, {"ipaddr", std::string("10.0.0.1")},
                                    {"repeating[1].uint16_11", std::uint64_t(9)}};
  auto img = encode_model(model(63001), v, 2);
  ASSERT_TRUE(img) << img.error();
  auto d = decode_model(model(63001), *img);
  ASSERT_TRUE(d) << d.error();
  for (const auto& [path, raw] : v) EXPECT_EQ(d->find(path)->raw, raw) << path;
  EXPECT_FALSE(d->find("int16_2")->implemented()) << "unset points are the sentinel";

  auto bad = encode_model(model(63001), {{"no_such_point", std::int64_t(1)}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("no point 'no_such_point'"), std::string::npos);
  bad = encode_model(model(63001), {{"int16_1", std::int64_t(40000)}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("int16_1"), std::string::npos);
  bad = encode_model(model(63001), {{"string", std::string(33, 'x')}});
  ASSERT_FALSE(bad);
  bad = encode_model(model(103), {}, 2);
  ASSERT_FALSE(bad) << "model 103 has no repeating group";
}

TEST(SunSpecCodec, EveryDeviceModelRoundTripsAnEmptyBlock) {
  // An all-sentinel block of every model (with 2 repeating groups where the model has them)
  // decodes to the model's ID and L and no implemented point: the generated tables and the codec
  // agree on every offset, size and sentinel.
  for (const auto& def : all_models()) {
    bool repeating = false;
    for (const auto& g : def.group.groups) repeating = repeating || g.repeat != GroupRepeat::once;
    auto img = encode_model(def, {}, repeating ? 2 : 0);
    ASSERT_TRUE(img) << def.id << ": " << img.error();
    auto d = decode_model(def, *img);
    ASSERT_TRUE(d) << def.id << ": " << d.error();
    EXPECT_EQ(d->length, img->size() - 2) << def.id;
    for (const auto& p : d->points) {
      const bool counted = p.def->type == PointType::count || p.def->type == PointType::raw16 ||
                           (p.def->type == PointType::uint16 && def.id == 714 && p.path == "NPrt");
      if (p.path == "ID" || p.path == "L" || counted) continue;
      EXPECT_FALSE(p.implemented()) << def.id << " " << p.path;
    }
  }
}

TEST(SunSpecCodec, ScaleForWrite) {
  const PointDef& lim = *find_point(model(123).group, "WMaxLimPct");  // uint16
  auto r = scale_for_write(lim, 50.0, -2);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(std::get<std::uint64_t>(*r), 5000u);
  EXPECT_FALSE(scale_for_write(lim, -1.0, -2)) << "negative into uint16";
  EXPECT_FALSE(scale_for_write(lim, 700.0, -2)) << "70000 does not fit uint16";
  EXPECT_FALSE(scale_for_write(lim, 655.35, -2)) << "65535 is the uint16 sentinel";
  EXPECT_FALSE(scale_for_write(lim, std::nan(""), -2));
  const PointDef& wset = *find_point(model(704).group, "WSet");  // int32
  r = scale_for_write(wset, -250000.0, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<std::int64_t>(*r), -250000);
  auto regs = encode_raw(wset, *r);
  ASSERT_TRUE(regs);
  EXPECT_EQ(*regs, (std::vector<std::uint16_t>{0xFFFC, 0x2F70}));
}

}  // namespace
}  // namespace vpp::sunspec
