#include "sim/report.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vpp::sim {
namespace {

namespace fs = std::filesystem;

const char* kTypeNames[kBuildingTypeCount] = {"office", "mall", "school", "hospital", "data_centre"};

// Fixed-point text; "-0.000" is written as "0.000" so tiny round-off never changes a file.
std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string json_number(double v, int decimals) {
  const std::string s = fixed(v, decimals);
  return s.empty() ? "null" : s;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void kpi_fields(std::ostringstream& o, const Kpis& k, const std::string& indent) {
  o << indent << "\"energy_import_kwh\": " << json_number(k.energy_import_kwh, 3) << ",\n";
  o << indent << "\"energy_export_kwh\": " << json_number(k.energy_export_kwh, 3) << ",\n";
  o << indent << "\"cost\": " << json_number(k.cost, 2) << ",\n";
  o << indent << "\"co2_kg\": " << json_number(k.co2_kg, 3) << ",\n";
  o << indent << "\"peak_import_kw\": " << json_number(k.peak_import_kw, 3) << ",\n";
  o << indent << "\"green_share\": " << json_number(k.green_share, 6) << ",\n";
  o << indent << "\"comfort_violation_degree_hours\": " << json_number(k.comfort_violation_degree_hours, 4) << ",\n";
  o << indent << "\"max_comfort_excursion_c\": " << json_number(k.max_comfort_excursion_c, 4) << ",\n";
  o << indent << "\"reserve_violations\": " << k.reserve_violations << ",\n";
  o << indent << "\"rating_violations\": " << k.rating_violations << ",\n";
  o << indent << "\"pv_generation_kwh\": " << json_number(k.pv_generation_kwh, 3) << ",\n";
  o << indent << "\"consumption_kwh\": " << json_number(k.consumption_kwh, 3);
}

std::string local_label(TimePoint t, int offset_min) {
  const std::string u = format_utc(t + std::chrono::minutes(offset_min));
  return u.substr(0, 10) + " " + u.substr(11, 5);
}

// Hours since local midnight of the run's first day.
double local_hours_since(TimePoint t, TimePoint day0) { return to_seconds(t - day0) / 3600.0; }

TimePoint local_midnight(TimePoint t, int offset_min) {
  const std::int64_t off = static_cast<std::int64_t>(offset_min) * 60'000;
  const std::int64_t local = to_unix_ms(t) + off;
  const std::int64_t day = 86'400'000;
  const std::int64_t floor_day = (local >= 0 ? local / day : (local - day + 1) / day) * day;
  return from_unix_ms(floor_day - off);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Plots {
  std::vector<std::pair<std::string, std::string>> svgs;  // title, svg text
  std::string problem;
};

Plots make_plots(const RunResult& r, const fs::path& dir) {
  Plots plots;
  const TimePoint day0 = local_midnight(r.interval_start.empty() ? TimePoint{} : r.interval_start.front(), r.utc_offset_minutes);
  double peak = 0;
  for (const auto& f : r.fleet) peak = std::max({peak, std::abs(f.net_kw), std::abs(f.baseline_net_kw)});
  const bool mw = peak > 10000;
  const double scale = mw ? 1000.0 : 1.0;
  const std::string unit = mw ? "MW" : "kW";
  {
    std::ofstream d(dir / "plot-data.tsv");
    d << "# hours net baseline pv hvac battery price carbon outdoor office mall school hospital data_centre soc\n";
    for (std::size_t i = 0; i < r.fleet.size(); ++i) {
      const auto& f = r.fleet[i];
      const double x = local_hours_since(r.interval_start[i] + r.interval / 2, day0);
      auto col = [](double v, int dec) { return std::isfinite(v) ? fixed(v, dec) : std::string("NaN"); };
      d << fixed(x, 4) << '\t' << col(f.net_kw / scale, 4) << '\t' << col(f.baseline_net_kw / scale, 4) << '\t'
        << col(f.pv_kw / scale, 4) << '\t' << col(f.hvac_kw / scale, 4) << '\t' << col(f.battery_kw / scale, 4) << '\t'
        << col(r.price[i], 4) << '\t' << col(r.carbon_kg_per_kwh[i], 4) << '\t' << col(r.outdoor_temp_c[i], 3);
      for (int t = 0; t < kBuildingTypeCount; ++t) d << '\t' << col(r.indoor_by_type_c[i][static_cast<std::size_t>(t)], 3);
      d << '\t' << col(f.soc_pct, 3) << '\n';
    }
  }
  const double x_end = r.interval_start.empty() ? 24 : local_hours_since(r.interval_start.back() + r.interval, day0);
  const double x_begin = r.interval_start.empty() ? 0 : local_hours_since(r.interval_start.front(), day0);
  std::ostringstream gp;
  gp << "set terminal svg size 960,380 dynamic noenhanced font 'sans,11' background rgb 'white'\n"
     << "set datafile missing 'NaN'\nset grid\nset key outside right top\n"
     << "set xrange [" << fixed(x_begin, 3) << ":" << fixed(x_end, 3) << "]\n"
     << "set xtics 2\nset xlabel 'local time (h from " << local_label(day0, r.utc_offset_minutes).substr(0, 10) << " 00:00)'\n";
  std::string shading;
  for (const auto& e : r.events) {
    shading += "set object rect from " + fixed(local_hours_since(e.start, day0), 3) + ", graph 0 to " +
               fixed(local_hours_since(e.start + e.duration, day0), 3) +
               ", graph 1 fc rgb '#f4c7c3' fs solid 0.5 noborder behind\n";
  }
  const fs::path data = dir / "plot-data.tsv";
  std::string q = "'";
  q.append(data.string());
  q.push_back('\'');
  gp << "set output '" << (dir / "plot-load.svg").string() << "'\n"
     << "set title 'Fleet net import against the uncontrolled baseline (events shaded)'\nset ylabel '" << unit << "'\n"
     << shading << "plot " << q << " using 1:3 with lines lw 2 lc rgb '#888888' title 'baseline', "
     << q << " using 1:2 with lines lw 2 lc rgb '#1f77b4' title '" << r.strategy << "', "
     << q << " using 1:5 with lines lw 1 lc rgb '#2ca02c' title 'HVAC', "
     << q << " using 1:4 with lines lw 1 lc rgb '#ff7f0e' title 'PV'\n"
     << "unset object\n";
  gp << "set output '" << (dir / "plot-prices.svg").string() << "'\n"
     << "set title 'Import price and grid carbon intensity'\nset ylabel '" << r.currency << "/kWh'\n"
     << "set y2label 'kgCO2/kWh'\nset y2tics\n"
     << shading << "plot " << q << " using 1:7 with steps lw 2 lc rgb '#d62728' title 'price', "
     << q << " using 1:8 axes x1y2 with lines lw 2 lc rgb '#555555' title 'carbon'\n"
     << "unset y2tics\nunset y2label\nunset object\n";
  gp << "set output '" << (dir / "plot-temperatures.svg").string() << "'\n"
     << "set title 'Outdoor and mean indoor temperature by building type; dashed: comfort band'\nset ylabel 'C'\n"
     << shading << "plot " << q << " using 1:9 with lines lw 2 lc rgb '#000000' title 'outdoor'";
  const char* colours[kBuildingTypeCount] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};
  for (int t = 0; t < kBuildingTypeCount; ++t) {
    if (!r.type_present[static_cast<std::size_t>(t)]) continue;
    gp << ", " << q << " using 1:" << 10 + t << " with lines lw 2 lc rgb '" << colours[t] << "' title '" << kTypeNames[t] << "'"
       << ", " << fixed(r.comfort_max_by_type[static_cast<std::size_t>(t)], 2) << " with lines dt 2 lc rgb '" << colours[t]
       << "' notitle, " << fixed(r.comfort_min_by_type[static_cast<std::size_t>(t)], 2) << " with lines dt 3 lc rgb '"
       << colours[t] << "' notitle";
  }
  gp << "\nunset object\n";
  gp << "set output '" << (dir / "plot-battery.svg").string() << "'\n"
     << "set title 'Battery state of charge (fleet) and battery power (discharge positive)'\nset ylabel '%'\n"
     << "set y2label '" << unit << "'\nset y2tics\nset yrange [0:100]\n"
     << shading << "plot " << q << " using 1:15 with lines lw 2 lc rgb '#9467bd' title 'SoC', "
     << q << " using 1:6 axes x1y2 with lines lw 1 lc rgb '#8c564b' title 'battery power'\n"
     << "unset output\n";
  {
    std::ofstream f(dir / "plot.gp");
    f << gp.str();
  }
  const std::string cmd = "gnuplot " + shell_quote((dir / "plot.gp").string()) + " > " +
                          shell_quote((dir / "gnuplot.log").string()) + " 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    plots.problem = "gnuplot failed (exit status " + std::to_string(rc) + "); see " + (dir / "gnuplot.log").string() +
                    ". Install it with scripts/install-deps (Debian package gnuplot-nox).";
    return plots;
  }
  for (const auto& [file, title] : std::vector<std::pair<std::string, std::string>>{
           {"plot-load.svg", "Aggregate net load"},
           {"plot-prices.svg", "Prices and carbon intensity"},
           {"plot-temperatures.svg", "Temperatures and comfort band"},
           {"plot-battery.svg", "Battery state of charge"}}) {
    std::string svg = read_file(dir / file);
    const auto at = svg.find("<svg");
    if (at == std::string::npos) {
      plots.problem = "gnuplot did not write " + file;
      plots.svgs.clear();
      return plots;
    }
    plots.svgs.emplace_back(title, svg.substr(at));
  }
  return plots;
}

std::string html_report(const RunResult& r, const Plots& plots) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vppsim: " << html_escape(r.scenario)
    << " (" << html_escape(r.strategy) << ")</title>\n"
    << "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
       "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
       "th:first-child,td:first-child{text-align:left}svg{width:100%;height:auto}</style></head><body>\n";
  h << "<h1>" << html_escape(r.scenario) << ": strategy <em>" << html_escape(r.strategy) << "</em></h1>\n";
  h << "<p>Seed " << r.seed << ", " << r.sites.size() << " sites, " << r.steps << " steps of " << format_duration(r.step)
    << ", from " << html_escape(local_label(r.interval_start.empty() ? TimePoint{} : r.interval_start.front(), r.utc_offset_minutes))
    << " local time. Delivery is measured against the uncontrolled baseline of the same seed.</p>\n";
  h << "<h2>KPIs</h2>\n<table><tr><th>KPI</th><th>baseline (uncontrolled)</th><th>" << html_escape(r.strategy) << "</th></tr>\n";
  auto row = [&](const char* name, double b, double v, int dec) {
    h << "<tr><td>" << name << "</td><td>" << fixed(b, dec) << "</td><td>" << fixed(v, dec) << "</td></tr>\n";
  };
  const Kpis& b = r.baseline_kpis;
  const Kpis& k = r.kpis;
  row("energy import (kWh)", b.energy_import_kwh, k.energy_import_kwh, 1);
  row("energy export (kWh)", b.energy_export_kwh, k.energy_export_kwh, 1);
  row(("cost (" + r.currency + ")").c_str(), b.cost, k.cost, 2);
  row("CO2 (kg)", b.co2_kg, k.co2_kg, 1);
  row("peak import (kW)", b.peak_import_kw, k.peak_import_kw, 1);
  row("green share", b.green_share, k.green_share, 4);
  row("comfort violation (K h)", b.comfort_violation_degree_hours, k.comfort_violation_degree_hours, 2);
  row("max comfort excursion (K)", b.max_comfort_excursion_c, k.max_comfort_excursion_c, 2);
  row("reserve violations", static_cast<double>(b.reserve_violations), static_cast<double>(k.reserve_violations), 0);
  row("rating violations", static_cast<double>(b.rating_violations), static_cast<double>(k.rating_violations), 0);
  h << "</table>\n";
  if (!r.events.empty()) {
    h << "<h2>Events</h2>\n<table><tr><th>event</th><th>window (local)</th><th>target</th><th>requested kWh</th>"
         "<th>delivered kWh</th><th>delivered</th><th>worst 15 min</th></tr>\n";
    for (const auto& e : r.events) {
      h << "<tr><td>" << html_escape(e.id) << "</td><td>" << html_escape(local_label(e.start, r.utc_offset_minutes)) << " + "
        << format_duration(e.duration) << "</td><td>" << html_escape(e.target_basis) << "</td><td>" << fixed(e.requested_kwh, 1)
        << "</td><td>" << fixed(e.delivered_kwh, 1) << "</td><td>" << fixed(100 * e.delivered_ratio, 1) << " %</td><td>"
        << fixed(100 * e.min_interval_ratio, 1) << " %</td></tr>\n";
    }
    h << "</table>\n";
  }
  h << "<p>Commands sent " << r.channel.commands_sent << ", lost " << r.channel.commands_lost << ", accepted "
    << r.fleet_counters.accepted << ", rejected beyond ratings " << r.fleet_counters.rejected_rating << ", rejected invalid "
    << r.fleet_counters.rejected_invalid << ", expired on arrival " << r.fleet_counters.expired_on_arrival
    << ". Uplink messages sent " << r.channel.uplink_sent << ", lost " << r.channel.uplink_lost << ".</p>\n";
  h << "<h2>Plots</h2>\n";
  if (!plots.problem.empty()) h << "<p><strong>Plots unavailable:</strong> " << html_escape(plots.problem) << "</p>\n";
  for (const auto& [title, svg] : plots.svgs) h << "<h3>" << html_escape(title) << "</h3>\n" << svg << "\n";
  h << "</body></html>\n";
  return h.str();
}

}  // namespace

