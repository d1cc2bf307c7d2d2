// Emulator parts without sockets: SunSpec register images and their writes, the scenario's
// serve: section, the serve plan and the vppd configuration generated from it.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "proto/sunspec_codec.hpp"
#include "sim/emulators/serve_plan.hpp"
#include "sim/emulators/sunspec_image.hpp"
#include "sim/fleet_gen.hpp"
#include "sim/scenario.hpp"
#include "tests/sim/emulators/test_scenario.hpp"

namespace vpp::sim::emulators {
namespace {

namespace ss = vpp::sunspec;

// Decodes model `id` from the image as a SunSpec client would.
ss::DecodedModel decode(const SunSpecImage& img, std::uint16_t id) {
  for (const auto& [mid, addr] : img.models()) {
    if (mid != id) continue;
    const auto& r = img.registers();
    const std::size_t off = addr - SunSpecImage::kBase;
    auto dm = ss::decode_model(*ss::find_model(id), std::span<const std::uint16_t>(r.data() + off, std::size_t(r[off + 1]) + 2));
    EXPECT_TRUE(dm) << dm.error();
    return *dm;
  }
  ADD_FAILURE() << "model " << id << " not in the image";
  return {};
}

std::uint16_t address_of(const SunSpecImage& img, std::uint16_t id, const char* point) {
  for (const auto& [mid, addr] : img.models()) {
    if (mid == id) return static_cast<std::uint16_t>(addr + ss::find_point(ss::find_model(id)->group, point)->offset);
  }
  return 0;
}

SunSpecDeviceSpec pv_spec(SunSpecProfile profile) {
  SunSpecDeviceSpec s;
  s.serial = "site-001.pv";
  s.role = SunSpecRole::pv;
  s.profile = profile;
  s.rated_kw = 300;
  return s;
}

SunSpecDeviceSpec battery_spec(SunSpecProfile profile) {
  SunSpecDeviceSpec s;
  s.serial = "site-001.battery";
  s.unit_id = 2;
  s.role = SunSpecRole::battery;
  s.profile = profile;
  s.rated_kw = 500;
  s.max_charge_kw = 400;
  s.capacity_kwh = 1000;
  s.reserve_pct = 20;
  return s;
}

TEST(SunSpecImage, LegacyPvLayoutAndLiveValues) {
  auto img = SunSpecImage::build(pv_spec(SunSpecProfile::legacy));
  ASSERT_TRUE(img) << img.error();
  const auto& r = img->registers();
  EXPECT_EQ(r[0], 0x5375);  // "SunS"
  EXPECT_EQ(r[1], 0x6E53);
  std::vector<std::uint16_t> ids;
  for (const auto& [id, addr] : img->models()) ids.push_back(id);
  EXPECT_EQ(ids, (std::vector<std::uint16_t>{1, 103, 120, 121, 122, 123}));
  EXPECT_EQ(r[r.size() - 2], 0xFFFF);  // end model
  // Chain: each model starts where the previous one's L says.
  for (std::size_t i = 1; i < img->models().size(); ++i) {
    const auto prev = img->models()[i - 1].second;
    EXPECT_EQ(img->models()[i].second, prev + 2 + r[prev - SunSpecImage::kBase + 1]);
  }
  img->update({.p_kw = 212.34, .q_kvar = 0, .available_kw = 250.0, .soc_pct = std::nullopt, .energy_out_wh = 5000});
  // 300 kW x 1.2 headroom = 360 kW needs W_SF = 2 (100 W units) in int16: 212.34 kW reads 212300 W.
  const auto m103 = decode(*img, 103);
  EXPECT_DOUBLE_EQ(*m103.value("W"), 212300);
  EXPECT_DOUBLE_EQ(*m103.value("WH"), 5000);
  EXPECT_DOUBLE_EQ(*decode(*img, 122).value("WAval"), 250000);
  EXPECT_DOUBLE_EQ(*decode(*img, 121).value("WMax"), 300000);
  EXPECT_EQ(std::get<std::string>(decode(*img, 1).find("SN")->raw), "site-001.pv");
}

TEST(SunSpecImage, Model123WritesBecomeAPvLimitWithReversion) {
  auto img = SunSpecImage::build(pv_spec(SunSpecProfile::legacy));
  ASSERT_TRUE(img);
  std::string why;
  // Read-only: the measured power.
  const std::uint16_t w = address_of(*img, 103, "W");
  EXPECT_EQ(img->check_write(w, std::vector<std::uint16_t>{1}, why), 2);
  EXPECT_NE(why.find("read-only"), std::string::npos);
  // Out of range: 150.0 % (SF -1).
  const std::uint16_t pct = address_of(*img, 123, "WMaxLimPct");
  EXPECT_EQ(img->check_write(pct, std::vector<std::uint16_t>{1500}, why), 3);
  EXPECT_NE(why.find("WMaxLimPct"), std::string::npos);
  // An enum value the model does not define.
  EXPECT_EQ(img->check_write(address_of(*img, 123, "WMaxLim_Ena"), std::vector<std::uint16_t>{7}, why), 3);
  // 40.0 %, revert after 60 s, enable: what the adapter writes, point by point.
  auto& regs = img->registers();
  for (auto [addr, v] : {std::pair{pct, std::uint16_t{400}}, {address_of(*img, 123, "WMaxLimPct_RvrtTms"), std::uint16_t{60}},
                         {address_of(*img, 123, "WMaxLim_Ena"), std::uint16_t{1}}}) {
    ASSERT_EQ(img->check_write(addr, std::vector<std::uint16_t>{v}, why), 0) << why;
    regs[addr - SunSpecImage::kBase] = v;
  }
  auto c = img->control_after_write(pct, 1);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, SunSpecControl::Kind::pv_limit_pct);
  EXPECT_TRUE(c->enabled);
  EXPECT_DOUBLE_EQ(c->value, 40.0);
  EXPECT_EQ(c->revert, std::chrono::seconds(60));
  img->revert(*c);
  EXPECT_EQ(*decode(*img, 123).value("WMaxLim_Ena"), 0);
  EXPECT_FALSE(img->control_after_write(pct, 1)->enabled);
  // A write to a block without controls asks for nothing.
  EXPECT_FALSE(img->control_after_write(address_of(*img, 120, "WRtg"), 1));
}

TEST(SunSpecImage, Model124RatesAreShareOfWChaMax) {
  auto img = SunSpecImage::build(battery_spec(SunSpecProfile::legacy));
  ASSERT_TRUE(img);
  img->update({.p_kw = -100, .q_kvar = 0, .available_kw = std::nullopt, .soc_pct = 63.25, .energy_out_wh = 0});
  const auto m124 = decode(*img, 124);
  EXPECT_DOUBLE_EQ(*m124.value("WChaMax"), 400000);
  EXPECT_NEAR(*m124.value("ChaState"), 63.25, 0.051);  // SF -1: 0.1 % steps
  EXPECT_DOUBLE_EQ(*m124.value("MinRsvPct"), 20);
  EXPECT_DOUBLE_EQ(*decode(*img, 103).value("W"), -100000);
  auto& regs = img->registers();
  std::string why;
  // Discharge at 62.5 % of WChaMax (SF -2: 6250) = 250 kW.
  const std::uint16_t out = address_of(*img, 124, "OutWRte"), mode = address_of(*img, 124, "StorCtl_Mod");
  ASSERT_EQ(img->check_write(out, std::vector<std::uint16_t>{6250}, why), 0) << why;
  regs[out - SunSpecImage::kBase] = 6250;
  EXPECT_EQ(img->check_write(mode, std::vector<std::uint16_t>{4}, why), 3);  // no bit 2 in StorCtl_Mod
  regs[mode - SunSpecImage::kBase] = 2;
  auto c = img->control_after_write(mode, 1);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, SunSpecControl::Kind::battery_p_kw);
  EXPECT_TRUE(c->enabled);
  EXPECT_DOUBLE_EQ(c->value, 250.0);
  // Charge at 25 %: -100 kW; both bits with 0 % rates: hold at 0.
  regs[address_of(*img, 124, "InWRte") - SunSpecImage::kBase] = 2500;
  regs[mode - SunSpecImage::kBase] = 1;
  EXPECT_DOUBLE_EQ(img->control_after_write(mode, 1)->value, -100.0);
  regs[out - SunSpecImage::kBase] = 0;
  regs[address_of(*img, 124, "InWRte") - SunSpecImage::kBase] = 0;
  regs[mode - SunSpecImage::kBase] = 3;
  EXPECT_TRUE(img->control_after_write(mode, 1)->enabled);
  EXPECT_DOUBLE_EQ(img->control_after_write(mode, 1)->value, 0.0);
}

