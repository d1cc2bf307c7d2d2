// vpp-bench daemon: the whole vppd under load. A real vppd process (build/bin/vppd) with a fleet
// of --sites sites (meter, battery, PV each), a mosquitto started on a free loopback port, one
// Paho publisher sending JSON telemetry for every asset at --rate messages per second (QoS 0,
// paced in 10 ms slices), and --clients concurrent API clients, each with its own token and
// keep-alive connection, in a closed loop for --seconds:
//   one client in five is an operator: every tenth request creates an event (hours ahead), the
//     others read one of its events back;
//   the others are site managers: enrol their own site once, then read the fleet, read and patch
//     their site, read its command log.
// Then the publisher stops, vppd drains, its /metrics are read, vppd is stopped with SIGTERM (it
// must exit 0) and the store is checked against what was acknowledged:
//   lost writes = events acknowledged (201) and not in the store + sites enrolled (201) and not
//                 in the store + telemetry samples vppd accepted and queued for the store but not
//                 in its roll-ups + failed store batches + samples the store dropped.
// Output: a human summary and one JSON line. Exit 1 when there were API errors or lost writes.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mqtt/async_client.h>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "adapters/http/auth.hpp"
#include "adapters/http/client.hpp"
#include "adapters/store/store.hpp"
#include "bench/registry.hpp"
#include "tests/support/loopback.hpp"

extern char** environ;

namespace vpp::bench {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

using vpp::test::free_port;
using vpp::test::port_open;

// A child process; stdout and stderr to `log` (or /dev/null).
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + argv[0]);
    }
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Exit code after `sig`, -signal if killed by one, -1000 on timeout.
  int stop(int sig, std::chrono::seconds timeout) {
    ::kill(pid_, sig);
    const auto until = steady::now() + timeout;
    int st = 0;
    while (steady::now() < until) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1000;
  }

 private:
  pid_t pid_ = -1;
};

std::string bin_dir() {
  char buf[4096];
  const auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  return std::filesystem::path(std::string(buf, static_cast<std::size_t>(n))).parent_path().string();
}

std::string rfc3339_ms(std::int64_t ms) {
  const std::time_t s = ms / 1000;
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

double series(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return NAN;
}

struct ClientStats {
  std::vector<double> latency_ms;
  std::map<std::string, std::vector<double>> by_kind;   // "GET /fleet", ...
  std::uint64_t errors = 0;
  std::uint64_t events_created = 0;
  std::uint64_t sites_enrolled = 0;
  int last_comfort_max = 0;           // the last acknowledged PATCH of the client's site
  std::string first_error;
};

std::string site_body(const std::string& id) {
  return R"({"siteId":")" + id +
         R"(","name":"bench","buildingType":"BUILDING_TYPE_OFFICE","latitudeDeg":39.9,"longitudeDeg":116.4,"limits":{"comfortMinC":22,"comfortMaxC":27,"maxCurtailmentPct":20},"assets":[{"id":"battery","battery":{"capacityKwh":500,"maxChargeKw":250,"maxDischargeKw":250,"chargeEfficiency":0.95,"dischargeEfficiency":0.95,"socMinPct":5,"socMaxPct":95}},{"id":"meter","siteMeter":{}}]})";
}