std::string kpis_json(const RunResult& r) {
  std::ostringstream o;
  o << "{\n";
  o << "  \"scenario\": " << json_string(r.scenario) << ",\n";
  o << "  \"strategy\": " << json_string(r.strategy) << ",\n";
  o << "  \"seed\": " << r.seed << ",\n";
  o << "  \"sites\": " << r.sites.size() << ",\n";
  o << "  \"steps\": " << r.steps << ",\n";
  o << "  \"step_s\": " << json_number(to_seconds(r.step), 3) << ",\n";
  o << "  \"currency\": " << json_string(r.currency) << ",\n";
  kpi_fields(o, r.kpis, "  ");
  o << ",\n  \"events\": [";
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    const auto& e = r.events[i];
    o << (i ? ",\n" : "\n") << "    {\"id\": " << json_string(e.id) << ", \"program\": " << json_string(e.program)
      << ", \"start\": " << json_string(format_utc(e.start)) << ", \"duration_s\": " << json_number(to_seconds(e.duration), 0)
      << ", \"target_kw\": " << (e.target_kw ? json_number(*e.target_kw, 3) : "null")
      << ", \"import_cap_kw\": " << (e.import_cap_kw ? json_number(*e.import_cap_kw, 3) : "null")
      << ", \"target_basis\": " << json_string(e.target_basis) << ", \"requested_kwh\": " << json_number(e.requested_kwh, 3)
      << ", \"delivered_kwh\": " << json_number(e.delivered_kwh, 3)
      << ", \"delivered_ratio\": " << json_number(e.delivered_ratio, 6)
      << ", \"min_interval_ratio\": " << json_number(e.min_interval_ratio, 6)
      << ", \"rebound_peak_kw\": " << (e.rebound_peak_kw ? json_number(*e.rebound_peak_kw, 3) : "null")
      << ", \"baseline_rebound_peak_kw\": "
      << (e.baseline_rebound_peak_kw ? json_number(*e.baseline_rebound_peak_kw, 3) : "null")
      << ", \"baseline_error_pct\": " << (e.baseline_error_pct ? json_number(*e.baseline_error_pct, 3) : "null") << "}";
  }
  o << (r.events.empty() ? "],\n" : "\n  ],\n");
  o << "  \"baseline\": {\n";
  kpi_fields(o, r.baseline_kpis, "    ");
  o << "\n  },\n";
  o << "  \"commands\": {\"sent\": " << r.channel.commands_sent << ", \"lost\": " << r.channel.commands_lost
    << ", \"received\": " << r.fleet_counters.commands_received << ", \"accepted\": " << r.fleet_counters.accepted
    << ", \"rejected_rating\": " << r.fleet_counters.rejected_rating
    << ", \"rejected_invalid\": " << r.fleet_counters.rejected_invalid
    << ", \"expired_on_arrival\": " << r.fleet_counters.expired_on_arrival << "},\n";
  o << "  \"uplink\": {\"sent\": " << r.channel.uplink_sent << ", \"lost\": " << r.channel.uplink_lost << "}\n";
  o << "}\n";
  return o.str();
}

