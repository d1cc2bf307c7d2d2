// The API over real HTTP on loopback: every route's success, 400 with the field path, 401,
// 403 across roles and tenants, 404, and 429; plus lifecycle, reports, limits and OpenAPI.
#include <gtest/gtest.h>

#include <set>

#include "api_fixture.hpp"
#include "proto/api.pb.h"

namespace vpp::http::testing {
namespace {

namespace pb = vpp::v1;

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : h(ApiOptions{.rate_limit_per_s = 1e6}) {
    EXPECT_EQ(h.call("op", "POST", "/api/v1/sites", site_json("office-a")).status, 201);
    EXPECT_EQ(h.call("op", "POST", "/api/v1/sites", site_json("office-b")).status, 201);
    EXPECT_EQ(h.call("op", "POST", "/api/v1/events", event_json("ev-1", "2026-07-07T07:00:00Z")).status, 201);
  }
  ServerHarness h;
};

// One row per route and outcome: who calls, what, and what must come back.
struct Case {
  const char* name;
  const char* who;
  const char* method;
  std::string target;
  std::string body;
  int status;
  const char* field = nullptr;   // for 400: the field path the error must name
};

void run_cases(ServerHarness& h, const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    const auto r = h.call(c.who, c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << c.method << " " << c.target << " -> " << r.body;
    if (c.field) {
      EXPECT_EQ(error_of(r).first, c.field) << c.name << ": " << r.body;
    }
    if (c.status >= 400) {
      EXPECT_FALSE(error_of(r).second.empty()) << c.name << " has no reason: " << r.body;
    }
  }
}

TEST_F(ApiTest, EventRoutes) {
  run_cases(h, {
      // POST /events
      {"create", "op", "POST", "/api/v1/events", event_json("ev-2", "2026-07-07T08:00:00Z"), 201},
      {"create bad target", "op", "POST", "/api/v1/events",
       R"({"eventId":"ev-3","start":"2026-07-07T08:00:00Z","duration":"3600s","targetReductionKw":-5})", 400,
       "targetReductionKw"},
      {"create two targets", "op", "POST", "/api/v1/events",
       R"({"eventId":"ev-3","start":"2026-07-07T08:00:00Z","duration":"3600s","targetReductionKw":5,"importCapKw":9})",
       400, "targetReductionKw"},
      {"create bad time", "op", "POST", "/api/v1/events",
       R"({"eventId":"ev-3","start":"tomorrow","duration":"3600s","targetReductionKw":5})", 400, "start"},
      {"create ramp too long", "op", "POST", "/api/v1/events",
       R"({"eventId":"ev-3","start":"2026-07-07T08:00:00Z","duration":"3600s","ramp":"3600s","importCapKw":5})", 400,
       "ramp"},
      {"create in the past", "op", "POST", "/api/v1/events",
       R"({"eventId":"ev-3","start":"2026-07-07T01:00:00Z","duration":"3600s","importCapKw":5})", 400, "start"},
      {"create bad site id", "op", "POST", "/api/v1/events", event_json("ev-3", "2026-07-07T08:00:00Z", R"(,"siteIds":["a b"])"),
       400, "siteIds[0]"},
      {"create no token", "", "POST", "/api/v1/events", event_json("ev-3", "2026-07-07T08:00:00Z"), 401},
      {"create manager", "mgr-a", "POST", "/api/v1/events", event_json("ev-3", "2026-07-07T08:00:00Z"), 403},
      {"create viewer", "view", "POST", "/api/v1/events", event_json("ev-3", "2026-07-07T08:00:00Z"), 403},
      {"create duplicate", "op", "POST", "/api/v1/events", event_json("ev-1", "2026-07-07T07:00:00Z"), 409, "eventId"},
      {"create unknown site", "op", "POST", "/api/v1/events",
       event_json("ev-3", "2026-07-07T08:00:00Z", R"(,"siteIds":["office-z"])"), 422, "siteIds[0]"},
      // GET /events
      {"list", "view", "GET", "/api/v1/events", "", 200},
      {"list by state", "mgr-b", "GET", "/api/v1/events?state=scheduled", "", 200},
      {"list bad state", "op", "GET", "/api/v1/events?state=sleeping", "", 400, "state"},
      {"list no token", "", "GET", "/api/v1/events", "", 401},
      // GET /events/{id}
      {"show", "view", "GET", "/api/v1/events/ev-1", "", 200},
      {"show unknown", "op", "GET", "/api/v1/events/ev-404", "", 404},
      {"show bad token", "nobody", "GET", "/api/v1/events/ev-1", "", 401},
      // PATCH /events/{id}
      {"patch", "op", "PATCH", "/api/v1/events/ev-2", R"({"targetReductionKw":250,"priority":3})", 200},
      {"patch negative duration", "op", "PATCH", "/api/v1/events/ev-2", R"({"duration":"-60s"})", 400, "duration"},
      {"patch unknown field", "op", "PATCH", "/api/v1/events/ev-2", R"({"siteIds":["office-a"]})", 400, "siteIds"},
      {"patch unknown", "op", "PATCH", "/api/v1/events/ev-404", R"({"priority":3})", 404},
      {"patch no token", "", "PATCH", "/api/v1/events/ev-2", R"({"priority":3})", 401},
      {"patch manager", "mgr-a", "PATCH", "/api/v1/events/ev-2", R"({"priority":3})", 403},
      // POST /events/{id}/opt-outs
      {"opt out own site", "mgr-a", "POST", "/api/v1/events/ev-1/opt-outs", R"({"siteId":"office-a","reason":"tenant party"})", 200},
      {"opt out no site", "mgr-a", "POST", "/api/v1/events/ev-1/opt-outs", R"({"reason":"x"})", 400, "siteId"},
      {"opt out wrong type", "mgr-a", "POST", "/api/v1/events/ev-1/opt-outs", R"({"siteId":7})", 400, "siteId"},
      {"opt out other tenant", "mgr-a", "POST", "/api/v1/events/ev-1/opt-outs", R"({"siteId":"office-b"})", 403},
      {"opt out viewer", "view", "POST", "/api/v1/events/ev-1/opt-outs", R"({"siteId":"office-b"})", 403},
      {"opt out unknown event", "mgr-a", "POST", "/api/v1/events/ev-404/opt-outs", R"({"siteId":"office-a"})", 404},
      {"opt out no token", "", "POST", "/api/v1/events/ev-1/opt-outs", R"({"siteId":"office-a"})", 401},
      // GET /events/{id}/report
      {"report", "view", "GET", "/api/v1/events/ev-1/report", "", 200},
      {"report csv", "op", "GET", "/api/v1/events/ev-1/report?format=csv", "", 200},
      {"report bad format", "op", "GET", "/api/v1/events/ev-1/report?format=xml", "", 400, "format"},
      {"report unknown", "op", "GET", "/api/v1/events/ev-404/report", "", 404},
      {"report no token", "", "GET", "/api/v1/events/ev-1/report", "", 401},
      // POST /events/{id}/cancel
      {"cancel viewer", "view", "POST", "/api/v1/events/ev-2/cancel", "", 403},
      {"cancel bad body", "op", "POST", "/api/v1/events/ev-2/cancel", R"({"reason":5})", 400, "reason"},
      {"cancel unknown", "op", "POST", "/api/v1/events/ev-404/cancel", "", 404},
      {"cancel no token", "", "POST", "/api/v1/events/ev-2/cancel", "", 401},
      {"cancel", "op", "POST", "/api/v1/events/ev-2/cancel", R"({"reason":"grid recovered"})", 200},
      {"patch cancelled", "op", "PATCH", "/api/v1/events/ev-2", R"({"priority":4})", 409},
  });
}

TEST_F(ApiTest, SignalRoutes) {
  const std::string prices =
      R"({"currency":"CNY","interval":"3600s","importPrice":[{"start":"2026-07-07T00:00:00Z","value":0.3},{"start":"2026-07-07T10:00:00Z","value":1.2}]})";
  const std::string carbon = R"({"interval":"3600s","intensityKgPerKwh":[{"start":"2026-07-07T00:00:00Z","value":0.58}]})";
  run_cases(h, {
      {"prices", "op", "PUT", "/api/v1/signals/prices", prices, 200},
      {"prices out of order", "op", "PUT", "/api/v1/signals/prices",
       R"({"currency":"CNY","interval":"3600s","importPrice":[{"start":"2026-07-07T10:00:00Z","value":1},{"start":"2026-07-07T09:00:00Z","value":1}]})",
       400, "importPrice[1].start"},
      {"prices bad value", "op", "PUT", "/api/v1/signals/prices",
       R"({"currency":"CNY","interval":"3600s","importPrice":[{"start":"2026-07-07T10:00:00Z","value":"NaN"}]})", 400,
       "importPrice[0].value"},
      {"prices no token", "", "PUT", "/api/v1/signals/prices", prices, 401},
      {"prices manager", "mgr-a", "PUT", "/api/v1/signals/prices", prices, 403},
      {"carbon", "op", "PUT", "/api/v1/signals/carbon", carbon, 200},
      {"carbon negative", "op", "PUT", "/api/v1/signals/carbon",
       R"({"interval":"3600s","intensityKgPerKwh":[{"start":"2026-07-07T00:00:00Z","value":-1}]})", 400, "intensityKgPerKwh"},
      {"carbon no token", "", "PUT", "/api/v1/signals/carbon", carbon, 401},
      {"carbon viewer", "view", "PUT", "/api/v1/signals/carbon", carbon, 403},
      {"signals unknown", "op", "PUT", "/api/v1/signals/wind", carbon, 404},
  });
  ASSERT_NE(h.backend.prices(), nullptr);
  EXPECT_EQ(h.backend.prices()->import_price.size(), 2u);
  EXPECT_DOUBLE_EQ(h.backend.prices()->import_price[1].value, 1.2);
  ASSERT_NE(h.backend.carbon(), nullptr);
  EXPECT_DOUBLE_EQ(h.backend.carbon()->intensity_kg_per_kwh[0].value, 0.58);
}

TEST_F(ApiTest, SiteRoutes) {
  std::string bad_band = site_json("office-c");
  bad_band.replace(bad_band.find("\"comfortMaxC\":27"), 16, "\"comfortMaxC\":21");
  std::string bad_enum = site_json("office-c");
  bad_enum.replace(bad_enum.find("BUILDING_TYPE_OFFICE"), 20, "BUILDING_TYPE_CASTLE");
  std::string bad_asset = site_json("office-c");
  bad_asset.replace(bad_asset.find("\"capacityKwh\":1000"), 18, "\"capacityKwh\":0");
  std::string unknown_key = site_json("office-c");
  unknown_key.replace(unknown_key.find("\"batteryReservePct\""), 19, "\"batteryReservePcnt\"");
  run_cases(h, {
      // POST /sites
      {"enrol band", "mgr-a", "POST", "/api/v1/sites", bad_band, 400, "limits.comfortMaxC"},
      {"enrol enum", "mgr-a", "POST", "/api/v1/sites", bad_enum, 400, "buildingType"},
      {"enrol asset", "mgr-a", "POST", "/api/v1/sites", bad_asset, 400, "assets[1].battery.capacityKwh"},
      {"enrol unknown key", "mgr-a", "POST", "/api/v1/sites", unknown_key, 400, "limits.batteryReservePcnt"},
      {"enrol not json", "mgr-a", "POST", "/api/v1/sites", "{\"siteId\":", 400, ""},
      {"enrol other tenant", "mgr-a", "POST", "/api/v1/sites", site_json("office-d"), 403},
      {"enrol viewer", "view", "POST", "/api/v1/sites", site_json("office-c"), 403},
      {"enrol no token", "", "POST", "/api/v1/sites", site_json("office-c"), 401},
      {"enrol", "mgr-a", "POST", "/api/v1/sites", site_json("office-c"), 201},
      {"enrol again", "mgr-a", "POST", "/api/v1/sites", site_json("office-c"), 409, "siteId"},
      // GET /sites/{id}
      {"show own", "mgr-a", "GET", "/api/v1/sites/office-a", "", 200},
      {"show operator", "op", "GET", "/api/v1/sites/office-b", "", 200},
      {"show other tenant", "mgr-a", "GET", "/api/v1/sites/office-b", "", 403},
      {"show viewer", "view", "GET", "/api/v1/sites/office-a", "", 403},
      {"show unknown", "op", "GET", "/api/v1/sites/office-z", "", 404},
      {"show no token", "", "GET", "/api/v1/sites/office-a", "", 401},
      // PATCH /sites/{id}
      {"patch", "mgr-a", "PATCH", "/api/v1/sites/office-a", R"({"limits":{"comfortMaxC":26.5},"availability":{"windows":[]}})", 200},
      {"patch band", "mgr-a", "PATCH", "/api/v1/sites/office-a", R"({"limits":{"comfortMinC":30}})", 400, "limits.comfortMaxC"},
      {"patch window", "mgr-a", "PATCH", "/api/v1/sites/office-a",
       R"({"availability":{"windows":[{"daysOfWeek":[1,8],"startMinute":0,"endMinute":60}]}})", 400,
       "availability.windows[0].daysOfWeek[1]"},
      {"patch other tenant", "mgr-b", "PATCH", "/api/v1/sites/office-a", R"({"limits":{"comfortMaxC":26}})", 403},
      {"patch unknown", "op", "PATCH", "/api/v1/sites/office-z", R"({"limits":{"comfortMaxC":26}})", 404},
      {"patch no token", "", "PATCH", "/api/v1/sites/office-a", R"({"limits":{"comfortMaxC":26}})", 401},
      // GET /sites/{id}/commands
      {"commands", "mgr-b", "GET", "/api/v1/sites/office-b/commands?limit=5", "", 200},
      {"commands bad limit", "mgr-b", "GET", "/api/v1/sites/office-b/commands?limit=0", "", 400, "limit"},
      {"commands other tenant", "mgr-b", "GET", "/api/v1/sites/office-a/commands", "", 403},
      {"commands unknown", "op", "GET", "/api/v1/sites/office-z/commands", "", 404},
      {"commands no token", "", "GET", "/api/v1/sites/office-b/commands", "", 401},
      // DELETE /sites/{id}
      {"unenrol other tenant", "mgr-b", "DELETE", "/api/v1/sites/office-c", "", 403},
      {"unenrol viewer", "view", "DELETE", "/api/v1/sites/office-c", "", 403},
      {"unenrol no token", "", "DELETE", "/api/v1/sites/office-c", "", 401},
      {"unenrol", "mgr-a", "DELETE", "/api/v1/sites/office-c", "", 204},
      {"unenrol again", "mgr-a", "DELETE", "/api/v1/sites/office-c", "", 404},
      {"show unenrolled", "mgr-a", "GET", "/api/v1/sites/office-c", "", 404},
  });
  const auto site = parse<pb::SiteView>(h.call("op", "GET", "/api/v1/sites/office-a"));
  EXPECT_DOUBLE_EQ(site.site().limits().comfort_max_c(), 26.5);
  EXPECT_DOUBLE_EQ(site.site().limits().comfort_min_c(), 22);  // untouched by the patch
  EXPECT_EQ(site.site().limits().availability_size(), 0);      // replaced by the empty list
}

TEST_F(ApiTest, FleetAndServiceRoutes) {
  run_cases(h, {
      {"fleet viewer", "view", "GET", "/api/v1/fleet", "", 200},
      {"fleet manager", "mgr-a", "GET", "/api/v1/fleet", "", 200},
      {"fleet no token", "", "GET", "/api/v1/fleet", "", 401},
      {"healthz", "", "GET", "/healthz", "", 200},
      {"openapi", "", "GET", "/api/v1/openapi.json", "", 200},
      {"metrics", "view", "GET", "/metrics", "", 200},
      {"metrics no token", "", "GET", "/metrics", "", 401},
      {"unknown route", "op", "GET", "/api/v1/nothing", "", 404},
      {"unknown nested", "op", "GET", "/api/v1/events/ev-1/nothing", "", 404},
  });
  const auto r = h.call("op", "DELETE", "/api/v1/events");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.at("allow"), "POST, GET");
}

