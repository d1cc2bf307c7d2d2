#include "sim/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/config.hpp"
#include "config/yaml_reader.hpp"
#include "proto/sparkplug.hpp"
#include "sim/fleet_gen.hpp"
#include "sim/strategy.hpp"

namespace vpp::sim {
namespace {

using config::Bounds;
using config::Diagnostics;
using config::MapReader;
using config::kFraction;
using config::kNonNegative;
using config::kPositive;

const std::vector<std::string> kTypeNames = {"office", "mall", "school", "hospital", "data_centre"};

std::string type_list() {
  std::string s;
  for (const auto& t : kTypeNames) s += (s.empty() ? "" : ", ") + t;
  return s;
}

std::string hhmm(int minute) {
  const int h = minute / 60, m = minute % 60;
  return std::string{static_cast<char>('0' + h / 10), static_cast<char>('0' + h % 10), ':',
                     static_cast<char>('0' + m / 10), static_cast<char>('0' + m % 10)};
}

std::string local_time(TimePoint t, int offset_min) {
  // "2026-07-07 14:00 (+08:00)"
  const std::string u = format_utc(t + std::chrono::minutes(offset_min));
  char sign = offset_min < 0 ? '-' : '+';
  const int a = std::abs(offset_min);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", sign, a / 60, a % 60);
  return u.substr(0, 10) + " " + u.substr(11, 5) + " " + buf;
}

std::optional<int> parse_utc_offset(const std::string& s) {
  if (s == "Z" || s == "UTC") return 0;
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return std::nullopt;
  const auto hm = config::parse_hh_mm(s.substr(1));
  if (!hm || *hm > 14 * 60) return std::nullopt;
  return s[0] == '-' ? -*hm : *hm;
}

// A list of exactly 24 finite numbers within bounds.
void read_hourly(MapReader& r, const std::string& key, std::array<double, 24>& out, Bounds b, bool required = false) {
  const std::size_t before = r.diagnostics().items().size();
  std::size_t n = 0;
  const YAML::Node node = r.raw(key);
  if (!node.IsDefined()) {
    if (required) r.error(key, "is required (24 hourly values)");
    return;
  }
  if (!node.IsSequence()) {
    r.error(key, "must be a list of 24 hourly values");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string path = r.field(key) + "[" + std::to_string(i) + "]";
    double v = 0;
    bool ok = item.IsScalar();
    if (ok) {
      const std::string& s = item.Scalar();
      char* end = nullptr;
      v = std::strtod(s.c_str(), &end);
      ok = !s.empty() && end == s.c_str() + s.size() && std::isfinite(v);
    }
    if (!ok) {
      r.diagnostics().add(item.Mark(), path, "must be a finite number");
    } else if ((b.min && v < *b.min) || (b.max && v > *b.max) || (b.greater_than && !(v > *b.greater_than))) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "must be within %g..%g (found %g)", b.min.value_or(b.greater_than.value_or(-1e300)),
                    b.max.value_or(1e300), v);
      r.diagnostics().add(item.Mark(), path, buf);
    } else if (n < 24) {
      out[n] = v;
    }
    ++n;
  }
  if (n != 24 && r.diagnostics().items().size() == before) {
    r.error(key, "must have 24 hourly values (found " + std::to_string(n) + ")");
  }
}

Duration read_multiple_of(MapReader& r, const std::string& key, Duration fallback, Duration step, Duration min) {
  auto d = r.duration(key, false, min);
  if (!d) return fallback;
  if (step.count() > 0 && d->count() % step.count() != 0) {
    r.error(key, "must be a whole number of steps (step " + format_duration(step) + ")");
  }
  return *d;
}

