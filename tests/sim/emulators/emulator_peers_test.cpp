// The emulators against the project's own adapters on loopback: vppd's MqttAdapter (a JSON group
// and a Sparkplug B group) against `vppsim serve`, vppd's ModbusAdapter against the SunSpec
// servers, and a Tahu-free check of the edge node's session (births, seq, bdSeq, rebirth, Will)
// with proto/sparkplug.hpp and a plain Paho client.
#include <gtest/gtest.h>
#include <errno.h>
#include <modbus/modbus.h>
#include <mqtt/async_client.h>

#include <fstream>
#include <thread>

#include "adapters/modbus/modbus_adapter.hpp"
#include "adapters/mqtt/mqtt_adapter.hpp"
#include "proto/convert.hpp"
#include "proto/sparkplug.hpp"
#include "sim/emulators/emulator.hpp"
#include "sim/fleet_gen.hpp"
#include "tests/adapters/peers.hpp"
#include "tests/sim/emulators/test_scenario.hpp"

namespace vpp::sim::emulators {
namespace {

using namespace std::chrono_literals;
using adapters::DeviceStatus;
using adapters::InputQueue;
using vpp::test::Broker;
using vpp::test::Process;

template <typename T>
std::optional<T> wait_for(InputQueue& q, const std::function<bool(const T&)>& pred, std::chrono::milliseconds timeout = 15s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    auto in = q.pop_for(50ms);
    if (!in) continue;
    if (auto* t = std::get_if<T>(&*in); t && pred(*t)) return *t;
  }
  return std::nullopt;
}

TimePoint now() { return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()); }

Command command(const std::string& id, const std::string& site, const std::string& asset, SetpointKind k, double v,
                Duration ttl = 10min) {
  return Command{id, site, asset, k, v, now(), now() + ttl, "test"};
}

std::string write_scenario(const std::filesystem::path& dir, int sites, const std::string& serve) {
  const auto p = dir / "scenario.yaml";
  std::ofstream(p) << fixture::scenario_text(sites, serve);
  return p.string();
}

constexpr const char* kMqttServe = R"(serve:
  client_id: emu
  groups:
    - name: edge
      dialect: sparkplug_b
      group_id: g1
      sites: [site-001]
    - name: json
      dialect: json
      sites: [site-002]
)";