TEST(SunSpecImage, Model704WSetWithinRatings) {
  auto img = SunSpecImage::build(battery_spec(SunSpecProfile::der));
  ASSERT_TRUE(img);
  std::vector<std::uint16_t> ids;
  for (const auto& [id, addr] : img->models()) ids.push_back(id);
  EXPECT_EQ(ids, (std::vector<std::uint16_t>{1, 701, 702, 704, 713}));
  img->update({.p_kw = 0, .q_kvar = 0, .available_kw = std::nullopt, .soc_pct = 50, .energy_out_wh = 0});
  EXPECT_DOUBLE_EQ(*decode(*img, 713).value("SoC"), 50);
  EXPECT_DOUBLE_EQ(*decode(*img, 713).value("WHAvail"), 500000);
  const auto* def = ss::find_model(704);
  const auto* wset = ss::find_point(def->group, "WSet");
  std::string why;
  // -450 kW is beyond the 400 kW charge rating; -300 kW is fine.
  auto regs_for = [&](double w) { return *ss::encode_raw(*wset, *ss::scale_for_write(*wset, w, 0)); };
  EXPECT_EQ(img->check_write(address_of(*img, 704, "WSet"), regs_for(-450000), why), 3);
  const auto ok = regs_for(-300000);
  ASSERT_EQ(img->check_write(address_of(*img, 704, "WSet"), ok, why), 0) << why;
  auto& regs = img->registers();
  std::copy(ok.begin(), ok.end(), regs.begin() + (address_of(*img, 704, "WSet") - SunSpecImage::kBase));
  regs[address_of(*img, 704, "WSetEna") - SunSpecImage::kBase] = 1;
  auto c = img->control_after_write(address_of(*img, 704, "WSetEna"), 1);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, SunSpecControl::Kind::battery_p_kw);
  EXPECT_DOUBLE_EQ(c->value, -300.0);
  EXPECT_EQ(c->revert, Duration(0));
}