void read_weather(MapReader& w, WeatherConfig& cfg) {
  if (auto t = w.map("temperature", true)) {
    const bool hourly = t->has("hourly_c"), cycle = t->has("daily_cycle");
    if (hourly == cycle) t->error(hourly ? "daily_cycle" : "hourly_c", "give exactly one of hourly_c and daily_cycle");
    if (hourly) {
      cfg.temperature_source = WeatherConfig::TemperatureSource::hourly;
      read_hourly(*t, "hourly_c", cfg.hourly_temp_c, {.min = -60, .max = 60});
    } else {
      t->raw("hourly_c");
    }
    if (auto c = t->map("daily_cycle")) {
      cfg.temperature_source = WeatherConfig::TemperatureSource::daily_cycle;
      cfg.min_c = c->number("min_c", {.min = -60, .max = 60}, true).value_or(cfg.min_c);
      cfg.max_c = c->number("max_c", {.min = -60, .max = 60}, true).value_or(cfg.max_c);
      cfg.min_hour = c->number_or("min_hour", 5, {.min = 0, .less_than = 24});
      cfg.max_hour = c->number_or("max_hour", 15, {.min = 0, .less_than = 24});
      if (cfg.max_c < cfg.min_c) c->error("max_c", "must not be below min_c");
      if (!(cfg.max_hour > cfg.min_hour)) c->error("max_hour", "must be after min_hour (same day)");
    }
    cfg.temperature_noise_std_c = t->number_or("noise_std_c", 0, {.min = 0, .max = 5});
    struct Span {
      TimePoint start, end;
      std::size_t index;
    };
    std::vector<Span> spans;
    std::size_t i = 0;
    t->map_list("overrides", [&](MapReader& o) {
      TemperatureOverride ov;
      const auto kind = o.choice("kind", {"heatwave", "cold_snap"}, true);
      ov.kind = kind.value_or("");
      const auto start = o.time("start", true), end = o.time("end", true);
      const auto delta = o.number("delta_c", {.min = -30, .max = 30}, true);
      if (delta && kind == "heatwave" && !(*delta > 0)) o.error("delta_c", "a heatwave needs delta_c > 0");
      if (delta && kind == "cold_snap" && !(*delta < 0)) o.error("delta_c", "a cold_snap needs delta_c < 0");
      if (start && end && !(*end > *start)) o.error("end", "must be after start");
      if (start && end && delta && kind && *end > *start) {
        ov.start = *start;
        ov.end = *end;
        ov.delta_c = *delta;
        for (const auto& s : spans) {
          if (ov.start < s.end && s.start < ov.end) {
            o.error("start", "overlaps weather.temperature.overrides[" + std::to_string(s.index) +
                                 "]: two overrides may not change the same hours");
          }
        }
        spans.push_back({ov.start, ov.end, i});
        cfg.overrides.push_back(ov);
      }
      ++i;
    });
  }
  if (w.has("dew_point_c") && w.has("dew_point_hourly_c")) {
    w.error("dew_point_hourly_c", "give one of dew_point_c and dew_point_hourly_c");
  }
  cfg.dew_point_c = w.number_or("dew_point_c", cfg.dew_point_c, {.min = -60, .max = 40});
  if (w.has("dew_point_hourly_c")) {
    cfg.dew_point_hourly = true;
    read_hourly(w, "dew_point_hourly_c", cfg.hourly_dew_point_c, {.min = -60, .max = 40});
  } else {
    w.raw("dew_point_hourly_c");
  }
  if (auto irr = w.map("irradiance", true)) {
    const auto model = irr->choice("model", {"clear_sky", "hourly"}, true).value_or("clear_sky");
    cfg.irradiance_source =
        model == "hourly" ? WeatherConfig::IrradianceSource::hourly : WeatherConfig::IrradianceSource::clear_sky;
    cfg.linke_turbidity = irr->number_or("linke_turbidity", cfg.linke_turbidity, {.min = 1, .max = 10});
    if (model == "hourly") {
      read_hourly(*irr, "hourly_ghi_w_m2", cfg.hourly_ghi_w_m2, {.min = 0, .max = 1400}, true);
    } else if (irr->has("hourly_ghi_w_m2")) {
      irr->error("hourly_ghi_w_m2", "applies to model: hourly only");
    }
    if (auto c = irr->map("clouds")) {
      auto& cl = cfg.clouds;
      cl.cover = c->number_or("cover", cl.cover, {.min = 0, .max = 1});
      cl.cloudy_index = c->number_or("cloudy_index", cl.cloudy_index, {.min = 0.05, .max = 1});
      cl.mean_cloudy = c->duration("mean_cloudy", false, std::chrono::minutes(1)).value_or(cl.mean_cloudy);
      cl.variability = c->number_or("variability", cl.variability, {.min = 0, .max = 0.5});
      cl.correlation = c->duration("correlation", false, std::chrono::minutes(1)).value_or(cl.correlation);
    }
  }
  cfg.albedo = w.number_or("albedo", cfg.albedo, {.min = 0, .max = 1});
}