TEST(MqttEmulators, AdapterSeesBirthsTelemetryAndGetsAcks) {
  auto dir = vpp::test::temp_dir("emu-mqtt");
  Broker broker(dir);
  const std::string path = write_scenario(dir, 2, kMqttServe);
  auto sc = load_scenario_file(path);
  ASSERT_TRUE(sc) << sc.error();
  const auto sites = make_fleet(*sc, sc->seed).sites;

  InputQueue q;
  SystemClock clock;
  config::MqttConfig mc;
  mc.url = broker.url();
  mc.client_id = "vppd-test";
  mc.device_groups.push_back({"json", config::MqttDialect::json, "", {"site-002"}});
  mc.device_groups.push_back({"edge", config::MqttDialect::sparkplug_b, "g1", {"site-001"}});
  adapters::mqtt::MqttAdapterOptions mo;
  mo.command_retry = 1s;
  auto a = adapters::mqtt::MqttAdapter::create(mc, sites, q, clock, mo);
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  ASSERT_TRUE((*a)->wait_connected(10s));

  Process serve({std::string(VPP_BIN_DIR) + "/vppsim", "serve", path, "--broker", broker.url(), "--duration", "10m"});
  ASSERT_TRUE(serve.expect("ready:", 30s));

  // Births: every asset of the Sparkplug site comes online; telemetry from both dialects.
  std::set<std::string> born;
  for (std::size_t i = 0; i < sites[0].assets.size(); ++i) {
    auto st = wait_for<DeviceStatus>(q, [&](const DeviceStatus& s) { return s.site_id == "site-001" && s.online && !born.count(s.asset_id); });
    ASSERT_TRUE(st) << "no DBIRTH for an asset of site-001";
    born.insert(st->asset_id);
  }
  EXPECT_EQ(born.size(), sites[0].assets.size());
  auto spb_pv = wait_for<Telemetry>(q, [](const Telemetry& t) { return t.site_id == "site-001" && t.asset_id == "pv"; });
  ASSERT_TRUE(spb_pv);
  ASSERT_TRUE(spb_pv->p_kw);
  EXPECT_GT(*spb_pv->p_kw, 0) << "PV at local noon on a clear day";
  // --start-at scenario: the device clock is the scenario's, from local noon (04:00Z).
  EXPECT_GE(spb_pv->time, sc->start);
  EXPECT_LT(spb_pv->time, sc->start + 5min);
  auto json_bat = wait_for<Telemetry>(q, [](const Telemetry& t) { return t.site_id == "site-002" && t.asset_id == "battery"; });
  ASSERT_TRUE(json_bat);
  ASSERT_TRUE(json_bat->soc_pct);
  EXPECT_NEAR(*json_bat->soc_pct, 50, 5);

  // Commands in both dialects, acknowledged by the simulated devices.
  ASSERT_TRUE((*a)->send(command("c-spb", "site-001", "battery", SetpointKind::battery_p_kw, 20)));
  ASSERT_TRUE((*a)->send(command("c-json", "site-002", "battery", SetpointKind::battery_p_kw, -10)));
  ASSERT_TRUE((*a)->send(command("c-big", "site-002", "pv", SetpointKind::pv_limit_kw, 1e6)));
  std::map<std::string, CommandAck> acks;
  while (acks.size() < 3) {
    auto ack = wait_for<CommandAck>(q, [](const CommandAck&) { return true; });
    ASSERT_TRUE(ack) << "missing acks, got " << acks.size();
    acks[ack->command_id] = *ack;
  }
  EXPECT_EQ(acks["c-spb"].status, AckStatus::accepted) << acks["c-spb"].detail;
  EXPECT_EQ(acks["c-json"].status, AckStatus::accepted) << acks["c-json"].detail;
  EXPECT_EQ(acks["c-big"].status, AckStatus::rejected);
  EXPECT_NE(acks["c-big"].detail.find("beyond the rating"), std::string::npos) << acks["c-big"].detail;
  // The setpoints act: the Sparkplug battery reports 20 kW discharge, the JSON one 10 kW charge.
  EXPECT_TRUE(wait_for<Telemetry>(q, [](const Telemetry& t) {
    return t.site_id == "site-001" && t.asset_id == "battery" && t.p_kw && std::abs(*t.p_kw - 20) < 0.5;
  }));
  EXPECT_TRUE(wait_for<Telemetry>(q, [](const Telemetry& t) {
    return t.site_id == "site-002" && t.asset_id == "battery" && t.p_kw && std::abs(*t.p_kw + 10) < 0.5;
  }));
  EXPECT_EQ((*a)->counters().rejected_total(), 0u) << "adapter rejections";
  (*a)->stop();
}

// A plain MQTT client that keeps every message of a topic filter.
class Recorder : public ::mqtt::callback {
 public:
  // Client ids must differ: a broker drops the older of two connections with one id.
  Recorder(const std::string& url, const std::string& filter) : c_(url, "recorder-" + std::to_string(next_id_++)) {
    c_.set_callback(*this);
    c_.connect()->wait();
    c_.subscribe(filter, 1)->wait();
  }
  ~Recorder() override {
    try {
      c_.disconnect()->wait();
    } catch (...) {
    }
  }
  void message_arrived(::mqtt::const_message_ptr m) override {
    std::lock_guard lock(mu_);
    msgs_.emplace_back(m->get_topic(), m->get_payload_str());
  }
  std::vector<std::pair<std::string, std::string>> messages() {
    std::lock_guard lock(mu_);
    return msgs_;
  }
  bool wait(const std::function<bool(const std::vector<std::pair<std::string, std::string>>&)>& pred, Duration t = 15s) {
    return vpp::test::wait_until([&] { return pred(messages()); }, t);
  }
  void publish(const std::string& topic, const std::string& payload) { c_.publish(topic, payload.data(), payload.size(), 1, false)->wait(); }

