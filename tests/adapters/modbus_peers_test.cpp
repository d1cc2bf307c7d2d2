// The Modbus adapter against a real Modbus TCP server: Debian's python3-pymodbus serving SunSpec
// register images that tests/adapters/peers/sunspec_server.py builds from the official JSON
// models, with a fault-injecting front proxy (dropped connections, dead units).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "adapters/modbus/modbus_adapter.hpp"
#include "tests/adapters/peers.hpp"

namespace vpp::adapters::modbus {
namespace {

using namespace std::chrono_literals;
using test::Process;

struct Server {
  int port = test::free_port();
  std::unique_ptr<Process> proc;
  explicit Server(std::vector<std::string> extra) {
    std::vector<std::string> argv{test::python(), test::peers_dir() + "/sunspec_server.py", "--port", std::to_string(port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<Process>(argv);
    if (!proc->expect("ready", 20s)) ADD_FAILURE() << "SunSpec server did not start";
  }
};

std::uint16_t point_address(const SunSpecMap& map, std::uint16_t model, const char* name) {
  const auto* loc = map.find(model);
  const auto* p = sunspec::find_point(sunspec::find_model(model)->group, name);
  EXPECT_TRUE(loc && p) << model << " " << name;
  return loc && p ? static_cast<std::uint16_t>(loc->address + p->offset) : 0;
}

const sunspec::DecodedModel* find(const std::vector<ScannedModel>& ms, std::uint16_t id) {
  for (const auto& m : ms) {
    if (m.where.id == id && m.decoded) return &*m.decoded;
  }
  return nullptr;
}

TEST(ModbusSunSpecPeer, DiscoversAndDecodesEveryBase) {
  Server s({"--device", "1:pv1xx", "--device", "2:bat7xx:50000", "--device", "3:pv1xx:0"});
  ModbusLink link(LinkSpec{false, "127.0.0.1", s.port, "", 0, {}});
  link.set_timeout(2s);

  SunSpecMap pv;
  auto st = discover(link, 1, std::nullopt, pv);
  ASSERT_TRUE(st.ok()) << st.message;
  EXPECT_EQ(pv.base, 40000);
  std::vector<std::uint16_t> ids;
  for (const auto& m : pv.models) ids.push_back(m.id);
  EXPECT_EQ(ids, (std::vector<std::uint16_t>{1, 103, 120, 121, 122, 123, 160}));
  EXPECT_EQ(pv.models[0].address, 40002);
  EXPECT_EQ(pv.models[1].address, 40070) << "model 1 is 66 + 2 registers";
  std::vector<ScannedModel> ms;
  ASSERT_TRUE(read_models(link, 1, pv, ms).ok());
  const auto* inv = find(ms, 103);
  ASSERT_NE(inv, nullptr);
  EXPECT_DOUBLE_EQ(*inv->value("W"), 12340.0);  // 1234 x 10^1
  EXPECT_NEAR(*inv->value("PhVphA"), 230.1, 1e-9);
  EXPECT_NEAR(*inv->value("Hz"), 50.01, 1e-9);
  EXPECT_DOUBLE_EQ(*inv->value("VAr"), -50.0);
  EXPECT_DOUBLE_EQ(*inv->value("WH"), 123456.0);
  EXPECT_DOUBLE_EQ(*inv->value("St"), 4.0);
  EXPECT_FALSE(inv->find("DCA")->implemented()) << "unset points are the not-implemented sentinel";
  const auto* common = find(ms, 1);
  ASSERT_NE(common, nullptr);
  EXPECT_EQ(std::get<std::string>(common->find("Mn")->raw), "vpp-test");
  EXPECT_EQ(std::get<std::string>(common->find("SN")->raw), "PV-0001");
  const auto* mppt = find(ms, 160);
  ASSERT_NE(mppt, nullptr);
  EXPECT_EQ(mppt->repeats.at("module"), 2u);
  EXPECT_DOUBLE_EQ(*mppt->value("module[1].DCW"), 6500.0);
  auto t = telemetry_from(ms, "s", "pv", TimePoint{});
  ASSERT_TRUE(t);
  EXPECT_DOUBLE_EQ(*t->p_kw, 12.34);
  EXPECT_DOUBLE_EQ(*t->available_kw, 15.0);

  SunSpecMap bat;
  st = discover(link, 2, std::nullopt, bat);
  ASSERT_TRUE(st.ok()) << st.message;
  EXPECT_EQ(bat.base, 50000) << "found after exceptions at 40000 and 0";
  ASSERT_TRUE(read_models(link, 2, bat, ms).ok());
  ASSERT_NE(find(ms, 701), nullptr);
  EXPECT_EQ(find(ms, 701)->length, 153);
  t = telemetry_from(ms, "s", "bat", TimePoint{});
  ASSERT_TRUE(t);
  EXPECT_DOUBLE_EQ(*t->p_kw, -5.0);
  EXPECT_NEAR(*t->soc_pct, 65.5, 1e-9) << "713 SoC 655 x 10^-1";

  SunSpecMap zero;
  ASSERT_TRUE(discover(link, 3, std::nullopt, zero).ok());
  EXPECT_EQ(zero.base, 0);

  SunSpecMap none;
  st = discover(link, 1, 0, none);  // unit 1 has no map at 0: exception 2
  EXPECT_EQ(st.error, IoError::exception);
  EXPECT_EQ(st.exception_code, 2);
  EXPECT_NE(st.message.find("no SunSpec map at 0"), std::string::npos) << st.message;
}

config::ModbusDevice device(const std::string& id, int port, int unit, const std::string& asset) {
  config::ModbusDevice d;
  d.id = id;
  d.site_id = "site";
  d.asset_id = asset;
  d.host = "127.0.0.1";
  d.port = static_cast<std::uint16_t>(port);
  d.unit_id = unit;
  d.poll_period = 100ms;
  d.timeout = 1s;
  d.retries = 2;
  return d;
}

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

Command command(const std::string& id, const std::string& asset, SetpointKind k, double v, Duration ttl = 10min) {
  const TimePoint now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  return Command{id, "site", asset, k, v, now, now + ttl, "test"};
}

// "write UNIT ADDR v1,v2" lines from the server, until `n` lines or a timeout.
std::vector<std::string> writes(Process& p, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() < n) {
    auto l = p.expect("write ", 5s);
    if (!l) break;
    out.push_back(l->substr(6));
  }
  return out;
}

TEST(ModbusSunSpecPeer, AdapterPollsAndWritesControlsWithReadBack) {
  Server s({"--device", "1:pv1xx", "--device", "2:bat7xx:50000"});
  InputQueue q;
  SystemClock clock;
  auto a = ModbusAdapter::create({device("inv", s.port, 1, "pv"), device("bms", s.port, 2, "battery")}, q, clock);
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ((*a)->bus_count(), 1u) << "one gateway, two unit ids: one serialised bus";
  (*a)->start();
  auto pv = wait_for<Telemetry>(q, [](const Telemetry& t) { return t.asset_id == "pv"; });
  ASSERT_TRUE(pv);
  EXPECT_DOUBLE_EQ(*pv->p_kw, 12.34);
  auto bat = wait_for<Telemetry>(q, [](const Telemetry& t) { return t.asset_id == "battery"; });
  ASSERT_TRUE(bat);
  EXPECT_NEAR(*bat->soc_pct, 65.5, 1e-9);
  const SunSpecMap pv_map = *(*a)->device_state("inv")->map;
  const SunSpecMap bat_map = *(*a)->device_state("bms")->map;

  // PV limit 50 % through model 123: WMaxLimPct (SF -2), its reversion timer, then the enable.
  ASSERT_TRUE((*a)->send(command("lim-1", "pv", SetpointKind::pv_limit_pct, 50.0)));
  auto ack = wait_for<CommandAck>(q);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::accepted) << ack->detail;
  auto w = writes(*s.proc, 3);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0], "1 " + std::to_string(point_address(pv_map, 123, "WMaxLimPct")) + " 5000");
  EXPECT_EQ(w[1], "1 " + std::to_string(point_address(pv_map, 123, "WMaxLimPct_RvrtTms")) + " 600");
  EXPECT_EQ(w[2], "1 " + std::to_string(point_address(pv_map, 123, "WMaxLim_Ena")) + " 1");

