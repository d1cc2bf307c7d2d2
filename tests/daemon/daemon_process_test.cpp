// vppd as a real process on loopback: a mosquitto it does not own (started here on a free port),
// a simulated site publishing JSON telemetry with python3-paho-mqtt and following battery
// commands, the HTTP API. Events run at 1-minute settlement intervals, so these tests take
// minutes of wall time.
#include <gtest/gtest.h>

#include <set>

#include "tests/daemon/harness.hpp"

namespace vpp::test {
namespace {

using namespace std::chrono_literals;
namespace pb = vpp::v1;

struct Seen {
  std::string id;
  std::string kind;
  double value = 0;
};

// Reads the device's output until a battery command with at least `min_kw` arrives whose id
// satisfies `id_ok`.
std::optional<Seen> wait_command(Process& dev, double min_kw, std::chrono::milliseconds timeout,
                                 const std::function<bool(const std::string&)>& id_ok = nullptr) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    auto line = dev.expect("cmd ", std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
    if (!line) return std::nullopt;
    const auto c = parse<pb::Command>(line->substr(4));
    if (c.asset_id() != "battery" || c.kind() != pb::SETPOINT_KIND_BATTERY_P_KW || c.value() < min_kw) continue;
    if (id_ok && !id_ok(c.command_id())) continue;
    return Seen{c.command_id(), pb::SetpointKind_Name(c.kind()), c.value()};
  }
  return std::nullopt;
}

std::string event_body(const std::string& id, TimePoint start, Duration duration, double reduction_kw) {
  return R"({"eventId":")" + id + R"(","program":"test","start":")" + format_utc(start) + R"(","duration":")" +
         std::to_string(duration.count() / 1000) + R"(s","targetReductionKw":)" + std::to_string(reduction_kw) + "}";
}

bool wait_online(http::HttpClient& api, int assets, std::chrono::milliseconds timeout = 20s) {
  return wait_until(
      [&] {
        auto r = api.request("GET", "/api/v1/fleet");
        return r && r->status == 200 && parse<pb::FleetView>(r->body).assets_online() == assets;
      },
      timeout);
}

std::string subscribe_one(int port, const std::string& topic) {
  const std::string cmd = "mosquitto_sub -h 127.0.0.1 -p " + std::to_string(port) + " -t '" + topic + "' -C 1 -W 5";
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, f)) out += buf;
    ::pclose(f);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::vector<std::string> states(const pb::EventView& v) {
  std::vector<std::string> out;
  for (const auto& t : v.transitions()) out.push_back(t.to());
  return out;
}

// Checks one settled interval against the site's physics: baseline 500 kW from history, the
// battery discharging ~110 kW (target 100 kW plus the plan's 10 % delivery margin).
void expect_delivered(const pb::SettlementInterval& i, const std::string& what) {
  EXPECT_NEAR(i.baseline_kw(), 500.0, 0.5) << what;
  EXPECT_NEAR(i.requested_kw(), 100.0, 1e-9) << what;
  EXPECT_GT(i.metered_kw(), 350.0) << what;
  EXPECT_LT(i.metered_kw(), 430.0) << what;
  EXPECT_GT(i.ratio(), 0.8) << what;
  EXPECT_LT(i.ratio(), 1.3) << what;
}