TEST_F(ApiTest, FleetFlexibilityIsTheNameplateHeadroomOfOnlineAvailableAssets) {
  // t0 = Tuesday 06:00 UTC; availability is 08:00-20:00 local (UTC here): the first 8 intervals
  // (06:00-08:00) offer nothing, the next ones offer both sites.
  h.backend.set_online("office-b", "battery", false, "no telemetry for 5 min");
  const auto f = parse<pb::FleetView>(h.call("view", "GET", "/api/v1/fleet"));
  EXPECT_EQ(f.sites(), 2);
  EXPECT_EQ(f.assets(), 8);
  EXPECT_EQ(f.assets_online(), 7);
  ASSERT_EQ(f.flexibility_size(), 16);
  EXPECT_DOUBLE_EQ(f.flexibility(0).up_kw(), 0);
  EXPECT_DOUBLE_EQ(f.flexibility(7).up_kw(), 0);
  // Up: office-a battery 400 + HVAC 500 x 30 % each site (150 + 150); office-b battery offline.
  EXPECT_DOUBLE_EQ(f.flexibility(8).up_kw(), 400 + 150 + 150);
  // Down: office-a battery charge 500 + PV 300 on both sites.
  EXPECT_DOUBLE_EQ(f.flexibility(8).down_kw(), 500 + 300 + 300);
  EXPECT_EQ(parse_json_value(h.call("view", "GET", "/api/v1/fleet").body)->struct_value().fields().at("assetStates").list_value().values(5).struct_value().fields().at("reason").string_value(),
            "no telemetry for 5 min");
}

