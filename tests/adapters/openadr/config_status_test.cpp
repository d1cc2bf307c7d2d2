// The `openadr:` configuration section and the `vppctl openadr status` formatter.
#include <gtest/gtest.h>

#include "apps/vppctl_openadr.hpp"
#include "config/config.hpp"

namespace vpp {
namespace {

const std::string kSites = R"(
sites:
  - id: site-a
    type: office
    assets:
      - {id: meter, kind: site_meter, import_limit_kw: 500}
  - id: site-b
    type: office
    assets:
      - {id: meter, kind: site_meter, import_limit_kw: 500}
)";

TEST(OpenAdrConfig, ReadsEveryField) {
  const std::string yaml = R"(
openadr:
  vtn_url: https://vtn.example/openadr3/3.0.1
  token_url: https://auth.example/token
  client_id: ven-42
  client_secret_env: VPP_OPENADR_SECRET
  scope: read_all write_reports
  ven_name: campus-ven
  spec_version: "3.0.1"
  poll_interval: 30s
  request_timeout: 5s
  report_delay: 2m
  ca_file: /etc/ssl/vtn-ca.pem
  callback_url: https://vpp.example/openadr/callback
  emergency_import_cap_kw: 50
  programs:
    - name: peak
      simple_levels_kw: {1: 100, 2: 250, 3: 500}
    - name: prices
  resources:
    - {site: site-a, name: RES-A}
    - {site: site-b}
)" + kSites;
  auto c = config::load_config_text(yaml, "vppd.yaml");
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->openadr);
  const auto& o = *c->openadr;
  EXPECT_EQ(o.vtn_url, "https://vtn.example/openadr3/3.0.1");
  EXPECT_EQ(o.token_url, "https://auth.example/token");
  EXPECT_EQ(o.client_secret_env, "VPP_OPENADR_SECRET");
  EXPECT_EQ(o.scope, "read_all write_reports");
  EXPECT_EQ(o.poll_interval, std::chrono::seconds(30));
  EXPECT_EQ(o.request_timeout, std::chrono::seconds(5));
  EXPECT_EQ(o.report_delay, std::chrono::minutes(2));
  EXPECT_EQ(o.emergency_import_cap_kw, 50);
  ASSERT_EQ(o.programs.size(), 2u);
  EXPECT_EQ(o.programs[0].simple_levels_kw.at(2), 250);
  EXPECT_TRUE(o.programs[1].simple_levels_kw.empty());
  ASSERT_EQ(o.resources.size(), 2u);
  EXPECT_EQ(o.resources[0].name, "RES-A");
  EXPECT_EQ(o.resources[1].name, "site-b");  // defaults to the site id
}

TEST(OpenAdrConfig, ErrorsNameFileLineAndField) {
  const std::string yaml = R"(
openadr:
  vtn_url: ftp://vtn.example
  client_id: ven-42
  client_secret: hunter2
  ven_name: campus-ven
  spec_version: "2.0b"
  callback_url: http://vpp.example/cb
  programs:
    - name: peak
      simple_levels_kw: {1: 100, 4: 900}
    - name: peak
  resources:
    - {site: nowhere}
)" + kSites;
  auto c = config::load_config_text(yaml, "vppd.yaml");
  ASSERT_FALSE(c);
  const std::string e = c.error();
  EXPECT_NE(e.find("vppd.yaml:3:12: openadr.vtn_url: must start with http:// or https://"), std::string::npos) << e;
  EXPECT_NE(e.find("openadr.client_secret: the secret is never inline"), std::string::npos) << e;
  EXPECT_NE(e.find("exactly one of client_secret_file and client_secret_env"), std::string::npos) << e;
  EXPECT_NE(e.find("openadr.spec_version"), std::string::npos) << e;
  EXPECT_NE(e.find("openadr.callback_url: must be an https:// URL"), std::string::npos) << e;
  EXPECT_NE(e.find("openadr.programs[0].simple_levels_kw.4: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("openadr.programs[1].name: duplicate program 'peak'"), std::string::npos) << e;
  EXPECT_NE(e.find("openadr.resources[0].site: unknown site 'nowhere'"), std::string::npos) << e;
  // Programs are required.
  auto none = config::load_config_text("openadr: {vtn_url: http://v, client_id: a, client_secret_env: X, ven_name: v}\n",
                                       "x.yaml");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("openadr.programs"), std::string::npos) << none.error();
}

