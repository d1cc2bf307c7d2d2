// The MQTT adapter against real peers on loopback: mosquitto (plain, TLS + password, restarted
// mid-run), a python3-paho-mqtt JSON device, and an Eclipse Tahu JavaScript Sparkplug B edge node.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "adapters/mqtt/mqtt_adapter.hpp"
#include "proto/convert.hpp"
#include "tests/adapters/peers.hpp"

namespace vpp::adapters::mqtt {
namespace {

using namespace std::chrono_literals;
using test::Broker;
using test::Process;

Site site(const std::string& id, std::vector<std::string> assets) {
  Site s;
  s.id = id;
  for (auto& a : assets) s.assets.push_back(Asset{a, a, BatterySpec{100, 50, 50}});
  return s;
}

std::vector<Site> fleet() { return {site("s-json", {"bat", "pv"}), site("s-spb", {"battery", "pv-roof"})}; }

config::MqttConfig mqtt_config(const std::string& url, const std::string& client_id) {
  config::MqttConfig c;
  c.url = url;
  c.client_id = client_id;
  c.keepalive = 5s;
  c.device_groups.push_back({"json", config::MqttDialect::json, "", {"s-json"}});
  c.device_groups.push_back({"edge", config::MqttDialect::sparkplug_b, "g1", {"s-spb"}});
  return c;
}

MqttAdapterOptions fast_options() {
  MqttAdapterOptions o;
  o.reconnect_min = 100ms;
  o.reconnect_max = 1s;
  o.command_retry = 1s;
  o.max_payload_bytes = 4096;
  o.sparkplug.rebirth_holdoff = 500ms;
  return o;
}

// Waits for an input of type T matching `pred`; other inputs are skipped.
template <typename T>
std::optional<T> wait_for(InputQueue& q, const std::function<bool(const T&)>& pred = nullptr, std::chrono::milliseconds timeout = 10s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    auto in = q.pop_for(50ms);
    if (!in) continue;
    if (auto* t = std::get_if<T>(&*in); t && (!pred || pred(*t))) return *t;
  }
  return std::nullopt;
}

std::string sub_one(int port, const std::string& topic) {
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

Command command(const std::string& id, const std::string& site_id, const std::string& asset, double v) {
  const TimePoint now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  return Command{id, site_id, asset, SetpointKind::battery_p_kw, v, now, now + 10min, "test"};
}

std::unique_ptr<Process> json_peer(int port, const std::string& asset = "bat") {
  auto p = std::make_unique<Process>(std::vector<std::string>{test::python(), test::peers_dir() + "/json_device.py", "--port",
                                                              std::to_string(port), "--site", "s-json", "--asset", asset});
  if (!p->expect("ready")) ADD_FAILURE() << "JSON peer did not connect";
  return p;
}

const char* kTelemetry = R"({"siteId":"s-json","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":-12.5,"socPct":81.5})";

TEST(MqttJsonPeer, TelemetryCommandsAcksAndStatus) {
  auto dir = test::temp_dir("mqtt-json");
  Broker broker(dir);
  InputQueue q;
  SystemClock clock;
  auto a = MqttAdapter::create(mqtt_config(broker.url(), "vppd-json"), fleet(), q, clock, fast_options());
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  ASSERT_TRUE((*a)->wait_connected(10s));
  EXPECT_EQ(sub_one(broker.port(), "vpp/status/vppd-json"), "online");

  auto peer = json_peer(broker.port());
  peer->send(std::string("telemetry ") + kTelemetry);
  auto t = wait_for<Telemetry>(q);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->asset_id, "bat");
  EXPECT_DOUBLE_EQ(*t->p_kw, -12.5);
  EXPECT_DOUBLE_EQ(*t->soc_pct, 81.5);

  peer->send("autoack dup");
  ASSERT_TRUE(peer->expect("ok"));
  auto r = (*a)->send(command("c-1", "s-json", "bat", 20.0));
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(*r);
  auto line = peer->expect("cmd ");
  ASSERT_TRUE(line);
  auto cmd = json_to_model<vpp::v1::Command>(line->substr(4));
  ASSERT_TRUE(cmd) << cmd.error();
  EXPECT_EQ(cmd->command_id, "c-1");
  EXPECT_DOUBLE_EQ(cmd->value, 20.0);
  auto ack = wait_for<CommandAck>(q);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->command_id, "c-1");
  EXPECT_EQ(ack->status, AckStatus::accepted);
  // The peer acked twice: exactly one ack is delivered, the repeat is counted.
  EXPECT_TRUE(test::wait_until([&] { return (*a)->counters().rejected(reason::duplicate_ack) == 1; }));
  EXPECT_FALSE(wait_for<CommandAck>(q, nullptr, 300ms));
  EXPECT_EQ((*a)->pending_commands(), 0u);

