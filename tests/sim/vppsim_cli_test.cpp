// vppsim as a process: run a small scenario, check the files it writes exist and parse; bad
// input exits 2 naming file:line:field; bench prints its figure last.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Run {
  int exit_code;
  std::string output;
};

Run run(const std::string& args) {
  const std::string cmd = std::string(VPP_BIN_DIR) + "/vppsim " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (p && fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = p ? pclose(p) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kSmall = R"(name: small
seed: 5
start: "2026-07-07T00:00:00+08:00"
duration: 1d
step: 5m
warmup: 1d
utc_offset: "+08:00"
location: {latitude: 39.8, longitude: 116.47, altitude_m: 32}
strategy: rule
weather:
  temperature: {daily_cycle: {min_c: 26, max_c: 35}, noise_std_c: 0.3}
  irradiance: {model: clear_sky, linke_turbidity: 4, clouds: {cover: 0.2, variability: 0.05}}
fleet:
  sites: 12
  mix: {office: 0.5, mall: 0.25, hospital: 0.25}
  pv: {penetration: 0.5}
  battery: {penetration: 0.5}
tariff:
  prices: {valley: 0.54, flat: 0.81, peak: 1.12, sharp: 1.26}
  periods:
    - {band: valley, start: "23:00", end: "07:00"}
    - {band: flat, start: "07:00", end: "10:00"}
    - {band: peak, start: "10:00", end: "13:00"}
    - {band: flat, start: "13:00", end: "17:00"}
    - {band: peak, start: "17:00", end: "22:00"}
    - {band: flat, start: "22:00", end: "23:00"}
  sharp_peak: [{months: [7, 8], start: "11:00", end: "13:00"}]
carbon: {method: constant, kg_per_kwh: 0.558}
events:
  - {id: ev, start: "2026-07-07T14:00:00+08:00", duration: 1h, notice: 2h, target_pct_of_baseline_peak: 10}
)";

fs::path write_scenario(const std::string& name, const std::string& text) {
  const fs::path p = fs::path(testing::TempDir()) / name;
  std::ofstream(p) << text;
  return p;
}

TEST(VppsimCli, RunWritesKpisTimeSeriesAndReportThatParse) {
  const fs::path scenario = write_scenario("small.yaml", kSmall);
  const fs::path out = fs::path(testing::TempDir()) / "vppsim_small";
  fs::remove_all(out);
  const auto r = run("run " + scenario.string() + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The KPI table ends the output, after how the event target was resolved.
  EXPECT_NE(r.output.find("event ev: target 10 % of the uncontrolled baseline peak"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("energy_import_kwh"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("requested"), std::string::npos) << r.output;

  google::protobuf::Struct kpis;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(slurp(out / "kpis.json"), &kpis).ok());
  const auto& f = kpis.fields();
  for (const char* key : {"scenario", "strategy", "seed", "sites", "steps", "energy_import_kwh", "energy_export_kwh", "cost",
                          "co2_kg", "peak_import_kw", "green_share", "comfort_violation_degree_hours",
                          "max_comfort_excursion_c", "reserve_violations", "rating_violations", "events"}) {
    EXPECT_TRUE(f.count(key)) << key;
  }
  EXPECT_EQ(f.at("strategy").string_value(), "rule");
  EXPECT_EQ(f.at("sites").number_value(), 12);
  EXPECT_EQ(f.at("steps").number_value(), 288);
  ASSERT_EQ(f.at("events").list_value().values_size(), 1);
  const auto& ev = f.at("events").list_value().values(0).struct_value().fields();
  for (const char* key : {"id", "requested_kwh", "delivered_kwh", "delivered_ratio", "min_interval_ratio"}) {
    EXPECT_TRUE(ev.count(key)) << key;
  }
  EXPECT_GT(ev.at("requested_kwh").number_value(), 0);

  // timeseries.csv: a header, then per 15-minute interval one fleet row and one per site.
  std::istringstream csv(slurp(out / "timeseries.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line,
            "time,site,type,net_kw,baseline_net_kw,pv_kw,battery_kw,hvac_kw,load_kw,soc_pct,indoor_temp_c,outdoor_temp_c,"
            "price,carbon_kg_per_kwh");
  int rows = 0, fleet_rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), 13) << line;
    if (line.find(",fleet,fleet,") != std::string::npos) ++fleet_rows;
  }
  EXPECT_EQ(fleet_rows, 96);
  EXPECT_EQ(rows, 96 * 13);

  const std::string html = slurp(out / "report.html");
  EXPECT_NE(html.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos) << "no plots in the report";
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(VppsimCli, SameSeedSameFilesOtherSeedOtherFiles) {
  const fs::path scenario = write_scenario("small2.yaml", kSmall);
  const fs::path base = fs::path(testing::TempDir()) / "vppsim_seed";
  fs::remove_all(base);
  ASSERT_EQ(run("run " + scenario.string() + " --quiet --out " + (base / "a").string()).exit_code, 0);
  ASSERT_EQ(run("run " + scenario.string() + " --quiet --out " + (base / "b").string()).exit_code, 0);
  ASSERT_EQ(run("run " + scenario.string() + " --quiet --seed 6 --out " + (base / "c").string()).exit_code, 0);
  for (const char* f : {"kpis.json", "timeseries.csv"}) {
    EXPECT_TRUE(slurp(base / "a" / f) == slurp(base / "b" / f)) << f;
    EXPECT_FALSE(slurp(base / "a" / f) == slurp(base / "c" / f)) << f;
  }
}

TEST(VppsimCli, BadScenarioExitsTwoNamingFileLineAndField) {
  std::string text = kSmall;
  text.replace(text.find("mix: {office: 0.5,"), 18, "mix: {factory: 0.5,");
  const fs::path scenario = write_scenario("bad.yaml", text);
  const auto r = run("run " + scenario.string() + " --out " + testing::TempDir() + "/never");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(scenario.string() + ":15:9: fleet.mix.factory: unknown building type 'factory'"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(fs::path(testing::TempDir()) / "never" / "kpis.json"));
}

TEST(VppsimCli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").exit_code, 2);
  EXPECT_EQ(run("frobnicate").exit_code, 2);
  EXPECT_EQ(run("run").exit_code, 2);
  const fs::path scenario = write_scenario("small3.yaml", kSmall);
  EXPECT_EQ(run("run " + scenario.string()).exit_code, 2);  // no --out
  EXPECT_EQ(run("run " + scenario.string() + " --out x --strategy psychic").exit_code, 2);
  EXPECT_EQ(run("run " + scenario.string() + " --out x --seed minus-one").exit_code, 2);
  EXPECT_EQ(run("run /nonexistent.yaml --out x").exit_code, 2);
  EXPECT_EQ(run("bench --sites 0").exit_code, 2);
  EXPECT_EQ(run("bench --step-s 7").exit_code, 2);
  EXPECT_EQ(run("--help").exit_code, 0);
  // A valid scenario with nowhere to write fails cleanly after the run.
  const auto unwritable = run("run " + scenario.string() + " --quiet --out /proc/vppsim-cannot-write-here");
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_NE(unwritable.output.find("vppsim: cannot create output directory '/proc/vppsim-cannot-write-here'"),
            std::string::npos)
      << unwritable.output;
}

TEST(VppsimCli, BenchPrintsAssetStepsPerSecondLast) {
  const auto r = run("bench --sites 20 --days 1 --step-s 300 --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string last = r.output;
  while (!last.empty() && last.back() == '\n') last.pop_back();
  last = last.substr(last.rfind('\n') + 1);
  EXPECT_EQ(last.rfind("asset_steps_per_s: ", 0), 0u) << r.output;
  EXPECT_GT(std::stod(last.substr(19)), 0);
  EXPECT_NE(r.output.find("steps: 288"), std::string::npos);
}

}  // namespace