TEST_F(ApiTest, EventLifecycleDeliveryAndReport) {
  auto ev = parse<pb::EventView>(h.call("view", "GET", "/api/v1/events/ev-1"));
  EXPECT_EQ(ev.state(), "scheduled");
  ASSERT_EQ(ev.transitions_size(), 2);
  EXPECT_EQ(ev.transitions(1).to(), "scheduled");
  EXPECT_FALSE(ev.has_delivery());

  h.clock.advance_to(*parse_utc("2026-07-07T07:30:00Z"));
  // Two settled intervals, two sites: requested 150 + 150 per interval.
  auto row = [](const char* start, double req, double base, double meter) {
    return controller::SettlementInterval{*parse_utc(start), req, base, meter, base - meter, (base - meter) / req};
  };
  h.backend.record_settlement("ev-1", "office-a", row("2026-07-07T07:00:00Z", 150, 1000, 880));
  h.backend.record_settlement("ev-1", "office-b", row("2026-07-07T07:00:00Z", 150, 800, 650));
  h.backend.record_settlement("ev-1", "office-a", row("2026-07-07T07:15:00Z", 150, 1000, 840));
  h.backend.record_settlement("ev-1", "office-b", row("2026-07-07T07:15:00Z", 150, 800, 660));

  ev = parse<pb::EventView>(h.call("view", "GET", "/api/v1/events/ev-1"));
  EXPECT_EQ(ev.state(), "active");
  EXPECT_EQ(ev.transitions(2).reason(), "start reached");
  ASSERT_TRUE(ev.has_delivery());
  EXPECT_DOUBLE_EQ(ev.delivery().delivered_kw(), 160 + 140);
  // kWh so far: (270 + 300) kW x 0.25 h.
  EXPECT_DOUBLE_EQ(ev.delivery().delivered_kwh(), (270 + 300) * 0.25);
  EXPECT_DOUBLE_EQ(ev.delivery().requested_kwh(), 600 * 0.25);

  const auto rep = parse<pb::EventReport>(h.call("op", "GET", "/api/v1/events/ev-1/report"));
  EXPECT_FALSE(rep.final());
  ASSERT_EQ(rep.fleet_size(), 2);
  EXPECT_DOUBLE_EQ(rep.fleet(0).delivered_kw(), 270);
  EXPECT_DOUBLE_EQ(rep.fleet(0).ratio(), 0.9);
  EXPECT_DOUBLE_EQ(rep.min_interval_ratio(), 0.9);
  ASSERT_EQ(rep.sites_size(), 2);
  EXPECT_EQ(rep.sites(0).site_id(), "office-a");
  EXPECT_DOUBLE_EQ(rep.sites(0).delivered_kwh(), (120 + 160) * 0.25);

  // CSV by Accept header, fixed decimals.
  const auto csv = h.call("op", "GET", "/api/v1/events/ev-1/report", "", {{"Accept", "text/csv"}});
  EXPECT_EQ(csv.status, 200);
  EXPECT_NE(csv.content_type.find("text/csv"), std::string::npos);
  EXPECT_NE(csv.body.find("ev-1,fleet,2026-07-07T07:00:00Z,300.000,1800.000,1530.000,270.000,0.9000\n"), std::string::npos)
      << csv.body;
  EXPECT_NE(csv.body.find("ev-1,site:office-b,2026-07-07T07:15:00Z,150.000,800.000,660.000,140.000,0.9333\n"),
            std::string::npos);

  // A site manager's report holds their own site only, without fleet totals.
  const auto mine = parse<pb::EventReport>(h.call("mgr-a", "GET", "/api/v1/events/ev-1/report"));
  EXPECT_EQ(mine.fleet_size(), 0);
  ASSERT_EQ(mine.sites_size(), 1);
  EXPECT_EQ(mine.sites(0).site_id(), "office-a");
  EXPECT_DOUBLE_EQ(mine.delivered_kwh(), (120 + 160) * 0.25);
  EXPECT_DOUBLE_EQ(mine.min_interval_ratio(), 0.8);

  // Ending the active event early by shortening it, then the report is final.
  EXPECT_EQ(h.call("op", "PATCH", "/api/v1/events/ev-1", R"({"duration":"1800s"})").status, 200);
  h.clock.advance_to(*parse_utc("2026-07-07T07:31:00Z"));
  ev = parse<pb::EventView>(h.call("op", "GET", "/api/v1/events/ev-1"));
  EXPECT_EQ(ev.state(), "completed");
  EXPECT_TRUE(ev.has_ended_at());
  EXPECT_TRUE(parse<pb::EventReport>(h.call("op", "GET", "/api/v1/events/ev-1/report")).final());
  EXPECT_EQ(h.call("mgr-a", "POST", "/api/v1/events/ev-1/opt-outs", R"({"siteId":"office-a"})").status, 409);
}

