// vpp-bench api: N concurrent API clients over loopback HTTP while a telemetry producer keeps
// the SQLite store's writer saturated. Reports API latency percentiles, errors, and checks that
// no write was lost (every accepted event, enrolment and telemetry sample is in the database).
//
//   vpp-bench api [--clients 100] [--seconds 10] [--threads 2] [--db PATH]
//
// Clients: one in five is an operator (creates events and reads them back), the others are
// site managers (enrol their own site once, then read the fleet, their site and an event, and
// patch their limits). Each client has its own token and one keep-alive connection.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "adapters/http/client.hpp"
#include "adapters/http/memory_backend.hpp"
#include "adapters/http/server.hpp"
#include "adapters/store/store.hpp"
#include "bench/registry.hpp"
#include "model/clock.hpp"

namespace vpp::bench {
namespace {

using steady = std::chrono::steady_clock;

struct ClientStats {
  std::vector<double> latency_ms;
  std::uint64_t errors = 0;
  std::uint64_t events_created = 0;
  std::uint64_t sites_enrolled = 0;
  std::string first_error;
};

std::string site_body(const std::string& id) {
  return R"({"siteId":")" + id + R"(","name":"bench","buildingType":"BUILDING_TYPE_OFFICE","limits":{"comfortMinC":22,"comfortMaxC":27,"maxCurtailmentPct":20},"assets":[{"id":"battery","battery":{"capacityKwh":500,"maxChargeKw":250,"maxDischargeKw":250,"chargeEfficiency":0.95,"dischargeEfficiency":0.95,"socMinPct":5,"socMaxPct":95}},{"id":"hvac","hvacZone":{"ratedElectricKw":300,"ratedCop":4}},{"id":"meter","siteMeter":{}}]})";
}

int run(const std::vector<std::string>& args) {
  int clients = 100, seconds = 10, threads = 2;
  std::string db = (std::filesystem::temp_directory_path() / "vpp-bench-api.db").string();
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--clients") clients = std::stoi(args[i + 1]);
    else if (args[i] == "--seconds") seconds = std::stoi(args[i + 1]);
    else if (args[i] == "--threads") threads = std::stoi(args[i + 1]);
    else if (args[i] == "--db") db = args[i + 1];
    else {
      std::fprintf(stderr, "api: unknown option %s\n", args[i].c_str());
      return 64;
    }
  }
  if (clients < 1 || seconds < 1 || threads < 1) {
    std::fprintf(stderr, "api: --clients, --seconds and --threads must be >= 1\n");
    return 64;
  }
  for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(db + ext);