void read_fleet(MapReader& f, FleetGenConfig& g) {
  g.sites = static_cast<int>(f.integer("sites", {.min = 1, .max = 1'000'000}, true).value_or(0));
  const YAML::Node mix = f.raw("mix");
  if (!mix.IsDefined()) {
    f.error("mix", "is required (share of each building type)");
  } else {
    MapReader m(mix, f.field("mix"), f.diagnostics());
    if (m.valid()) {
      double sum = 0;
      bool ok = true;
      for (auto it = mix.begin(); it != mix.end(); ++it) {
        const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
        const auto t = building_type_from_string(key);
        if (!t) {
          m.raw(key);
          f.diagnostics().add(it->first.Mark(), m.field(key),
                              "unknown building type '" + key + "' (expected one of: " + type_list() + ")");
          ok = false;
          continue;
        }
        if (auto v = m.number(key, {.min = 0, .max = 1})) {
          g.mix[static_cast<std::size_t>(type_index(*t))] = *v;
          sum += *v;
        } else {
          ok = false;
        }
      }
      if (ok && std::abs(sum - 1.0) > 1e-6) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "shares must sum to 1 (found %g)", sum);
        f.error("mix", buf);
      }
    }
  }
  g.floor_area_spread = f.number_or("floor_area_spread", g.floor_area_spread, {.min = 0, .max = 2});
  g.parameter_spread = f.number_or("parameter_spread", g.parameter_spread, {.min = 0, .max = 1});
  if (auto pv = f.map("pv")) {
    g.pv_penetration = pv->number_or("penetration", g.pv_penetration, {.min = 0, .max = 1});
    g.pv_roof_share = pv->number_or("roof_share", g.pv_roof_share, kFraction);
    g.pv_kwp_per_m2 = pv->number_or("kwp_per_m2", g.pv_kwp_per_m2, {.greater_than = 0, .max = 0.3});
    g.pv_dc_ac_ratio = pv->number_or("dc_ac_ratio", g.pv_dc_ac_ratio, {.min = 0.8, .max = 2});
  }
  if (auto b = f.map("battery")) {
    g.battery_penetration = b->number_or("penetration", g.battery_penetration, {.min = 0, .max = 1});
    g.battery_power_share = b->number_or("power_share_of_peak", g.battery_power_share, {.greater_than = 0, .max = 2});
    g.battery_hours = b->number_or("hours", g.battery_hours, {.greater_than = 0, .max = 24});
    g.battery_reserve_pct = b->number_or("reserve_pct", g.battery_reserve_pct, {.min = 0, .max = 90});
  }
  if (auto l = f.map("flexible_load")) {
    g.flexible_penetration = l->number_or("penetration", g.flexible_penetration, {.min = 0, .max = 1});
    g.flexible_share = l->number_or("share_of_base", g.flexible_share, {.greater_than = 0, .max = 0.9});
    g.flexible_max_curtail_pct = l->number_or("max_curtail_pct", g.flexible_max_curtail_pct, {.min = 0, .max = 100});
  }
}

