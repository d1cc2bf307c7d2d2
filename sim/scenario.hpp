#pragma once
// A simulation scenario: period, location, weather, the fleet (generated from a seeded spread,
// listed explicitly, or both), grid signals (tariff, carbon intensity, curtailment events),
// communication and device behaviour, and the strategy. Loaded from YAML with the project's
// MapReader, so every error names file:line:column and the field:
//   demo.yaml:41:11: events[0].start: window ... lies outside the simulated period ...
// See config/scenarios/demo.yaml for a documented example.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/controller_settings.hpp"
#include "config/yaml_reader.hpp"
#include "model/result.hpp"
#include "model/site.hpp"
#include "model/time.hpp"
#include "sim/building_models.hpp"
#include "sim/weather.hpp"

namespace vpp::sim {

struct ChannelConfig {
  Duration delay{0};            // one way, both directions
  double command_loss = 0;      // probability a command is lost on the way down
  double uplink_loss = 0;       // probability a telemetry message or ack is lost on the way up
};

struct DeviceConfig {
  Duration pv_response_delay{std::chrono::seconds(1)};
  double pv_ramp_pct_per_s = 10;
  Duration battery_response_delay{std::chrono::seconds(1)};
  Duration hvac_response_delay{std::chrono::seconds(30)};
  Duration load_response_delay{std::chrono::seconds(5)};
  ZoneModelKind zone_model = ZoneModelKind::r2c2;
};

// How generated sites are drawn. Shares and penetrations are fractions 0..1; spreads are the
// sigma of a log-normal factor around the building type's typical value.
struct FleetGenConfig {
  int sites = 0;
  std::array<double, kBuildingTypeCount> mix{};   // by BuildingType, sums to 1
  double floor_area_spread = 0.4;
  double parameter_spread = 0.1;
  double pv_penetration = 0;
  double pv_roof_share = 0.5;        // share of the roof carrying modules
  double pv_kwp_per_m2 = 0.2;        // module nameplate per m2 of covered roof
  double pv_dc_ac_ratio = 1.2;
  double battery_penetration = 0;
  double battery_power_share = 0.15; // discharge rating over the site's design peak
  double battery_hours = 2;
  double flexible_penetration = 0;
  double flexible_share = 0.1;       // share of the non-HVAC load that is flexible
  double flexible_max_curtail_pct = 50;
  double battery_reserve_pct = 20;
};

// An explicitly listed site: the enrolment (same schema as vppd's configuration) plus its base
// load, which the enrolment does not carry.
struct ExplicitSite {
  Site site;
  std::optional<double> base_load_peak_kw;   // default: from the building type and floor area
  bool has_location = false;                 // latitude/longitude given
};

enum class TariffBand { valley = 0, flat = 1, peak = 2, sharp = 3 };
std::string_view to_string(TariffBand b);

struct TariffConfig {
  std::string currency = "CNY";
  std::array<double, 4> price{};            // per kWh, by TariffBand
  std::array<TariffBand, 96> base{};         // the band of each local quarter hour
  struct Sharp {
    std::vector<int> months;                 // 1..12; empty = every month
    int start_minute = 0, end_minute = 0;    // local, [start, end)
  };
  std::vector<Sharp> sharp;
  double export_price = 0;
  bool defined = false;
};

struct CarbonConfig {
  enum class Method { constant, hourly, derived };
  Method method = Method::constant;
  double kg_per_kwh = 0.558;
  std::array<double, 24> hourly{};           // hour beginning 0..23 local
  double ef_fossil = 0.8273;                 // national fossil-only factor 2023 (MEE/NBS)
  double solar_share_of_clean = 0.3;         // derived: share of clean energy that follows the sun
};

// A communication fault for tests and what-ifs: between `from` and `to`, everything an asset
// (or, without `asset`, a whole site) sends is lost, and so is every command sent to it, as if
// its gateway had gone dark.
struct FaultConfig {
  std::string site;
  std::string asset;            // empty = every asset of the site
  TimePoint from{};
  TimePoint to{};
};

struct EventConfig {
  std::string id;
  std::string program;
  TimePoint start{};
  Duration duration{};
  TimePoint announced{};
  std::optional<double> reduction_kw;
  std::optional<double> pct_of_baseline_peak;
  std::optional<double> import_cap_kw;
  std::vector<std::string> sites;            // empty = whole fleet
};

// How `vppsim serve` exposes the fleet to a real vppd (sim/emulators): each site is served in
// one dialect, chosen by the group that lists it (else by the group that lists no sites):
//   sparkplug_b  a Sparkplug B edge node per site (group_id), a device per asset;
//   json         a JSON MQTT device per asset, vpp/{site}/{asset}/telemetry|cmd|ack;
//   modbus       PV and batteries as SunSpec Modbus TCP servers, the site's other assets as
//                JSON MQTT devices (a site gateway for meter and BMS, inverters on Modbus).
enum class ServeDialect { sparkplug_b, json, modbus };
std::string_view to_string(ServeDialect d);
// SunSpec models served: legacy = 1, 103, 120, 121 with 122 + 123 (PV) or 124 (battery);
// der = 1, 701, 702, 704 with 713 (battery): the IEEE 1547 DER information models.
enum class SunSpecProfile { legacy, der };

struct ServeGroup {
  std::string name;
  ServeDialect dialect = ServeDialect::json;
  std::string group_id;                      // sparkplug_b only
  SunSpecProfile sunspec = SunSpecProfile::legacy;  // modbus only
  std::vector<std::string> sites;            // empty = every site no other group lists
};

struct ServeConfig {
  std::string topic_prefix = "vpp";
  std::string client_id = "vppsim";          // MQTT client ids derive from it
  int telemetry_qos = 0;                     // JSON telemetry and Sparkplug DATA
  // Sparkplug reports by exception; every metric is sent again at least this often so that a
  // host judging staleness by arrival time keeps the device online.
  Duration sparkplug_refresh{std::chrono::minutes(1)};
  // modbus: one TCP port per site with a unit id per device (a site gateway, unit ids 1..n in
  // asset order), or one port per device (unit id 1).
  bool modbus_port_per_device = false;
  std::vector<ServeGroup> groups;            // empty = every site as json
};

struct Scenario {
  std::string source_file;
  std::string name;
  std::uint64_t seed = 1;
  TimePoint start{};
  Duration duration{};
  Duration step{std::chrono::minutes(1)};
  Duration warmup{std::chrono::hours(48)};
  int utc_offset_minutes = 0;
  Location location;
  std::string strategy = "uncontrolled";
  Duration control_period{std::chrono::minutes(1)};
  Duration telemetry_period{std::chrono::minutes(1)};
  Duration output_interval{std::chrono::minutes(15)};
  ChannelConfig channel;
  DeviceConfig devices;
  WeatherConfig weather;
  std::optional<FleetGenConfig> fleet;
  std::vector<ExplicitSite> sites;
  TariffConfig tariff;
  CarbonConfig carbon;
  std::vector<EventConfig> events;
  std::vector<FaultConfig> faults;
  // The controller strategy: its settings (the `controller:` section, as in vppd's
  // configuration), the optimizer it calls, and how many working days of metered history it
  // starts with (simulated before the period, on cooler days, for customer baselines).
  controller::Settings controller;
  std::string solver = "decomposed";     // decomposed | clp
  int history_days = 0;
  ServeConfig serve;                     // the `serve:` section (vppsim serve)
  std::string text;                      // the scenario's YAML, kept for recordings

  TimePoint end() const { return start + duration; }
  std::size_t steps() const { return static_cast<std::size_t>(duration / step); }
  std::size_t warmup_steps() const { return static_cast<std::size_t>(warmup / step); }
};

// Reads the controller strategy's keys (`controller:`, `optimizer:`, `history_days:`) over `sc`.
// Shared with what-if files, which hold just these.
void read_controller_sections(config::MapReader& r, Scenario& sc);

// Every problem is reported at once, one "file:line:column: field: message" per line.
Result<Scenario> load_scenario_file(const std::string& path);
Result<Scenario> load_scenario_text(const std::string& text, const std::string& file_name);

}  // namespace vpp::sim