std::string timeseries_csv(const RunResult& r) {
  std::string out =
      "time,site,type,net_kw,baseline_net_kw,pv_kw,battery_kw,hvac_kw,load_kw,soc_pct,indoor_temp_c,outdoor_temp_c,price,"
      "carbon_kg_per_kwh\n";
  const std::size_t ns = r.sites.size();
  const bool per_site = r.per_site.size() == r.fleet.size() * ns && ns > 0;
  auto field = [&](const std::string& v) {
    out.push_back(',');
    out.append(v);
  };
  auto line = [&](const std::string& t, const std::string& site, const std::string& type, const IntervalValues& v,
                  std::size_t i) {
    out.append(t);
    field(site);
    field(type);
    for (double x : {v.net_kw, v.baseline_net_kw, v.pv_kw, v.battery_kw, v.hvac_kw, v.load_kw}) field(fixed(x, 3));
    field(fixed(v.soc_pct, 3));
    field(fixed(v.indoor_temp_c, 3));
    field(fixed(r.outdoor_temp_c[i], 3));
    field(fixed(r.price[i], 5));
    field(fixed(r.carbon_kg_per_kwh[i], 5));
    out.push_back('\n');
  };
  for (std::size_t i = 0; i < r.fleet.size(); ++i) {
    const std::string t = format_utc(r.interval_start[i]);
    line(t, "fleet", "fleet", r.fleet[i], i);
    if (!per_site) continue;
    for (std::size_t s = 0; s < ns; ++s) {
      line(t, r.sites[s].id, std::string(to_string(r.sites[s].type)), r.per_site[i * ns + s], i);
    }
  }
  return out;
}