void read_tariff(MapReader& t, TariffConfig& tc) {
  tc.defined = true;
  tc.currency = t.string_or("currency", tc.currency);
  static const std::vector<std::string> kBands = {"valley", "flat", "peak", "sharp"};
  std::array<bool, 4> priced{};
  if (auto p = t.map("prices", true)) {
    for (std::size_t b = 0; b < kBands.size(); ++b) {
      if (auto v = p->number(kBands[b], {.min = 0, .max = 100})) {
        tc.price[b] = *v;
        priced[b] = true;
      }
    }
  }
  std::array<int, 96> owner;
  owner.fill(-1);
  struct Period {
    int band, start, end;
  };
  std::vector<Period> periods;
  auto minutes = [](MapReader& r, const char* key) -> int {
    const auto s = r.string(key, true);
    if (!s) return -1;
    const auto m = config::parse_hh_mm(*s);
    if (!m) {
      r.error(key, "must be a local time HH:MM, found '" + *s + "'");
      return -1;
    }
    if (*m % 15 != 0) {
      r.error(key, "must fall on a quarter hour (found " + *s + ")");
      return -1;
    }
    return *m;
  };
  auto describe = [&](const Period& p) {
    return kBands[static_cast<std::size_t>(p.band)] + " " + hhmm(p.start) + "-" + hhmm(p.end);
  };
  int index = 0;
  const std::size_t errors_before = t.diagnostics().items().size();
  t.map_list("periods", [&](MapReader& p) {
    const auto band = p.choice("band", {"valley", "flat", "peak"}, true);
    const int s = minutes(p, "start"), e = minutes(p, "end");
    if (band && s >= 0 && e >= 0) {
      const int bi = static_cast<int>(std::find(kBands.begin(), kBands.end(), *band) - kBands.begin());
      if (!priced[static_cast<std::size_t>(bi)]) p.error("band", "has no price in tariff.prices");
      if (s == e) {
        p.error("end", "must differ from start");
      } else {
        // Crosses midnight when end <= start (valley 23:00-07:00).
        const int len = ((e - s) + 1440) % 1440;
        bool overlapped = false;
        for (int q = 0; q < len / 15; ++q) {
          const int slot = ((s / 15) + q) % 96;
          if (owner[static_cast<std::size_t>(slot)] >= 0 && !overlapped) {
            const int other = owner[static_cast<std::size_t>(slot)];
            p.error("start", "overlaps tariff.periods[" + std::to_string(other) + "] (" +
                                 describe(periods[static_cast<std::size_t>(other)]) + ") at " + hhmm(slot * 15) +
                                 ": one band per hour");
            overlapped = true;
          }
          if (owner[static_cast<std::size_t>(slot)] < 0) {
            owner[static_cast<std::size_t>(slot)] = index;
            tc.base[static_cast<std::size_t>(slot)] = static_cast<TariffBand>(bi);
          }
        }
      }
      periods.push_back({bi, s, e});
    } else {
      periods.push_back({0, 0, 0});
    }
    ++index;
  }, true);
  if (!periods.empty() && t.diagnostics().items().size() == errors_before) {
    for (int q = 0; q < 96; ++q) {
      if (owner[static_cast<std::size_t>(q)] < 0) {
        int q2 = q;
        while (q2 < 96 && owner[static_cast<std::size_t>(q2)] < 0) ++q2;
        t.error("periods", "no band covers " + hhmm(q * 15) + "-" + hhmm(q2 * 15) + " local: the periods must cover the day");
        break;
      }
    }
  }
  std::vector<std::pair<TariffConfig::Sharp, int>> seen;
  int si = 0;
  t.map_list("sharp_peak", [&](MapReader& p) {
    if (!priced[3]) p.error("start", "a sharp peak needs tariff.prices.sharp");
    TariffConfig::Sharp sp;
    p.list("months", [&](const YAML::Node& m, const std::string& path) {
      int v = 0;
      if (!m.IsScalar() || !(std::istringstream(m.Scalar()) >> v) || v < 1 || v > 12) {
        p.diagnostics().add(m.Mark(), path, "must be a month 1..12");
      } else {
        sp.months.push_back(v);
      }
    });
    sp.start_minute = minutes(p, "start");
    sp.end_minute = minutes(p, "end");
    if (sp.start_minute >= 0 && sp.end_minute >= 0) {
      if (sp.end_minute <= sp.start_minute) {
        p.error("end", "must be after start (sharp peaks do not cross midnight)");
      } else {
        for (const auto& [o, oi] : seen) {
          const bool months_meet = o.months.empty() || sp.months.empty() ||
                                   std::any_of(sp.months.begin(), sp.months.end(), [&](int m) {
                                     return std::find(o.months.begin(), o.months.end(), m) != o.months.end();
                                   });
          if (months_meet && sp.start_minute < o.end_minute && o.start_minute < sp.end_minute) {
            p.error("start", "overlaps tariff.sharp_peak[" + std::to_string(oi) + "] (" + hhmm(o.start_minute) + "-" +
                                 hhmm(o.end_minute) + ")");
          }
        }
        seen.emplace_back(sp, si);
        tc.sharp.push_back(sp);
      }
    }
    ++si;
  });
  tc.export_price = t.number_or("export_price", 0, {.min = 0, .max = 100});
}

