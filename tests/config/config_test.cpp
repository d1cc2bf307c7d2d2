// Configuration loading: a valid example loads; every bad configuration is reported with the
// exact file:line:column and field path, several at once, and unknown keys are errors.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace vpp::config {
namespace {

TEST(Config, ExampleDemoLoads) {
  auto cfg = load_config_file(VPP_SOURCE_DIR "/config/examples/demo.yaml");
  ASSERT_TRUE(cfg) << cfg.error();
  EXPECT_EQ(cfg->sites.size(), 5u);
  EXPECT_EQ(cfg->utc_offset_minutes, 480);
  ASSERT_TRUE(cfg->mqtt);
  EXPECT_EQ(cfg->mqtt->device_groups.size(), 3u);
  EXPECT_EQ(cfg->mqtt->device_groups[1].dialect, MqttDialect::sparkplug_b);
  EXPECT_TRUE(cfg->mqtt->device_groups[2].sites.empty());  // serves sites enrolled over the API
  EXPECT_EQ(cfg->http.tokens.size(), 3u);
  EXPECT_EQ(cfg->http.tokens[1].role, Role::site_manager);
  EXPECT_EQ(cfg->modbus_devices.size(), 2u);
  EXPECT_FALSE(cfg->modbus_devices[0].sunspec_base.has_value());
  EXPECT_EQ(cfg->optimizer.step, std::chrono::minutes(15));
  EXPECT_EQ(cfg->controller.interval, std::chrono::minutes(15));
  EXPECT_EQ(cfg->controller.utc_offset_minutes, 480);
  EXPECT_EQ(cfg->controller.scheduling.control_tick, std::chrono::seconds(10));
  EXPECT_EQ(cfg->controller.baseline.adjustment, controller::BaselineSettings::Adjustment::multiplicative);
  const auto& office = cfg->sites[0];
  EXPECT_EQ(office.limits.availability.size(), 1u);
  EXPECT_EQ(office.limits.availability[0].start_minute, 8 * 60);
  EXPECT_EQ(office.limits.availability[0].days_of_week, (std::vector<int>{1, 2, 3, 4, 5}));
  // R and C of an HVAC zone default from the building archetype.
  const auto* hvac = office.find_asset("hvac-main")->get<HvacZoneSpec>();
  ASSERT_NE(hvac, nullptr);
  EXPECT_GT(hvac->thermal_resistance_k_per_kw, 0);
  EXPECT_GT(hvac->thermal_capacitance_kwh_per_k, 0);
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expected;  // one full diagnostic line
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }


class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, NamesFileLineColumnAndField) {
  const auto& c = GetParam();
  const auto r = load_config_text(c.yaml, "bad.yaml");
  ASSERT_FALSE(r) << c.name << " was accepted";
  EXPECT_NE(r.error().find(std::string(c.expected) + "\n"), std::string::npos)
      << "expected: " << c.expected << "\nactual:\n" << r.error();
}