std::string kpi_table(const RunResult& r) {
  std::ostringstream o;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%-32s %18s %18s\n", "KPI", "baseline", r.strategy.c_str());
  o << "scenario " << r.scenario << ", seed " << r.seed << ", " << r.sites.size() << " sites, " << r.steps << " steps of "
    << format_duration(r.step) << "\n"
    << buf;
  auto row = [&](const std::string& name, double b, double v, int dec) {
    std::snprintf(buf, sizeof buf, "%-32s %18s %18s\n", name.c_str(), fixed(b, dec).c_str(), fixed(v, dec).c_str());
    o << buf;
  };
  const Kpis& b = r.baseline_kpis;
  const Kpis& k = r.kpis;
  row("energy_import_kwh", b.energy_import_kwh, k.energy_import_kwh, 1);
  row("energy_export_kwh", b.energy_export_kwh, k.energy_export_kwh, 1);
  row("cost (" + r.currency + ")", b.cost, k.cost, 2);
  row("co2_kg", b.co2_kg, k.co2_kg, 1);
  row("peak_import_kw", b.peak_import_kw, k.peak_import_kw, 1);
  row("green_share", b.green_share, k.green_share, 4);
  row("comfort_violation_degree_hours", b.comfort_violation_degree_hours, k.comfort_violation_degree_hours, 2);
  row("max_comfort_excursion_c", b.max_comfort_excursion_c, k.max_comfort_excursion_c, 2);
  row("reserve_violations", static_cast<double>(b.reserve_violations), static_cast<double>(k.reserve_violations), 0);
  row("rating_violations", static_cast<double>(b.rating_violations), static_cast<double>(k.rating_violations), 0);
  for (const auto& e : r.events) {
    o << "event " << e.id << " (" << local_label(e.start, r.utc_offset_minutes) << " local, " << format_duration(e.duration)
      << "): target " << e.target_basis << "\n";
    std::snprintf(buf, sizeof buf, "  requested %.1f kWh, delivered %.1f kWh (%.1f %%), worst 15-min interval %.1f %%\n",
                  e.requested_kwh, e.delivered_kwh, 100 * e.delivered_ratio, 100 * e.min_interval_ratio);
    o << buf;
    if (e.rebound_peak_kw && e.baseline_rebound_peak_kw) {
      std::snprintf(buf, sizeof buf, "  rebound peak (hour after) %.1f kW, uncontrolled %.1f kW\n", *e.rebound_peak_kw,
                    *e.baseline_rebound_peak_kw);
      o << buf;
    }
    if (e.baseline_error_pct) {
      std::snprintf(buf, sizeof buf, "  settlement baseline error against the true counterfactual %+.2f %%\n",
                    *e.baseline_error_pct);
      o << buf;
    }
  }
  return o.str();
}