 private:
  static inline std::atomic<int> next_id_{0};
  ::mqtt::async_client c_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> msgs_;
};

std::size_t count_type(const std::vector<std::pair<std::string, std::string>>& m, const char* type) {
  std::size_t n = 0;
  for (const auto& [t, p] : m) n += t.find(std::string("/") + type + "/") != std::string::npos;
  return n;
}

TEST(SparkplugEdge, SessionDecodesWithTheProjectCodec) {
  auto dir = vpp::test::temp_dir("emu-spb");
  Broker broker(dir);
  const std::string path = write_scenario(dir, 1, "serve:\n  groups:\n    - {dialect: sparkplug_b, group_id: g1}\n");
  auto sc = load_scenario_file(path);
  ASSERT_TRUE(sc) << sc.error();
  const auto site = make_fleet(*sc, sc->seed).sites[0];
  Recorder rec(broker.url(), "spBv1.0/g1/#");
  auto serve = std::make_unique<Process>(
      std::vector<std::string>{std::string(VPP_BIN_DIR) + "/vppsim", "serve", path, "--broker", broker.url(), "--duration", "10m"});
  ASSERT_TRUE(serve->expect("ready:", 30s));
  ASSERT_TRUE(rec.wait([&](const auto& m) { return count_type(m, "DBIRTH") == site.assets.size() && count_type(m, "DDATA") >= 2; }));
  auto msgs = rec.messages();
  // NBIRTH first with seq 0 and a bdSeq; then DBIRTHs and DDATAs with seq counting up by one.
  auto first = sparkplug::decode_payload(msgs[0].second);
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(msgs[0].first, "spBv1.0/g1/NBIRTH/site-001");
  EXPECT_EQ(first->seq(), 0u);
  std::optional<std::int64_t> bdseq;
  bool rebirth_metric = false;
  for (const auto& m : first->metrics()) {
    if (m.name() == "bdSeq") bdseq = std::get<std::int64_t>(*sparkplug::metric_value(m, m.datatype()));
    if (m.name() == sparkplug::kRebirthMetric) rebirth_metric = true;
  }
  ASSERT_TRUE(bdseq);
  EXPECT_TRUE(rebirth_metric);
  std::uint64_t expect_seq = 1;
  std::set<std::string> metric_names;
  for (std::size_t i = 1; i < msgs.size(); ++i) {
    auto p = sparkplug::decode_payload(msgs[i].second);
    ASSERT_TRUE(p) << msgs[i].first << ": " << p.error();
    EXPECT_EQ(p->seq(), expect_seq % 256) << msgs[i].first;
    ++expect_seq;
    if (msgs[i].first.find("/DBIRTH/") == std::string::npos) continue;
    for (const auto& m : p->metrics()) {
      metric_names.insert(m.name());
      if (m.name().rfind("Ack/", 0) == 0) {
        EXPECT_TRUE(m.is_null());
      } else {
        EXPECT_EQ(m.datatype(), sparkplug::Payload::DOUBLE) << m.name();
        auto v = sparkplug::metric_value(m, m.datatype());
        ASSERT_TRUE(v);
        EXPECT_TRUE(std::isfinite(*sparkplug::as_double(*v))) << m.name();
      }
    }
  }
  for (const char* n : {"P_kW", "SoC_pct", "Energy_kWh", "Available_kW", "IndoorTemp_C", "Setpoint_C", "Ack/CommandId"}) {
    EXPECT_TRUE(metric_names.count(n)) << n;
  }
  // Rebirth on request: a new NBIRTH (seq 0, same bdSeq: same session) and all DBIRTHs again.
  const std::size_t before = rec.messages().size();
  rec.publish("spBv1.0/g1/NCMD/site-001", sparkplug::rebirth_request(1).SerializeAsString());
  ASSERT_TRUE(rec.wait([&](const auto& m) { return count_type(m, "NBIRTH") == 2 && count_type(m, "DBIRTH") == 2 * site.assets.size(); }));
  msgs = rec.messages();
  for (std::size_t i = before; i < msgs.size(); ++i) {
    if (msgs[i].first.find("/NBIRTH/") == std::string::npos) continue;
    auto p = sparkplug::decode_payload(msgs[i].second);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->seq(), 0u);
    EXPECT_EQ(std::get<std::int64_t>(*sparkplug::metric_value(p->metrics(0), p->metrics(0).datatype())), *bdseq);
  }
  // Killed without a goodbye: the broker publishes the Will, an NDEATH with the session's bdSeq.
  serve->kill(SIGKILL);
  ASSERT_TRUE(rec.wait([&](const auto& m) { return count_type(m, "NDEATH") == 1; }, 30s)) << "no NDEATH Will";
  for (const auto& [t, payload] : rec.messages()) {
    if (t != "spBv1.0/g1/NDEATH/site-001") continue;
    auto p = sparkplug::decode_payload(payload);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->metrics_size(), 1);
    EXPECT_EQ(p->metrics(0).name(), "bdSeq");
    EXPECT_EQ(std::get<std::int64_t>(*sparkplug::metric_value(p->metrics(0), p->metrics(0).datatype())), *bdseq);
  }
}