void read_carbon(MapReader& c, CarbonConfig& cc) {
  const auto method = c.choice("method", {"constant", "hourly", "derived"}, true).value_or("constant");
  cc.method = method == "hourly"    ? CarbonConfig::Method::hourly
              : method == "derived" ? CarbonConfig::Method::derived
                                    : CarbonConfig::Method::constant;
  cc.ef_fossil = c.number_or("ef_fossil_kg_per_kwh", cc.ef_fossil, {.greater_than = 0, .max = 2});
  if (cc.method == CarbonConfig::Method::hourly) {
    read_hourly(c, "hourly_kg_per_kwh", cc.hourly, {.min = 0, .max = 2}, true);
    for (double v : cc.hourly) {
      if (v > cc.ef_fossil) {
        c.error("hourly_kg_per_kwh", "values must not exceed ef_fossil_kg_per_kwh (an all-fossil hour)");
        break;
      }
    }
  } else if (c.has("hourly_kg_per_kwh")) {
    c.error("hourly_kg_per_kwh", "applies to method: hourly only");
  }
  // constant: the factor itself; derived: the load-weighted daily mean the hourly curve keeps.
  const char* key = cc.method == CarbonConfig::Method::derived ? "mean_kg_per_kwh" : "kg_per_kwh";
  const char* other = cc.method == CarbonConfig::Method::derived ? "kg_per_kwh" : "mean_kg_per_kwh";
  if (cc.method != CarbonConfig::Method::hourly) {
    cc.kg_per_kwh = c.number(key, {.min = 0, .max = 2}, true).value_or(cc.kg_per_kwh);
    if (cc.kg_per_kwh > cc.ef_fossil) c.error(key, "must not exceed ef_fossil_kg_per_kwh");
  }
  if (c.has(other)) c.error(other, "does not apply to method: " + method);
  if (cc.method == CarbonConfig::Method::hourly && c.has("kg_per_kwh")) c.error("kg_per_kwh", "does not apply to method: hourly");
  if (cc.method == CarbonConfig::Method::derived) {
    cc.solar_share_of_clean = c.number_or("solar_share_of_clean", cc.solar_share_of_clean, {.min = 0, .max = 1});
  } else if (c.has("solar_share_of_clean")) {
    c.error("solar_share_of_clean", "applies to method: derived only");
  }
}


void read_serve(MapReader& r, ServeConfig& sv, const std::set<std::string>& ids) {
  sv.topic_prefix = r.string_or("topic_prefix", sv.topic_prefix);
  if (sv.topic_prefix.empty() || sv.topic_prefix.find_first_of("+#") != std::string::npos ||
      sv.topic_prefix.front() == '/' || sv.topic_prefix.back() == '/') {
    r.error("topic_prefix", "must be a non-empty topic without wildcards or a leading or trailing '/'");
  }
  sv.client_id = r.string_or("client_id", sv.client_id);
  if (!sparkplug::valid_id(sv.client_id)) r.error("client_id", "must be non-empty without '/', '+' or '#'");
  sv.telemetry_qos = static_cast<int>(r.integer("telemetry_qos", {.min = 0, .max = 1}).value_or(sv.telemetry_qos));
  sv.sparkplug_refresh = r.duration("sparkplug_refresh", false, std::chrono::seconds(1)).value_or(sv.sparkplug_refresh);
  if (auto m = r.choice("modbus_ports", {"site", "device"})) sv.modbus_port_per_device = *m == "device";
  std::map<std::string, std::size_t> owner;   // site -> group index
  std::set<std::string> names;
  int catch_all = -1;
  std::size_t i = 0;
  r.map_list("groups", [&](MapReader& g) {
    ServeGroup grp;
    grp.name = g.string_or("name", "group-" + std::to_string(i));
    if (!names.insert(grp.name).second) g.error("name", "duplicate group name '" + grp.name + "'");
    const auto d = g.choice("dialect", {"sparkplug_b", "json", "modbus"}, true).value_or("json");
    grp.dialect = d == "sparkplug_b" ? ServeDialect::sparkplug_b : d == "modbus" ? ServeDialect::modbus : ServeDialect::json;
    if (grp.dialect == ServeDialect::sparkplug_b) {
      grp.group_id = g.string("group_id", true).value_or("");
      if (g.has("group_id") && !sparkplug::valid_id(grp.group_id)) {
        g.error("group_id", "must be a non-empty Sparkplug id without '/', '+' or '#'");
      }
    } else if (g.has("group_id")) {
      g.error("group_id", "applies to dialect sparkplug_b only");
    }
    if (grp.dialect == ServeDialect::modbus) {
      if (auto p = g.choice("sunspec", {"legacy", "der"})) grp.sunspec = *p == "der" ? SunSpecProfile::der : SunSpecProfile::legacy;
    } else if (g.has("sunspec")) {
      g.error("sunspec", "applies to dialect modbus only");
    }
    const bool listed = g.has("sites");
    grp.sites = g.string_list("sites");
    for (std::size_t k = 0; k < grp.sites.size(); ++k) {
      const auto& id = grp.sites[k];
      const auto mark = g.raw("sites")[k].Mark();
      const std::string path = g.field("sites") + "[" + std::to_string(k) + "]";
      if (!ids.count(id)) {
        g.diagnostics().add(mark, path, "unknown site '" + id + "'");
      } else if (auto [it, fresh] = owner.emplace(id, i); !fresh) {
        g.diagnostics().add(mark, path, "site '" + id + "' is already served by serve.groups[" + std::to_string(it->second) + "]");
      }
    }
    if (!listed || grp.sites.empty()) {
      if (catch_all >= 0) {
        g.error("sites", "only one group may leave out sites (serve.groups[" + std::to_string(catch_all) + "] already does)");
      }
      catch_all = static_cast<int>(i);
    }
    sv.groups.push_back(std::move(grp));
    ++i;
  });
  if (!sv.groups.empty() && catch_all < 0) {
    std::vector<std::string> missing;
    for (const auto& id : ids) {
      if (!owner.count(id)) missing.push_back(id);
    }
    if (!missing.empty()) {
      std::string list;
      for (std::size_t k = 0; k < std::min<std::size_t>(3, missing.size()); ++k) list += (k ? ", " : "") + missing[k];
      if (missing.size() > 3) list += ", ...";
      r.error("groups", std::to_string(missing.size()) + " site(s) are in no group (" + list +
                            "): list them or add a group without sites");
    }
  }
}

}  // namespace

