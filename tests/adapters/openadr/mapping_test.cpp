// OpenADR objects, their mapping to grid signals and the report schedule: pure functions,
// hand-checked numbers.
#include <gtest/gtest.h>

#include "adapters/openadr/mapping.hpp"
#include "adapters/openadr/objects.hpp"
#include "adapters/openadr/reports.hpp"
#include "tests/adapters/openadr/fakes.hpp"

namespace vpp::openadr {
namespace {

using namespace std::chrono_literals;
using testing::event_json;
using testing::T0;

MappingConfig cfg() {
  MappingConfig c;
  c.ven_name = "campus-ven";
  c.site_of_resource = {{"RES-A", "site-a"}, {"RES-B", "site-b"}};
  c.simple_levels_kw["peak"] = {{1, 100.0}, {2, 200.0}, {3, 400.0}};
  c.emergency_import_cap_kw = 5;
  return c;
}

Event parse(const Json& j, SpecVersion v = SpecVersion::v3_0_1) {
  auto e = parse_event(j, v);
  EXPECT_TRUE(e) << (e ? "" : e.error());
  return e ? *e : Event{};
}

TEST(IsoDuration, ParsesAndFormatsTheSpecPattern) {
  EXPECT_EQ(parse_iso_duration("PT1H"), Duration(3'600'000));
  EXPECT_EQ(parse_iso_duration("PT15M"), Duration(900'000));
  EXPECT_EQ(parse_iso_duration("P1DT2H"), Duration(93'600'000));
  EXPECT_EQ(parse_iso_duration("P2W"), Duration(14LL * 86'400'000));
  EXPECT_EQ(parse_iso_duration("PT0.25S"), Duration(250));
  EXPECT_EQ(parse_iso_duration("PT0S"), Duration(0));
  EXPECT_EQ(parse_iso_duration("-PT5M"), Duration(-300'000));
  EXPECT_EQ(parse_iso_duration("P9999Y"), Duration(9999LL * 365 * 86'400'000));
  for (const char* bad : {"", "P", "PT", "1H", "PT1X", "P1DT", "PT-1H", "P1.5D", "PT1H ", "P99999999999Y"}) {
    EXPECT_FALSE(parse_iso_duration(bad)) << bad;
  }
  EXPECT_EQ(format_iso_duration(std::chrono::minutes(90)), "PT1H30M");
  EXPECT_EQ(format_iso_duration(Duration(0)), "PT0S");
  EXPECT_EQ(format_iso_duration(std::chrono::hours(48)), "P2D");
  EXPECT_EQ(format_iso_duration(Duration(1500)), "PT1.5S");
}

TEST(ParseEvent, SchemaViolationsNameTheField) {
  const Json good = event_json("ev-1", "prog-1", T0, 15min, "IMPORT_CAPACITY_LIMIT", {100.0});
  ASSERT_TRUE(parse_event(good, SpecVersion::v3_0_1));
  struct Case {
    std::function<void(Json&)> edit;
    std::string error;
  };
  const std::vector<Case> cases = {
      {[](Json& j) { j.erase("programID"); }, "programID: is required"},
      {[](Json& j) { j.erase("intervals"); }, "intervals: is required"},
      {[](Json& j) { j["programID"] = "bad id!"; }, "programID: must match"},
      {[](Json& j) { j["priority"] = -1; }, "priority: must be >= 0"},
      {[](Json& j) { j["priority"] = "high"; }, "priority: must be an integer"},
      {[](Json& j) { j["intervalPeriod"]["start"] = "yesterday"; }, "intervalPeriod.start: must be an RFC 3339"},
      {[](Json& j) { j["intervalPeriod"]["duration"] = "1 hour"; }, "intervalPeriod.duration: must be an ISO 8601"},
      {[](Json& j) { j["intervals"][0]["id"] = "zero"; }, "intervals[0].id: must be an integer"},
      {[](Json& j) { j["intervals"][0]["payloads"][0]["values"] = 5; }, "intervals[0].payloads[0].values: must be an array"},
      {[](Json& j) { j["intervals"][0]["payloads"][0]["values"] = Json::array({Json::array()}); },
       "intervals[0].payloads[0].values[0]: must be a number"},
      {[](Json& j) { j["intervals"][0]["payloads"][0].erase("type"); }, "intervals[0].payloads[0].type: is required"},
      {[](Json& j) { j["objectType"] = "PROGRAM"; }, "objectType: must be EVENT"},
      {[](Json& j) { j["targets"] = Json::array({"GROUP-1"}); }, "targets[0]: must be an object"},
      {[](Json& j) { j["reportDescriptors"] = Json::array({{{"payloadType", "USAGE"}, {"repeat", "twice"}}}); },
       "reportDescriptors[0].repeat: must be an integer"},
      {[](Json& j) { j["duration"] = "PT1H"; }, "duration: is not a 3.0.1 event field"},
  };
  for (const auto& c : cases) {
    Json j = good;
    c.edit(j);
    auto e = parse_event(j, SpecVersion::v3_0_1);
    ASSERT_FALSE(e) << c.error;
    EXPECT_NE(e.error().find(c.error), std::string::npos) << e.error();
  }
  // Intervals with duplicate ids.
  Json dup = event_json("ev-1", "prog-1", T0, 15min, "PRICE", {1.0, 2.0});
  dup["intervals"][1]["id"] = 0;
  EXPECT_FALSE(parse_event(dup, SpecVersion::v3_0_1));
}

TEST(ParseEvent, Version310TargetsAreStringsAndIntervalsOptional) {
  Json j = {{"id", "e1"}, {"programID", "p1"}, {"targets", Json::array({"RES-A"})}, {"duration", "PT1H"}};
  auto e = parse_event(j, SpecVersion::v3_1_0);
  ASSERT_TRUE(e) << e.error();
  ASSERT_EQ(e->targets.size(), 1u);
  EXPECT_EQ(e->targets[0].values[0], "RES-A");
  EXPECT_EQ(e->duration, std::chrono::hours(1));
  EXPECT_FALSE(parse_event(j, SpecVersion::v3_0_1));  // 3.0.1 requires intervals and valuesMap targets
}

TEST(ResolveIntervals, ContiguousDefaultsOwnPeriodsAndOpenEnd) {
  Json j = event_json("ev", "p", T0, 30min, "PRICE", {1.0, 2.0, 3.0});
  j["intervals"][2]["intervalPeriod"] = {{"start", format_time(T0 + 2h)}, {"duration", "PT0S"}};
  const Event e = parse(j);
  auto r = resolve_intervals(e, T0, 24h);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].start, T0);
  EXPECT_EQ((*r)[1].start, T0 + 30min);
  EXPECT_EQ((*r)[1].duration, 30min);
  EXPECT_EQ((*r)[2].start, T0 + 2h);
  EXPECT_TRUE((*r)[2].open_ended);
  EXPECT_EQ((*r)[2].duration, 24h);
  // An open-ended interval that is not the last is refused.
  Json k = event_json("ev", "p", T0, 0min, "PRICE", {1.0, 2.0});
  EXPECT_FALSE(resolve_intervals(parse(k), T0, 24h));
}

TEST(Priority, LowerOpenAdrNumberIsHigherCorePriority) {
  // OpenADR: 0 is the most important; the core: higher wins.
  EXPECT_EQ(core_priority(0), 1000);
  EXPECT_EQ(core_priority(1), 999);
  EXPECT_EQ(core_priority(5), 995);
  EXPECT_GT(core_priority(0), core_priority(1));
  EXPECT_GT(core_priority(3), core_priority(7));
  EXPECT_EQ(core_priority(999), 1);
  EXPECT_EQ(core_priority(5000), 1);       // clamped, still above "no priority"
  EXPECT_EQ(core_priority(std::nullopt), 0);  // no priority: the least important
  EXPECT_GT(kEmergencyCorePriority, core_priority(0));

  Json a = event_json("urgent", "p", T0, 1h, "IMPORT_CAPACITY_LIMIT", {500.0});
  a["priority"] = 0;
  Json b = event_json("routine", "p", T0, 1h, "IMPORT_CAPACITY_LIMIT", {300.0});
  b["priority"] = 4;
  auto ma = map_event(parse(a), "peak", cfg(), T0);
  auto mb = map_event(parse(b), "peak", cfg(), T0);
  ASSERT_TRUE(ma && mb);
  EXPECT_GT(ma->curtailments.at(0).priority, mb->curtailments.at(0).priority);
}

TEST(MapEvent, ImportCapRunsMergeAndChangedIntervalsSplit) {
  // Eight 15-minute intervals: 500, 500, 500, 500, 400, 400, 400, 400 kW.
  Json j = event_json("ev-7", "p", T0, 15min, "IMPORT_CAPACITY_LIMIT", {500.0, 500.0, 500.0, 500.0, 400.0, 400.0, 400.0, 400.0});
  j["payloadDescriptors"] = Json::array({{{"payloadType", "IMPORT_CAPACITY_LIMIT"}, {"units", "KW"}}});
  j["priority"] = 2;
  auto m = map_event(parse(j), "peak", cfg(), T0);
  ASSERT_TRUE(m) << m.error();
  ASSERT_EQ(m->curtailments.size(), 2u);
  const auto& c0 = m->curtailments[0];
  EXPECT_EQ(c0.event_id, "oadr-ev-7-cap-0");
  EXPECT_EQ(c0.start, T0);
  EXPECT_EQ(c0.duration, 1h);
  EXPECT_EQ(c0.import_cap_kw, 500.0);
  EXPECT_FALSE(c0.target_reduction_kw);
  EXPECT_EQ(c0.priority, 998);
  EXPECT_EQ(c0.program, "peak");
  EXPECT_EQ(c0.site_ids, (std::vector<std::string>{"site-a", "site-b"}));
  EXPECT_EQ(m->curtailments[1].event_id, "oadr-ev-7-cap-4");
  EXPECT_EQ(m->curtailments[1].start, T0 + 1h);
  EXPECT_EQ(m->curtailments[1].import_cap_kw, 400.0);
  EXPECT_EQ(m->intervals_of.at("oadr-ev-7-cap-4"), (std::vector<int>{4, 5, 6, 7}));
}

TEST(MapEvent, UnitsAreConverted) {
  Json j = event_json("e", "p", T0, 1h, "IMPORT_CAPACITY_LIMIT", {1.5});
  j["payloadDescriptors"] = Json::array({{{"payloadType", "IMPORT_CAPACITY_LIMIT"}, {"units", "MW"}}});
  auto m = map_event(parse(j), "peak", cfg(), T0);
  ASSERT_TRUE(m);
  EXPECT_DOUBLE_EQ(*m->curtailments[0].import_cap_kw, 1500.0);
  j["payloadDescriptors"][0]["units"] = "KVAR";
  auto bad = map_event(parse(j), "peak", cfg(), T0);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("unsupported units 'KVAR'"), std::string::npos);
}

TEST(MapEvent, SimpleLevelsUseTheProgramTable) {
  Json j = event_json("s", "p", T0, 30min, "SIMPLE", {0, 1, 3, 3});
  auto m = map_event(parse(j), "peak", cfg(), T0);
  ASSERT_TRUE(m) << m.error();
  ASSERT_EQ(m->curtailments.size(), 2u);  // level 0 asks nothing
  EXPECT_EQ(m->curtailments[0].start, T0 + 30min);
  EXPECT_EQ(m->curtailments[0].target_reduction_kw, 100.0);
  EXPECT_EQ(m->curtailments[1].start, T0 + 1h);
  EXPECT_EQ(m->curtailments[1].duration, 1h);
  EXPECT_EQ(m->curtailments[1].target_reduction_kw, 400.0);
  // A program without a table, and a level out of range, reject the event.
  auto none = map_event(parse(j), "prices", cfg(), T0);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("no reduction configured for SIMPLE level 1 of program 'prices'"), std::string::npos);
  EXPECT_FALSE(map_event(parse(event_json("s", "p", T0, 30min, "SIMPLE", {4})), "peak", cfg(), T0));
  EXPECT_FALSE(map_event(parse(event_json("s", "p", T0, 30min, "SIMPLE", {1.5})), "peak", cfg(), T0));
  EXPECT_FALSE(map_event(parse(event_json("s", "p", T0, 30min, "SIMPLE", {"high"})), "peak", cfg(), T0));
}

TEST(MapEvent, SetpointsEmergencyPricesCarbonExportAndUnknownTypes) {
  Json j = {{"id", "mix"}, {"programID", "p"}, {"priority", 1},
            {"intervalPeriod", {{"start", format_time(T0)}, {"duration", "PT1H"}}},
            {"payloadDescriptors", Json::array({{{"payloadType", "PRICE"}, {"units", "KWH"}, {"currency", "CNY"}},
                                                {{"payloadType", "EXPORT_PRICE"}, {"units", "MWH"}, {"currency", "CNY"}}})},
            {"intervals",
             Json::array({{{"id", 0},
                           {"payloads", Json::array({{{"type", "DISPATCH_SETPOINT"}, {"values", {800.0}}},
                                                     {{"type", "PRICE"}, {"values", {1.2}}},
                                                     {{"type", "EXPORT_PRICE"}, {"values", {300.0}}},
                                                     {{"type", "GHG"}, {"values", {581.0}}},
                                                     {{"type", "EXPORT_CAPACITY_LIMIT"}, {"values", {50.0}}},
                                                     {{"type", "ALERT_FIRE"}, {"values", {"smoke"}}},
                                                     {{"type", "X-PRIVATE"}, {"values", {1}}}})}},
                          {{"id", 1},
                           {"payloads", Json::array({{{"type", "DISPATCH_SETPOINT_RELATIVE"}, {"values", {-120.0}}},
                                                     {{"type", "ALERT_GRID_EMERGENCY"}, {"values", {"shed now"}}},
                                                     {{"type", "PRICE"}, {"values", {0.4}}}})}}})}};
  auto m = map_event(parse(j), "peak", cfg(), T0);
  ASSERT_TRUE(m) << m.error();
  std::map<std::string, const CurtailmentEvent*> by_id;
  for (const auto& c : m->curtailments) by_id[c.event_id] = &c;
  ASSERT_EQ(by_id.size(), 3u);
  EXPECT_EQ(by_id.at("oadr-mix-setpoint-0")->import_cap_kw, 800.0);
  EXPECT_EQ(by_id.at("oadr-mix-setpoint-0")->priority, 999);
  EXPECT_EQ(by_id.at("oadr-mix-relative-1")->target_reduction_kw, 120.0);
  EXPECT_EQ(by_id.at("oadr-mix-relative-1")->start, T0 + 1h);
  EXPECT_EQ(by_id.at("oadr-mix-emergency-1")->import_cap_kw, 5.0);
  EXPECT_EQ(by_id.at("oadr-mix-emergency-1")->priority, kEmergencyCorePriority);
  ASSERT_EQ(m->import_price.size(), 2u);
  EXPECT_DOUBLE_EQ(m->import_price[0].value, 1.2);
  EXPECT_EQ(m->import_price[1].start, T0 + 1h);
  ASSERT_EQ(m->export_price.size(), 1u);
  EXPECT_DOUBLE_EQ(m->export_price[0].value, 0.3);  // 300 per MWh = 0.3 per kWh
  EXPECT_EQ(m->currency, "CNY");
  ASSERT_EQ(m->carbon_kg_per_kwh.size(), 1u);
  EXPECT_DOUBLE_EQ(m->carbon_kg_per_kwh[0].value, 0.581);  // g/kWh -> kg/kWh
  EXPECT_EQ(m->series_interval, 1h);
  ASSERT_EQ(m->export_limits.size(), 1u);
  EXPECT_EQ(m->export_limits[0].export_cap_kw, 50.0);
  EXPECT_EQ(m->export_limits[0].duration, 1h);
  EXPECT_EQ(m->ignored.size(), 2u);  // ALERT_FIRE and the private type
}

TEST(MapEvent, TargetsSelectSitesOrExcludeTheVen) {
  Json j = event_json("t", "p", T0, 1h, "IMPORT_CAPACITY_LIMIT", {100.0});
  j["targets"] = Json::array({{{"type", "RESOURCE_NAME"}, {"values", {"RES-B", "SOMEONE-ELSE"}}}});
  auto m = map_event(parse(j), "peak", cfg(), T0);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->applies);
  EXPECT_EQ(m->curtailments[0].site_ids, (std::vector<std::string>{"site-b"}));