// A site header reused by many cases: line numbers below count from the first line of each case.
#define SITE "sites:\n  - id: s1\n    type: office\n    assets:\n"

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfig,
    ::testing::Values(
        BadCase{"negative_capacity", SITE "      - id: b1\n        kind: battery\n        capacity_kwh: -5\n"
                                         "        max_charge_kw: 10\n        max_discharge_kw: 10\n",
                "bad.yaml:7:23: sites[0].assets[0].capacity_kwh: must be > 0 (found -5)"},
        BadCase{"missing_required_rating", SITE "      - id: pv1\n        kind: pv\n",
                "bad.yaml:5:9: sites[0].assets[0].rated_kw: is required"},
        BadCase{"unknown_asset_kind", SITE "      - id: x\n        kind: windmill\n",
                "bad.yaml:6:15: sites[0].assets[0].kind: unknown value 'windmill' (expected one of: pv, battery, "
                "hvac_zone, flexible_load, site_meter, ev_charger)"},
        BadCase{"typo_in_key", SITE "      - id: pv1\n        kind: pv\n        rated_kw: 10\n        tilt_degs: 20\n",
                "bad.yaml:8:9: sites[0].assets[0].tilt_degs: unknown key (known here: azimuth_deg, dc_peak_kw, id, "
                "kind, name, rated_kw, temp_coeff_per_c, tilt_deg)"},
        BadCase{"unknown_top_level_key", "sitez: []\n", "bad.yaml:1:1: sitez: unknown key (known here: controller, forecast, http, "
                                                        "logging, modbus, mqtt, openadr, optimizer, sites, store, utc_offset)"},
        BadCase{"not_a_number", SITE "      - id: pv1\n        kind: pv\n        rated_kw: lots\n",
                "bad.yaml:7:19: sites[0].assets[0].rated_kw: must be a finite number, found 'lots'"},
        BadCase{"nan_value", SITE "      - id: pv1\n        kind: pv\n        rated_kw: .nan\n",
                "bad.yaml:7:19: sites[0].assets[0].rated_kw: must be a finite number, found '.nan'"},
        BadCase{"unknown_building_type", "sites:\n  - id: s1\n    type: castle\n",
                "bad.yaml:3:11: sites[0].type: unknown value 'castle' (expected one of: office, mall, school, "
                "hospital, data_centre)"},
        BadCase{"duplicate_site", "sites:\n  - id: s1\n    type: office\n  - id: s1\n    type: mall\n",
                "bad.yaml:4:9: sites[1].id: duplicate site id 's1'"},
        BadCase{"duplicate_asset", SITE "      - id: m\n        kind: site_meter\n      - id: m\n        kind: site_meter\n",
                "bad.yaml:7:13: sites[0].assets[1].id: duplicate asset id 'm' in site 's1'"},
        BadCase{"empty_comfort_band", "sites:\n  - id: s1\n    type: office\n    limits:\n      comfort_min_c: 26\n"
                                      "      comfort_max_c: 22\n",
                "bad.yaml:6:22: sites[0].limits.comfort_max_c: comfort band is empty: comfort_min_c must be below "
                "comfort_max_c"},
        BadCase{"reserve_above_soc_max", "sites:\n  - id: s1\n    type: office\n    limits:\n"
                                         "      battery_reserve_pct: 97\n    assets:\n      - id: b\n"
                                         "        kind: battery\n        capacity_kwh: 10\n        max_charge_kw: 5\n"
                                         "        max_discharge_kw: 5\n",
                "bad.yaml:7:9: sites[0].assets[0].soc_max_pct: is below the site's battery_reserve_pct "
                "(97.000000): the reserve could never be held"},
        BadCase{"soc_bounds_reversed", SITE "      - id: b\n        kind: battery\n        capacity_kwh: 10\n"
                                            "        max_charge_kw: 5\n        max_discharge_kw: 5\n"
                                            "        soc_min_pct: 80\n        soc_max_pct: 20\n",
                "bad.yaml:11:22: sites[0].assets[0].soc_max_pct: must be greater than soc_min_pct (80.000000)"},
        BadCase{"percent_out_of_range", "sites:\n  - id: s1\n    type: office\n    limits:\n"
                                        "      max_curtailment_pct: 150\n",
                "bad.yaml:5:28: sites[0].limits.max_curtailment_pct: must be <= 100 (found 150)"},
        BadCase{"bad_availability_time", "sites:\n  - id: s1\n    type: office\n    limits:\n      availability:\n"
                                         "        - days: [mon]\n          start: \"8am\"\n          end: \"18:00\"\n",
                "bad.yaml:7:18: sites[0].limits.availability[0].start: must be a local time HH:MM, found '8am'"},
        BadCase{"bad_weekday", "sites:\n  - id: s1\n    type: office\n    limits:\n      availability:\n"
                               "        - days: [mon, funday]\n          start: \"08:00\"\n          end: \"18:00\"\n",
                "bad.yaml:6:23: sites[0].limits.availability[0].days[1]: must be one of mon, tue, wed, thu, fri, "
                "sat, sun"},
        BadCase{"mqtt_bad_scheme", "mqtt:\n  url: http://broker:1883\n",
                "bad.yaml:2:8: mqtt.url: must start with tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://, found "
                "'http://broker:1883'"},
        BadCase{"mqtt_missing_url", "mqtt:\n  client_id: x\n", "bad.yaml:2:3: mqtt.url: is required"},
        BadCase{"bad_duration", "optimizer:\n  step: 15 minutes\n",
                "bad.yaml:2:9: optimizer.step: must be a duration such as 900s, 15m, 2h or 1h30m, found '15 minutes'"},
        BadCase{"unknown_solver", "optimizer:\n  solver: gurobi\n",
                "bad.yaml:2:11: optimizer.solver: unknown value 'gurobi' (expected one of: clp, decomposed)"},
        BadCase{"token_hash_not_hex", "http:\n  tokens:\n    - name: t\n      role: viewer\n      sha256: secret\n",
                "bad.yaml:5:15: http.tokens[0].sha256: must be the 64-hex-digit SHA-256 of the token (e.g. from "
                "`sha256sum`)"},
        BadCase{"site_manager_without_sites", "http:\n  tokens:\n    - name: t\n      role: site_manager\n      sha256: "
                "0000000000000000000000000000000000000000000000000000000000000000\n",
                "bad.yaml:3:7: http.tokens[0].sites: a site_manager token needs at least one site"},
        BadCase{"modbus_unknown_asset", SITE "      - id: m\n        kind: site_meter\nmodbus:\n  devices:\n"
                "    - id: d\n      site: s1\n      asset: inverter\n      host: 127.0.0.1\n",
                "bad.yaml:9:7: modbus.devices[0].asset: unknown asset 'inverter' in site 's1'"},
        BadCase{"modbus_bad_port", "modbus:\n  devices:\n    - id: d\n      site: s\n      asset: a\n"
                                   "      host: h\n      port: 70000\n",
                "bad.yaml:7:13: modbus.devices[0].port: must be <= 65535 (found 70000)"},
        BadCase{"sites_not_a_list", "sites: office\n", "bad.yaml:1:8: sites: must be a list, found a scalar"},
        BadCase{"yaml_syntax", "sites:\n  - id: [s1\n", "bad.yaml:3:1: YAML syntax error: end of sequence flow not found"},
        BadCase{"controller_refresh_not_below_ttl", "controller:\n  commands:\n    ttl: 5m\n    refresh_before_expiry: 10m\n",
                "bad.yaml:4:28: controller.commands.refresh_before_expiry: must be shorter than ttl"},
        BadCase{"controller_unknown_adjustment", "controller:\n  baseline:\n    adjustment: vibes\n",
                "bad.yaml:3:17: controller.baseline.adjustment: unknown value 'vibes' (expected one of: none, additive, "
                "multiplicative)"},
        BadCase{"bad_utc_offset", "utc_offset: \"+8\"\n",
                "bad.yaml:1:13: utc_offset: must be an offset such as +08:00 or Z, found '+8'"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Config, ReportsSeveralErrorsAtOnce) {
  const auto r = load_config_text(SITE "      - id: pv1\n        kind: pv\n        rated_kw: -1\n"
                                       "      - id: b\n        kind: battery\n        capacity_kwh: 0\n"
                                       "        max_charge_kw: 5\n        max_discharge_kw: 5\n"
                                       "optimizer:\n  solver: gurobi\n",
                                  "multi.yaml");
  ASSERT_FALSE(r);
  const std::string& e = r.error();
  EXPECT_NE(e.find("multi.yaml:7:19: sites[0].assets[0].rated_kw: must be > 0"), std::string::npos) << e;
  EXPECT_NE(e.find("multi.yaml:10:23: sites[0].assets[1].capacity_kwh: must be > 0"), std::string::npos) << e;
  EXPECT_NE(e.find("multi.yaml:14:11: optimizer.solver"), std::string::npos) << e;
}

TEST(Config, UnreadableFileIsAnError) {
  const auto r = load_config_file("/nonexistent/vpp.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "/nonexistent/vpp.yaml:1:1: cannot read file");
}

}  // namespace
}  // namespace vpp::config