TEST(DaemonProcess, AnswersEventWithCommandsAndReportsDelivery) {
  auto s = make_setup("event");
  Broker broker(s.dir, {}, s.mqtt_port);
  write_history(s, 500);
  write_config(s);
  auto dev = site_device(s);
  VppdProcess vppd(s);
  ASSERT_TRUE(wait_healthy(s)) << vppd.log();
  auto api = api_client(s);
  ASSERT_TRUE(wait_online(*api, 2)) << vppd.log();

  const TimePoint start = next_minute(20s);
  auto created = api->request("POST", "/api/v1/events", event_body("ev-1", start, 1min, 100));
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->status, 201) << created->body;
  EXPECT_EQ(parse<pb::EventView>(created->body).state(), "scheduled");

  // Commands flow once the event starts (the plan's discharge, or the allocator's first answer).
  sleep_until(start);
  const auto cmd = wait_command(*dev, 90, 20s);
  ASSERT_TRUE(cmd) << vppd.log();
  EXPECT_LT(cmd->value, 200.0 + 1e-9);

  sleep_until(start + 1min + 3s);
  auto ev = api->request("GET", "/api/v1/events/ev-1");
  ASSERT_TRUE(ev.ok());
  const auto view = parse<pb::EventView>(ev->body);
  EXPECT_EQ(view.state(), "completed");
  EXPECT_EQ(states(view), (std::vector<std::string>{"received", "scheduled", "active", "completed"}));
  EXPECT_TRUE(view.has_delivery());

  auto rep = api->request("GET", "/api/v1/events/ev-1/report");
  ASSERT_TRUE(rep.ok());
  ASSERT_EQ(rep->status, 200) << rep->body;
  const auto report = parse<pb::EventReport>(rep->body);
  ASSERT_EQ(report.fleet_size(), 1) << rep->body;
  expect_delivered(report.fleet(0), rep->body);
  ASSERT_EQ(report.sites_size(), 1);
  EXPECT_EQ(report.sites(0).site_id(), "s1");
  EXPECT_NEAR(report.requested_kwh(), 100.0 / 60, 1e-6);
  EXPECT_NE(report.baseline_method().find("high 3 of 5"), std::string::npos) << rep->body;

  auto csv = api->request("GET", "/api/v1/events/ev-1/report?format=csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->status, 200);
  EXPECT_NE(csv->content_type.find("text/csv"), std::string::npos);

  // The site's command history comes from the store, with the controller's reasons.
  auto log = api->request("GET", "/api/v1/sites/s1/commands");
  ASSERT_TRUE(log.ok());
  const auto commands = parse<pb::CommandLog>(log->body);
  ASSERT_GT(commands.commands_size(), 0) << log->body;
  bool explained_and_acked = false;
  for (const auto& c : commands.commands()) {
    if (c.command().command_id() == cmd->id) {
      explained_and_acked = !c.context().explanation().empty() && c.ack_status() == "accepted" &&
                            c.command().reason() == c.context().explanation();
      EXPECT_EQ(c.context().event_id(), "ev-1") << log->body;
    }
  }
  EXPECT_TRUE(explained_and_acked) << log->body;

  auto m = api->request("GET", "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_GT(metric(m->body, "vpp_commands_sent_total"), 0) << m->body;
  EXPECT_GT(metric(m->body, "vpp_commands_routed_total{adapter=\"mqtt\"}"), 0) << m->body;
  EXPECT_EQ(metric(m->body, "vpp_devices_online"), 2) << m->body;
  EXPECT_EQ(metric(m->body, "vpp_events{state=\"completed\"}"), 1) << m->body;
  EXPECT_GT(metric(m->body, "vpp_solves_total{result=\"ok\"}"), 0) << m->body;
  EXPECT_GT(metric(m->body, "vpp_messages_in_total{adapter=\"mqtt\"}"), 100) << m->body;

  EXPECT_EQ(vppd.signal_and_wait(SIGTERM), 0);
}

TEST(DaemonProcess, SigkillDuringActiveEventLosesNothing) {
  auto s = make_setup("kill");
  Broker broker(s.dir, {}, s.mqtt_port);
  write_history(s, 500);
  write_config(s);
  auto dev = site_device(s);
  auto vppd = std::make_unique<VppdProcess>(s);
  ASSERT_TRUE(wait_healthy(s)) << vppd->log();
  auto api = api_client(s);
  ASSERT_TRUE(wait_online(*api, 2)) << vppd->log();

  const TimePoint start = next_minute(20s);
  auto created = api->request("POST", "/api/v1/events", event_body("ev-k", start, 3min, 100));
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->status, 201) << created->body;
  sleep_until(start);
  const auto first = wait_command(*dev, 90, 20s);
  ASSERT_TRUE(first) << vppd->log();
  const std::string first_prefix = first->id.substr(0, first->id.find('-') + 1);

  // In the event's second interval: SIGKILL, no chance to flush or say goodbye.
  sleep_until(start + 75s);
  EXPECT_EQ(vppd->signal_and_wait(SIGKILL), -SIGKILL);
  vppd = std::make_unique<VppdProcess>(s);
  ASSERT_TRUE(wait_healthy(s)) << vppd->log();
  api = api_client(s);

  // The event is still active, and commands flow again (from the new process: a new id prefix).
  auto ev = api->request("GET", "/api/v1/events/ev-k");
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->status, 200) << ev->body << vppd->log();
  const auto view = parse<pb::EventView>(ev->body);
  EXPECT_EQ(view.state(), "active");
  EXPECT_EQ(states(view), (std::vector<std::string>{"received", "scheduled", "active"}));
  const auto again = wait_command(*dev, 90, 30s, [&](const std::string& id) { return !id.starts_with(first_prefix); });
  ASSERT_TRUE(again) << vppd->log();
  // The plan the event followed before the kill was taken up again at the first tick.
  auto m = api->request("GET", "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(metric(m->body, "vpp_plans_restored_total"), 1) << m->body;

  // The report covers the whole window: every interval metered, before and after the restart.
  sleep_until(start + 3min + 3s);
  auto rep = api->request("GET", "/api/v1/events/ev-k/report");
  ASSERT_TRUE(rep.ok());
  ASSERT_EQ(rep->status, 200) << rep->body;
  const auto report = parse<pb::EventReport>(rep->body);
  ASSERT_EQ(report.fleet_size(), 3) << rep->body;
  for (int k = 0; k < 3; ++k) expect_delivered(report.fleet(k), "interval " + std::to_string(k) + ": " + rep->body);
  for (const auto& n : report.notes()) EXPECT_EQ(n.find("not metered"), std::string::npos) << n;
  auto done = api->request("GET", "/api/v1/events/ev-k");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(states(parse<pb::EventView>(done->body)),
            (std::vector<std::string>{"received", "scheduled", "active", "completed"}));

  EXPECT_EQ(vppd->signal_and_wait(SIGTERM), 0);
  // The store agrees: one transition each, and both processes' commands in the audit log.
  auto st = store::Store::open({.path = s.db()});
  ASSERT_TRUE(st.ok()) << st.error();
  std::vector<std::string> to;
  for (const auto& t : (*st)->transitions("ev-k")) to.push_back(std::string(controller::to_string(t.to)));
  EXPECT_EQ(to, (std::vector<std::string>{"received", "scheduled", "active", "completed"}));
  std::set<std::string> prefixes;
  for (const auto& c : (*st)->commands("s1", 1000)) prefixes.insert(c.command.command_id.substr(0, c.command.command_id.find('-') + 1));
  EXPECT_EQ(prefixes.size(), 2u);
}

