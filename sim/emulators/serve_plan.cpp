#include "sim/emulators/serve_plan.hpp"

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "config/config.hpp"

namespace vpp::sim::emulators {

const PlannedSite* ServePlan::site(const std::string& id) const {
  for (const auto& s : sites) {
    if (s.site_id == id) return &s;
  }
  return nullptr;
}

Result<ServePlan> make_plan(const ServeConfig& cfg, const std::vector<Site>& sites, int modbus_base_port) {
  ServePlan plan;
  std::map<std::string, const ServeGroup*> listed;
  const ServeGroup* catch_all = nullptr;
  for (const auto& g : cfg.groups) {
    if (g.sites.empty()) catch_all = &g;
    for (const auto& s : g.sites) listed[s] = &g;
  }
  int next_port = modbus_base_port;
  for (const auto& site : sites) {
    PlannedSite ps;
    ps.site_id = site.id;
    const auto it = listed.find(site.id);
    const ServeGroup* g = it != listed.end() ? it->second : catch_all;
    if (g) {
      ps.dialect = g->dialect;
      ps.group_name = g->name;
      ps.group_id = g->group_id;
      ps.sunspec = g->sunspec;
    } else if (!cfg.groups.empty()) {
      return Error{"site '" + site.id + "' is in no serve group"};
    } else {
      ps.group_name = "json";
    }
    int unit = 0;
    bool site_port_used = false;
    const int site_port = next_port;
    for (const auto& a : site.assets) {
      const bool sunspec = ps.dialect == ServeDialect::modbus && (a.kind() == AssetKind::pv || a.kind() == AssetKind::battery);
      if (sunspec) {
        PlannedModbus m;
        m.site_id = site.id;
        m.asset_id = a.id;
        m.role = a.kind() == AssetKind::pv ? SunSpecRole::pv : SunSpecRole::battery;
        m.profile = ps.sunspec;
        if (cfg.modbus_port_per_device) {
          m.port = next_port++;
          m.unit_id = 1;
        } else {
          m.port = site_port;
          m.unit_id = ++unit;
          site_port_used = true;
        }
        if (m.port > 65535) return Error{"Modbus ports run past 65535 (base " + std::to_string(modbus_base_port) + ")"};
        plan.modbus.push_back(m);
      } else if (ps.dialect == ServeDialect::sparkplug_b) {
        plan.sparkplug_assets.emplace_back(site.id, a.id);
      } else {
        plan.json_assets.emplace_back(site.id, a.id);
      }
    }
    if (site_port_used) ++next_port;
    plan.sites.push_back(std::move(ps));
  }
  plan.modbus_ports = next_port - modbus_base_port;
  return plan;
}

namespace {

// Shortest text that reads back as the same double.
std::string num(double v) {
  char buf[40];
  for (int p = 6; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string dur(Duration d) { return format_duration(d); }

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string hhmm(int minute) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

const char* kDayNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

void write_asset(std::ostringstream& o, const Asset& a) {
  o << "      - id: " << quoted(a.id) << "\n        name: " << quoted(a.name) << "\n";
  if (const auto* s = a.get<PvSpec>()) {
    o << "        kind: pv\n        rated_kw: " << num(s->rated_kw) << "\n        dc_peak_kw: " << num(s->dc_peak_kw)
      << "\n        tilt_deg: " << num(s->tilt_deg) << "\n        azimuth_deg: " << num(s->azimuth_deg)
      << "\n        temp_coeff_per_c: " << num(s->temp_coeff_per_c) << "\n";
  } else if (const auto* s = a.get<BatterySpec>()) {
    o << "        kind: battery\n        capacity_kwh: " << num(s->capacity_kwh) << "\n        max_charge_kw: "
      << num(s->max_charge_kw) << "\n        max_discharge_kw: " << num(s->max_discharge_kw)
      << "\n        charge_efficiency: " << num(s->charge_efficiency) << "\n        discharge_efficiency: "
      << num(s->discharge_efficiency) << "\n        soc_min_pct: " << num(s->soc_min_pct) << "\n        soc_max_pct: "
      << num(s->soc_max_pct) << "\n        self_discharge_pct_per_day: " << num(s->self_discharge_pct_per_day)
      << "\n        ramp_kw_per_s: " << num(s->ramp_kw_per_s) << "\n";
  } else if (const auto* s = a.get<HvacZoneSpec>()) {
    o << "        kind: hvac_zone\n        rated_electric_kw: " << num(s->rated_electric_kw) << "\n        rated_cop: "
      << num(s->rated_cop) << "\n        floor_area_m2: " << num(s->floor_area_m2)
      << "\n        thermal_resistance_k_per_kw: " << num(s->thermal_resistance_k_per_kw)
      << "\n        thermal_capacitance_kwh_per_k: " << num(s->thermal_capacitance_kwh_per_k)
      << "\n        default_setpoint_c: " << num(s->default_setpoint_c) << "\n        deadband_c: " << num(s->deadband_c)
      << "\n";
  } else if (const auto* s = a.get<FlexibleLoadSpec>()) {
    o << "        kind: flexible_load\n        rated_kw: " << num(s->rated_kw) << "\n        max_curtail_pct: "
      << num(s->max_curtail_pct) << "\n        max_shift_kwh: " << num(s->max_shift_kwh) << "\n";
  } else if (const auto* s = a.get<SiteMeterSpec>()) {
    o << "        kind: site_meter\n        import_limit_kw: " << num(s->import_limit_kw) << "\n        export_limit_kw: "
      << num(s->export_limit_kw) << "\n";
  } else if (const auto* s = a.get<EvChargerSpec>()) {
    o << "        kind: ev_charger\n        max_charge_kw: " << num(s->max_charge_kw) << "\n        max_discharge_kw: "
      << num(s->max_discharge_kw) << "\n        connectors: " << s->connectors << "\n";
  }
}

void write_site(std::ostringstream& o, const Site& s) {
  o << "  - id: " << quoted(s.id) << "\n    name: " << quoted(s.name) << "\n";
  if (!s.owner.empty()) o << "    owner: " << quoted(s.owner) << "\n";
  o << "    type: " << to_string(s.type) << "\n    latitude: " << num(s.latitude_deg) << "\n    longitude: "
    << num(s.longitude_deg) << "\n";
  const auto& l = s.limits;
  o << "    limits:\n      comfort_min_c: " << num(l.comfort_min_c) << "\n      comfort_max_c: " << num(l.comfort_max_c)
    << "\n      battery_reserve_pct: " << num(l.battery_reserve_pct) << "\n      max_curtailment_pct: "
    << num(l.max_curtailment_pct) << "\n      import_limit_kw: " << num(l.import_limit_kw) << "\n      export_limit_kw: "
    << num(l.export_limit_kw) << "\n";
  if (!l.availability.empty()) {
    o << "      availability:\n";
    for (const auto& w : l.availability) {
      o << "        - days: [";
      for (std::size_t i = 0; i < w.days_of_week.size(); ++i) {
        const int d = w.days_of_week[i];
        o << (i ? ", " : "") << (d >= 1 && d <= 7 ? kDayNames[d - 1] : "mon");
      }
      o << "]\n          start: \"" << hhmm(w.start_minute) << "\"\n          end: \"" << hhmm(w.end_minute) << "\"\n";
    }
  }
  o << "    assets:\n";
  for (const auto& a : s.assets) write_asset(o, a);
}

std::string offset_text(int minutes) {
  char buf[16];
  const int a = std::abs(minutes);
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", minutes < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

}  // namespace

std::string vppd_config_yaml(const Scenario& sc, const std::vector<Site>& sites, const ServePlan& plan,
                             const VppdConfigOptions& opt) {
  std::ostringstream o;
  o << "# vppd configuration for the fleet that `vppsim serve " << std::filesystem::path(sc.source_file).filename().string()
    << "` emulates\n"
    << "# (generated by vppsim serve-config; scenario '" << sc.name << "', seed " << sc.seed << "). The devices:\n"
    << "#   vppsim serve " << std::filesystem::path(sc.source_file).filename().string() << " --broker " << opt.broker_url
    << (plan.modbus.empty() ? std::string() : " --modbus-base-port " + std::to_string(plan.modbus.front().port))
    << " --start-at now\n";
  o << "utc_offset: \"" << offset_text(sc.utc_offset_minutes) << "\"\n";
  std::vector<std::string> json_sites;
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> spb;  // group name -> (group id, sites)
  std::vector<std::string> spb_order;
  for (const auto& s : plan.sites) {
    if (s.dialect == ServeDialect::sparkplug_b) {
      if (!spb.count(s.group_name)) spb_order.push_back(s.group_name);
      auto& g = spb[s.group_name];
      g.first = s.group_id;
      g.second.push_back(s.site_id);
    } else {
      json_sites.push_back(s.site_id);
    }
  }
  auto list = [](const std::vector<std::string>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + quoted(v[i]);
    return out + "]";
  };
  o << "mqtt:\n  url: " << quoted(opt.broker_url) << "\n  client_id: " << quoted(opt.client_id) << "\n  topic_prefix: "
    << quoted(sc.serve.topic_prefix) << "\n  device_groups:\n";
  if (!json_sites.empty()) o << "    - name: emulated-json\n      dialect: json\n      sites: " << list(json_sites) << "\n";
  for (const auto& name : spb_order) {
    const auto& g = spb[name];
    o << "    - name: " << quoted(name) << "\n      dialect: sparkplug_b\n      group_id: " << quoted(g.first)
      << "\n      sites: " << list(g.second) << "\n";
  }
  o << "http:\n  bind: 127.0.0.1\n  port: " << opt.http_port << "\n";
  if (!opt.operator_token_sha256.empty()) {
    o << "  tokens:\n    - name: operator\n      role: operator\n      sha256: " << opt.operator_token_sha256 << "\n";
  }
  if (!plan.modbus.empty()) {
    o << "modbus:\n  devices:\n";
    for (const auto& m : plan.modbus) {
      o << "    - id: " << quoted(m.site_id + "." + m.asset_id) << "\n      site: " << quoted(m.site_id) << "\n      asset: "
        << quoted(m.asset_id) << "\n      host: " << opt.modbus_host << "\n      port: " << m.port << "\n      unit_id: "
        << m.unit_id << "\n      sunspec_base: 40000\n      poll_period: " << dur(opt.modbus_poll) << "\n";
    }
  }
  const auto& c = sc.controller;
  o << "optimizer:\n  horizon_steps: " << c.horizon_steps << "\n  step: " << dur(c.interval) << "\n  solver: "
    << (sc.solver == "clp" ? "clp" : "decomposed") << "\n  resolve_period: " << dur(c.scheduling.resolve_period) << "\n";
  o << "controller:\n" << config::controller_settings_yaml(c, 2);
  o << "store:\n  path: " << quoted(opt.store_path) << "\nlogging:\n  level: " << opt.log_level << "\n";
  o << "sites:\n";
  for (const auto& s : sites) write_site(o, s);
  return o.str();
}

}  // namespace vpp::sim::emulators