// Runs vppsim with `args`; returns the exit status and stdout + stderr.
std::pair<int, std::string> vppsim(const std::string& args, const std::filesystem::path& dir) {
  const auto out = dir / "out.txt";
  const int rc = std::system((std::string(VPP_BIN_DIR) + "/vppsim " + args + " > " + out.string() + " 2>&1").c_str());
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, text};
}

TEST(ServeCli, BadArgumentsAreClearErrors) {
  auto dir = vpp::test::temp_dir("emu-cli");
  const std::string path = write_scenario(dir, 1, "");
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"serve", "serve needs a SCENARIO file"},
      {"serve " + path + " --clock-factor 0", "--clock-factor needs a number > 0"},
      {"serve " + path + " --clock-factor fast", "--clock-factor needs a number"},
      {"serve " + path + " --broker http://x:1", "--broker needs tcp://HOST:PORT"},
      {"serve " + path + " --start-at later", "--start-at must be now or scenario"},
      {"serve " + path + " --duration -5m", "--duration needs a positive duration"},
      {"serve " + path + " --modbus-base-port 70000", "--modbus-base-port needs a port 1..65535"},
      {"serve " + path + " --colour red", "unknown serve option '--colour'"},
      {"serve " + path, "--broker tcp://HOST:PORT is required"},
      {"serve " + (dir / "missing.yaml").string(), "missing.yaml:1:1: cannot read file"},
      {"serve-config " + path + " --token-sha256 abc", "--token-sha256 needs 64 lowercase hex digits"},
  };
  for (const auto& c : cases) {
    const auto [rc, text] = vppsim(c.args, dir);
    EXPECT_EQ(rc, 2) << c.args << "\n" << text;
    EXPECT_NE(text.find(c.message), std::string::npos) << c.args << "\n" << text;
  }
  // serve-config prints a configuration vppd accepts.
  const auto [rc, yaml] = vppsim("serve-config " + path + " --broker tcp://127.0.0.1:1 --http-port 18081", dir);
  ASSERT_EQ(rc, 0) << yaml;
  auto cfg = config::load_config_text(yaml, "generated.yaml");
  EXPECT_TRUE(cfg) << cfg.error();
}