TEST(DaemonProcess, SigtermStopsCleanlyAndRestoresState) {
  auto s = make_setup("term");
  Broker broker(s.dir, {}, s.mqtt_port);
  write_config(s);
  auto dev = site_device(s);
  auto vppd = std::make_unique<VppdProcess>(s);
  ASSERT_TRUE(wait_healthy(s)) << vppd->log();
  auto api = api_client(s);
  ASSERT_TRUE(wait_online(*api, 2)) << vppd->log();
  EXPECT_EQ(subscribe_one(s.mqtt_port, "vpp/status/" + s.client_id), "online");

  const TimePoint start = next_minute(1h);
  auto created = api->request("POST", "/api/v1/events", event_body("ev-later", start, 30min, 50));
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->status, 201) << created->body;
  auto enrol = api->request(
      "POST", "/api/v1/sites",
      R"({"siteId":"s2","name":"api site","buildingType":"BUILDING_TYPE_SCHOOL","limits":{"comfortMinC":22,"comfortMaxC":26},"assets":[{"id":"meter","siteMeter":{}}]})");
  ASSERT_TRUE(enrol.ok());
  ASSERT_EQ(enrol->status, 201) << enrol->body;
  // The MQTT adapter serves a site enrolled over the API at once.
  dev->send(R"(raw vpp/s2/meter/telemetry {"siteId":"s2","assetId":"meter","time":")" + format_utc(wall_now()) +
            R"(","pKw":120.5})");
  ASSERT_TRUE(dev->expect("ok"));
  ASSERT_TRUE(wait_online(*api, 3)) << vppd->log();
  auto opt = api->request("POST", "/api/v1/events/ev-later/opt-outs", R"({"siteId":"s2","reason":"exams"})");
  ASSERT_TRUE(opt.ok());
  ASSERT_EQ(opt->status, 200) << opt->body;
  // Grid signals over MQTT: an event and a price series.
  dev->send(R"(raw vpp/grid/signal {"curtailment":{"eventId":"grid-1","start":")" + format_utc(start + 2h) +
            R"(","duration":"1800s","targetReductionKw":40}})");
  ASSERT_TRUE(dev->expect("ok"));
  dev->send(R"(raw vpp/grid/signal {"prices":{"currency":"CNY","interval":"3600s","importPrice":[{"start":")" +
            format_utc(start) + R"(","value":1.25}]}})");
  ASSERT_TRUE(dev->expect("ok"));
  ASSERT_TRUE(wait_until([&] {
    auto r = api->request("GET", "/api/v1/events/grid-1");
    return r && r->status == 200 && parse<pb::EventView>(r->body).state() == "scheduled";
  }));
  std::this_thread::sleep_for(3s);  // some telemetry rolled up

  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(vppd->signal_and_wait(SIGTERM, 15s), 0) << vppd->log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_NE(vppd->log().find("vppd stopped"), std::string::npos);
  // The retained status says offline (published by the clean stop, not by the broker's Will).
  EXPECT_EQ(subscribe_one(s.mqtt_port, "vpp/status/" + s.client_id), "offline");

  {
    auto st = store::Store::open({.path = s.db()});
    ASSERT_TRUE(st.ok()) << st.error();
    auto restored = (*st)->restore(wall_now());
    ASSERT_TRUE(restored.ok()) << restored.error();
    ASSERT_EQ(restored->events.size(), 2u);
    EXPECT_EQ(restored->events[0].record.event.event_id, "ev-later");
    EXPECT_EQ(restored->events[0].record.state, controller::EventState::scheduled);
    EXPECT_EQ(restored->events[0].record.opted_out, (std::set<std::string>{"s2"}));
    EXPECT_EQ(restored->events[1].record.event.event_id, "grid-1");
    ASSERT_EQ(restored->plans.count("signal:prices"), 1u);
    EXPECT_NE(restored->plans.at("signal:prices").body.find("1.25"), std::string::npos);
    ASSERT_EQ(restored->sites.size(), 1u);
    EXPECT_EQ(restored->sites[0].site.id, "s2");
    const auto rollups = (*st)->rollups("s1", "meter", 60, wall_now() - 10min, wall_now() + 1min);
    std::int64_t samples = 0;
    for (const auto& r : rollups) samples += r.count;
    EXPECT_GE(samples, 3);
  }

  // A restart picks everything up again.
  vppd = std::make_unique<VppdProcess>(s);
  ASSERT_TRUE(wait_healthy(s)) << vppd->log();
  api = api_client(s);
  auto ev = api->request("GET", "/api/v1/events/ev-later");
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->status, 200) << ev->body;
  const auto view = parse<pb::EventView>(ev->body);
  EXPECT_EQ(view.state(), "scheduled");
  ASSERT_EQ(view.opted_out_sites_size(), 1);
  EXPECT_EQ(view.opted_out_sites(0), "s2");
  auto site = api->request("GET", "/api/v1/sites/s2");
  ASSERT_TRUE(site.ok());
  EXPECT_EQ(site->status, 200) << site->body;
  EXPECT_EQ(vppd->signal_and_wait(SIGTERM), 0);
}