  EXPECT_FALSE((*a)->send(command("c-2", "s-json", "ghost", 1.0))) << "unknown device";
  (*a)->stop();
  EXPECT_EQ(sub_one(broker.port(), "vpp/status/vppd-json"), "offline");
}

TEST(MqttJsonPeer, BadInputIsCountedAndNeverStopsIngest) {
  auto dir = test::temp_dir("mqtt-bad");
  Broker broker(dir);
  InputQueue q;
  SystemClock clock;
  auto a = MqttAdapter::create(mqtt_config(broker.url(), "vppd-bad"), fleet(), q, clock, fast_options());
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  ASSERT_TRUE((*a)->wait_connected(10s));
  auto peer = json_peer(broker.port());
  const std::string t = "vpp/s-json/bat/telemetry";
  const std::pair<std::string, std::string_view> bad[] = {
      {"raw " + t + " {not json", reason::malformed},
      {"raw " + t + R"( {"siteId":"s-json","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":"NaN"})", reason::non_finite},
      {"raw " + t + R"( {"siteId":"s-json","assetId":"bat","time":"2026-07-07T06:30:00Z","pKw":"high"})", reason::wrong_type},
      {"raw " + t + R"( {"siteId":"s-json","assetId":"pv","time":"2026-07-07T06:30:00Z"})", reason::topic_mismatch},
      {"raw vpp/s-json/ghost/telemetry " + std::string(kTelemetry), reason::unknown_device},
      {"raw vpp/s-spb/battery/telemetry " + std::string(kTelemetry), reason::unknown_device},  // a Sparkplug site
      {"big " + t + " 5000", reason::oversized},
      {"raw vpp/grid/signal {\"curtailment\":{\"eventId\":\"e\"}}", reason::malformed},
      {"raw vpp/grid/other {}", reason::unknown_topic},
      {"ack never-sent ACK_STATUS_ACCEPTED", reason::unknown_command},
      // The same rules on the Sparkplug host's connection.
      {"big spBv1.0/g1/NDATA/s-spb 5000", reason::oversized},
      {"raw spBv1.0/g1/NBIRTH/ghost-site x", reason::unknown_device},
  };
  for (const auto& [line, why] : bad) {
    const auto before = (*a)->counters().rejected(why);
    peer->send(line);
    ASSERT_TRUE(peer->expect("ok")) << line;
    EXPECT_TRUE(test::wait_until([&] { return (*a)->counters().rejected(why) == before + 1; }, 5s)) << line << " -> " << why;
  }
  peer->send(std::string("telemetry ") + kTelemetry);
  EXPECT_TRUE(wait_for<Telemetry>(q)) << "good input still flows after the bad";
  EXPECT_TRUE(q.drain().empty()) << "no bad input reached the sink";
  EXPECT_EQ((*a)->counters().rejected_total(), std::size(bad));
  EXPECT_GE((*a)->counters().in(), 1u);
}