const char* kStatus = R"({
  "connection": {"backoff_until": null, "consecutive_failures": 3, "last_error": "events http://vtn/events: connection refused",
                 "last_error_at": "2026-07-07T07:10:00Z", "last_success": "2026-07-07T06:50:00Z", "next_poll": "2026-07-07T07:11:00Z",
                 "state": "unreachable", "subscribed": false, "token_valid_until": "2026-07-07T07:40:00Z",
                 "unreachable_since": "2026-07-07T06:51:00Z", "webhook": "https://vpp.example/openadr/callback"},
  "counters": {"duplicates": 1, "invalid_objects": 2, "out_of_order": 0},
  "events": [{"core_events": ["oadr-ev-1-cap-0"], "end": "2026-07-07T09:00:00Z", "id": "ev-1", "modified": null,
              "name": "heat", "payload_types": ["IMPORT_CAPACITY_LIMIT", "PRICE"], "priority": 0, "program": "peak",
              "start": "2026-07-07T07:00:00Z", "state": "active"}],
  "now": "2026-07-07T07:10:30Z",
  "programs": [{"found": true, "id": "prog-1", "name": "peak"}, {"found": false, "id": null, "name": "prices"}],
  "reports": {"oldest_pending": "2026-07-07T07:01:00Z", "pending": 2, "rejected": 0, "sent": 5},
  "spec_version": "3.0.1", "ven_id": "ven-9", "ven_name": "campus-ven", "vtn_url": "https://vtn.example/openadr3/3.0.1"
})";

TEST(OpenAdrStatusText, FormatsTheCannedDocument) {
  auto t = apps::format_openadr_status(kStatus);
  ASSERT_TRUE(t) << t.error();
  const std::string expected =
      "VTN         https://vtn.example/openadr3/3.0.1 (OpenADR 3.0.1)\n"
      "VEN         campus-ven id ven-9\n"
      "Connection  unreachable since 2026-07-07T06:51:00Z, last success 2026-07-07T06:50:00Z, failures 3\n"
      "Last error  events http://vtn/events: connection refused at 2026-07-07T07:10:00Z\n"
      "Next poll   2026-07-07T07:11:00Z, token valid until 2026-07-07T07:40:00Z\n"
      "Webhook     https://vpp.example/openadr/callback (not subscribed)\n"
      "\n"
      "Programs\n"
      "  peak                    id prog-1\n"
      "  prices                  not found at the VTN\n"
      "\n"
      "Events\n"
      "  ID                  PROGRAM         STATE      PRIO  START                 END                   SIGNALS\n"
      "  ev-1                peak            active     0     2026-07-07T07:00:00Z  2026-07-07T09:00:00Z  IMPORT_CAPACITY_LIMIT,PRICE\n"
      "\n"
      "Reports     2 pending, 5 sent, 0 rejected; oldest pending 2026-07-07T07:01:00Z\n"
      "Rejected    2 invalid objects, 0 out of order, 1 duplicates\n";
  EXPECT_EQ(*t, expected);
}

TEST(OpenAdrStatusText, RefusesDocumentsThatAreNotTheStatus) {
  auto bad = apps::format_openadr_status("{\"connection\": {}}");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("status.vtn_url: missing"), std::string::npos) << bad.error();
  EXPECT_FALSE(apps::format_openadr_status("not json"));
  EXPECT_FALSE(apps::format_openadr_status("[]"));
  std::ostringstream out, err;
  EXPECT_EQ(apps::run_openadr_command({"openadr", "stats"}, out, err, nullptr), 64);
  EXPECT_EQ(apps::run_openadr_command({"openadr", "status", "--timeout", "soon"}, out, err, nullptr), 64);
  EXPECT_EQ(apps::run_openadr_command({"openadr", "status"}, out, err, [](const char*) -> const char* { return nullptr; }), 64);
  EXPECT_NE(err.str().find("no API token"), std::string::npos);
}

}  // namespace
}  // namespace vpp