TEST(DaemonProcess, BadInputIsCountedAndNeverCrashesIt) {
  auto s = make_setup("bad");
  Broker broker(s.dir, {}, s.mqtt_port);
  write_config(s);
  auto dev = site_device(s);
  VppdProcess vppd(s);
  ASSERT_TRUE(wait_healthy(s)) << vppd.log();
  auto api = api_client(s);
  ASSERT_TRUE(wait_online(*api, 2)) << vppd.log();

  const std::string now = format_utc(wall_now());
  const std::vector<std::string> bad = {
      "raw vpp/s1/meter/telemetry {not json",                                                         // malformed
      R"(raw vpp/s1/meter/telemetry {"siteId":"s1","assetId":"meter","time":")" + now + R"(","pKw":"NaN"})",  // non-finite
      R"(raw vpp/s1/meter/telemetry {"siteId":"s1","assetId":"meter","time":")" + now + R"(","pKw":"lots"})",  // wrong type
      R"(raw vpp/s1/meter/telemetry {"siteId":"s9","assetId":"meter","time":")" + now + R"(","pKw":1})",      // mismatch
      R"(raw vpp/s9/meter/telemetry {"siteId":"s9","assetId":"meter","time":")" + now + R"(","pKw":1})",      // unknown device
      "raw vpp/grid/weather {}",                                                                                // unknown topic
      R"(raw vpp/s1/battery/ack {"commandId":"never-sent","siteId":"s1","assetId":"battery","status":"ACK_STATUS_ACCEPTED"})",
      "raw vpp/grid/signal {\"curtailment\":{\"eventId\":\"g1\",\"targetReductionKw\":-5}}",                   // invalid event
      "big vpp/s1/meter/telemetry 300000",                                                                      // oversized
      // Well-formed but physically impossible: the controller's gate rejects it.
      R"(raw vpp/s1/battery/telemetry {"siteId":"s1","assetId":"battery","time":")" + format_utc(wall_now() + 1s) +
          R"(","pKw":5000,"socPct":60})",
  };
  for (const auto& line : bad) {
    dev->send(line);
    ASSERT_TRUE(dev->expect("ok")) << line;
  }
  // Bad HTTP input too.
  auto r400 = api->request("POST", "/api/v1/events", R"({"eventId":"x","targetReductionKw":"many"})");
  ASSERT_TRUE(r400.ok());
  EXPECT_EQ(r400->status, 400);
  auto r404 = api->request("GET", "/api/v1/events/nope/report");
  ASSERT_TRUE(r404.ok());
  EXPECT_EQ(r404->status, 404);
  {
    auto raw = api_client(s);
    auto garbage = raw->raw("NOT HTTP AT ALL\r\n\r\n");
    if (garbage.ok()) {
      EXPECT_EQ(garbage->status, 400);
    }
  }

  std::string text;
  ASSERT_TRUE(wait_until(
      [&] {
        auto m = api->request("GET", "/metrics");
        if (!m || m->status != 200) return false;
        text = m->body;
        return metric(text, "vpp_messages_rejected_total{adapter=\"mqtt\",reason=\"oversized_payload\"}") >= 1 &&
               metric(text, "vpp_telemetry_total{result=\"rejected\"}") >= 1;
      },
      10s))
      << text;
  for (const char* reason : {"malformed_payload", "non_finite", "wrong_type", "topic_mismatch", "unknown_device",
                             "unknown_topic", "unknown_command", "oversized_payload"}) {
    EXPECT_GE(metric(text, std::string("vpp_messages_rejected_total{adapter=\"mqtt\",reason=\"") + reason + "\"}"), 1)
        << reason << "\n" << text;
  }
  EXPECT_GE(metric(text, "vpp_api_responses_by_class_total{class=\"4xx\"}"), 2) << text;
  EXPECT_GE(metric(text, "vpp_http_refused_total{reason=\"malformed_http\"}"), 1) << text;
  EXPECT_EQ(metric(text, "vpp_api_responses_by_class_total{class=\"5xx\"}"), 0) << text;

  // Still alive and still taking good telemetry.
  EXPECT_TRUE(vppd.running());
  auto h = api->request("GET", "/healthz");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->status, 200);
  const double accepted = metric(text, "vpp_telemetry_total{result=\"accepted\"}");
  ASSERT_TRUE(wait_until(
      [&] {
        auto m = api->request("GET", "/metrics");
        return m && metric(m->body, "vpp_telemetry_total{result=\"accepted\"}") > accepted + 2;
      },
      10s));
  EXPECT_EQ(vppd.signal_and_wait(SIGTERM), 0);
}

