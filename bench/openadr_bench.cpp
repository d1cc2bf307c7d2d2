// vpp-bench openadr [--events N] [--intervals K] [--repeat R]
// In-process cost of the OpenADR VEN engine's poll cycle against a canned VTN (no sockets):
// one cycle where every one of N events (K intervals of 15 min each, IMPORT_CAPACITY_LIMIT with
// a DELTA_USAGE report descriptor) is new or modified (parse, schema check, mapping, signal
// diff), and one where the VTN answers 304 for every page (the cached listing is re-checked
// and nothing changes). Reports p50/p99 over repetitions. Network time is not included: it
// is the VTN's and the link's.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "adapters/openadr/driver.hpp"
#include "adapters/openadr/engine.hpp"
#include "bench/registry.hpp"

namespace vpp::bench {
namespace {

using namespace std::chrono_literals;
using openadr::Json;

class CannedVtn : public openadr::Transport {
 public:
  std::vector<std::string> pages;  // event listing pages of 50
  bool not_modified = false;
  openadr::HttpResult send(const openadr::HttpRequest& r) override {
    openadr::HttpResult out;
    out.status = 200;
    if (r.url.find("/auth/token") != std::string::npos) {
      out.body = R"({"access_token":"t","token_type":"Bearer","expires_in":86400})";
    } else if (r.url.find("/vens?") != std::string::npos) {
      out.body = R"([{"id":"ven-1","venName":"bench-ven"}])";
    } else if (r.url.find("/resources?") != std::string::npos) {
      const auto p = r.url.find("resourceName=");
      out.body = R"([{"id":"r","resourceName":")" + r.url.substr(p + 13) + R"("}])";
    } else if (r.url.find("/programs") != std::string::npos) {
      out.body = R"([{"id":"prog-1","programName":"peak"}])";
    } else if (r.url.find("/events") != std::string::npos) {
      const auto p = r.url.find("skip=");
      const std::size_t page = std::stoul(r.url.substr(p + 5)) / 50;
      out.body = page < pages.size() ? pages[page] : "[]";
      out.headers["etag"] = "\"" + std::to_string(page) + "-" + std::to_string(out.body.size()) + "\"";
      if (not_modified && r.headers.count("If-None-Match")) {
        out.status = 304;
        out.body.clear();
      }
    } else {
      out.body = "{}";
    }
    return out;
  }
};

class NoSource : public openadr::ReportSource {
 public:
  std::optional<controller::EventReport> settlement(const std::string&, TimePoint) override { return std::nullopt; }
  std::optional<double> usage_kw(const std::string&, TimePoint, TimePoint) override { return std::nullopt; }
  std::optional<double> load_shed_available_kw(const std::string&, TimePoint) override { return std::nullopt; }
  std::optional<openadr::StorageState> storage(const std::string&, TimePoint) override { return std::nullopt; }
};

void fill(CannedVtn& vtn, int events, int intervals, int version, TimePoint t0) {
  vtn.pages.clear();
  Json page = Json::array();
  for (int e = 0; e < events; ++e) {
    Json iv = Json::array();
    for (int k = 0; k < intervals; ++k) {
      // Values change with the version and every fourth interval, so runs split as in real caps.
      iv.push_back({{"id", k}, {"payloads", Json::array({{{"type", "IMPORT_CAPACITY_LIMIT"},
                                                          {"values", {500.0 + 10 * (k / 4) + version}}}})}});
    }
    page.push_back({{"id", "ev-" + std::to_string(e)},
                    {"programID", "prog-1"},
                    {"objectType", "EVENT"},
                    {"priority", e % 5},
                    {"modificationDateTime", openadr::format_time(t0 + std::chrono::seconds(version))},
                    {"intervalPeriod", {{"start", openadr::format_time(t0 + 1h + 15min * e)}, {"duration", "PT15M"}}},
                    {"reportDescriptors", Json::array({{{"payloadType", "DELTA_USAGE"}, {"startInterval", 0},
                                                        {"numIntervals", 1}, {"repeat", -1}}})},
                    {"intervals", iv}});
    if (page.size() == 50) {
      vtn.pages.push_back(page.dump());
      page = Json::array();
    }
  }
  vtn.pages.push_back(page.dump());
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

int run(const std::vector<std::string>& args) {
  int events = 200, intervals = 96, repeat = 30;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--events") events = std::stoi(args[i + 1]);
    else if (args[i] == "--intervals") intervals = std::stoi(args[i + 1]);
    else if (args[i] == "--repeat") repeat = std::stoi(args[i + 1]);
    else {
      std::fprintf(stderr, "vpp-bench openadr: unknown argument %s\n", args[i].c_str());
      return 2;
    }
  }
  const TimePoint t0 = from_unix_ms(1'783'400'400'000);
  openadr::VenSettings s;
  s.vtn_url = "http://vtn.bench";
  s.client_id = "c";
  s.client_secret = "s";
  s.ven_name = "bench-ven";
  s.programs = {{"peak", {}}};
  s.resources = {{"RES-A", "site-a"}, {"RES-B", "site-b"}};
  s.poll_interval = 60s;
  CannedVtn vtn;
  NoSource src;
  openadr::MemoryReportQueue q;
  openadr::VenEngine engine(s, src, q);
  std::size_t signals = 0;
  openadr::SyncVenDriver driver(engine, vtn, [&](const openadr::EngineOutput& o) { signals += o.signals.size(); });
  fill(vtn, events, intervals, 0, t0);
  TimePoint now = t0;
  driver.run(now);  // registration and the first listing
  using clock = std::chrono::steady_clock;
  std::vector<double> changed_ms, unchanged_ms;
  for (int r = 1; r <= repeat; ++r) {
    fill(vtn, events, intervals, r, t0);
    vtn.not_modified = false;
    now += 61s;
    signals = 0;
    auto a = clock::now();
    driver.run(now);
    changed_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - a).count());
    if (signals == 0) {
      std::fprintf(stderr, "vpp-bench openadr: a modified listing produced no signals\n");
      return 1;
    }
    vtn.not_modified = true;
    now += 61s;
    a = clock::now();
    driver.run(now);
    unchanged_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - a).count());
  }
  std::printf(
      "openadr poll cycle, %d events x %d intervals (%zu pages): all modified p50 %.2f ms p99 %.2f ms; "
      "all 304 p50 %.2f ms p99 %.2f ms (%d repetitions; invalid %llu)\n",
      events, intervals, vtn.pages.size(), percentile(changed_ms, 0.5), percentile(changed_ms, 0.99),
      percentile(unchanged_ms, 0.5), percentile(unchanged_ms, 0.99), repeat,
      static_cast<unsigned long long>(engine.counters().invalid_objects));
  return engine.counters().invalid_objects == 0 ? 0 : 1;
}

const bool registered = add({"openadr", "openadr [--events 200] [--intervals 96] [--repeat 30]", run});

}  // namespace
}  // namespace vpp::bench