namespace vpp::config {
namespace {

TEST(Config, ControllerSettingsWrittenAsYamlReadBackUnchanged) {
  controller::Settings s;
  s.gating.max_clock_skew = std::chrono::seconds(45);
  s.commands.ttl = std::chrono::minutes(7);
  s.commands.deadband_kw = 0.3;
  s.allocator.gain = 0.55;
  s.allocator.delivery_margin = 0.03;
  s.allocator.hvac_hold = std::chrono::minutes(12);
  s.scheduling.rebound_stages = 4;
  s.baseline.adjustment = controller::BaselineSettings::Adjustment::additive;
  s.planning.zone_capacitance_factor = 0.1 + 0.2;  // not exactly representable: must survive
  s.planning.peak_guard = false;
  const std::string yaml = "controller:\n" + controller_settings_yaml(s, 2);
  Diagnostics diag("written.yaml");
  const YAML::Node root = parse_yaml(yaml, diag);
  controller::Settings back;
  {
    MapReader r(root, "", diag);
    auto c = r.map("controller", true);
    ASSERT_TRUE(c);
    read_controller_settings(*c, back);
  }
  ASSERT_TRUE(diag.empty()) << diag.to_string();
  EXPECT_EQ(back.gating.max_clock_skew, s.gating.max_clock_skew);
  EXPECT_EQ(back.commands.ttl, s.commands.ttl);
  EXPECT_EQ(back.commands.deadband_kw, s.commands.deadband_kw);
  EXPECT_EQ(back.allocator.gain, s.allocator.gain);
  EXPECT_EQ(back.allocator.delivery_margin, s.allocator.delivery_margin);
  EXPECT_EQ(back.allocator.hvac_hold, s.allocator.hvac_hold);
  EXPECT_EQ(back.scheduling.rebound_stages, 4);
  EXPECT_EQ(back.baseline.adjustment, s.baseline.adjustment);
  EXPECT_EQ(back.planning.zone_capacitance_factor, s.planning.zone_capacitance_factor);
  EXPECT_FALSE(back.planning.peak_guard);
}

}  // namespace
}  // namespace vpp::config