int run(const std::vector<std::string>& args) {
  int clients = 100, seconds = 10, sites = 500, rate = 20000;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--clients") clients = std::stoi(args[i + 1]);
    else if (args[i] == "--seconds") seconds = std::stoi(args[i + 1]);
    else if (args[i] == "--sites") sites = std::stoi(args[i + 1]);
    else if (args[i] == "--rate") rate = std::stoi(args[i + 1]);
    else {
      std::fprintf(stderr, "daemon: unknown option %s\n", args[i].c_str());
      return 64;
    }
  }
  if (args.size() % 2 != 0) {
    std::fprintf(stderr, "daemon: option %s needs a value\n", args.back().c_str());
    return 64;
  }
  if (clients < 1 || seconds < 1 || sites < 1 || rate < 0) {
    std::fprintf(stderr, "daemon: --clients, --seconds and --sites must be >= 1, --rate >= 0\n");
    return 64;
  }
  const auto dir = std::filesystem::temp_directory_path() / ("vpp-bench-daemon-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const int mqtt_port = free_port(), http_port = free_port();
  std::ofstream((dir / "mosquitto.conf").string()) << "listener " << mqtt_port
                                                   << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
                                                   << "max_queued_messages 0\nlog_dest none\n";
  Child broker({"mosquitto", "-c", (dir / "mosquitto.conf").string()}, (dir / "mosquitto.log").string());
  for (int i = 0; i < 500 && !port_open(mqtt_port); ++i) std::this_thread::sleep_for(10ms);

  // The fleet and the tokens: one per client (operators, or managers of their own site).
  {
    std::ofstream f((dir / "vppd.yaml").string());
    f << "utc_offset: \"+08:00\"\nmqtt:\n  url: tcp://127.0.0.1:" << mqtt_port
      << "\n  client_id: vppd-bench\n  device_groups:\n    - name: json\n      dialect: json\n"
      << "http:\n  bind: 127.0.0.1\n  port: " << http_port << "\n  rate_limit_per_s: 1000000\n  tokens:\n";
    for (int c = 0; c < clients; ++c) {
      const bool op = c % 5 == 0;
      f << "    - name: client-" << c << "\n      role: " << (op ? "operator" : "site_manager") << "\n      sha256: "
        << http::sha256_hex("token-" + std::to_string(c)) << "\n";
      if (!op) f << "      sites: [api-" << c << "]\n";
    }
    // A 5 s control tick (the demo's is 10 s), so re-plans of the fleet run during the measurement.
    f << "controller:\n  scheduling:\n    control_tick: 5s\n";
    f << "optimizer:\n  threads: 1\nstore:\n  path: " << (dir / "vpp.db").string() << "\nlogging:\n  level: warn\nsites:\n";
    for (int s = 0; s < sites; ++s) {
      f << "  - id: site-" << s << "\n    type: office\n    latitude: 39.9\n    longitude: 116.4\n    assets:\n"
        << "      - id: meter\n        kind: site_meter\n"
        << "      - id: battery\n        kind: battery\n        capacity_kwh: 400\n        max_charge_kw: 200\n"
        << "        max_discharge_kw: 200\n"
        << "      - id: pv\n        kind: pv\n        rated_kw: 150\n";
    }
  }
  auto vppd = std::make_unique<Child>(std::vector<std::string>{bin_dir() + "/vppd", "--config", (dir / "vppd.yaml").string()},
                                      (dir / "vppd.log").string());
  const std::string url = "http://127.0.0.1:" + std::to_string(http_port);
  auto probe = http::HttpClient::create({.url = url, .token = "token-0"});
  if (!probe) {
    std::fprintf(stderr, "daemon: %s\n", probe.error().c_str());
    return 1;
  }
  bool up = false;
  for (int i = 0; i < 600 && !up; ++i) {
    auto r = (*probe)->request("GET", "/healthz");
    up = r && r->status == 200;
    if (!up) std::this_thread::sleep_for(50ms);
  }
  if (!up) {
    std::fprintf(stderr, "daemon: vppd did not become healthy; see %s\n", (dir / "vppd.log").c_str());
    return 1;
  }

  // Telemetry: every asset in turn, paced to `rate` in 10 ms slices.
  std::atomic<bool> stop_pub{false};
  std::atomic<std::uint64_t> published{0};
  std::thread publisher([&] {
    mqtt::create_options o(MQTTVERSION_3_1_1);
    o.set_max_buffered_messages(1'000'000);
    mqtt::async_client pub("tcp://127.0.0.1:" + std::to_string(mqtt_port), "bench-telemetry", o);
    pub.connect(mqtt::connect_options_builder().clean_session(true).finalize())->wait();
    const char* assets[] = {"meter", "battery", "pv"};
    const int devices = sites * 3;
    std::vector<std::int64_t> last_ms(static_cast<std::size_t>(devices), 0);
    std::uint64_t k = 0;
    auto next = steady::now();
    while (!stop_pub) {
      next += 10ms;
      const auto per_slice = static_cast<std::uint64_t>(rate) / 100;
      for (std::uint64_t i = 0; i < per_slice; ++i, ++k) {
        const int d = static_cast<int>(k % static_cast<std::uint64_t>(devices));
        const int s = d / 3, a = d % 3;
        // Strictly increasing times per device (the controller drops a reading that is not newer).
        auto& t = last_ms[static_cast<std::size_t>(d)];
        t = std::max(t + 1, static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                          std::chrono::system_clock::now().time_since_epoch())
                                                          .count()));
        // Values that vary (a meter or battery repeating itself 20 times is gated as frozen).
        const double noise = static_cast<double>((k * 7919) % 1000) / 1000.0;
        char body[256];
        const std::string site = "site-" + std::to_string(s);
        if (a == 0) {
          std::snprintf(body, sizeof body, R"({"siteId":"%s","assetId":"meter","time":"%s","pKw":%.3f})", site.c_str(),
                        rfc3339_ms(t).c_str(), 300 + noise);
        } else if (a == 1) {
          std::snprintf(body, sizeof body, R"({"siteId":"%s","assetId":"battery","time":"%s","pKw":0,"socPct":%.3f})",
                        site.c_str(), rfc3339_ms(t).c_str(), 50 + noise);
        } else {
          std::snprintf(body, sizeof body, R"({"siteId":"%s","assetId":"pv","time":"%s","pKw":%.3f,"availableKw":%.3f})",
                        site.c_str(), rfc3339_ms(t).c_str(), 60 + noise, 60 + noise);
        }
        pub.publish("vpp/" + site + "/" + assets[a] + "/telemetry", body, std::strlen(body), 0, false);
        published.fetch_add(1, std::memory_order_relaxed);
      }
      std::this_thread::sleep_until(next);
    }
    pub.disconnect()->wait();
  });
  std::this_thread::sleep_for(2s);  // telemetry flowing before the clients start

  std::vector<ClientStats> stats(static_cast<std::size_t>(clients));
  std::vector<std::thread> workers;
  const auto deadline = steady::now() + std::chrono::seconds(seconds);
  for (int c = 0; c < clients; ++c) {
    workers.emplace_back([&, c] {
      auto& s = stats[static_cast<std::size_t>(c)];
      auto cl = http::HttpClient::create({.url = url, .token = "token-" + std::to_string(c)});
      if (!cl) {
        ++s.errors;
        s.first_error = cl.error();
        return;
      }
      const bool op = c % 5 == 0;
      const std::string site = "api-" + std::to_string(c);
      auto call = [&](const char* method, const std::string& target, const std::string& body, int want,
                      const char* kind) {
        const auto t0 = steady::now();
        auto r = (*cl)->request(method, target, body);
        const double ms = std::chrono::duration<double, std::milli>(steady::now() - t0).count();
        s.latency_ms.push_back(ms);
        s.by_kind[std::string(method) + " " + kind].push_back(ms);
        if (!r || r->status != want) {
          ++s.errors;
          if (s.first_error.empty()) {
            s.first_error = std::string(method) + " " + target + ": " + (r ? std::to_string(r->status) + " " + r->body : r.error());
          }
          return false;
        }
        return true;
      };
      if (!op && call("POST", "/api/v1/sites", site_body(site), 201, "/sites")) ++s.sites_enrolled;
      std::string last_event;
      for (std::uint64_t k = 0; steady::now() < deadline; ++k) {
        if (op) {
          if (k % 10 == 0 || last_event.empty()) {
            const std::string id = "ev-" + std::to_string(c) + "-" + std::to_string(k);
            const auto start = std::chrono::system_clock::now() + std::chrono::hours(2 + static_cast<int>(k % 20));
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count();
            const std::string body = R"({"eventId":")" + id + R"(","start":")" + rfc3339_ms(ms - ms % 60000) +
                                     R"(","duration":"1800s","targetReductionKw":100})";
            if (call("POST", "/api/v1/events", body, 201, "/events")) {
              ++s.events_created;
              last_event = id;
            }
          } else {
            call("GET", "/api/v1/events/" + last_event, "", 200, "/events/{id}");
          }
        } else {
          switch (k % 4) {
            case 0: call("GET", "/api/v1/fleet", "", 200, "/fleet"); break;
            case 1: call("GET", "/api/v1/sites/" + site, "", 200, "/sites/{id}"); break;
            case 2: {
              const int v = 26 + static_cast<int>(k / 4 % 2);
              if (call("PATCH", "/api/v1/sites/" + site, R"({"limits":{"comfortMaxC":)" + std::to_string(v) + "}}", 200,
                       "/sites/{id}")) {
                s.last_comfort_max = v;
              }
              break;
            }
            default: call("GET", "/api/v1/sites/" + site + "/commands", "", 200, "/sites/{id}/commands"); break;
          }
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  stop_pub = true;
  publisher.join();

  // Let vppd take in what is in flight, then read its counters.
  std::string text;
  double in = -1;
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(100ms);
    auto m = (*probe)->request("GET", "/metrics");
    if (!m || m->status != 200) continue;
    const double now_in = series(m->body, "vpp_messages_in_total{adapter=\"mqtt\"}");
    const bool idle = series(m->body, "vpp_inbox_depth") == 0 && now_in == in;
    in = now_in;
    text = m->body;
    if (idle) break;
  }
  const int exit_code = vppd->stop(SIGTERM, 120s);

  std::vector<double> all;
  ClientStats total;
  for (const auto& s : stats) {
    all.insert(all.end(), s.latency_ms.begin(), s.latency_ms.end());
    total.errors += s.errors;
    total.events_created += s.events_created;
    total.sites_enrolled += s.sites_enrolled;
    if (total.first_error.empty()) total.first_error = s.first_error;
  }
  std::map<std::string, std::vector<double>> kinds;
  for (const auto& s : stats) {
    for (const auto& [k, v] : s.by_kind) kinds[k].insert(kinds[k].end(), v.begin(), v.end());
  }
  auto pct_of = [](std::vector<double>& v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  };
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return pct_of(all, p); };

  // The store after vppd's clean stop, against what was acknowledged.
  auto st = store::Store::open({.path = (dir / "vpp.db").string()});
  if (!st) {
    std::fprintf(stderr, "daemon: %s\n", st.error().c_str());
    return 1;
  }
  const auto events_in_db = (*st)->count_rows("events");
  const auto sites_in_db = (*st)->count_rows("enrolments");
  // Every site's limits as last acknowledged.
  std::int64_t lost_patches = 0;
  if (auto r = (*st)->restore(from_unix_ms(0), 0); r) {
    std::map<std::string, double> stored_max;
    for (const auto& rec : r->sites) stored_max[rec.site.id] = rec.site.limits.comfort_max_c;
    for (int c = 0; c < clients; ++c) {
      const auto& cs = stats[static_cast<std::size_t>(c)];
      if (cs.last_comfort_max == 0) continue;
      const auto it = stored_max.find("api-" + std::to_string(c));
      if (it == stored_max.end() || it->second != cs.last_comfort_max) ++lost_patches;
    }
  } else {
    std::fprintf(stderr, "daemon: %s\n", r.error().c_str());
    lost_patches = 1;
  }
  std::int64_t rolled = 0;
  for (int s = 0; s < sites; ++s) {
    for (const char* a : {"meter", "battery", "pv"}) {
      for (const auto& r : (*st)->rollups("site-" + std::to_string(s), a, 60, from_unix_ms(0), from_unix_ms(4'000'000'000'000))) {
        rolled += r.count;
      }
    }
  }
  const double stored = series(text, "vpp_telemetry_stored_total");
  const double accepted = series(text, "vpp_telemetry_total{result=\"accepted\"}");
  const double gated = series(text, "vpp_telemetry_total{result=\"rejected\"}");
  const double received = series(text, "vpp_messages_in_total{adapter=\"mqtt\"}");
  const double write_errors = series(text, "vpp_store_write_errors_total");
  const double dropped = series(text, "vpp_store_telemetry_dropped_total") + series(text, "vpp_inbox_dropped_total");
  const auto lost_events = static_cast<std::int64_t>(total.events_created) - events_in_db;
  const auto lost_sites = static_cast<std::int64_t>(total.sites_enrolled) - sites_in_db;
  const auto lost_samples = static_cast<std::int64_t>(stored) - rolled;
  const std::int64_t lost = std::max<std::int64_t>(0, lost_events) + std::max<std::int64_t>(0, lost_sites) + lost_patches +
                            std::max<std::int64_t>(0, lost_samples) + static_cast<std::int64_t>(write_errors) +
                            static_cast<std::int64_t>(dropped);

  const double run_s = seconds;
  std::printf("daemon bench: %d clients, %d s, %d sites (%d devices), telemetry target %d msg/s\n", clients, seconds, sites,
              sites * 3, rate);
  std::printf("api: %zu requests (%.0f/s), errors %llu, latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f\n", all.size(),
              static_cast<double>(all.size()) / run_s, static_cast<unsigned long long>(total.errors), pct(0.5), pct(0.9),
              pct(0.99), all.empty() ? 0.0 : all.back());
  for (auto& [k, v] : kinds) {
    std::printf("  %-28s %6zu  p50 %7.2f  p99 %7.2f ms\n", k.c_str(), v.size(), pct_of(v, 0.5), pct_of(v, 0.99));
  }
  if (!total.first_error.empty()) std::printf("first error: %s\n", total.first_error.c_str());
  std::printf("telemetry: published %llu, received by vppd %.0f, accepted %.0f, gated %.0f, queued for the store %.0f, "
              "in the roll-ups %lld\n",
              static_cast<unsigned long long>(published.load()), received, accepted, gated, stored,
              static_cast<long long>(rolled));
  std::printf("writes: events %llu acknowledged / %lld stored, sites %llu / %lld, site patches not as acknowledged %lld, "
              "store errors %.0f, dropped %.0f\n",
              static_cast<unsigned long long>(total.events_created), static_cast<long long>(events_in_db),
              static_cast<unsigned long long>(total.sites_enrolled), static_cast<long long>(sites_in_db),
              static_cast<long long>(lost_patches), write_errors, dropped);
  std::printf("vppd: SIGTERM exit %d; solves requested %.0f, finished %.0f (longest %.3f s); inbox high water %.0f; "
              "lost writes: %lld\n",
              exit_code, series(text, "vpp_solves_requested_total"), series(text, "vpp_solves_total{result=\"ok\"}"),
              series(text, "vpp_solve_seconds_max"), series(text, "vpp_inbox_high_water"),
              static_cast<long long>(lost));
  std::printf("{\"bench\":\"daemon\",\"clients\":%d,\"seconds\":%d,\"sites\":%d,\"rate\":%d,\"requests\":%zu,\"errors\":%llu,"
              "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"published\":%llu,\"received\":%.0f,\"accepted\":%.0f,\"rolled_up\":%lld,"
              "\"lost_writes\":%lld,\"exit\":%d}\n",
              clients, seconds, sites, rate, all.size(), static_cast<unsigned long long>(total.errors), pct(0.5), pct(0.99),
              static_cast<unsigned long long>(published.load()), received, accepted, static_cast<long long>(rolled),
              static_cast<long long>(lost), exit_code);
  const bool ok = total.errors == 0 && lost == 0 && exit_code == 0;
  if (ok) std::filesystem::remove_all(dir);
  else std::printf("kept %s for inspection\n", dir.c_str());
  return ok ? 0 : 1;
}

const bool registered =
    add({"daemon", "daemon [--clients 100] [--seconds 10] [--sites 500] [--rate 20000]  (vppd under API and telemetry load)", run});

}  // namespace
}  // namespace vpp::bench