TEST(MqttEmulators, BadCommandsAreAnsweredOrCountedNeverCrash) {
  auto dir = vpp::test::temp_dir("emu-bad");
  Broker broker(dir);
  const std::string path = write_scenario(dir, 2, kMqttServe);
  auto sc = load_scenario_file(path);
  ASSERT_TRUE(sc) << sc.error();
  Recorder acks(broker.url(), "vpp/+/+/ack");
  Recorder spb(broker.url(), "spBv1.0/g1/DDATA/#");
  Process serve({std::string(VPP_BIN_DIR) + "/vppsim", "serve", path, "--broker", broker.url(), "--duration", "12s"});
  ASSERT_TRUE(serve.expect("ready:", 30s));
  ASSERT_TRUE(vpp::test::wait_until([&] { return !spb.messages().empty(); }, 10s));  // born and reporting

  const TimePoint t = sc->start;  // --start-at scenario: device clocks in scenario time
  auto json_cmd = [&](const std::string& id, const std::string& asset) {
    return to_json(to_proto(Command{id, "site-002", asset, SetpointKind::battery_p_kw, 5, t, t + 1h, "test"}));
  };
  acks.publish("vpp/site-002/battery/cmd", "{not json");
  acks.publish("vpp/site-002/battery/cmd", R"({"commandId":"c-nan","siteId":"site-002","assetId":"battery","kind":"SETPOINT_KIND_BATTERY_P_KW","value":"NaN","issued":"2026-07-07T04:00:00Z","expires":"2026-07-07T05:00:00Z"})");
  acks.publish("vpp/site-002/battery/cmd", json_cmd("c-wrong", "pv"));   // payload names another asset
  acks.publish("vpp/site-002/battery/cmd", json_cmd("c-ok", "battery"));
  acks.publish("vpp/site-002/battery/cmd", json_cmd("c-ok", "battery"));  // a repeat: the same ack again
  spb.publish("spBv1.0/g1/DCMD/site-001/battery", "\xff\xff garbage");
  sparkplug::Payload p;
  auto* m = p.add_metrics();
  m->set_name("Command/Id");
  (void)sparkplug::set_metric_value(*m, sparkplug::Payload::STRING, std::string("d-nokind"));
  spb.publish("spBv1.0/g1/DCMD/site-001/battery", p.SerializeAsString());
  auto* k = p.add_metrics();
  k->set_name("Command/Kind");
  (void)sparkplug::set_metric_value(*k, sparkplug::Payload::STRING, std::string("FLY"));
  p.mutable_metrics(0)->set_string_value("d-fly");
  spb.publish("spBv1.0/g1/DCMD/site-001/battery", p.SerializeAsString());

  // JSON: c-wrong rejected naming the mismatch, c-ok accepted twice (first answer repeated).
  ASSERT_TRUE(acks.wait([](const auto& ms) { return ms.size() >= 3; }));
  std::map<std::string, std::vector<CommandAck>> by_id;
  for (const auto& [topic, payload] : acks.messages()) {
    auto a = json_to_model<vpp::v1::CommandAck>(payload);
    ASSERT_TRUE(a) << payload;
    by_id[a->command_id].push_back(*a);
  }
  ASSERT_EQ(by_id["c-wrong"].size(), 1u);
  EXPECT_EQ(by_id["c-wrong"][0].status, AckStatus::rejected);
  EXPECT_NE(by_id["c-wrong"][0].detail.find("names site-002/pv"), std::string::npos) << by_id["c-wrong"][0].detail;
  ASSERT_EQ(by_id["c-ok"].size(), 2u);
  EXPECT_EQ(by_id["c-ok"][0].status, AckStatus::accepted) << by_id["c-ok"][0].detail;
  EXPECT_EQ(by_id["c-ok"][1].status, AckStatus::accepted);
  EXPECT_FALSE(by_id.count("c-nan"));
  // Sparkplug: acks as DDATA metrics, REJECTED with the reason.
  std::map<std::string, std::pair<std::string, std::string>> spb_acks;  // id -> status, detail
  ASSERT_TRUE(spb.wait([&](const auto& ms) {
    spb_acks.clear();
    for (const auto& [topic, payload] : ms) {
      auto d = sparkplug::decode_payload(payload);
      if (!d) continue;
      std::string id, status, detail;
      for (const auto& mm : d->metrics()) {
        if (mm.name() == "Ack/CommandId") id = mm.string_value();
        if (mm.name() == "Ack/Status") status = mm.string_value();
        if (mm.name() == "Ack/Detail") detail = mm.string_value();
      }
      if (!id.empty()) spb_acks[id] = {status, detail};
    }
    return spb_acks.size() >= 2;
  }));
  EXPECT_EQ(spb_acks["d-nokind"].first, "REJECTED");
  EXPECT_EQ(spb_acks["d-nokind"].second, "Command/Kind is missing");
  EXPECT_EQ(spb_acks["d-fly"].first, "REJECTED");
  EXPECT_EQ(spb_acks["d-fly"].second, "unknown Command/Kind 'FLY'");
  // Still serving to the end, with every bad message counted.
  auto done = serve.expect("served:", 30s);
  ASSERT_TRUE(done);
  const auto pos = done->find("rejected ");
  ASSERT_NE(pos, std::string::npos) << *done;
  EXPECT_EQ(std::stoi(done->substr(pos + 9)), 6) << *done;  // not json, NaN, c-wrong, garbage, no kind, FLY
  EXPECT_NE(done->find("repeats 1"), std::string::npos) << *done;
}

