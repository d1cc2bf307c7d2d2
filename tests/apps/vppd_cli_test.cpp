// vppd's command line, run as a process: exit codes and what it prints.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/wait.h>

namespace {

struct Run {
  int exit_code;
  std::string output;  // stdout and stderr
};

Run run(const std::string& args) {
  const std::string cmd = std::string(VPP_BIN_DIR) + "/vppd " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (p && fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = p ? pclose(p) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(VppdCli, VersionAndHelp) {
  auto v = run("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.output.rfind("vppd ", 0), 0u) << v.output;
  auto h = run("--help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.output.find("--check-config"), std::string::npos);
}

TEST(VppdCli, CheckConfigPrintsFleetSummary) {
  auto r = run("--config " VPP_SOURCE_DIR "/config/examples/demo.yaml --check-config");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sites:          5 (mall 1, office 3, school 1)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pv:             1500.0 kW"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("battery:        3400.0 kWh"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hvac:           2760.0 kW electric"), std::string::npos) << r.output;
}

TEST(VppdCli, BadConfigExitsTwoNamingFileLineAndField) {
  const std::string path = testing::TempDir() + "/vppd_bad.yaml";
  std::ofstream(path) << "sites:\n  - id: s1\n    type: office\n    assets:\n      - id: b1\n        kind: battery\n"
                         "        capacity_kwh: -5\n        max_charge_kw: 10\n        max_discharge_kw: 10\n";
  auto r = run("--config " + path + " --check-config");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(path + ":7:23: sites[0].assets[0].capacity_kwh: must be > 0"), std::string::npos) << r.output;
}

TEST(VppdCli, UnknownArgumentAndMissingConfigExitTwo) {
  EXPECT_EQ(run("--frobnicate").exit_code, 2);
  EXPECT_EQ(run("--check-config").exit_code, 2);
  EXPECT_EQ(run("--config /nonexistent.yaml --check-config").exit_code, 2);
  EXPECT_EQ(run("--config x --log-level loud").exit_code, 2);
}

}  // namespace
