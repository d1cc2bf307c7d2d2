// vppd: the virtual power plant daemon.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "adapters/logging.hpp"
#include "apps/daemon/daemon.hpp"
#include "apps/fleet_summary.hpp"
#include "config/config.hpp"

namespace {

constexpr const char* kUsage = R"(usage: vppd --config FILE [--log-level LEVEL]
       vppd --config FILE --check-config [--log-level LEVEL]
       vppd --version | --help

Runs the daemon: MQTT and Modbus adapters, the controller, the optimizer, the HTTP API
(with GET /healthz and GET /metrics), the SQLite store. SIGTERM or SIGINT stops it cleanly
(exit 0); after any stop, including SIGKILL, it resumes from the store.

Options:
  --config FILE       the YAML configuration (see config/examples/demo.yaml)
  --check-config      validate FILE, print the fleet summary and exit:
                      0 when valid, 2 with every error (file:line:column: field: reason)
  --log-level LEVEL   trace, debug, info, warn, error, critical or off
                      (overrides logging.level in the configuration)
  --version           print the version and exit
  --help              print this help and exit

Exit codes: 0 clean stop, 1 startup failure (store, listen address, broker settings),
2 usage or configuration error.
)";

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  std::string log_level;
  bool check_config = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "vppd: %s needs a value\n%s", name, kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("vppd %s\n", VPP_VERSION);
      return 0;
    } else if (a == "--config") {
      config_path = value("--config");
    } else if (a == "--check-config") {
      check_config = true;
    } else if (a == "--log-level") {
      log_level = value("--log-level");
      if (!vpp::valid_log_level(log_level)) {
        std::fprintf(stderr, "vppd: unknown log level '%s'\n", log_level.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "vppd: unknown argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "vppd: --config FILE is required\n%s", kUsage);
    return 2;
  }
  auto cfg = vpp::config::load_config_file(config_path);
  if (!cfg) {
    std::fprintf(stderr, "%s", cfg.error().c_str());
    std::fprintf(stderr, "vppd: %s is not valid\n", config_path.c_str());
    return 2;
  }
  vpp::setup_logging(log_level.empty() ? cfg->logging.level : log_level);
  if (check_config) {
    std::fputs(vpp::apps::fleet_summary_text(*cfg).c_str(), stdout);
    return 0;
  }
  auto daemon = vpp::daemon::Daemon::create(*cfg);
  if (!daemon) {
    spdlog::critical("vppd cannot start: {}", daemon.error());
    return 1;
  }
  return (*daemon)->run();
}
