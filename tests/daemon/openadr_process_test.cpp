// vppd as an OpenADR 3 VEN, as a real process: the test VTN (tests/adapters/openadr/test_vtn.py)
// on loopback publishes a program and an IMPORT_CAPACITY_LIMIT event with DELTA_USAGE report
// descriptors; vppd, configured with client credentials and nothing else, must fetch it, run it
// as a controller event against a site served over MQTT, and send the VTN one report per
// interval carrying its own settlement figures. Its webhook answers the VTN's echo check and its
// status document is served at /api/v1/openadr/status. Settles at 1-minute intervals, so it
// takes a few minutes of wall time.
#include <gtest/gtest.h>

#include "tests/adapters/openadr/fakes.hpp"
#include "tests/adapters/openadr/peers.hpp"
#include "controller/core.hpp"
#include "tests/daemon/harness.hpp"

namespace vpp::test {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
namespace pb = vpp::v1;
namespace oadr = vpp::openadr::testing;

// An import cap over `n` one-minute intervals from `start`, reported as DELTA_USAGE per interval.
Json cap_event(const std::string& id, const std::string& program_id, TimePoint start, int n, double cap_kw) {
  Json ev = oadr::event_json(id, program_id, start, 1min, "IMPORT_CAPACITY_LIMIT",
                             std::vector<Json>(static_cast<std::size_t>(n), cap_kw));
  ev["priority"] = 1;
  ev["payloadDescriptors"] =
      Json::array({{{"objectType", "EVENT_PAYLOAD_DESCRIPTOR"}, {"payloadType", "IMPORT_CAPACITY_LIMIT"}, {"units", "KW"}}});
  ev["reportDescriptors"] = Json::array({{{"payloadType", "DELTA_USAGE"}, {"readingType", "DIRECT_READ"}, {"units", "KW"},
                                          {"startInterval", 0}, {"numIntervals", 1}, {"repeat", -1}}});
  return ev;
}

std::string openadr_config(const DaemonSetup& s, const std::string& vtn_url) {
  const std::string secret = (s.dir / "openadr.secret").string();
  std::ofstream(secret) << "ven-secret\n";
  return "openadr:\n  vtn_url: " + vtn_url + "\n  client_id: ven-client\n  client_secret_file: " + secret +
         "\n  ven_name: campus-ven\n  poll_interval: 2s\n  request_timeout: 2s\n"
         "  callback_url: http://127.0.0.1:" + std::to_string(s.http_port) + "/openadr/callback\n"
         "  allow_http_callback: true\n"
         "  programs:\n    - name: peak\n  resources:\n    - {site: s1, name: RES-S1}\n";
}

TEST(DaemonOpenAdr, VtnEventIsDispatchedAndItsReportsCarryTheSettlement) {
  oadr::TestVtn vtn;
  ASSERT_TRUE(vtn.ok()) << vtn.log();
  const std::string program_id = vtn.control("/program", {{"programName", "peak"}})["id"];

  auto s = make_setup("openadr");
  Broker broker(s.dir, {}, s.mqtt_port);
  write_history(s, 500);
  write_config(s, openadr_config(s, vtn.url()));
  auto dev = site_device(s);
  VppdProcess vppd(s);
  ASSERT_TRUE(wait_healthy(s)) << vppd.log();
  auto api = api_client(s);

  // The VEN registers itself and its resource, and reports itself online.
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = api->request("GET", "/api/v1/openadr/status");
        return r && r->status == 200 && Json::parse(r->body)["connection"]["state"] == "online";
      },
      20s))
      << vppd.log();
  const auto vens = vtn.control("/state")["vens"];
  ASSERT_EQ(vens.size(), 1u) << vens.dump();
  // The status document needs a token like the rest of the API.
  auto anon = http::HttpClient::create({.url = "http://127.0.0.1:" + std::to_string(s.http_port)});
  ASSERT_TRUE(anon.ok());
  auto unauth = (*anon)->request("GET", "/api/v1/openadr/status");
  ASSERT_TRUE(unauth.ok());
  EXPECT_EQ(unauth->status, 401);
  // The webhook answers the VTN's echo check (no API token: the VTN has none).
  auto echo = (*anon)->request("GET", "/openadr/callback?echo=hello-vtn");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->status, 200);
  EXPECT_EQ(echo->body, "hello-vtn");

  // A two-minute cap 80 kW below the site's 500 kW baseline.
  const TimePoint start = next_minute(40s);
  vtn.control("/event", cap_event("ev-cap", program_id, start, 2, 420.0));
  const std::string core_id = "oadr-ev-cap-cap-0";
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = api->request("GET", "/api/v1/events/" + core_id);
        return r && r->status == 200;
      },
      20s))
      << vppd.log();
  auto ev = api->request("GET", "/api/v1/events/" + core_id);
  ASSERT_TRUE(ev.ok());
  const auto view = parse<pb::EventView>(ev->body);
  EXPECT_EQ(view.state(), "scheduled") << ev->body;

  // The event runs, ends and settles (the core settles an interval 2 minutes after its end, and
  // the VEN reports only settled intervals); then both reports reach the VTN.
  sleep_until(start + 2min + controller::kSettlementGrace);
  Json reports;
  ASSERT_TRUE(wait_until(
      [&] {
        reports = vtn.control("/reports");
        return reports.size() >= 2;
      },
      90s))
      << vppd.log();
  std::this_thread::sleep_for(3s);                 // nothing more, nothing twice
  reports = vtn.control("/reports");
  ASSERT_EQ(reports.size(), 2u) << reports.dump(2);

  auto rep = api->request("GET", "/api/v1/events/" + core_id + "/report");
  ASSERT_TRUE(rep.ok());
  ASSERT_EQ(rep->status, 200) << rep->body;
  const auto report = parse<pb::EventReport>(rep->body);
  ASSERT_EQ(report.sites_size(), 1) << rep->body;
  ASSERT_EQ(report.sites(0).intervals_size(), 2) << rep->body;
  std::map<std::string, double> settled;          // interval start -> delivered kW
  for (const auto& i : report.sites(0).intervals()) {
    settled[format_utc(from_unix_ms(i.start().seconds() * 1000))] = i.delivered_kw();
    EXPECT_GT(i.delivered_kw(), 60.0) << rep->body;  // the cap was met (within the settlement's view)
  }
  for (const auto& r : reports) {
    EXPECT_EQ(r["eventID"], "ev-cap");
    const auto& res = r["resources"];
    ASSERT_EQ(res.size(), 1u) << r.dump(2);
    EXPECT_EQ(res[0]["resourceName"], "RES-S1");
    const auto& iv = res[0]["intervals"][0];
    EXPECT_EQ(iv["payloads"][0]["type"], "DELTA_USAGE");
    const std::string at = iv["intervalPeriod"]["start"];
    ASSERT_TRUE(parse_utc(at).has_value()) << at;
    const std::string key = format_utc(*parse_utc(at));
    ASSERT_TRUE(settled.count(key)) << key << " not in " << rep->body;
    // The settled figure, rounded to 3 decimals in the report.
    EXPECT_NEAR(iv["payloads"][0]["values"][0].get<double>(), settled[key], 1e-3) << r.dump(2) << rep->body;
  }

  auto m = api->request("GET", "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(metric(m->body, "vpp_openadr_online"), 1) << m->body;
  EXPECT_EQ(metric(m->body, "vpp_openadr_reports{state=\"sent\"}"), 2) << m->body;
  EXPECT_EQ(metric(m->body, "vpp_openadr_reports{state=\"pending\"}"), 0) << m->body;
  EXPECT_GE(metric(m->body, "vpp_openadr_signals_total"), 1) << m->body;

  // The event withdrawn at the VTN after it ended changes nothing: it already completed.
  vtn.control("/delete_event", {{"id", "ev-cap"}});
  std::this_thread::sleep_for(5s);
  ev = api->request("GET", "/api/v1/events/" + core_id);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(parse<pb::EventView>(ev->body).state(), "completed") << ev->body;
  EXPECT_EQ(vppd.signal_and_wait(SIGTERM), 0);
}

TEST(DaemonOpenAdr, BadOpenAdrSettingsStopStartupNamingTheCause) {
  auto s = make_setup("openadr-bad");
  write_config(s, "openadr:\n  vtn_url: http://127.0.0.1:9/openadr3\n  client_id: c\n  client_secret_env: VPP_TEST_NO_SUCH_VAR\n"
                  "  ven_name: v\n  programs:\n    - name: peak\n");
  ::unsetenv("VPP_TEST_NO_SUCH_VAR");
  VppdProcess vppd(s);
  EXPECT_EQ(vppd.wait(10s), 1) << vppd.log();
  EXPECT_NE(vppd.log().find("VPP_TEST_NO_SUCH_VAR"), std::string::npos) << vppd.log();
}

}  // namespace
}  // namespace vpp::test