  // 5 kW of a 20 kW inverter (121 WMax = 2000 x 10^1 W) is 25 %.
  ASSERT_TRUE((*a)->send(command("lim-2", "pv", SetpointKind::pv_limit_kw, 5.0)));
  ack = wait_for<CommandAck>(q);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::accepted) << ack->detail;
  w = writes(*s.proc, 3);
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(w[0], "1 " + std::to_string(point_address(pv_map, 123, "WMaxLimPct")) + " 2500");

  // Battery charge at 20 kW through model 704: WSet = -20000 W at WSet_SF 1 -> raw -2000 (int32).
  ASSERT_TRUE((*a)->send(command("bat-1", "battery", SetpointKind::battery_p_kw, -20.0)));
  ack = wait_for<CommandAck>(q);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::accepted) << ack->detail;
  w = writes(*s.proc, 4);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0], "2 " + std::to_string(point_address(bat_map, 704, "WSetMod")) + " 1");
  EXPECT_EQ(w[1], "2 " + std::to_string(point_address(bat_map, 704, "WSet")) + " 65535,63536");
  EXPECT_EQ(w[3], "2 " + std::to_string(point_address(bat_map, 704, "WSetEna")) + " 1");

  // Unsupported kinds, out-of-range values and expired commands are answered, never written.
  ASSERT_TRUE((*a)->send(command("hvac-1", "battery", SetpointKind::hvac_setpoint_offset_c, 1.0)));
  ack = wait_for<CommandAck>(q);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::rejected);
  EXPECT_NE(ack->detail.find("not supported"), std::string::npos) << ack->detail;
  ASSERT_TRUE((*a)->send(command("big-1", "battery", SetpointKind::battery_p_kw, 1e12)));
  ack = wait_for<CommandAck>(q);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::rejected) << "1e12 kW does not fit WSet";
  ASSERT_TRUE((*a)->send(command("old-1", "pv", SetpointKind::pv_limit_pct, 10.0, -1s)));
  ack = wait_for<CommandAck>(q);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::expired);
  EXPECT_FALSE(s.proc->expect("write ", 300ms)) << "nothing written for rejected commands";
  EXPECT_FALSE((*a)->send(command("x", "ghost", SetpointKind::pv_limit_pct, 1.0)));
  EXPECT_EQ((*a)->counters().rejected(reason::unsupported), 2u);
}

