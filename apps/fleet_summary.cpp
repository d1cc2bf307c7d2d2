#include "apps/fleet_summary.hpp"

#include <cstdio>
#include <map>

namespace vpp::apps {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

std::string fleet_summary_text(const config::Config& cfg) {
  const auto s = summarize(cfg.sites);
  std::string out = "config " + cfg.source_file + ": valid\n";
  std::map<std::string_view, int> by_type;
  for (const auto& site : cfg.sites) ++by_type[to_string(site.type)];
  out += "sites:          " + std::to_string(s.sites);
  std::string sep = " (";
  for (const auto& [type, n] : by_type) {
    out += sep + std::string(type) + " " + std::to_string(n);
    sep = ", ";
  }
  out += by_type.empty() ? "\n" : ")\n";
  out += "assets:         " + std::to_string(s.total_assets());
  sep = " (";
  for (auto k : {AssetKind::pv, AssetKind::battery, AssetKind::hvac_zone, AssetKind::flexible_load,
                 AssetKind::site_meter, AssetKind::ev_charger}) {
    if (s.assets(k) == 0) continue;
    out += sep + std::string(to_string(k)) + " " + std::to_string(s.assets(k));
    sep = ", ";
  }
  out += s.total_assets() ? ")\n" : "\n";
  out += "pv:             " + fmt("%.1f kW", s.pv_kw) + "\n";
  out += "battery:        " + fmt("%.1f kWh", s.battery_kwh) + " / " + fmt("%.1f kW", s.battery_kw) + "\n";
  out += "hvac:           " + fmt("%.1f kW electric", s.hvac_kw) + "\n";
  if (s.flexible_load_kw > 0) out += "flexible load:  " + fmt("%.1f kW", s.flexible_load_kw) + "\n";
  if (s.ev_kw > 0) out += "ev charging:    " + fmt("%.1f kW", s.ev_kw) + "\n";
  out += "mqtt:           " + (cfg.mqtt ? cfg.mqtt->url : std::string("off")) + "\n";
  out += "modbus devices: " + std::to_string(cfg.modbus_devices.size()) + "\n";
  out += "http api:       " + cfg.http.bind_address + ":" + std::to_string(cfg.http.port) + " (" +
         std::to_string(cfg.http.tokens.size()) + " tokens)\n";
  out += "optimizer:      " + std::string(cfg.optimizer.solver == config::SolverKind::clp ? "clp" : "decomposed") +
         ", " + std::to_string(cfg.optimizer.horizon_steps) + " x " + format_duration(cfg.optimizer.step) + "\n";
  return out;
}

}  // namespace vpp::apps
