#pragma once
// Harness for vppd as a real process on loopback: its configuration, the process itself (exit
// status, SIGKILL, its log), the site device peer, an HTTP client with a token, and history
// written into the store before vppd starts.
#include <gtest/gtest.h>
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <sstream>

#include "adapters/http/auth.hpp"
#include "adapters/http/client.hpp"
#include "adapters/store/store.hpp"
#include "proto/api.pb.h"
#include "tests/adapters/peers.hpp"

namespace vpp::test {

inline constexpr const char* kOperatorToken = "test-operator";
inline constexpr const char* kViewerToken = "test-viewer";

struct DaemonSetup {
  std::filesystem::path dir;
  int mqtt_port = 0;
  int http_port = 0;
  std::string client_id = "vppd-test";
  std::string db() const { return (dir / "vpp.db").string(); }
  std::string config() const { return (dir / "vppd.yaml").string(); }
  std::string log() const { return (dir / "vppd.log").string(); }
};

// One office site with a meter and a 500 kWh / 200 kW battery, settled and planned at 1-minute
// intervals (the shortest the configuration allows) so an event fits in a test.
inline void write_config(const DaemonSetup& s, const std::string& extra = "") {
  std::ofstream f(s.config());
  f << "utc_offset: \"+00:00\"\n"
    << "mqtt:\n  url: tcp://127.0.0.1:" << s.mqtt_port << "\n  client_id: " << s.client_id
    << "\n  device_groups:\n    - name: json\n      dialect: json\n"
    << "http:\n  bind: 127.0.0.1\n  port: " << s.http_port << "\n  rate_limit_per_s: 1000\n  tokens:\n"
    << "    - name: operator\n      role: operator\n      sha256: " << http::sha256_hex(kOperatorToken) << "\n"
    << "    - name: viewer\n      role: viewer\n      sha256: " << http::sha256_hex(kViewerToken) << "\n"
    << "optimizer:\n  horizon_steps: 60\n  step: 1m\n  resolve_period: 1m\n"
    << "controller:\n"
    << "  scheduling:\n    control_tick: 1s\n    offline_after: 10s\n"
    << "  commands:\n    ttl: 30s\n    refresh_before_expiry: 10s\n    ack_timeout: 3s\n    min_interval: 2s\n"
    << "  baseline:\n    high_x: 3\n    of_y: 5\n    adjustment: none\n"
    << "store:\n  path: " << s.db() << "\n"
    << "logging:\n  level: info\n"
    << extra
    << "sites:\n  - id: s1\n    type: office\n    latitude: 39.9\n    longitude: 116.4\n    assets:\n"
    << "      - id: battery\n        kind: battery\n        capacity_kwh: 500\n        max_charge_kw: 200\n"
    << "        max_discharge_kw: 200\n      - id: meter\n        kind: site_meter\n";
}

inline DaemonSetup make_setup(const std::string& name) {
  DaemonSetup s;
  s.dir = temp_dir("daemon-" + name);
  s.mqtt_port = free_port();
  s.http_port = free_port();
  s.client_id = "vppd-" + name;
  return s;
}

// Meter readings of the days before today, one a minute at `kw`, so baselines come from history
// (high 3 of 5 working days: exactly `kw` per interval).
inline void write_history(const DaemonSetup& s, double kw, int days = 14) {
  auto st = store::Store::open({.path = s.db()});
  ASSERT_TRUE(st.ok()) << st.error();
  const auto now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  const auto today = std::chrono::floor<std::chrono::days>(now);
  for (auto t = TimePoint(today - std::chrono::days(days)); t < TimePoint(today); t += std::chrono::minutes(1)) {
    (*st)->add_telemetry(Telemetry{"s1", "meter", t, Quality::good, kw});
  }
  ASSERT_TRUE((*st)->flush().ok());
}

// vppd as a child process; stdout and stderr go to its log file (appended across restarts).
class VppdProcess {
 public:
  explicit VppdProcess(const DaemonSetup& s) : log_(s.log()) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<std::string> argv = {std::string(VPP_BIN_DIR) + "/vppd", "--config", s.config()};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) throw std::runtime_error("cannot start vppd");
    posix_spawn_file_actions_destroy(&fa);
  }
  ~VppdProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  VppdProcess(const VppdProcess&) = delete;
  VppdProcess& operator=(const VppdProcess&) = delete;

  // Sends `sig` and waits for the exit; the exit code, or -signal if killed by one, or nullopt
  // on timeout.
  std::optional<int> signal_and_wait(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    if (pid_ <= 0) return std::nullopt;
    ::kill(pid_, sig);
    return wait(timeout);
  }
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    int st = 0;
    while (std::chrono::steady_clock::now() < until) {
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }
  bool running() {
    if (pid_ <= 0) return false;
    int st = 0;
    return ::waitpid(pid_, &st, WNOHANG) == 0;
  }
  std::string log() const {
    std::ifstream f(log_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

inline std::unique_ptr<http::HttpClient> api_client(const DaemonSetup& s, const std::string& token = kOperatorToken) {
  auto c = http::HttpClient::create({.url = "http://127.0.0.1:" + std::to_string(s.http_port), .token = token});
  if (!c) throw std::runtime_error(c.error());
  return std::move(*c);
}

inline bool wait_healthy(const DaemonSetup& s, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto c = api_client(s);
  return wait_until(
      [&] {
        auto r = c->request("GET", "/healthz");
        return r && r->status == 200;
      },
      timeout);
}

template <typename Message>
Message parse(const std::string& json) {
  Message m;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  const auto st = google::protobuf::util::JsonStringToMessage(json, &m, o);
  EXPECT_TRUE(st.ok()) << st.ToString() << " in " << json;
  return m;
}

// The value of one Prometheus series (exact name and labels), or NaN when absent.
inline double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

inline std::unique_ptr<Process> site_device(const DaemonSetup& s, double base_kw = 500) {
  auto p = std::make_unique<Process>(std::vector<std::string>{
      python(), std::string(VPP_SOURCE_DIR) + "/tests/daemon/peers/site_device.py", "--port", std::to_string(s.mqtt_port),
      "--site", "s1", "--base-kw", std::to_string(base_kw)});
  if (!p->expect("ready", std::chrono::seconds(15))) ADD_FAILURE() << "the site device did not connect";
  return p;
}

inline TimePoint wall_now() { return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()); }

// The first whole minute at least `lead` from now (events start on an interval boundary).
inline TimePoint next_minute(Duration lead) {
  return std::chrono::ceil<std::chrono::minutes>(wall_now() + lead);
}

inline void sleep_until(TimePoint t) {
  const auto d = t - wall_now();
  if (d > Duration::zero()) std::this_thread::sleep_for(d);
}

}  // namespace vpp::test