// Runs an in-process emulator on its own thread for tests that look at the simulated assets.
struct Running {
  std::unique_ptr<Emulator> em;
  std::thread thread;
  std::atomic<bool> ready{false};
  ~Running() {
    if (em) em->stop();
    if (thread.joinable()) thread.join();
  }
};

void start(Running& r, const Scenario& sc, ServeOptions o) {
  auto em = Emulator::create(sc, o);
  ASSERT_TRUE(em) << em.error();
  r.em = std::move(*em);
  r.thread = std::thread([&r] {
    auto res = r.em->run([&r] { r.ready = true; });
    if (!res) ADD_FAILURE() << res.error();
  });
  ASSERT_TRUE(vpp::test::wait_until([&] { return r.ready.load(); }, 30s));
}

std::vector<config::ModbusDevice> modbus_devices(const ServePlan& plan) {
  std::vector<config::ModbusDevice> out;
  for (const auto& m : plan.modbus) {
    config::ModbusDevice d;
    d.id = m.site_id + "." + m.asset_id;
    d.site_id = m.site_id;
    d.asset_id = m.asset_id;
    d.host = "127.0.0.1";
    d.port = static_cast<std::uint16_t>(m.port);
    d.unit_id = m.unit_id;
    d.poll_period = 500ms;
    out.push_back(d);
  }
  return out;
}

class SunSpecEmulator : public ::testing::TestWithParam<const char*> {};