TEST(ModbusSunSpecPeer, DeviceThatDisconnectsMidWriteGetsTheCommandOnReconnect) {
  Server s({"--device", "1:pv1xx", "--drop-writes", "1"});
  InputQueue q;
  SystemClock clock;
  auto a = ModbusAdapter::create({device("inv", s.port, 1, "pv")}, q, clock);
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  ASSERT_TRUE(wait_for<Telemetry>(q));
  ASSERT_TRUE((*a)->send(command("lim-1", "pv", SetpointKind::pv_limit_pct, 40.0)));
  auto ack = wait_for<CommandAck>(q);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::accepted) << ack->detail;
  // The proxy closed the connection on the first write; the link reconnected and the retry of
  // the (idempotent) write sequence landed.
  ASSERT_TRUE(s.proc->expect("dropped-write", 1s));
  auto w = writes(*s.proc, 3);
  ASSERT_FALSE(w.empty());
  EXPECT_NE(w[0].find(" 4000"), std::string::npos) << "40 % at SF -2 landed after the reconnect";
}

TEST(ModbusSunSpecPeer, ExceptionResponsesAreCountedAndBackedOff) {
  Server s({"--device", "1:pv1xx"});
  InputQueue q;
  SystemClock clock;
  auto d = device("inv", s.port, 1, "pv");
  d.sunspec_base = 50000;  // wrong: the device answers "illegal data address"
  auto a = ModbusAdapter::create({d}, q, clock);
  ASSERT_TRUE(a) << a.error();
  (*a)->start();
  ASSERT_TRUE(test::wait_until([&] { return (*a)->counters().rejected(reason::modbus_exception) >= 3; }));
  const auto st = (*a)->device_state("inv");
  EXPECT_FALSE(st->online);
  EXPECT_GE(st->backoff, 400ms) << "100, 200, 400 ms: doubling after each failed poll";
  EXPECT_EQ(st->polls_ok, 0u);
  EXPECT_FALSE(wait_for<Telemetry>(q, nullptr, 200ms));
}