  auto store = store::Store::open({.path = db});
  if (!store) {
    std::fprintf(stderr, "api: %s\n", store.error().c_str());
    return 1;
  }
  SystemClock clock;
  http::InMemoryBackend backend(clock, store->get());
  http::ApiOptions api;
  api.rate_limit_per_s = 1e9;  // measure the server, not the limiter
  for (int c = 0; c < clients; ++c) {
    const bool op = c % 5 == 0;
    api.tokens.push_back({"client-" + std::to_string(c), op ? config::Role::operator_ : config::Role::site_manager,
                          http::sha256_hex("token-" + std::to_string(c)),
                          op ? std::vector<std::string>{} : std::vector<std::string>{"site-" + std::to_string(c)}});
  }
  http::ApiService service(backend, clock, api);
  boost::asio::io_context ioc;
  http::HttpServer server(ioc, {}, service);
  std::vector<std::thread> io;
  for (int i = 0; i < threads; ++i) io.emplace_back([&] { ioc.run(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());

  std::atomic<bool> stop{false};
  // Telemetry at full rate: 2000 assets, batches of 10 000 samples, each batch flushed before
  // the next so the queue stays bounded and every sample is accounted for.
  std::uint64_t samples = 0;
  std::thread producer([&] {
    TimePoint t = from_unix_ms(1'780'000'000'000);
    while (!stop) {
      for (int i = 0; i < 10000; ++i) {
        const int asset = i % 2000;
        (*store)->add_telemetry({"tele-" + std::to_string(asset / 4), "a" + std::to_string(asset % 4), t,
                                 Quality::good, static_cast<double>(i % 97)});
        if (asset == 1999) t += std::chrono::seconds(1);
      }
      samples += 10000;
      (void)(*store)->flush();
    }
  });

  std::vector<ClientStats> stats(static_cast<std::size_t>(clients));
  std::vector<std::thread> workers;
  const auto deadline = steady::now() + std::chrono::seconds(seconds);
  for (int c = 0; c < clients; ++c) {
    workers.emplace_back([&, c] {
      auto& s = stats[static_cast<std::size_t>(c)];
      auto cl = http::HttpClient::create({.url = url, .token = "token-" + std::to_string(c)});
      if (!cl) {
        ++s.errors;
        return;
      }
      const bool op = c % 5 == 0;
      const std::string site = "site-" + std::to_string(c);
      auto call = [&](const char* method, const std::string& target, const std::string& body, int want) {
        const auto t0 = steady::now();
        auto r = (*cl)->request(method, target, body);
        s.latency_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - t0).count());
        if (!r || r->status != want) {
          ++s.errors;
          if (s.first_error.empty()) s.first_error = std::string(method) + " " + target + ": " + (r ? std::to_string(r->status) + " " + r->body : r.error());
          return false;
        }
        return true;
      };
      if (!op && call("POST", "/api/v1/sites", site_body(site), 201)) ++s.sites_enrolled;
      for (std::uint64_t k = 0; steady::now() < deadline; ++k) {
        if (op) {
          const std::string id = "ev-" + std::to_string(c) + "-" + std::to_string(k);
          const std::string start = format_utc(clock.now() + std::chrono::hours(1 + k % 20));
          if (call("POST", "/api/v1/events",
                   R"({"eventId":")" + id + R"(","start":")" + start + R"(","duration":"3600s","targetReductionKw":100})", 201)) {
            ++s.events_created;
          }
          call("GET", "/api/v1/events/" + id, "", 200);
        } else {
          switch (k % 4) {
            case 0: call("GET", "/api/v1/fleet", "", 200); break;
            case 1: call("GET", "/api/v1/sites/" + site, "", 200); break;
            case 2: call("PATCH", "/api/v1/sites/" + site, R"({"limits":{"comfortMaxC":)" + std::to_string(26 + k % 2) + "}}", 200); break;
            default: call("GET", "/api/v1/sites/" + site + "/commands", "", 200); break;
          }
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  stop = true;
  producer.join();
  server.stop();
  ioc.stop();
  for (auto& t : io) t.join();
  auto flushed = (*store)->flush();

  std::vector<double> all;
  ClientStats total;
  for (const auto& s : stats) {
    all.insert(all.end(), s.latency_ms.begin(), s.latency_ms.end());
    total.errors += s.errors;
    total.events_created += s.events_created;
    total.sites_enrolled += s.sites_enrolled;
    if (total.first_error.empty()) total.first_error = s.first_error;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(p * static_cast<double>(all.size())))]; };

  // Lost-write check: the database against what was acknowledged.
  const auto events_in_db = (*store)->count_rows("events");
  const auto sites_in_db = (*store)->count_rows("enrolments");
  std::uint64_t rolled = 0;
  for (int a = 0; a < 2000; ++a) {
    for (const auto& r : (*store)->rollups("tele-" + std::to_string(a / 4), "a" + std::to_string(a % 4), 60,
                                           from_unix_ms(0), from_unix_ms(4'000'000'000'000))) {
      rolled += static_cast<std::uint64_t>(r.count);
    }
  }
  const auto sc = (*store)->counters();
  const bool lost = static_cast<std::uint64_t>(events_in_db) != total.events_created ||
                    static_cast<std::uint64_t>(sites_in_db) != total.sites_enrolled || rolled != samples ||
                    !flushed.ok() || sc.write_errors != 0 || sc.telemetry_dropped != 0;

  std::printf("api bench: %d clients, %d s, %d server threads\n", clients, seconds, threads);
  std::printf("requests: %zu (%.0f/s), errors: %llu\n", all.size(), static_cast<double>(all.size()) / seconds,
              static_cast<unsigned long long>(total.errors));
  if (!total.first_error.empty()) std::printf("first error: %s\n", total.first_error.c_str());
  std::printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", pct(0.5), pct(0.9), pct(0.99),
              all.empty() ? 0.0 : all.back());
  std::printf("telemetry: %llu samples (%.0f/s) in %llu batches, rolled up %llu\n",
              static_cast<unsigned long long>(samples), static_cast<double>(samples) / seconds,
              static_cast<unsigned long long>(sc.batches), static_cast<unsigned long long>(rolled));
  std::printf("writes: events %llu acknowledged / %lld stored, sites %llu / %lld, store errors %llu, dropped %llu\n",
              static_cast<unsigned long long>(total.events_created), static_cast<long long>(events_in_db),
              static_cast<unsigned long long>(total.sites_enrolled), static_cast<long long>(sites_in_db),
              static_cast<unsigned long long>(sc.write_errors), static_cast<unsigned long long>(sc.telemetry_dropped));
  std::printf("lost writes: %s\n", lost ? "YES" : "none");
  return (lost || total.errors) ? 1 : 0;
}

const bool registered = add({"api", "api [--clients 100] [--seconds 10] [--threads 2] [--db PATH]", run});

}  // namespace
}  // namespace vpp::bench