std::string kpi_compare_table(const std::vector<const RunResult*>& runs, const std::vector<std::string>& labels) {
  std::ostringstream o;
  if (runs.empty()) return {};
  char buf[64];
  auto num = [&](double v, int decimals) {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return std::string(buf);
  };
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> head{"KPI"};
  head.insert(head.end(), labels.begin(), labels.end());
  if (runs.size() > 1) head.push_back("difference");
  table.push_back(head);
  auto row = [&](const std::string& name, auto get, int decimals) {
    std::vector<std::string> r{name};
    for (const auto* run : runs) r.push_back(num(get(*run), decimals));
    if (runs.size() > 1) r.push_back((get(*runs.back()) >= get(*runs.front()) ? "+" : "") +
                                     num(get(*runs.back()) - get(*runs.front()), decimals));
    table.push_back(std::move(r));
  };
  row("energy_import_kwh", [](const RunResult& r) { return r.kpis.energy_import_kwh; }, 1);
  row("energy_export_kwh", [](const RunResult& r) { return r.kpis.energy_export_kwh; }, 1);
  row("cost (" + runs.front()->currency + ")", [](const RunResult& r) { return r.kpis.cost; }, 2);
  row("co2_kg", [](const RunResult& r) { return r.kpis.co2_kg; }, 1);
  row("peak_import_kw", [](const RunResult& r) { return r.kpis.peak_import_kw; }, 1);
  row("green_share", [](const RunResult& r) { return r.kpis.green_share; }, 4);
  row("comfort_violation_degree_hours", [](const RunResult& r) { return r.kpis.comfort_violation_degree_hours; }, 2);
  row("max_comfort_excursion_c", [](const RunResult& r) { return r.kpis.max_comfort_excursion_c; }, 2);
  row("reserve_violations", [](const RunResult& r) { return static_cast<double>(r.kpis.reserve_violations); }, 0);
  row("rating_violations", [](const RunResult& r) { return static_cast<double>(r.kpis.rating_violations); }, 0);
  for (std::size_t e = 0; e < runs.front()->events.size(); ++e) {
    auto ev = [e](const RunResult& r) -> const EventResult& { return r.events[e]; };
    const std::string id = runs.front()->events[e].id;
    row("event " + id + " delivered_kwh", [&](const RunResult& r) { return ev(r).delivered_kwh; }, 1);
    row("  delivered_ratio", [&](const RunResult& r) { return ev(r).delivered_ratio; }, 4);
    row("  min_interval_ratio", [&](const RunResult& r) { return ev(r).min_interval_ratio; }, 4);
    row("  rebound_peak_kw", [&](const RunResult& r) { return ev(r).rebound_peak_kw.value_or(0); }, 1);
  }
  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& r : table) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : table) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (i == 0) {
        o << r[i] << std::string(width[i] - r[i].size(), ' ');
      } else {
        o << "  " << std::string(width[i] - r[i].size(), ' ') << r[i];
      }
    }
    o << "\n";
  }
  return o.str();
}

Result<std::vector<std::string>> write_outputs(const RunResult& r, const std::string& dir_name) {
  std::vector<std::string> warnings;
  const fs::path dir(dir_name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{"cannot create output directory '" + dir_name + "': " + ec.message()};
  auto write = [&](const char* name, const std::string& text) -> bool {
    std::ofstream f(dir / name, std::ios::binary);
    f << text;
    return static_cast<bool>(f);
  };
  if (!write("kpis.json", kpis_json(r))) return Error{"cannot write " + (dir / "kpis.json").string()};
  if (!write("timeseries.csv", timeseries_csv(r))) return Error{"cannot write " + (dir / "timeseries.csv").string()};
  const Plots plots = make_plots(r, fs::absolute(dir));
  if (!plots.problem.empty()) warnings.push_back(plots.problem);
  if (!write("report.html", html_report(r, plots))) return Error{"cannot write " + (dir / "report.html").string()};
  return warnings;
}

}  // namespace vpp::sim
