#pragma once
// Where `vppsim serve` exposes each site and asset (from the scenario's `serve:` section), and
// the vppd configuration that talks to exactly that: one JSON device group for the JSON and
// Modbus sites, one Sparkplug group per serve group, one Modbus device per SunSpec endpoint.
// Deterministic: sites in fleet order, assets in site order, ports counted up from the base.
#include <string>
#include <vector>

#include "model/site.hpp"
#include "sim/emulators/sunspec_image.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim::emulators {

struct PlannedSite {
  std::string site_id;
  ServeDialect dialect = ServeDialect::json;
  std::string group_name;
  std::string group_id;                        // sparkplug_b
  SunSpecProfile sunspec = SunSpecProfile::legacy;
};

struct PlannedModbus {
  std::string site_id;
  std::string asset_id;
  SunSpecRole role = SunSpecRole::pv;
  SunSpecProfile profile = SunSpecProfile::legacy;
  int port = 0;
  int unit_id = 1;
};

struct ServePlan {
  std::vector<PlannedSite> sites;              // fleet order
  std::vector<PlannedModbus> modbus;           // site order, then asset order
  // MQTT assets of each dialect, as (site, asset).
  std::vector<std::pair<std::string, std::string>> json_assets;
  std::vector<std::pair<std::string, std::string>> sparkplug_assets;
  int modbus_ports = 0;                        // distinct ports used from the base

  const PlannedSite* site(const std::string& id) const;
};

// Fails when the ports would run past 65535.
Result<ServePlan> make_plan(const ServeConfig& cfg, const std::vector<Site>& sites, int modbus_base_port);

struct VppdConfigOptions {
  std::string broker_url = "tcp://127.0.0.1:1883";
  std::string client_id = "vppd";
  std::string modbus_host = "127.0.0.1";
  int http_port = 8080;
  std::string operator_token_sha256;           // hex SHA-256 of the operator's bearer token
  std::string store_path = "vpp.db";
  std::string log_level = "info";
  Duration modbus_poll{std::chrono::seconds(5)};
};

// vppd's YAML configuration for the served fleet, with the scenario's controller and optimizer
// settings; load_config_text() reads it back to the same sites and settings.
std::string vppd_config_yaml(const Scenario& sc, const std::vector<Site>& sites, const ServePlan& plan,
                             const VppdConfigOptions& opt);

}  // namespace vpp::sim::emulators