TEST_F(ApiTest, OptOutsOfOtherTenantsAreHiddenFromSiteManagers) {
  EXPECT_EQ(h.call("mgr-b", "POST", "/api/v1/events/ev-1/opt-outs", R"({"siteId":"office-b"})").status, 200);
  EXPECT_EQ(parse<pb::EventView>(h.call("op", "GET", "/api/v1/events/ev-1")).opted_out_sites_size(), 1);
  EXPECT_EQ(parse<pb::EventView>(h.call("mgr-a", "GET", "/api/v1/events/ev-1")).opted_out_sites_size(), 0);
  EXPECT_EQ(parse<pb::EventView>(h.call("mgr-b", "GET", "/api/v1/events/ev-1")).opted_out_sites(0), "office-b");
}

TEST_F(ApiTest, CommandLogExplainsEachCommandNewestFirst) {
  for (int i = 0; i < 3; ++i) {
    CommandRecord c;
    c.command = {"c" + std::to_string(i), "office-a", "battery", SetpointKind::battery_p_kw, 100.0 * i,
                 t0() + std::chrono::minutes(i), t0() + std::chrono::minutes(20 + i), "event ev-1 plan 7"};
    c.context = {"ev-1", "plan-7", "event:ev-1", 1.2, 0.58, "discharge to meet the event"};
    h.backend.record_command(c);
  }
  h.backend.record_ack({"c1", "office-a", "battery", AckStatus::accepted, t0() + std::chrono::minutes(1), "ok"});
  const auto log = parse<pb::CommandLog>(h.call("mgr-a", "GET", "/api/v1/sites/office-a/commands?limit=2"));
  ASSERT_EQ(log.commands_size(), 2);
  EXPECT_EQ(log.commands(0).command().command_id(), "c2");
  EXPECT_EQ(log.commands(1).ack_status(), "accepted");
  EXPECT_EQ(log.commands(1).context().plan_id(), "plan-7");
  EXPECT_DOUBLE_EQ(log.commands(1).context().import_price(), 1.2);
  EXPECT_EQ(log.commands(0).ack_status(), "pending");
}