TEST(MqttJsonPeer, GridSignalArrives) {
  auto dir = test::temp_dir("mqtt-grid");
  Broker broker(dir);
  InputQueue q;
  SystemClock clock;
  auto a = MqttAdapter::create(mqtt_config(broker.url(), "vppd-grid"), fleet(), q, clock, fast_options());
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  ASSERT_TRUE((*a)->wait_connected(10s));
  const std::string ev =
      R"({"source":"utility","curtailment":{"eventId":"ev-42","start":"2026-07-07T06:00:00Z","duration":"3600s","targetReductionKw":1500}})";
  ASSERT_EQ(test::run("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) + " -q 1 -t vpp/grid/signal -m '" + ev + "'"), 0);
  auto g = wait_for<GridSignal>(q);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->source, "utility");
  EXPECT_EQ(std::get<CurtailmentEvent>(g->signal).event_id, "ev-42");
}

TEST(MqttJsonPeer, TlsWithPasswordFromFile) {
  auto dir = test::temp_dir("mqtt-tls");
  test::make_certificates(dir);
  ASSERT_EQ(test::run("mosquitto_passwd -c -b " + (dir / "passwd").string() + " vppd s3cret-pw >/dev/null 2>&1"), 0);
  // mosquitto started as root drops to its own user, which must be able to read these files.
  ASSERT_EQ(test::run("chmod 0644 " + (dir / "passwd").string() + " " + (dir / "server.key").string()), 0);
  Broker broker(dir, {dir.string(), (dir / "passwd").string()});
  std::ofstream(dir / "pw.txt") << "s3cret-pw\n";
  std::ofstream(dir / "bad-pw.txt") << "wrong\n";
  InputQueue q;
  SystemClock clock;
  auto cfg = mqtt_config(broker.url(), "vppd-tls");
  cfg.username = "vppd";
  cfg.password_file = (dir / "pw.txt").string();
  cfg.tls = config::TlsFiles{(dir / "ca.crt").string(), "", "", true};
  auto a = MqttAdapter::create(cfg, fleet(), q, clock, fast_options());
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  ASSERT_TRUE((*a)->wait_connected(10s)) << "TLS + password connect";
  const std::string pub = "mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) + " --cafile " +
                          (dir / "ca.crt").string() + " -u vppd -P s3cret-pw -q 1 -t vpp/s-json/bat/telemetry -m '" +
                          kTelemetry + "'";
  ASSERT_EQ(test::run(pub), 0);
  EXPECT_TRUE(wait_for<Telemetry>(q));

  auto wrong = cfg;
  wrong.client_id = "vppd-tls-wrong";
  wrong.password_file = (dir / "bad-pw.txt").string();
  auto b = MqttAdapter::create(wrong, fleet(), q, clock, fast_options());
  ASSERT_TRUE(b);
  (*b)->start();
  EXPECT_FALSE((*b)->wait_connected(1500ms)) << "a wrong password must not connect";
  (*b)->stop();

  auto untrusted = cfg;
  untrusted.client_id = "vppd-tls-untrusted";
  untrusted.tls->ca_file = "/etc/ssl/certs/ca-certificates.crt";  // the system CAs did not sign ours
  auto c = MqttAdapter::create(untrusted, fleet(), q, clock, fast_options());
  ASSERT_TRUE(c);
  (*c)->start();
  EXPECT_FALSE((*c)->wait_connected(1500ms)) << "an unverified server certificate must be refused";
  (*c)->stop();

  auto missing = cfg;
  missing.password_file = (dir / "nope.txt").string();
  auto m = MqttAdapter::create(missing, fleet(), q, clock, fast_options());
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().find("nope.txt"), std::string::npos);
}