TEST(DaemonProcess, StartupFailuresExitOneNamingTheCause) {
  auto s = make_setup("startup");
  // The store's directory does not exist.
  write_config(s, "");
  {
    std::string text;
    {
      std::ifstream in(s.config());
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    const auto at = text.find(s.db());
    ASSERT_NE(at, std::string::npos);
    text.replace(at, s.db().size(), (s.dir / "missing" / "vpp.db").string());
    std::ofstream(s.config()) << text;
  }
  {
    VppdProcess vppd(s);
    EXPECT_EQ(vppd.wait(15s), 1);
    EXPECT_NE(vppd.log().find("store: cannot open"), std::string::npos) << vppd.log();
  }
  // The API's port is taken.
  write_config(s);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(s.http_port));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  {
    VppdProcess vppd(s);
    EXPECT_EQ(vppd.wait(15s), 1);
    EXPECT_NE(vppd.log().find("cannot listen on 127.0.0.1:" + std::to_string(s.http_port)), std::string::npos) << vppd.log();
  }
  ::close(fd);
  // The MQTT password file cannot be read.
  write_config(s);
  {
    std::ifstream in(s.config());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    const std::string key = "  client_id: " + s.client_id + "\n";
    text.replace(text.find(key), key.size(), key + "  username: vppd\n  password_file: /nonexistent/pw\n");
    std::ofstream(s.config()) << text;
  }
  {
    VppdProcess vppd(s);
    EXPECT_EQ(vppd.wait(15s), 1);
    EXPECT_NE(vppd.log().find("cannot read password file '/nonexistent/pw'"), std::string::npos) << vppd.log();
  }
}

}  // namespace
}  // namespace vpp::test
