// vppctl's API commands driven in-process against a real server on loopback.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api_fixture.hpp"
#include "apps/vppctl_api.hpp"

namespace vpp::http::testing {
namespace {

namespace fs = std::filesystem;

struct CtlRun {
  int code;
  std::string out;
  std::string err;
};

class VppctlTest : public ::testing::Test {
 protected:
  VppctlTest() : h(ApiOptions{.rate_limit_per_s = 1e6}) {
    dir = fs::temp_directory_path() / ("vppctl-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  ~VppctlTest() override { fs::remove_all(dir); }

  CtlRun run(std::vector<std::string> args, const std::string& token = "secret-op") {
    args.push_back("--url");
    args.push_back(h.url());
    std::ostringstream out, err;
    const int code = apps::run_api_command(args, out, err, [&](const char* k) -> const char* {
      return std::string(k) == "VPP_TOKEN" && !token.empty() ? token.c_str() : nullptr;
    });
    return {code, out.str(), err.str()};
  }

  ServerHarness h;
  fs::path dir;
};

// The enrolment file is a site in vppd's configuration format.
constexpr const char* kSiteYaml = R"(id: office-a
name: Haidian office tower
owner: Zhongguancun Property Co.
type: office
latitude: 39.98
longitude: 116.31
limits:
  comfort_min_c: 22
  comfort_max_c: 27
  max_curtailment_pct: 30
assets:
  - id: battery
    kind: battery
    capacity_kwh: 1000
    max_charge_kw: 500
    max_discharge_kw: 500
  - id: meter
    kind: site_meter
)";

TEST_F(VppctlTest, EnrolSendAnEventAndReadItsReport) {
  const auto yaml = (dir / "office-a.yaml").string();
  std::ofstream(yaml) << kSiteYaml;
  auto r = run({"sites", "enroll", yaml}, "secret-mgr-a");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "enrolled site office-a\n");

  r = run({"events", "create", "--id", "ev-7", "--start", "2026-07-07T15:00:00+08:00", "--duration", "2h",
           "--reduction-kw", "300", "--program", "beijing-peak", "--ramp", "15m"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "created event ev-7 (scheduled)\n");

  r = run({"events", "list"}, "secret-view");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("EVENT  STATE      START                 END                   TARGET     PROGRAM       OPTED-OUT"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("ev-7   scheduled  2026-07-07T07:00:00Z  2026-07-07T09:00:00Z  -300.0 kW  beijing-peak  0"),
            std::string::npos)
      << r.out;

  r = run({"opt-out", "ev-7", "--site", "office-a", "--reason", "tenant event"}, "secret-mgr-a");
  ASSERT_EQ(r.code, 0) << r.err;

  h.clock.advance_to(*parse_utc("2026-07-07T07:20:00Z"));
  h.backend.record_settlement("ev-7", "office-a",
                              {*parse_utc("2026-07-07T07:00:00Z"), 300, 1000, 760, 240, 0.8});
  r = run({"events", "show", "ev-7"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("state      active"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("opted out  office-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("delivery as of 2026-07-07T07:15:00Z: 240.0 of 300.0 kW"), std::string::npos) << r.out;

  r = run({"events", "report", "ev-7"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("event ev-7 (interim): delivered 60.0 of 75.0 kWh, worst interval 80 %"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fleet     2026-07-07T07:00:00Z  300.0         1000.0       760.0       240.0         0.80"),
            std::string::npos)
      << r.out;

  r = run({"events", "report", "ev-7", "--csv"});
  ASSERT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("ev-7,site:office-a,2026-07-07T07:00:00Z,300.000,1000.000,760.000,240.000,0.8000"), std::string::npos);

  r = run({"events", "show", "ev-7", "--json"});
  ASSERT_EQ(r.code, 0);
  vpp::v1::EventView v;
  ASSERT_TRUE(parse_json(r.out, v).ok()) << r.out;
  EXPECT_EQ(v.state(), "active");

  r = run({"fleet"}, "secret-view");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1 sites, 2 of 2 assets online"), std::string::npos) << r.out;

  r = run({"sites", "update", "office-a", "--comfort-max", "26"}, "secret-mgr-a");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("comfort band     22.0 .. 26.0 degC"), std::string::npos) << r.out;

  r = run({"events", "cancel", "ev-7", "--reason", "grid recovered"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("grid recovered (op)"), std::string::npos) << r.out;

  r = run({"sites", "unenroll", "office-a"}, "secret-mgr-a");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(run({"sites", "show", "office-a"}).code, 1);
}

TEST_F(VppctlTest, ErrorsAreClearAndExitCodesDistinguishThem) {
  auto r = run({"fleet"}, "");
  EXPECT_EQ(r.code, 64);
  EXPECT_EQ(r.err, "vppctl: no API token: set VPP_TOKEN or pass --token-file FILE\n");

  r = run({"events", "create", "--start", "tomorrow", "--duration", "2h", "--reduction-kw", "5"});
  EXPECT_EQ(r.code, 64);
  EXPECT_NE(r.err.find("--start: 'tomorrow' is not a time"), std::string::npos);

  r = run({"events", "create", "--id", "e1", "--start", "2026-07-07T15:00:00Z", "--duration", "2h", "--reduction-kw", "-5"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "vppctl: HTTP 400 invalid request: must be > 0 (field targetReductionKw)\n");

  r = run({"sites", "show", "office-b"}, "secret-mgr-a");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "vppctl: HTTP 403 forbidden: token 'mgr-a' does not manage site office-b\n");

  r = run({"fleet"}, "wrong");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos);

  const auto yaml = (dir / "bad.yaml").string();
  std::ofstream(yaml) << "id: office-a\ntype: castle\n";
  r = run({"sites", "enroll", yaml}, "secret-mgr-a");
  EXPECT_EQ(r.code, 64);
  EXPECT_NE(r.err.find("bad.yaml:2:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("type"), std::string::npos) << r.err;

  // Nothing listening: a transport failure.
  std::ostringstream out, err;
  const int code = apps::run_api_command({"fleet", "--url", "http://127.0.0.1:1", "--timeout", "2s"}, out, err,
                                         [](const char*) -> const char* { return "t"; });
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.str().find("failed"), std::string::npos) << err.str();
}

TEST_F(VppctlTest, TokenFromAFile) {
  const auto file = (dir / "token").string();
  std::ofstream(file) << "secret-view\n";
  auto r = run({"fleet", "--token-file", file}, "");
  EXPECT_EQ(r.code, 0) << r.err;
  r = run({"fleet", "--token-file", (dir / "missing").string()}, "");
  EXPECT_EQ(r.code, 64);
}

}  // namespace
}  // namespace vpp::http::testing