TEST(MqttJsonPeer, BrokerRestartLosesNoCommand) {
  auto dir = test::temp_dir("mqtt-restart");
  auto broker = std::make_unique<Broker>(dir);
  const int port = broker->port();
  InputQueue q;
  SystemClock clock;
  auto a = MqttAdapter::create(mqtt_config(broker->url(), "vppd-restart"), fleet(), q, clock, fast_options());
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  ASSERT_TRUE((*a)->wait_connected(10s));
  auto peer = json_peer(port);

  broker.reset();  // the broker goes away mid-run
  // Every connection has noticed (each its own socket: one may lag the others by a moment).
  ASSERT_TRUE(test::wait_until([&] { return !(*a)->any_connected(); }));
  auto r = (*a)->send(command("during-outage", "s-json", "bat", 5.0));
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(*r) << "queued, not published";
  EXPECT_EQ((*a)->pending_commands(), 1u);

  broker = std::make_unique<Broker>(dir, Broker::Options{}, port);
  ASSERT_TRUE((*a)->wait_connected(15s)) << "reconnects with backoff";
  auto line = peer->expect("cmd ", 20s);
  ASSERT_TRUE(line) << "the queued command reaches the device after the restart";
  EXPECT_NE(line->find("during-outage"), std::string::npos);
  auto ack = wait_for<CommandAck>(q, [](const CommandAck& x) { return x.command_id == "during-outage"; }, 10s);
  ASSERT_TRUE(ack);
  EXPECT_TRUE(test::wait_until([&] { return (*a)->pending_commands() == 0; }));
  // Subscriptions were renewed: telemetry flows again.
  peer->send(std::string("telemetry ") + kTelemetry);
  EXPECT_TRUE(wait_for<Telemetry>(q));
  EXPECT_GE((*a)->connects(), 3u) << "json + sparkplug connections, at least one reconnect";
}

// A server that takes TCP connections and never answers (a hung broker, a wrong service on the
// port): every connect attempt times out. When a real broker replaces it, the adapter connects.
TEST(MqttJsonPeer, BrokerThatNeverAnswersIsLeftForARealOneOnTheSamePort) {
  auto dir = test::temp_dir("mqtt-silent");
  const int port = test::free_port();
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 16), 0);  // the kernel completes handshakes; nobody reads

  InputQueue q;
  SystemClock clock;
  auto o = fast_options();
  o.connect_timeout = 1s;
  auto a = MqttAdapter::create(mqtt_config("tcp://127.0.0.1:" + std::to_string(port), "vppd-silent"), fleet(), q,
                               clock, o);
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  EXPECT_FALSE((*a)->wait_connected(3500ms)) << "no CONNACK, no connection";
  EXPECT_EQ((*a)->connects(), 0u);

  ::close(listener);  // the queued, never-accepted connections are reset with it
  Broker broker(dir, Broker::Options{}, port);
  ASSERT_TRUE((*a)->wait_connected(15s)) << "every connection recovers from its timed-out attempts";
  auto peer = json_peer(port);
  peer->send(std::string("telemetry ") + kTelemetry);
  EXPECT_TRUE(wait_for<Telemetry>(q)) << "subscriptions in place on the new session";
}

// ---------------------------------------------------------------------------------------------
// Sparkplug B against the Eclipse Tahu JavaScript edge node.

std::unique_ptr<Process> tahu_edge(int port) {
  const std::string dir = test::peers_dir();
  if (!std::filesystem::exists(dir + "/node_modules/sparkplug-client")) {
    ADD_FAILURE() << "Tahu peer not installed: run scripts/install-deps (npm ci in tests/adapters/peers)";
    return nullptr;
  }
  return std::make_unique<Process>(std::vector<std::string>{"node", dir + "/sparkplug_edge.js", "--port", std::to_string(port),
                                                            "--group", "g1", "--node", "s-spb", "--devices", "battery,pv-roof"});
}