TEST(SunSpecImage, BadSpecsAreErrors) {
  auto s = pv_spec(SunSpecProfile::legacy);
  s.rated_kw = 0;
  EXPECT_FALSE(SunSpecImage::build(s));
  auto b = battery_spec(SunSpecProfile::der);
  b.capacity_kwh = 0;
  EXPECT_FALSE(SunSpecImage::build(b));
}

constexpr const char* kServe = R"(serve:
  groups:
    - name: edge
      dialect: sparkplug_b
      group_id: g1
      sites: [site-001]
    - name: inverters
      dialect: modbus
      sites: [site-002, site-003]
    - name: rest
      dialect: json
)";

TEST(ServeSection, ParsesGroups) {
  auto sc = load_scenario_text(fixture::scenario_text(4, kServe), "t.yaml");
  ASSERT_TRUE(sc) << sc.error();
  ASSERT_EQ(sc->serve.groups.size(), 3u);
  EXPECT_EQ(sc->serve.groups[0].dialect, ServeDialect::sparkplug_b);
  EXPECT_EQ(sc->serve.groups[0].group_id, "g1");
  EXPECT_EQ(sc->serve.groups[1].dialect, ServeDialect::modbus);
  EXPECT_TRUE(sc->serve.groups[2].sites.empty());
  EXPECT_EQ(sc->serve.topic_prefix, "vpp");
}

void expect_error(const std::string& serve, const std::string& where, const std::string& what) {
  auto sc = load_scenario_text(fixture::scenario_text(3, serve), "t.yaml");
  ASSERT_FALSE(sc) << serve;
  EXPECT_NE(sc.error().find(where), std::string::npos) << sc.error();
  EXPECT_NE(sc.error().find(what), std::string::npos) << sc.error();
}