TEST_F(ApiTest, ForbiddenIsCountedAndExposedInMetrics) {
  const auto before = h.service->counters().forbidden;
  EXPECT_EQ(h.call("mgr-a", "GET", "/api/v1/sites/office-b").status, 403);
  EXPECT_EQ(h.call("view", "POST", "/api/v1/events", event_json("x", "2026-07-07T09:00:00Z")).status, 403);
  const auto m = h.call("op", "GET", "/metrics");
  EXPECT_EQ(h.service->counters().forbidden, before + 2);
  EXPECT_NE(m.body.find("vpp_api_forbidden_total " + std::to_string(before + 2)), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("vpp_api_responses_total{status=\"201\"} 3"), std::string::npos) << m.body;
}

TEST_F(ApiTest, UnauthorizedCarriesAChallenge) {
  const auto r = h.call("", "GET", "/api/v1/events");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers.at("www-authenticate"), "Bearer realm=\"vpp\"");
  auto c = h.client("");
  const auto basic = c->request("GET", "/api/v1/events", "", {{"Authorization", "Basic b3A6c2VjcmV0LW9w"}});
  ASSERT_TRUE(basic.ok());
  EXPECT_EQ(basic->status, 401);
}

TEST_F(ApiTest, KeepAliveServesManyRequestsOnOneConnection) {
  const auto before = h.server->counters().connections;
  auto c = h.client("view");
  for (int i = 0; i < 20; ++i) {
    auto r = c->request("GET", "/api/v1/events/ev-1");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(h.server->counters().connections, before + 1);
}

TEST_F(ApiTest, EventIdIsGeneratedWhenAbsent) {
  const auto r = h.call("op", "POST", "/api/v1/events",
                        R"({"start":"2026-07-07T09:00:00Z","duration":"3600s","importCapKw":2000})");
  ASSERT_EQ(r.status, 201) << r.body;
  const auto ev = parse<pb::EventView>(r);
  EXPECT_EQ(ev.event().event_id().rfind("ev-", 0), 0u);
  EXPECT_EQ(r.headers.at("location"), "/api/v1/events/" + ev.event().event_id());
  EXPECT_DOUBLE_EQ(ev.event().import_cap_kw(), 2000);
}

// ------------------------------------------------------------------------------- limits

TEST(ApiLimits, OversizedBodyIs413AndTheServerKeepsServing) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  ServerHarness h(ApiOptions{.rate_limit_per_s = 1e6}, o);
  const std::string big = event_json("ev-big", "2026-07-07T08:00:00Z", ",\"program\":\"" + std::string(4000, 'x') + "\"");
  const auto r = h.call("op", "POST", "/api/v1/events", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(error_of(r).second.find("1024"), std::string::npos);
  EXPECT_EQ(h.server->counters().too_large, 1u);
  EXPECT_EQ(h.call("op", "GET", "/api/v1/events").status, 200);
}

TEST(ApiLimits, MalformedHttpIs400) {
  ServerHarness h(ApiOptions{.rate_limit_per_s = 1e6});
  auto c = h.client("op");
  const auto r = c->raw("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 400);
}

TEST(ApiLimits, EveryAuthenticatedRouteIsRateLimitedPerToken) {
  // One request a second, no burst: the second request within a second is refused.
  ServerHarness h(ApiOptions{.rate_limit_per_s = 1, .rate_burst = 1});
  for (const auto& route : ApiService::routes()) {
    if (route.path == "/healthz" || route.path == "/api/v1/openapi.json") continue;
    std::string target = route.path;
    if (auto p = target.find("{id}"); p != std::string::npos) target.replace(p, 4, "x1");
    h.clock.advance(std::chrono::seconds(1));
    const auto first = h.call("op", route.method, target, "{}");
    EXPECT_NE(first.status, 429) << route.method << " " << target;
    const auto second = h.call("op", route.method, target, "{}");
    EXPECT_EQ(second.status, 429) << route.method << " " << target;
    EXPECT_EQ(second.headers.count("retry-after"), 1u);
    // Another token has its own bucket.
    EXPECT_NE(h.call("view", route.method, target, "{}").status, 429);
  }
  EXPECT_GT(h.service->counters().rate_limited, 10u);
  // Tokens refill at the configured rate.
  h.clock.advance(std::chrono::seconds(1));
  EXPECT_EQ(h.call("op", "GET", "/api/v1/fleet").status, 200);
}

}  // namespace
}  // namespace vpp::http::testing