std::string_view to_string(ServeDialect d) {
  switch (d) {
    case ServeDialect::sparkplug_b: return "sparkplug_b";
    case ServeDialect::json: return "json";
    case ServeDialect::modbus: return "modbus";
  }
  return "?";
}

std::string_view to_string(TariffBand b) {
  switch (b) {
    case TariffBand::valley: return "valley";
    case TariffBand::flat: return "flat";
    case TariffBand::peak: return "peak";
    case TariffBand::sharp: return "sharp";
  }
  return "?";
}

void read_controller_sections(MapReader& r, Scenario& sc) {
  if (auto c = r.map("controller")) config::read_controller_settings(*c, sc.controller);
  if (auto o = r.map("optimizer")) {
    sc.controller.horizon_steps =
        static_cast<int>(o->integer("horizon_steps", {.min = 4, .max = 672}).value_or(sc.controller.horizon_steps));
    sc.controller.interval = o->duration("step", false, std::chrono::minutes(1)).value_or(sc.controller.interval);
    sc.solver = o->choice("solver", {"decomposed", "clp"}).value_or(sc.solver);
    sc.controller.scheduling.resolve_period =
        o->duration("resolve_period", false, std::chrono::minutes(1)).value_or(sc.controller.scheduling.resolve_period);
  }
  sc.history_days = static_cast<int>(r.integer("history_days", {.min = 0, .max = 30}).value_or(sc.history_days));
}

