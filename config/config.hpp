#pragma once
// vppd's configuration: loaded from YAML, validated, typed. Every problem found is reported at
// once with file:line:column and field path (see yaml_reader.hpp).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/controller_settings.hpp"
#include "config/yaml_reader.hpp"
#include "model/result.hpp"
#include "model/site.hpp"
#include "model/time.hpp"

namespace vpp::config {

struct TlsFiles {
  std::string ca_file;
  std::string cert_file;   // client or server certificate (PEM)
  std::string key_file;
  bool verify_peer = true;
};

enum class MqttDialect { json, sparkplug_b };

// A group of devices that speak one MQTT dialect. Sparkplug groups name their Sparkplug
// group_id; JSON groups use the topic prefix.
struct MqttDeviceGroup {
  std::string name;
  MqttDialect dialect = MqttDialect::json;
  std::string sparkplug_group_id;    // sparkplug_b only
  std::vector<std::string> sites;    // empty = every site not claimed by another group
};

struct MqttConfig {
  std::string url;                   // tcp://host:port or ssl://host:port
  std::string client_id = "vppd";
  std::string username;
  std::string password_file;         // the password is read from this file, never inline
  std::optional<TlsFiles> tls;
  Duration keepalive = std::chrono::seconds(30);
  std::string topic_prefix = "vpp";
  std::vector<MqttDeviceGroup> device_groups;
};

enum class Role { operator_, site_manager, viewer };
std::string_view to_string(Role r);

struct ApiToken {
  std::string name;
  Role role = Role::viewer;
  std::string sha256_hex;            // hash of the bearer token, never the token itself
  std::vector<std::string> sites;    // site_manager scope
};

struct HttpConfig {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 8080;
  std::optional<TlsFiles> tls;
  std::vector<ApiToken> tokens;
  std::size_t max_body_bytes = 1 << 20;
  double rate_limit_per_s = 50;
};

enum class ModbusTransport { tcp, rtu };

struct ModbusDevice {
  std::string id;
  std::string site_id;
  std::string asset_id;
  ModbusTransport transport = ModbusTransport::tcp;
  std::string host;                  // tcp
  std::uint16_t port = 502;          // tcp
  std::string serial_port;           // rtu, e.g. /dev/ttyUSB0
  int baud = 9600;                   // rtu
  int unit_id = 1;
  std::optional<int> sunspec_base;   // nullopt = auto-discover at 40000, 0, 50000
  Duration poll_period = std::chrono::seconds(5);
  Duration timeout = std::chrono::seconds(1);
  int retries = 2;
  // Silence between the end of one request and the start of the next on this device's bus or
  // gateway (devices that share one are serialised; the largest gap of the bus applies).
  Duration frame_gap = std::chrono::milliseconds(0);
};

enum class SolverKind { clp, decomposed };

struct OptimizerConfig {
  int horizon_steps = 96;
  Duration step = std::chrono::minutes(15);
  SolverKind solver = SolverKind::decomposed;
  Duration resolve_period = std::chrono::minutes(15);
  int threads = 0;                   // 0 = hardware concurrency
};

struct StoreConfig {
  std::string path = "vpp.db";
};

// OpenADR 3 VEN (adapters/openadr). The client secret is never inline: it is read at startup
// from client_secret_file or the environment variable client_secret_env (exactly one is set).
struct OpenAdrProgram {
  std::string name;                        // programName at the VTN
  std::map<int, double> simple_levels_kw;  // SIMPLE level (1..3) -> fleet reduction target, kW
};

struct OpenAdrResource {
  std::string name;                        // resourceName at the VTN (default: the site id)
  std::string site_id;
};

struct OpenAdrConfig {
  std::string vtn_url;                     // base URL, e.g. https://vtn.example/openadr3/3.0.1
  std::string token_url;                   // empty: <vtn_url>/auth/token (3.1.0: from GET /auth/server)
  std::string client_id;
  std::string client_secret_file;
  std::string client_secret_env;
  std::string scope;                       // optional OAuth2 scope
  std::string ven_name;
  std::string spec_version = "3.0.1";      // "3.0.1" or "3.1.0"
  Duration poll_interval = std::chrono::seconds(60);
  Duration request_timeout = std::chrono::seconds(10);
  // Wait after an interval ends for its meter data: the core settles an interval 2 minutes after
  // its end (controller::kSettlementGrace); a report due earlier waits for that.
  Duration report_delay = std::chrono::minutes(2);
  std::string ca_file;                     // trust anchors for https (default: system store)
  std::string callback_url;                // webhook subscriptions when set (served by vppd's HTTP server)
  bool allow_http_callback = false;        // the spec asks for https callbacks; true for tests on loopback
  double emergency_import_cap_kw = 0;      // ALERT_GRID_EMERGENCY: maximum shed, as an import cap
  std::vector<OpenAdrProgram> programs;
  std::vector<OpenAdrResource> resources;  // empty: every configured site, named by its id
};

// vppd's forecaster (apps/daemon/forecaster.hpp) has no weather service: the outdoor
// temperature, when given, is a daily cycle of half-cosines between the minimum at `min_at` and
// the maximum at `max_at` (local time), the shape the simulator's weather uses. Without it HVAC
// zones are left out of plans (the real-time allocator still uses them).
struct OutdoorTemperatureCycle {
  double min_c = 24;
  double max_c = 32;
  int min_minute = 5 * 60;           // minutes after local midnight
  int max_minute = 15 * 60;
};

struct ForecastConfig {
  std::optional<OutdoorTemperatureCycle> outdoor_temp;
};

struct LoggingConfig {
  std::string level = "info";        // trace, debug, info, warn, error, critical, off
};

struct Config {
  std::string source_file;
  int utc_offset_minutes = 0;        // local time of the fleet (availability windows, tariffs)
  std::optional<MqttConfig> mqtt;
  HttpConfig http;
  std::vector<ModbusDevice> modbus_devices;
  OptimizerConfig optimizer;
  StoreConfig store;
  LoggingConfig logging;
  std::optional<OpenAdrConfig> openadr;
  ForecastConfig forecast;
  controller::Settings controller;   // interval, horizon and utc offset mirror optimizer/utc_offset
  std::vector<Site> sites;
};

// Reads and validates a configuration file. On failure the error holds every diagnostic, one
// per line.
Result<Config> load_config_file(const std::string& path);
// Same, from text; `file_name` is used in diagnostics.
Result<Config> load_config_text(const std::string& text, const std::string& file_name);

// Site and asset parsing shared with other YAML documents (scenarios, the HTTP API's enrolment).
std::optional<Site> read_site(MapReader& r);
std::optional<Asset> read_asset(MapReader& r);
void read_site_limits(MapReader& r, SiteLimits& limits);
// Reads a `controller:` mapping (gating, commands, allocator, scheduling, baseline) over the
// defaults already in `s`. Shared by vppd's configuration and simulator scenarios.
void read_controller_settings(MapReader& r, controller::Settings& s);
// The same settings as YAML that read_controller_settings reads back unchanged, every key
// written, each line indented by `indent` spaces (the `controller:` key itself not included).
std::string controller_settings_yaml(const controller::Settings& s, int indent);

// Parses "HH:MM" into minutes after midnight (24:00 allowed as the end of a day).
std::optional<int> parse_hh_mm(const std::string& s);

}  // namespace vpp::config
