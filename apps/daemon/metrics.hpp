#pragma once
// vppd's GET /metrics: Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Series come out in a fixed
// order (names as written here, labels sorted), numbers with fixed formatting.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "adapters/counters.hpp"
#include "adapters/http/api_service.hpp"
#include "adapters/http/server.hpp"
#include "adapters/openadr/engine.hpp"
#include "adapters/store/store.hpp"
#include "apps/daemon/driver.hpp"

namespace vpp::daemon {

// Label values escaped as the format asks: backslash, double quote and newline.
std::string escape_label(std::string_view v);
// Integers without a decimal point, other values with up to 9 significant digits, NaN/Inf
// spelled as Prometheus reads them.
std::string format_value(double v);

class PromText {
 public:
  using Labels = std::map<std::string, std::string>;
  void counter(const std::string& name, const std::string& help, double v, const Labels& labels = {}) {
    add(name, "counter", help, v, labels);
  }
  void gauge(const std::string& name, const std::string& help, double v, const Labels& labels = {}) {
    add(name, "gauge", help, v, labels);
  }
  // A family's HELP and TYPE (once), for samples added with sample() (summaries, or a family
  // that may have no sample, such as the delivery of active events when none is active).
  void declare(const std::string& name, const std::string& type, const std::string& help);
  void sample(const std::string& name, double v, const Labels& labels = {});
  const std::string& str() const { return out_; }

 private:
  void add(const std::string& name, const char* type, const std::string& help, double v, const Labels& labels);
  std::string out_;
  std::set<std::string> declared_;
};

struct InboxStats {
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;
  std::size_t depth = 0;
  std::size_t high_water = 0;
};

// Everything /metrics shows; null pointers for the parts a daemon does not run.
struct MetricsSources {
  const CoreDriver* driver = nullptr;
  const adapters::AdapterCounters* mqtt = nullptr;
  bool mqtt_connected = false;
  std::size_t mqtt_pending_commands = 0;
  const adapters::AdapterCounters* modbus = nullptr;
  const http::ApiCounters* api = nullptr;      // the service prints its own series; 4xx/5xx added here
  std::optional<http::ServerCounters> http;    // connections and requests refused before routing
  std::optional<store::StoreCounters> store;
  InboxStats inbox;
  // The OpenADR VEN, when configured.
  std::optional<openadr::VenCounters> openadr;
  openadr::QueueStats openadr_reports;
  bool openadr_online = false;
  std::size_t export_caps = 0;                 // OpenADR export caps in force
  std::size_t export_capped_sites = 0;
  double uptime_s = 0;
  TimePoint now{};
};

std::string metrics_text(const MetricsSources& m);

}  // namespace vpp::daemon