TEST_P(SunSpecEmulator, AdapterDiscoversReadsAndItsWritesMoveTheAsset) {
  const std::string serve = std::string("serve:\n  groups:\n    - {dialect: modbus, sunspec: ") + GetParam() + "}\n";
  auto sc = load_scenario_text(fixture::scenario_text(1, serve), "t.yaml");
  ASSERT_TRUE(sc) << sc.error();
  // The site's meter and HVAC are JSON devices behind the site gateway: they need a broker.
  auto dir = vpp::test::temp_dir(std::string("emu-modbus-") + GetParam());
  Broker broker(dir);
  ServeOptions o;
  o.broker_url = broker.url();
  o.modbus_base_port = vpp::test::free_port();
  o.clock_factor = 1;
  Running r;
  start(r, *sc, o);
  const auto& plan = r.em->plan();
  ASSERT_EQ(plan.modbus.size(), 2u);  // PV (unit 1) and battery (unit 2) behind one gateway port

  InputQueue q;
  SystemClock clock;
  auto a = adapters::modbus::ModbusAdapter::create(modbus_devices(plan), q, clock);
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  auto pv_t = wait_for<Telemetry>(q, [](const Telemetry& t) { return t.asset_id == "pv" && t.p_kw && *t.p_kw > 0; });
  ASSERT_TRUE(pv_t) << "no PV telemetry over SunSpec";
  auto bat_t = wait_for<Telemetry>(q, [](const Telemetry& t) { return t.asset_id == "battery" && t.soc_pct; });
  ASSERT_TRUE(bat_t) << "no battery SoC over SunSpec";
  EXPECT_NEAR(*bat_t->soc_pct, 50, 2);
  const double rated = r.em->sites()[0].find_asset("pv")->get<PvSpec>()->rated_kw;
  const auto* bat = r.em->sites()[0].find_asset("battery")->get<BatterySpec>();

  // PV limit to 25 % of the rating, expiring in 15 s: written through 123 or 704. The inverter
  // ramps at 10 %/s of its rating (scenario devices.pv_ramp_pct_per_s), so 100 -> 25 % takes 7.5 s.
  ASSERT_TRUE((*a)->send(command("m-pv", "site-001", "pv", SetpointKind::pv_limit_kw, 0.25 * rated, 15s)));
  auto ack = wait_for<CommandAck>(q, [](const CommandAck& k) { return k.command_id == "m-pv"; });
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::accepted) << ack->detail;
  double limit = -1;
  ASSERT_TRUE(vpp::test::wait_until(
      [&] {
        r.em->with_fleet([&](const FleetModel& f) { limit = f.pv_limit_kw(0); });
        return std::abs(limit - 0.25 * rated) < 0.01 * rated;
      },
      12s))
      << "PV limit in the fleet " << limit << " kW, wanted " << 0.25 * rated;
  // The reversion timer (15 s from the write) ends the limit in the device and in the fleet.
  ASSERT_TRUE(vpp::test::wait_until(
      [&] {
        r.em->with_fleet([&](const FleetModel& f) { limit = f.pv_limit_kw(0); });
        return std::abs(limit - rated) < 0.01 * rated;
      },
      25s))
      << "the limit did not revert: " << limit << " kW";
  EXPECT_GE(r.em->stats().modbus_reverts, 1u);

  // Battery: discharge at 40 % of its discharge rating (704 WSet or 124 OutWRte).
  const double want = std::min(0.4 * bat->max_discharge_kw, bat->max_charge_kw);
  ASSERT_TRUE((*a)->send(command("m-bat", "site-001", "battery", SetpointKind::battery_p_kw, want)));
  ack = wait_for<CommandAck>(q, [](const CommandAck& k) { return k.command_id == "m-bat"; });
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::accepted) << ack->detail;
  double p = 0;
  EXPECT_TRUE(vpp::test::wait_until(
      [&] {
        r.em->with_fleet([&](const FleetModel& f) { p = f.battery_power_kw(0); });
        return std::abs(p - want) < 0.01 * want + 0.5;
      },
      10s))
      << "battery at " << p << " kW, wanted " << want;
  // And the adapter reads it back as telemetry.
  EXPECT_TRUE(wait_for<Telemetry>(q, [&](const Telemetry& t) {
    return t.asset_id == "battery" && t.p_kw && std::abs(*t.p_kw - want) < 0.01 * want + 1;
  }));
  // A charge setpoint ten times the rating. Model 704 carries watts: the device refuses the write
  // (ILLEGAL DATA VALUE), the command is rejected and the asset keeps its setpoint. Model 124
  // carries a share of WChaMax, which the adapter caps at 100 %: the battery charges at its rating.
  ASSERT_TRUE((*a)->send(command("m-bad", "site-001", "battery", SetpointKind::battery_p_kw, -10 * bat->max_charge_kw)));
  ack = wait_for<CommandAck>(q, [](const CommandAck& k) { return k.command_id == "m-bad"; });
  ASSERT_TRUE(ack);
  if (std::string(GetParam()) == "der") {
    EXPECT_EQ(ack->status, AckStatus::rejected);
    r.em->with_fleet([&](const FleetModel& f) { p = f.battery_power_kw(0); });
    EXPECT_NEAR(p, want, 0.01 * want + 0.5);
  } else {
    EXPECT_EQ(ack->status, AckStatus::accepted) << ack->detail;
    EXPECT_TRUE(vpp::test::wait_until(
        [&] {
          r.em->with_fleet([&](const FleetModel& f) { p = f.battery_power_kw(0); });
          return std::abs(p + bat->max_charge_kw) < 0.01 * bat->max_charge_kw;
        },
        10s))
        << "battery at " << p << " kW, wanted the charge rating " << -bat->max_charge_kw;
  }
  (*a)->stop();
}