  j["targets"] = Json::array({{{"type", "RESOURCE_NAME"}, {"values", {"SOMEONE-ELSE"}}}});
  m = map_event(parse(j), "peak", cfg(), T0);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->applies);
  EXPECT_TRUE(m->curtailments.empty());

  j["targets"] = Json::array({{{"type", "VEN_NAME"}, {"values", {"other-ven"}}}});
  EXPECT_FALSE(map_event(parse(j), "peak", cfg(), T0)->applies);
  j["targets"] = Json::array({{{"type", "VEN_NAME"}, {"values", {"campus-ven"}}}, {{"type", "GROUP"}, {"values", {"north"}}}});
  m = map_event(parse(j), "peak", cfg(), T0);
  EXPECT_TRUE(m->applies);
  EXPECT_EQ(m->curtailments[0].site_ids.size(), 2u);
}

TEST(MapEvent, RandomizedStartIsDeterministicAndBounded) {
  Json j = event_json("r", "p", T0, 1h, "IMPORT_CAPACITY_LIMIT", {100.0});
  j["intervalPeriod"]["randomizeStart"] = "PT10M";
  auto m1 = map_event(parse(j), "peak", cfg(), T0);
  auto m2 = map_event(parse(j), "peak", cfg(), T0);
  ASSERT_TRUE(m1 && m2);
  const auto start = m1->curtailments[0].start;
  EXPECT_EQ(start, m2->curtailments[0].start);  // re-polling never moves it
  EXPECT_GE(start, T0);
  EXPECT_LE(start, T0 + 10min);
  EXPECT_EQ(m1->curtailments[0].duration, 1h);
  EXPECT_EQ(start - T0, random_start_offset("campus-ven", "r", 0, 10min));
  // Different VENs spread out: over 50 VEN names the offsets are not all the same.
  std::set<long long> offsets;
  for (int i = 0; i < 50; ++i) offsets.insert(random_start_offset("ven-" + std::to_string(i), "r", 0, 10min).count());
  EXPECT_GT(offsets.size(), 40u);
}