TEST(MqttSparkplugPeer, TahuEdgeNodeBirthsDataCommandsRebirthAndDeath) {
  auto dir = test::temp_dir("mqtt-spb");
  Broker broker(dir);
  InputQueue q;
  SystemClock clock;
  auto a = MqttAdapter::create(mqtt_config(broker.url(), "vppd-spb"), fleet(), q, clock, fast_options());
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  ASSERT_TRUE((*a)->wait_connected(10s));
  auto st = sparkplug::parse_state_json(sub_one(broker.port(), "spBv1.0/STATE/vppd-spb"));
  ASSERT_TRUE(st) << st.error();
  EXPECT_TRUE(st->online) << "retained STATE online";

  // A stale offline STATE (an old Will) on our own topic: the host answers with online.
  ASSERT_EQ(test::run("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) +
                      " -q 1 -r -t spBv1.0/STATE/vppd-spb -m '{\"online\":false,\"timestamp\":1}'"), 0);
  ASSERT_TRUE(test::wait_until([&] {
    auto again = sparkplug::parse_state_json(sub_one(broker.port(), "spBv1.0/STATE/vppd-spb"));
    return again && again->online;
  }));

  auto edge = tahu_edge(broker.port());
  ASSERT_TRUE(edge);
  ASSERT_TRUE(edge->expect("ready"));
  const SparkplugHost* host = (*a)->sparkplug_host("g1");
  ASSERT_NE(host, nullptr);
  ASSERT_TRUE(test::wait_until([&] { return host->device_online("s-spb", "battery") && host->device_online("s-spb", "pv-roof"); }));
  auto birth = wait_for<Telemetry>(q, [](const Telemetry& t) { return t.asset_id == "battery"; });
  ASSERT_TRUE(birth);
  EXPECT_DOUBLE_EQ(*birth->soc_pct, 50.0);
  EXPECT_DOUBLE_EQ(*birth->available_kw, 100.0) << "Int32 metric";

  // DDATA by alias only.
  edge->send("data battery P_kW 42.5");
  auto t = wait_for<Telemetry>(q, [](const Telemetry& x) { return x.p_kw && *x.p_kw == 42.5; });
  ASSERT_TRUE(t);
  EXPECT_DOUBLE_EQ(*t->soc_pct, 50.0);

  // DCMD out, decoded by Tahu's sparkplug-payload; the ack comes back as DDATA by alias.
  ASSERT_TRUE((*a)->send(command("spb-1", "s-spb", "battery", -10.0)));
  auto dcmd = edge->expect("dcmd battery ");
  ASSERT_TRUE(dcmd);
  EXPECT_NE(dcmd->find("\"Command/Id\":\"spb-1\""), std::string::npos) << *dcmd;
  EXPECT_NE(dcmd->find("\"Command/Kind\":\"BATTERY_P_KW\""), std::string::npos) << *dcmd;
  EXPECT_NE(dcmd->find("\"Command/Value\":-10"), std::string::npos) << *dcmd;
  auto ack = wait_for<CommandAck>(q);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->command_id, "spb-1");
  EXPECT_EQ(ack->status, AckStatus::accepted);

  // A seq gap: the host asks for a rebirth, Tahu republishes, data flows again.
  edge->send("gap");
  edge->send("data battery P_kW 1");
  ASSERT_TRUE(edge->expect("rebirth"));
  EXPECT_TRUE(test::wait_until([&] { return (*a)->counters().rejected(reason::seq_gap) == 1; }));
  ASSERT_TRUE(test::wait_until([&] { return host->node_born("s-spb") && host->device_online("s-spb", "battery"); }));
  edge->send("data battery P_kW 7");
  EXPECT_TRUE(wait_for<Telemetry>(q, [](const Telemetry& x) { return x.p_kw && *x.p_kw == 7.0; }));

  // DDEATH for one device, then the process dies: the broker's Will NDEATH takes the rest.
  edge->send("ddeath pv-roof");
  auto off = wait_for<DeviceStatus>(q, [](const DeviceStatus& s) { return !s.online; });
  ASSERT_TRUE(off);
  EXPECT_EQ(off->asset_id, "pv-roof");
  edge->send("quit");
  auto dead = wait_for<DeviceStatus>(q, [](const DeviceStatus& s) { return !s.online; }, 20s);
  ASSERT_TRUE(dead) << "Will NDEATH (Tahu keepalive 5 s)";
  EXPECT_EQ(dead->asset_id, "battery");
  EXPECT_NE(dead->reason.find("NDEATH"), std::string::npos);
  EXPECT_FALSE(host->node_born("s-spb"));
}

}  // namespace
}  // namespace vpp::adapters::mqtt