TEST(SunSpecServerRaw, AnswersLikeADeviceToBadRequests) {
  auto sc = load_scenario_text(fixture::scenario_text(1, "serve:\n  groups:\n    - {dialect: modbus}\n"), "t.yaml");
  ASSERT_TRUE(sc) << sc.error();
  auto dir = vpp::test::temp_dir("emu-raw");
  Broker broker(dir);
  ServeOptions o;
  o.broker_url = broker.url();
  o.modbus_base_port = vpp::test::free_port();
  Running r;
  start(r, *sc, o);
  modbus_t* ctx = modbus_new_tcp("127.0.0.1", o.modbus_base_port);
  ASSERT_NE(ctx, nullptr);
  ASSERT_EQ(modbus_connect(ctx), 0) << modbus_strerror(errno);
  std::uint16_t regs[8] = {};
  modbus_set_slave(ctx, 1);
  ASSERT_EQ(modbus_read_registers(ctx, 40000, 2, regs), 2) << modbus_strerror(errno);
  EXPECT_EQ(regs[0], 0x5375);
  EXPECT_EQ(regs[1], 0x6E53);
  // No map at 0 (a scan moves on to 40000), nothing past the end model.
  EXPECT_EQ(modbus_read_registers(ctx, 0, 2, regs), -1);
  EXPECT_EQ(errno, EMBXILADD);
  // The ID register of the common model is read-only.
  EXPECT_EQ(modbus_write_register(ctx, 40002, 7), -1);
  EXPECT_EQ(errno, EMBXILADD);
  // FC 23 would write around the checks: refused.
  EXPECT_EQ(modbus_write_and_read_registers(ctx, 40002, 1, regs, 40000, 1, regs), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  // A unit id the gateway does not have: "gateway target device failed to respond".
  modbus_set_slave(ctx, 9);
  EXPECT_EQ(modbus_read_registers(ctx, 40000, 2, regs), -1);
  EXPECT_EQ(errno, EMBXGTAR);
  modbus_close(ctx);
  modbus_free(ctx);
  // Still serving.
  EXPECT_TRUE(r.em->with_fleet([](const FleetModel&) {}));
}

INSTANTIATE_TEST_SUITE_P(Profiles, SunSpecEmulator, ::testing::Values("legacy", "der"));

TEST(Emulator, MqttSitesNeedABroker) {
  auto sc = load_scenario_text(fixture::scenario_text(1, ""), "t.yaml");
  ASSERT_TRUE(sc);
  auto em = Emulator::create(*sc, {});
  ASSERT_FALSE(em);
  EXPECT_NE(em.error().find("--broker"), std::string::npos);
  ServeOptions bad;
  bad.clock_factor = 0;
  EXPECT_FALSE(Emulator::create(*sc, bad));
}

}  // namespace
}  // namespace vpp::sim::emulators