TEST(ModbusSunSpecPeer, DeadDeviceNeverStallsOtherBusesAndOnlySlowsItsOwn) {
  Server gateway({"--device", "1:pv1xx", "--device", "2:bat7xx", "--blackhole-unit", "2"});
  Server other({"--device", "1:pv1xx"});
  InputQueue q;
  SystemClock clock;
  auto alive = device("alive", gateway.port, 1, "pv");
  auto dead = device("dead", gateway.port, 2, "battery");
  dead.timeout = 300ms;
  dead.retries = 1;
  auto elsewhere = device("elsewhere", other.port, 1, "pv2");
  auto a = ModbusAdapter::create({alive, dead, elsewhere}, q, clock);
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ((*a)->bus_count(), 2u);
  (*a)->start();
  std::this_thread::sleep_for(3s);
  const auto s_alive = *(*a)->device_state("alive");
  const auto s_dead = *(*a)->device_state("dead");
  const auto s_else = *(*a)->device_state("elsewhere");
  (*a)->stop();
  // Polls every 100 ms for 3 s: ~30 on an independent bus, whatever the dead device does.
  EXPECT_GE(s_else.polls_ok, 15u);
  // The dead unit shares the gateway: each of its failed polls costs 2 x 300 ms, but its backoff
  // doubles, so the live unit on the same gateway keeps being served.
  EXPECT_GE(s_alive.polls_ok, 5u);
  EXPECT_TRUE(s_alive.online);
  EXPECT_FALSE(s_dead.online);
  EXPECT_GE(s_dead.polls_failed, 2u);
  EXPECT_LE(s_dead.polls_failed, 5u) << "backoff limits the attempts";
  EXPECT_GE((*a)->counters().rejected(reason::timeout), 2u);
}

TEST(ModbusSunSpecPeer, FrameGapSeparatesRequestsOnABus) {
  Server s({"--device", "1:pv1xx"});
  ModbusLink link(LinkSpec{false, "127.0.0.1", s.port, "", 0, 50ms});
  link.set_timeout(2s);
  std::vector<std::uint16_t> r;
  ASSERT_TRUE(link.read(1, 40000, 2, r).ok());
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(link.read(1, 40000, 2, r).ok());
  // Four requests after the first, each at least 50 ms after the previous answer.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
  EXPECT_EQ(r, (std::vector<std::uint16_t>{0x5375, 0x6E53}));
}

