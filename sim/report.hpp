#pragma once
// Outputs of a run:
//  kpis.json        the KPIs (keys documented in kpi.hpp), the baseline's, events, message counts
//  timeseries.csv   one row per output interval for the fleet ("fleet") and for every site:
//                   time (UTC, interval start), site, type, net_kw, baseline_net_kw, pv_kw,
//                   battery_kw, hvac_kw, load_kw, soc_pct, indoor_temp_c, outdoor_temp_c,
//                   price, carbon_kg_per_kwh; interval averages, SoC at the interval's end,
//                   empty where a value does not apply
//  report.html      KPI and event tables and plots (SVG from gnuplot, inlined)
// Numbers are written with fixed formats, so the same run gives byte-identical files.
#include <string>

#include "model/result.hpp"
#include "sim/runner.hpp"

namespace vpp::sim {

std::string kpis_json(const RunResult& r);
std::string timeseries_csv(const RunResult& r);
// The terminal table `vppsim run` prints: baseline beside the strategy, then the events.
std::string kpi_table(const RunResult& r);

// Several runs of one scenario side by side (KPIs and events), e.g. a recorded day against a
// what-if of it, with the difference of the last column from the first.
std::string kpi_compare_table(const std::vector<const RunResult*>& runs, const std::vector<std::string>& labels);

// Writes the three files into `dir` (created if missing). The report's plots need gnuplot;
// without it the report is written without plots and the returned warnings say why.
Result<std::vector<std::string>> write_outputs(const RunResult& r, const std::string& dir);

}  // namespace vpp::sim