TEST(ServeSection, ErrorsNameFileLineAndField) {
  expect_error("serve:\n  groups:\n    - {dialect: json, sites: [site-009]}\n", "t.yaml:23:", "serve.groups[0].sites[0]: unknown site 'site-009'");
  expect_error("serve:\n  groups:\n    - {dialect: json, sites: [site-001]}\n    - {dialect: modbus, sites: [site-001]}\n",
               "serve.groups[1].sites[0]", "already served by serve.groups[0]");
  expect_error("serve:\n  groups:\n    - {dialect: json}\n    - {dialect: modbus}\n", "serve.groups[1].sites",
               "only one group may leave out sites");
  expect_error("serve:\n  groups:\n    - {dialect: sparkplug_b, sites: [site-001]}\n", "serve.groups[0].group_id", "required");
  expect_error("serve:\n  groups:\n    - {dialect: json, group_id: g}\n", "serve.groups[0].group_id", "sparkplug_b only");
  expect_error("serve:\n  groups:\n    - {dialect: json, sunspec: der}\n", "serve.groups[0].sunspec", "modbus only");
  expect_error("serve:\n  groups:\n    - {dialect: mqtt}\n", "serve.groups[0].dialect", "sparkplug_b");
  expect_error("serve:\n  groups:\n    - {dialect: json, sites: [site-001]}\n", "serve.groups", "2 site(s) are in no group");
  expect_error("serve:\n  topic_prefix: a/#\n", "serve.topic_prefix", "wildcards");
  expect_error("serve:\n  telemetry_qos: 2\n", "serve.telemetry_qos", "");
  expect_error("serve:\n  modbus_ports: bus\n", "serve.modbus_ports", "site");
  expect_error("serve:\n  colour: red\n", "serve.colour", "");
}

TEST(ServePlan, PortsAndUnitIds) {
  auto sc = load_scenario_text(fixture::scenario_text(4, kServe), "t.yaml");
  ASSERT_TRUE(sc) << sc.error();
  const auto setup = make_fleet(*sc, sc->seed);
  auto plan = make_plan(sc->serve, setup.sites, 20000);
  ASSERT_TRUE(plan) << plan.error();
  // site-002 and site-003 each have PV and a battery: a gateway port per site, unit ids 1, 2.
  ASSERT_EQ(plan->modbus.size(), 4u);
  EXPECT_EQ(plan->modbus[0].port, 20000);
  EXPECT_EQ(plan->modbus[1].port, 20000);
  EXPECT_EQ(plan->modbus[0].unit_id, 1);
  EXPECT_EQ(plan->modbus[1].unit_id, 2);
  EXPECT_EQ(plan->modbus[2].port, 20001);
  EXPECT_EQ(plan->modbus_ports, 2);
  // The meters and HVAC of the Modbus sites are JSON devices; site-001's assets are Sparkplug.
  for (const auto& [site, asset] : plan->sparkplug_assets) EXPECT_EQ(site, "site-001");
  for (const auto& [site, asset] : plan->json_assets) {
    EXPECT_NE(site, "site-001");
    if (site == "site-002" || site == "site-003") {
      EXPECT_TRUE(asset != "pv" && asset != "battery") << asset;
    }
  }
  ServeConfig per_device = sc->serve;
  per_device.modbus_port_per_device = true;
  auto p2 = make_plan(per_device, setup.sites, 20000);
  ASSERT_TRUE(p2);
  EXPECT_EQ(p2->modbus[3].port, 20003);
  EXPECT_EQ(p2->modbus[3].unit_id, 1);
  EXPECT_FALSE(make_plan(per_device, setup.sites, 65534));
}