Result<Scenario> load_scenario_text(const std::string& text, const std::string& file_name) {
  Diagnostics diag(file_name);
  Scenario sc;
  sc.source_file = file_name;
  sc.text = text;
  const YAML::Node root = config::parse_yaml(text, diag);
  if (diag.empty()) {
    MapReader r(root, "", diag);
    if (r.valid()) {
      sc.name = r.string("name", true).value_or("");
      sc.seed = static_cast<std::uint64_t>(r.integer("seed", {.min = 0}).value_or(1));
      const auto start = r.time("start", true);
      if (start) sc.start = *start;
      sc.step = r.duration("step", false, std::chrono::seconds(1)).value_or(sc.step);
      if (sc.step > std::chrono::hours(1)) r.error("step", "must be at most 1h");
      if (86'400'000 % sc.step.count() != 0) r.error("step", "must divide a day evenly (e.g. 10s, 1m, 5m, 15m)");
      if (auto d = r.duration("duration", true, sc.step)) {
        sc.duration = *d;
        if (d->count() % sc.step.count() != 0) {
          r.error("duration", "must be a whole number of steps (step " + format_duration(sc.step) + ")");
        }
        if (*d > std::chrono::hours(24 * 366)) r.error("duration", "must be at most 366 days");
      }
      sc.warmup = read_multiple_of(r, "warmup", sc.warmup, sc.step, Duration{0});
      if (sc.warmup > std::chrono::hours(24 * 14)) r.error("warmup", "must be at most 14 days");
      if (auto off = r.string("utc_offset")) {
        if (auto m = parse_utc_offset(*off)) {
          sc.utc_offset_minutes = *m;
        } else {
          r.error("utc_offset", "must be an offset such as +08:00 or Z, found '" + *off + "'");
        }
      }
      if (auto loc = r.map("location", true)) {
        sc.location.latitude_deg = loc->number("latitude", {.min = -90, .max = 90}, true).value_or(0);
        sc.location.longitude_deg = loc->number("longitude", {.min = -180, .max = 180}, true).value_or(0);
        sc.location.altitude_m = loc->number_or("altitude_m", 0, {.min = -500, .max = 9000});
      }
      if (auto s = r.string("strategy")) {
        const auto names = strategy_names();
        if (std::find(names.begin(), names.end(), *s) == names.end()) {
          std::string list;
          for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
          r.error("strategy", "unknown strategy '" + *s + "' (expected one of: " + list + ")");
        } else {
          sc.strategy = *s;
        }
      }
      read_controller_sections(r, sc);
      if (auto c = r.map("control")) {
        sc.control_period = read_multiple_of(*c, "period", sc.control_period, sc.step, sc.step);
        sc.telemetry_period = read_multiple_of(*c, "telemetry_period", sc.telemetry_period, sc.step, sc.step);
        if (auto ch = c->map("channel")) {
          sc.channel.delay = ch->duration("delay", false).value_or(sc.channel.delay);
          if (sc.channel.delay > std::chrono::minutes(10)) ch->error("delay", "must be at most 10m");
          sc.channel.command_loss = ch->number_or("command_loss", 0, {.min = 0, .max = 1});
          sc.channel.uplink_loss = ch->number_or("uplink_loss", 0, {.min = 0, .max = 1});
        }
      }
      if (auto d = r.map("devices")) {
        auto& dv = sc.devices;
        dv.pv_response_delay = d->duration("pv_response_delay").value_or(dv.pv_response_delay);
        dv.pv_ramp_pct_per_s = d->number_or("pv_ramp_pct_per_s", dv.pv_ramp_pct_per_s, {.min = 0, .max = 100});
        dv.battery_response_delay = d->duration("battery_response_delay").value_or(dv.battery_response_delay);
        dv.hvac_response_delay = d->duration("hvac_response_delay").value_or(dv.hvac_response_delay);
        dv.load_response_delay = d->duration("load_response_delay").value_or(dv.load_response_delay);
        const auto zm = d->choice("zone_model", {"1r1c", "2r2c"});
        if (zm) dv.zone_model = *zm == "1r1c" ? ZoneModelKind::r1c1 : ZoneModelKind::r2c2;
      }
      if (auto o = r.map("output")) {
        sc.output_interval = read_multiple_of(*o, "interval", sc.output_interval, sc.step, sc.step);
      }
      // Periods left at their defaults (1 minute; 15 minutes for output) are rounded up to whole
      // steps; periods given explicitly were checked above.
      for (Duration* d : {&sc.control_period, &sc.telemetry_period, &sc.output_interval}) {
        if (*d < sc.step || d->count() % sc.step.count() != 0) *d = sc.step * ((*d + sc.step - Duration(1)) / sc.step);
      }
      if (auto w = r.map("weather", true)) read_weather(*w, sc.weather);
      if (auto f = r.map("fleet")) {
        FleetGenConfig g;
        read_fleet(*f, g);
        sc.fleet = g;
      }
      std::set<std::string> ids;
      if (sc.fleet) {
        for (const auto& id : generated_site_ids(sc.fleet->sites)) ids.insert(id);
      }
      r.map_list("sites", [&](MapReader& s) {
        ExplicitSite es;
        es.base_load_peak_kw = s.number("base_load_peak_kw", kNonNegative);
        es.has_location = s.has("latitude") || s.has("longitude");
        auto site = config::read_site(s);
        if (!site) return;
        if (std::any_of(site->assets.begin(), site->assets.end(), [](const Asset& a) { return a.kind() == AssetKind::ev_charger; })) {
          s.error("assets", "EV chargers are not simulated yet");
          return;
        }
        if (!ids.insert(site->id).second) {
          s.error("id", "duplicate site id '" + site->id + "'" + (sc.fleet ? " (generated sites are named " + generated_site_ids(1).front() + "...)" : ""));
          return;
        }
        es.site = std::move(*site);
        sc.sites.push_back(std::move(es));
      });
      if (!sc.fleet && !r.has("sites")) r.error("sites", "the scenario needs a fleet, sites, or both");
      if (auto sv = r.map("serve")) read_serve(*sv, sc.serve, ids);
      if (auto t = r.map("tariff")) read_tariff(*t, sc.tariff);
      if (auto c = r.map("carbon")) read_carbon(*c, sc.carbon);

      r.map_list("faults", [&](MapReader& f) {
        FaultConfig fc;
        fc.site = f.string("site", true).value_or("");
        fc.asset = f.string_or("asset", "");
        const auto from = f.time("from", true);
        const auto to = f.time("to", true);
        if (from && to && *to <= *from) f.error("to", "must be after from");
        fc.from = from.value_or(TimePoint{});
        fc.to = to.value_or(TimePoint{});
        sc.faults.push_back(std::move(fc));
      });

      // Events, checked against the period, the fleet and each other.
      r.map_list("events", [&](MapReader& e) {
        EventConfig ev;
        ev.id = e.string("id", true).value_or("");
        ev.program = e.string_or("program", "");
        const auto st = e.time("start", true);
        const auto dur = e.duration("duration", true, std::chrono::minutes(1));
        const int targets = (e.has("target_kw") ? 1 : 0) + (e.has("target_pct_of_baseline_peak") ? 1 : 0) +
                            (e.has("import_cap_kw") ? 1 : 0);
        ev.reduction_kw = e.number("target_kw", kPositive);
        ev.pct_of_baseline_peak = e.number("target_pct_of_baseline_peak", {.greater_than = 0, .max = 100});
        ev.import_cap_kw = e.number("import_cap_kw", kNonNegative);
        if (targets != 1) {
          e.error(targets == 0 ? "target_kw" : "import_cap_kw",
                  "give exactly one of target_kw, target_pct_of_baseline_peak and import_cap_kw");
        }
        ev.sites = e.string_list("sites");
        for (std::size_t k = 0; k < ev.sites.size(); ++k) {
          if (!ids.count(ev.sites[k])) {
            e.diagnostics().add(e.raw("sites")[k].Mark(), e.field("sites") + "[" + std::to_string(k) + "]",
                                "unknown site '" + ev.sites[k] + "'");
          }
        }
        const bool has_notice = e.has("notice"), has_announced = e.has("announced");
        if (has_notice && has_announced) e.error("announced", "give one of notice and announced");
        const auto notice = e.duration("notice");
        const auto announced = e.time("announced");
        if (st && dur) {
          ev.start = *st;
          ev.duration = *dur;
          const TimePoint end = ev.start + ev.duration;
          if (start && sc.duration.count() > 0 && (ev.start < sc.start || end > sc.end())) {
            e.error("start", "window " + local_time(ev.start, sc.utc_offset_minutes) + " .. " +
                                 local_time(end, sc.utc_offset_minutes) + " lies outside the simulated period " +
                                 local_time(sc.start, sc.utc_offset_minutes) + " .. " +
                                 local_time(sc.end(), sc.utc_offset_minutes));
          }
          ev.announced = announced ? *announced : notice ? ev.start - *notice : ev.start;
          if (announced && *announced > ev.start) e.error("announced", "must not be after the event starts");
          for (std::size_t j = 0; j < sc.events.size(); ++j) {
            const auto& o = sc.events[j];
            const bool time_meets = ev.start < o.start + o.duration && o.start < end;
            bool sites_meet = ev.sites.empty() || o.sites.empty();
            for (const auto& s : ev.sites) sites_meet = sites_meet || std::find(o.sites.begin(), o.sites.end(), s) != o.sites.end();
            if (time_meets && sites_meet) {
              e.error("start", "overlaps events[" + std::to_string(j) + "] ('" + o.id + "', " +
                                   local_time(o.start, sc.utc_offset_minutes) + " for " + format_duration(o.duration) +
                                   ") on the same sites: contradictory targets for one interval");
            }
            if (o.id == ev.id) e.error("id", "duplicate event id '" + ev.id + "'");
          }
        }
        sc.events.push_back(std::move(ev));
      });
    }
  }
  if (!diag.empty()) return Error{diag.to_string()};
  sc.controller.utc_offset_minutes = sc.utc_offset_minutes;
  return sc;
}

Result<Scenario> load_scenario_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ":1:1: cannot read file"};
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_scenario_text(ss.str(), path);
}

}  // namespace vpp::sim