TEST(ModbusSunSpecPeer, RtuOverASerialLineUsesTheSameCodePath) {
  // A virtual null-modem cable (socat pty pair): pymodbus serves RTU on one end, the adapter
  // speaks RTU through libmodbus on the other.
  auto dir = test::temp_dir("modbus-rtu");
  const std::string a = (dir / "server").string(), b = (dir / "client").string();
  Process cable({"socat", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b});
  ASSERT_TRUE(test::wait_until([&] { return std::filesystem::exists(a) && std::filesystem::exists(b); }));
  Process server({test::python(), test::peers_dir() + "/sunspec_server.py", "--rtu", a, "--baud", "19200", "--device",
                  "3:bat7xx"});
  ASSERT_TRUE(server.expect("ready", 20s));
  config::ModbusDevice d;
  d.id = "rtu-bat";
  d.site_id = "site";
  d.asset_id = "battery";
  d.transport = config::ModbusTransport::rtu;
  d.serial_port = b;
  d.baud = 19200;
  d.unit_id = 3;
  d.poll_period = 200ms;
  d.timeout = 1s;
  d.frame_gap = 5ms;  // 3.5 character times at 19200 baud is 2 ms; slow adapters need more
  InputQueue q;
  SystemClock clock;
  auto ad = ModbusAdapter::create({d}, q, clock);
  ASSERT_TRUE(ad) << ad.error();
  (*ad)->start();
  auto t = wait_for<Telemetry>(q, nullptr, 20s);
  ASSERT_TRUE(t) << "telemetry over RTU";
  EXPECT_DOUBLE_EQ(*t->p_kw, -5.0);
  EXPECT_NEAR(*t->soc_pct, 65.5, 1e-9);
  ASSERT_TRUE((*ad)->send(command("rtu-1", "battery", SetpointKind::battery_p_kw, 12.5)));
  auto ack = wait_for<CommandAck>(q, nullptr, 20s);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, AckStatus::accepted) << ack->detail;
  const auto map = *(*ad)->device_state("rtu-bat")->map;
  auto w = writes(server, 2);
  ASSERT_EQ(w.size(), 2u);
  // 12.5 kW = 12500 W at WSet_SF 1 -> raw 1250.
  EXPECT_EQ(w[1], "3 " + std::to_string(point_address(map, 704, "WSet")) + " 0,1250");
  (*ad)->stop();
}

TEST(VppctlModbusScan, PrintsModelsAsJsonAndRejectsBadArguments) {
  Server s({"--device", "7:bat7xx:0"});
  const std::string bin = std::string(VPP_BIN_DIR) + "/vppctl";
  Process scan({bin, "modbus", "scan", "127.0.0.1:" + std::to_string(s.port), "--unit", "7"});
  auto line = scan.read_line(20s);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->rfind("{\"host\":\"127.0.0.1\",\"port\":" + std::to_string(s.port) + ",\"unit\":7,\"base\":0,", 0), 0u) << *line;
  EXPECT_NE(line->find("\"SoC\":{\"value\":65.5,\"units\":\"Pct\"}"), std::string::npos) << *line;
  EXPECT_NE(line->find("\"W\":{\"value\":-5000,\"units\":\"W\"}"), std::string::npos) << *line;
  EXPECT_NE(line->find("\"Md\":{\"value\":\"battery-7xx\"}"), std::string::npos) << *line;
  EXPECT_EQ(test::run(bin + " 2>/dev/null") >> 8, 2) << "no command: usage";
  EXPECT_EQ(test::run(bin + " --help >/dev/null") >> 8, 0);
  EXPECT_EQ(test::run(bin + " modbus frobnicate 2>/dev/null") >> 8, 2);
  EXPECT_EQ(test::run(bin + " modbus scan 2>/dev/null") >> 8, 2);
  EXPECT_EQ(test::run(bin + " modbus scan 127.0.0.1:1 --base 123 2>/dev/null") >> 8, 2);
  EXPECT_EQ(test::run(bin + " modbus scan 127.0.0.1:1 --unit 2>/dev/null") >> 8, 2) << "option without a value";
  EXPECT_EQ(test::run(bin + " modbus scan nohostport 2>/dev/null") >> 8, 2);
  EXPECT_EQ(test::run(bin + " modbus scan 127.0.0.1:1 --unit 999 2>/dev/null") >> 8, 2);
  EXPECT_EQ(test::run(bin + " modbus scan 127.0.0.1:" + std::to_string(test::free_port()) + " --timeout-ms 200 2>/dev/null") >> 8, 1);
}

}  // namespace
}  // namespace vpp::adapters::modbus