TEST(ServePlan, VppdConfigReadsBackToTheSameFleet) {
  auto sc = load_scenario_text(fixture::scenario_text(4, kServe), "t.yaml");
  ASSERT_TRUE(sc) << sc.error();
  sc->controller.scheduling.control_tick = std::chrono::seconds(10);
  sc->controller.commands.ttl = std::chrono::minutes(7);
  sc->controller.interval = std::chrono::minutes(1);
  const auto setup = make_fleet(*sc, sc->seed);
  auto plan = make_plan(sc->serve, setup.sites, 20000);
  ASSERT_TRUE(plan);
  VppdConfigOptions o;
  o.broker_url = "tcp://127.0.0.1:1999";
  o.http_port = 18080;
  o.operator_token_sha256 = std::string(64, 'a');
  const std::string yaml = vppd_config_yaml(*sc, setup.sites, *plan, o);
  auto cfg = config::load_config_text(yaml, "vppd.yaml");
  ASSERT_TRUE(cfg) << cfg.error() << "\n" << yaml;
  EXPECT_EQ(cfg->sites, setup.sites);   // every spec, limit and window, exactly
  EXPECT_EQ(cfg->utc_offset_minutes, 480);
  EXPECT_EQ(cfg->controller.scheduling.control_tick, std::chrono::seconds(10));
  EXPECT_EQ(cfg->controller.commands.ttl, std::chrono::minutes(7));
  EXPECT_EQ(cfg->controller.interval, std::chrono::minutes(1));
  EXPECT_EQ(cfg->controller.baseline.high_x, sc->controller.baseline.high_x);
  EXPECT_EQ(cfg->http.port, 18080);
  ASSERT_EQ(cfg->http.tokens.size(), 1u);
  EXPECT_EQ(cfg->http.tokens[0].role, config::Role::operator_);
  ASSERT_TRUE(cfg->mqtt);
  ASSERT_EQ(cfg->mqtt->device_groups.size(), 2u);
  EXPECT_EQ(cfg->mqtt->device_groups[0].dialect, config::MqttDialect::json);
  EXPECT_EQ(cfg->mqtt->device_groups[0].sites, (std::vector<std::string>{"site-002", "site-003", "site-004"}));
  EXPECT_EQ(cfg->mqtt->device_groups[1].sparkplug_group_id, "g1");
  ASSERT_EQ(cfg->modbus_devices.size(), 4u);
  EXPECT_EQ(cfg->modbus_devices[1].port, 20000);
  EXPECT_EQ(cfg->modbus_devices[1].unit_id, 2);
  EXPECT_EQ(cfg->modbus_devices[1].asset_id, plan->modbus[1].asset_id);
  EXPECT_EQ(cfg->modbus_devices[1].sunspec_base, 40000);
  // Deterministic: the same inputs give the same bytes.
  EXPECT_EQ(yaml, vppd_config_yaml(*sc, setup.sites, *plan, o));
}

// config/scenarios/e2e-vppd.yaml is what serve-config prints for e2e.yaml with the default
// endpoints and the demo's operator token: regenerate it when either changes.
TEST(ServePlan, CommittedE2eVppdConfigIsCurrent) {
  auto sc = load_scenario_file(std::string(VPP_SOURCE_DIR) + "/config/scenarios/e2e.yaml");
  ASSERT_TRUE(sc) << sc.error();
  const auto setup = make_fleet(*sc, sc->seed);
  auto plan = make_plan(sc->serve, setup.sites, 1502);
  ASSERT_TRUE(plan);
  VppdConfigOptions o;
  o.broker_url = "tcp://127.0.0.1:1883";
  o.client_id = "vppd-e2e";
  o.http_port = 8080;
  o.operator_token_sha256 = "9437e87fae95c03d3778f2575bb18ce30e647e51d86a8c37963364e1fc4f374e";  // "demo-operator"
  o.store_path = "vpp-e2e.db";
  std::ifstream in(std::string(VPP_SOURCE_DIR) + "/config/scenarios/e2e-vppd.yaml");
  std::stringstream committed;
  committed << in.rdbuf();
  EXPECT_EQ(committed.str(), vppd_config_yaml(*sc, setup.sites, *plan, o))
      << "regenerate: build/bin/vppsim serve-config config/scenarios/e2e.yaml --broker tcp://127.0.0.1:1883 --client-id vppd-e2e "
         "--token-sha256 9437e87f... --store vpp-e2e.db > config/scenarios/e2e-vppd.yaml";
  EXPECT_TRUE(config::load_config_text(committed.str(), "e2e-vppd.yaml"));
}

}  // namespace
}  // namespace vpp::sim::emulators