TEST(ReportSchedule, DescriptorsGiveDueTimesAndCoveredIntervals) {
  Json j = event_json("ev", "p", T0, 15min, "IMPORT_CAPACITY_LIMIT", {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0});
  j["reportDescriptors"] = Json::array({
      {{"payloadType", "DELTA_USAGE"}},                                                            // defaults: once at the end, all
      {{"payloadType", "USAGE"}, {"startInterval", 1}, {"numIntervals", 2}, {"frequency", 2}, {"repeat", -1}},
      {{"payloadType", "BASELINE"}, {"startInterval", 0}, {"numIntervals", 1}, {"repeat", 3}},
      {{"payloadType", "LOAD_SHED_DELTA_AVAILABLE"}, {"historical", false}, {"startInterval", 0}, {"numIntervals", 4},
       {"frequency", 4}, {"repeat", 2}},
  });
  const Event e = parse(j);
  auto iv = resolve_intervals(e, T0, 24h);
  ASSERT_TRUE(iv);
  const auto s = report_schedule(e, *iv, 1min);
  std::map<std::size_t, std::vector<const ReportInstance*>> by_desc;
  for (const auto& r : s) by_desc[r.descriptor].push_back(&r);
  ASSERT_EQ(by_desc[0].size(), 1u);
  EXPECT_EQ(by_desc[0][0]->due, T0 + 2h + 1min);
  EXPECT_EQ(by_desc[0][0]->positions.size(), 8u);
  EXPECT_EQ(by_desc[0][0]->key, "ev.0.0");
  // startInterval 1, 2 intervals, every 2, forever: ends at 1, 3, 5, 7.
  ASSERT_EQ(by_desc[1].size(), 4u);
  EXPECT_EQ(by_desc[1][0]->positions, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(by_desc[1][0]->due, T0 + 30min + 1min);
  EXPECT_EQ(by_desc[1][3]->positions, (std::vector<std::size_t>{6, 7}));
  // One interval, frequency -1 = numIntervals = 1, three times.
  ASSERT_EQ(by_desc[2].size(), 3u);
  EXPECT_EQ(by_desc[2][2]->positions, (std::vector<std::size_t>{2}));
  EXPECT_EQ(by_desc[2][2]->due, T0 + 45min + 1min);
  // Forecast: at the start of intervals 0 and 4, four intervals each.
  ASSERT_EQ(by_desc[3].size(), 2u);
  EXPECT_EQ(by_desc[3][1]->due, T0 + 1h);
  EXPECT_EQ(by_desc[3][1]->positions, (std::vector<std::size_t>{4, 5, 6, 7}));
}

TEST(BuildReport, DeltaUsageBaselineAndUsageAreTheSettlementFigures) {
  // One 30-minute OpenADR interval over two 15-minute settlement intervals.
  Json j = event_json("ev", "prog-1", T0, 30min, "IMPORT_CAPACITY_LIMIT", {800.0, 800.0});
  j["reportDescriptors"] = Json::array({{{"payloadType", "DELTA_USAGE"}, {"units", "KW"}},
                                        {{"payloadType", "BASELINE"}, {"aggregate", true}},
                                        {{"payloadType", "USAGE"}, {"units", "KWH"}}});
  const Event e = parse(j);
  auto m = map_event(e, "peak", cfg(), T0);
  ASSERT_TRUE(m);
  testing::FakeSource src;
  controller::EventReport rep;
  rep.event_id = "oadr-ev-cap-0";
  rep.fleet = testing::rows(T0, {1000, 1000, 1100, 1100}, {800, 780, 820, 790}, 200);
  rep.sites["site-a"] = testing::rows(T0, {600, 600, 700, 700}, {500, 480, 520, 490}, 120);
  rep.sites["site-b"] = testing::rows(T0, {400, 400, 400, 400}, {300, 300, 300, 300}, 80);
  src.settlements[rep.event_id] = rep;
  ReportContext ctx;
  ctx.ven_name = "campus-ven";
  ctx.site_of_resource = cfg().site_of_resource;
  auto sched = report_schedule(e, m->intervals, 1min);
  ASSERT_EQ(sched.size(), 3u);

  auto delta = build_report(e, *m, sched[0], ctx, src, T0 + 2h);
  EXPECT_EQ(delta.values, 4);
  EXPECT_EQ(delta.missing, 0);
  const Json& body = delta.body;
  EXPECT_EQ(body["programID"], "prog-1");
  EXPECT_EQ(body["eventID"], "ev");
  EXPECT_EQ(body["clientName"], "campus-ven");
  EXPECT_EQ(body["reportName"], "vpp-ev.0.0");
  EXPECT_EQ(body["payloadDescriptors"][0]["payloadType"], "DELTA_USAGE");
  ASSERT_EQ(body["resources"].size(), 2u);
  EXPECT_EQ(body["resources"][0]["resourceName"], "RES-A");
  // site-a, interval 0: mean of (600-500, 600-480) = 110 kW; interval 1: mean of (180, 210) = 195.
  EXPECT_DOUBLE_EQ(body["resources"][0]["intervals"][0]["payloads"][0]["values"][0].get<double>(), 110.0);
  EXPECT_DOUBLE_EQ(body["resources"][0]["intervals"][1]["payloads"][0]["values"][0].get<double>(), 195.0);
  EXPECT_EQ(body["resources"][0]["intervals"][1]["intervalPeriod"]["start"], format_time(T0 + 30min));
  EXPECT_EQ(body["resources"][0]["intervals"][1]["intervalPeriod"]["duration"], "PT30M");
  EXPECT_DOUBLE_EQ(body["resources"][1]["intervals"][0]["payloads"][0]["values"][0].get<double>(), 100.0);

  auto base = build_report(e, *m, sched[1], ctx, src, T0 + 2h);
  ASSERT_EQ(base.body["resources"].size(), 1u);
  EXPECT_EQ(base.body["resources"][0]["resourceName"], "AGGREGATED_REPORT");
  EXPECT_DOUBLE_EQ(base.body["resources"][0]["intervals"][1]["payloads"][0]["values"][0].get<double>(), 1100.0);

  // kWh: site-b metered 300 kW for half an hour = 150 kWh.
  auto usage = build_report(e, *m, sched[2], ctx, src, T0 + 2h);
  EXPECT_DOUBLE_EQ(usage.body["resources"][1]["intervals"][0]["payloads"][0]["values"][0].get<double>(), 150.0);
  EXPECT_EQ(usage.body["payloadDescriptors"][0]["units"], "KWH");

  // A settlement that lacks the second half of interval 1 leaves that value missing, not made up.
  rep.fleet.pop_back();
  rep.sites["site-a"].pop_back();
  rep.sites["site-b"].pop_back();
  src.settlements[rep.event_id] = rep;
  auto partial = build_report(e, *m, sched[0], ctx, src, T0 + 2h);
  EXPECT_EQ(partial.values, 2);
  EXPECT_EQ(partial.missing, 2);
}

TEST(BuildReport, ShedAndStorageFromTheSource) {
  Json j = event_json("ev", "prog-1", T0, 1h, "SIMPLE", {1});
  j["reportDescriptors"] = Json::array({{{"payloadType", "LOAD_SHED_DELTA_AVAILABLE"}, {"historical", false}, {"startInterval", 0}},
                                        {{"payloadType", "STORAGE_CHARGE_LEVEL"}},
                                        {{"payloadType", "STORAGE_USABLE_CAPACITY"}, {"aggregate", true}}});
  const Event e = parse(j);
  auto m = map_event(e, "peak", cfg(), T0);
  ASSERT_TRUE(m);
  testing::FakeSource src;
  src.shed_kw = {{"site-a", 40}, {"site-b", 25}};
  src.storage_state["site-a"] = {.soc_pct = 62.5, .usable_capacity_kwh = 900, .charge_level_kwh = 562.5};
  src.storage_state["site-b"] = {.soc_pct = 50, .usable_capacity_kwh = 100, .charge_level_kwh = 50};
  ReportContext ctx;
  ctx.ven_name = "campus-ven";
  ctx.site_of_resource = cfg().site_of_resource;
  auto sched = report_schedule(e, m->intervals, 1min);
  ASSERT_EQ(sched.size(), 3u);
  auto shed = build_report(e, *m, sched[0], ctx, src, T0);
  EXPECT_EQ(shed.body["payloadDescriptors"][0]["readingType"], "FORECAST");
  EXPECT_DOUBLE_EQ(shed.body["resources"][1]["intervals"][0]["payloads"][0]["values"][0].get<double>(), 25.0);
  auto soc = build_report(e, *m, sched[1], ctx, src, T0 + 2h);
  EXPECT_EQ(soc.body["payloadDescriptors"][0]["units"], "PERCENT");
  EXPECT_DOUBLE_EQ(soc.body["resources"][0]["intervals"][0]["payloads"][0]["values"][0].get<double>(), 62.5);
  auto cap = build_report(e, *m, sched[2], ctx, src, T0 + 2h);
  EXPECT_DOUBLE_EQ(cap.body["resources"][0]["intervals"][0]["payloads"][0]["values"][0].get<double>(), 1000.0);
}

}  // namespace
}  // namespace vpp::openadr
