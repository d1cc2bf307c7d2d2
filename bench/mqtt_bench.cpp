// vpp-bench mqtt-ingest: MQTT adapter throughput and command fan-out through a local mosquitto.
//
// 1. Ingest. One Paho publisher sends N telemetry messages (QoS 0) as fast as it can; a bare
//    Paho subscriber that decodes nothing, then vpp's MqttAdapter (decoding, validating and
//    queueing vpp::Telemetry), each receive them in turn, alternating which goes first, `--rounds` times in the
//    same run against the same broker. Rate = messages received / (last - first arrival). The
//    publisher is a forked child process (Paho serialises the clients of one process). Reported:
//    the median rates, their ratio, and the median (min, max) of the per-round paired ratios.
//    Goal: the adapter reaches >= 80 % of the bare subscriber's rate.
// 2. Commands. MqttAdapter::send() for one command to each of `--assets` devices (JSON dialect,
//    QoS 1); from the first send(), the time until every send() returned, until the broker has
//    acknowledged every command (PUBACK: fully published), and until a QoS 1 subscriber on
//    vpp/+/+/cmd has received all of them. Goal: published p99 over `--runs` events <= 200 ms.
// Prints one JSON line per measurement. Needs mosquitto on PATH (started on a free loopback port).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mqtt/async_client.h>
#include <string>
#include <thread>
#include <vector>

#include "adapters/logging.hpp"
#include "adapters/mqtt/mqtt_adapter.hpp"
#include "bench/registry.hpp"
#include "tests/support/loopback.hpp"
#include "proto/convert.hpp"
#include "proto/sparkplug.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

using vpp::test::free_port;
using vpp::test::port_open;

class Mosquitto {
 public:
  Mosquitto() : port_(free_port()) {
    dir_ = std::filesystem::temp_directory_path() / ("vpp-bench-mqtt-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "m.conf") << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
                                   << "max_queued_messages 0\nmax_inflight_messages 0\nlog_dest none\n";
    const std::string conf = (dir_ / "m.conf").string();
    char* argv[] = {const_cast<char*>("mosquitto"), const_cast<char*>("-c"), const_cast<char*>(conf.c_str()), nullptr};
    if (posix_spawnp(&pid_, "mosquitto", nullptr, nullptr, argv, environ) != 0) throw std::runtime_error("no mosquitto");
    for (int i = 0; i < 500 && !port_open(port_); ++i) std::this_thread::sleep_for(10ms);
  }
  ~Mosquitto() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  pid_t pid_ = -1;
  std::filesystem::path dir_;
};

// A Paho client that counts arrivals on a filter and records the first and last arrival times.
class Counter {
 public:
  Counter(const std::string& url, const std::string& id, const std::string& filter, int qos) : cli_(url, id) {
    cli_.set_message_callback([this](mqtt::const_message_ptr) {
      const auto now = Clock::now();
      if (n_.fetch_add(1) == 0) first_ = now;
      last_ = now;
    });
    cli_.connect(mqtt::connect_options_builder().clean_session(true).finalize())->wait();
    cli_.subscribe(filter, qos)->wait();
  }
  ~Counter() {
    try {
      cli_.disconnect()->wait();
    } catch (...) {
    }
  }
  void reset() { n_ = 0; }
  std::uint64_t count() const { return n_.load(); }
  double rate() const {
    const double s = std::chrono::duration<double>(last_ - first_).count();
    return s > 0 ? static_cast<double>(n_.load() - 1) / s : 0;
  }
  Clock::time_point last() const { return last_; }

 private:
  mqtt::async_client cli_;
  std::atomic<std::uint64_t> n_{0};
  Clock::time_point first_{}, last_{};
};

// Counts inputs and stamps the first and last; stands in for the daemon's queue.
class CountingSink final : public vpp::adapters::InputSink {
 public:
  void push(vpp::adapters::AdapterInput in) override {
    if (!std::holds_alternative<vpp::Telemetry>(in)) return;
    const auto now = Clock::now();
    if (n_.fetch_add(1) == 0) first_ = now;
    last_ = now;
  }
  void reset() { n_ = 0; }
  std::uint64_t count() const { return n_.load(); }
  double rate() const {
    const double s = std::chrono::duration<double>(last_ - first_).count();
    return s > 0 ? static_cast<double>(n_.load() - 1) / s : 0;
  }

 private:
  std::atomic<std::uint64_t> n_{0};
  Clock::time_point first_{}, last_{};
};

struct Fleet {
  std::vector<vpp::Site> sites;
  std::vector<std::pair<std::string, std::string>> assets;  // site, asset
};

Fleet make_fleet(int sites, int per_site) {
  Fleet f;
  for (int s = 0; s < sites; ++s) {
    vpp::Site site;
    site.id = "site-" + std::to_string(s);
    for (int a = 0; a < per_site; ++a) {
      site.assets.push_back(vpp::Asset{"bat-" + std::to_string(a), "", vpp::BatterySpec{100, 50, 50}});
      f.assets.emplace_back(site.id, "bat-" + std::to_string(a));
    }
    f.sites.push_back(std::move(site));
  }
  return f;
}

// Publishes the JSON or Sparkplug telemetry of `fleet`, n messages, QoS 0, as fast as Paho takes them.
void publish_json(mqtt::async_client& pub, const Fleet& fleet, int n) {
  std::vector<std::pair<std::string, std::string>> msgs;
  for (std::size_t i = 0; i < fleet.assets.size(); ++i) {
    const auto& [s, a] = fleet.assets[i];
    msgs.emplace_back("vpp/" + s + "/" + a + "/telemetry",
                      R"({"siteId":")" + s + R"(","assetId":")" + a +
                          R"(","time":"2026-07-07T06:30:00Z","pKw":-12.5,"socPct":81.5})");
  }
  for (int i = 0; i < n; ++i) {
    const auto& m = msgs[static_cast<std::size_t>(i) % msgs.size()];
    while (true) {
      try {
        pub.publish(m.first, m.second.data(), m.second.size(), 0, false);
        break;
      } catch (const mqtt::exception&) {
        std::this_thread::sleep_for(100us);  // Paho's send queue is full: let it drain
      }
    }
  }
}

namespace sp = vpp::sparkplug;

struct SparkplugPublisher {
  const Fleet& fleet;
  std::string group = "bench";
  std::vector<std::uint64_t> seq;

  void publish(mqtt::async_client& pub, const std::string& topic, const sp::Payload& p) {
    const std::string bytes = p.SerializeAsString();
    while (true) {
      try {
        pub.publish(topic, bytes.data(), bytes.size(), 0, false);
        return;
      } catch (const mqtt::exception&) {
        std::this_thread::sleep_for(100us);
      }
    }
  }
  void births(mqtt::async_client& pub) {
    seq.assign(fleet.sites.size(), 0);
    for (std::size_t s = 0; s < fleet.sites.size(); ++s) {
      const auto& site = fleet.sites[s];
      sp::Payload nb;
      nb.set_timestamp(1);
      nb.set_seq(0);
      auto* bd = nb.add_metrics();
      bd->set_name("bdSeq");
      (void)sp::set_metric_value(*bd, sp::Payload::INT64, std::int64_t(0));
      publish(pub, "spBv1.0/" + group + "/NBIRTH/" + site.id, nb);
      for (std::size_t a = 0; a < site.assets.size(); ++a) {
        sp::Payload db;
        db.set_timestamp(1);
        db.set_seq(++seq[s] % 256);
        auto* m = db.add_metrics();
        m->set_name("P_kW");
        m->set_alias(a * 10 + 1);
        (void)sp::set_metric_value(*m, sp::Payload::DOUBLE, 0.0);
        publish(pub, "spBv1.0/" + group + "/DBIRTH/" + site.id + "/" + site.assets[a].id, db);
      }
    }
  }
  void data(mqtt::async_client& pub, int n) {
    const std::size_t per_site = fleet.sites.front().assets.size();
    for (int i = 0; i < n; ++i) {
      const std::size_t k = static_cast<std::size_t>(i) % fleet.assets.size();
      const std::size_t s = k / per_site, a = k % per_site;
      sp::Payload d;
      d.set_timestamp(2);
      d.set_seq(++seq[s] % 256);
      auto* m = d.add_metrics();
      m->set_alias(a * 10 + 1);
      m->set_double_value(-12.5);
      publish(pub, "spBv1.0/" + group + "/DDATA/" + fleet.sites[s].id + "/" + fleet.sites[s].assets[a].id, d);
    }
  }
};

// A child process that publishes on request: "json N", "births 0", "spb N" on a pipe; it answers
// "done" once Paho has taken every message.
class Publisher {
 public:
  Publisher(const std::string& url, const Fleet& fleet) {
    int to_child[2], to_parent[2];
    if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(to_child[1]);
      ::close(to_parent[0]);
      serve(url, fleet, to_child[0], to_parent[1]);
      ::_exit(0);
    }
    ::close(to_child[0]);
    ::close(to_parent[1]);
    out_ = to_child[1];
    in_ = to_parent[0];
  }
  ~Publisher() {
    ::close(out_);  // EOF: the child disconnects and exits
    ::waitpid(pid_, nullptr, 0);
    ::close(in_);
  }
  void run(const std::string& what, int n) {
    const std::string cmd = what + " " + std::to_string(n) + "\n";
    if (::write(out_, cmd.data(), cmd.size()) < 0) return;
    char c;
    while (::read(in_, &c, 1) == 1 && c != '\n') {
    }
  }

 private:
  static void serve(const std::string& url, const Fleet& fleet, int in, int out) {
    mqtt::create_options o(MQTTVERSION_3_1_1);
    o.set_max_buffered_messages(1'000'000);
    mqtt::async_client pub(url, "bench-pub", o);
    pub.connect(mqtt::connect_options_builder().clean_session(true).max_inflight(65535).finalize())->wait();
    SparkplugPublisher spb{fleet};
    std::string line;
    char c;
    while (::read(in, &c, 1) == 1) {
      if (c != '\n') {
        line += c;
        continue;
      }
      const auto sp = line.find(' ');
      const std::string what = line.substr(0, sp);
      const int n = std::stoi(line.substr(sp + 1));
      line.clear();
      if (what == "json") publish_json(pub, fleet, n);
      if (what == "births") spb.births(pub);
      if (what == "spb") spb.data(pub, n);
      if (::write(out, "done\n", 5) < 0) break;
    }
    pub.disconnect()->wait();
  }

  pid_t pid_ = -1;
  int out_ = -1, in_ = -1;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const auto i = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

bool wait_count(const std::function<std::uint64_t()>& count, std::uint64_t n, std::chrono::seconds limit) {
  const auto until = Clock::now() + limit;
  std::uint64_t last = 0;
  auto last_change = Clock::now();
  while (count() < n) {
    if (Clock::now() > until) return false;
    const auto c = count();
    if (c != last) {
      last = c;
      last_change = Clock::now();
    } else if (Clock::now() - last_change > 3s) {
      return false;  // stalled: QoS 0 messages were dropped
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

int run(const std::vector<std::string>& args) {
  int messages = 200000, rounds = 5, assets = 10000, runs = 20, lanes = -1;
  bool subscriber = true;
  std::string dialect = "both";
  std::vector<std::string> rest;
  for (const auto& a : args) {
    if (a == "--no-subscriber") {
      subscriber = false;
    } else {
      rest.push_back(a);
    }
  }
  const auto& args2 = rest;
  for (std::size_t i = 0; i + 1 < args2.size(); i += 2) {
    const std::vector<std::string>& args = args2;
    if (args[i] == "--messages") messages = std::stoi(args[i + 1]);
    else if (args[i] == "--rounds") rounds = std::stoi(args[i + 1]);
    else if (args[i] == "--assets") assets = std::stoi(args[i + 1]);
    else if (args[i] == "--runs") runs = std::stoi(args[i + 1]);
    else if (args[i] == "--dialect") dialect = args[i + 1];
    else if (args[i] == "--lanes") lanes = std::stoi(args[i + 1]);
    else {
      std::fprintf(stderr, "mqtt-ingest: unknown option %s\n", args[i].c_str());
      return 2;
    }
  }
  vpp::setup_logging(std::getenv("VPP_BENCH_LOG") ? std::getenv("VPP_BENCH_LOG") : "error");
  Mosquitto broker;
  vpp::SystemClock clock;
  const Fleet fleet = make_fleet(100, 10);

  // The publisher stands for the fleet, so it runs in its own process (forked before this process
  // makes any Paho client): Paho C serialises all clients of a process on global mutexes, and a
  // publisher in the same process would compete with the subscriber under test.
  Publisher pub(broker.url(), fleet);

  for (const std::string d : {"json", "sparkplug"}) {
    if (dialect != "both" && dialect != d) continue;
    const bool spb = d == "sparkplug";
    vpp::config::MqttConfig cfg;
    cfg.url = broker.url();
    cfg.client_id = "vppd-bench-" + d;
    cfg.device_groups.push_back({"g", spb ? vpp::config::MqttDialect::sparkplug_b : vpp::config::MqttDialect::json,
                                 spb ? "bench" : "", {}});
    CountingSink sink;
    auto adapter = vpp::adapters::mqtt::MqttAdapter::create(cfg, fleet.sites, sink, clock);
    if (!adapter) {
      std::fprintf(stderr, "%s\n", adapter.error().c_str());
      return 1;
    }
    const std::string filter = spb ? "spBv1.0/bench/#" : "vpp/+/+/telemetry";
    std::vector<double> bare_rates, vpp_rates;
    auto run_bare = [&] {
      {
        Counter bare(broker.url(), "bench-bare", filter, 0);
        std::this_thread::sleep_for(200ms);  // as for the adapter below
        if (spb) pub.run("births", 0);
        const std::uint64_t expected = static_cast<std::uint64_t>(messages) + (spb ? fleet.sites.size() + fleet.assets.size() : 0);
        pub.run(spb ? "spb" : "json", messages);
        if (!wait_count([&] { return bare.count(); }, expected, 120s)) {
          std::fprintf(stderr, "bare subscriber got %llu of %llu\n", (unsigned long long)bare.count(), (unsigned long long)expected);
        }
        bare_rates.push_back(bare.rate());
      }
    };
    auto run_vpp = [&] {
      {
        sink.reset();
        (*adapter)->start();
        (*adapter)->wait_connected(10s);
        std::this_thread::sleep_for(200ms);  // subscriptions settled
        if (spb) pub.run("births", 0);
        const std::uint64_t expected = static_cast<std::uint64_t>(messages) + (spb ? fleet.assets.size() : 0);
        pub.run(spb ? "spb" : "json", messages);
        if (!wait_count([&] { return sink.count(); }, expected, 120s)) {
          std::fprintf(stderr, "adapter got %llu of %llu (rejected %llu)\n", (unsigned long long)sink.count(),
                       (unsigned long long)expected, (unsigned long long)(*adapter)->counters().rejected_total());
        }
        vpp_rates.push_back(sink.rate());
        (*adapter)->stop();
      }
    };
    // Alternate which subscriber goes first, so neither profits from the order.
    for (int r = 0; r < rounds; ++r) {
      if (r % 2 == 0) {
        run_bare();
        run_vpp();
      } else {
        run_vpp();
        run_bare();
      }
    }
    const double bare = median(bare_rates), ours = median(vpp_rates);
    // Paired: each round's two runs are back to back, so their ratio is less exposed to load
    // that changes between rounds (the machine is shared).
    std::vector<double> ratios;
    for (std::size_t i = 0; i < bare_rates.size() && i < vpp_rates.size(); ++i) {
      if (bare_rates[i] > 0) ratios.push_back(vpp_rates[i] / bare_rates[i]);
    }
    std::printf("{\"bench\":\"mqtt-ingest\",\"dialect\":\"%s\",\"messages\":%d,\"rounds\":%d,"
                "\"bare_paho_msgs_per_s\":%.0f,\"vpp_adapter_msgs_per_s\":%.0f,\"ratio_of_medians\":%.3f,"
                "\"paired_ratio_median\":%.3f,\"paired_ratio_min\":%.3f,\"paired_ratio_max\":%.3f,\"goal_ratio\":0.8}\n",
                d.c_str(), messages, rounds, bare, ours, bare > 0 ? ours / bare : 0.0, median(ratios),
                percentile(ratios, 0.0001), percentile(ratios, 100));
    std::fflush(stdout);
  }

  // Command fan-out: one command per asset, JSON dialect, QoS 1, until a subscriber has them all.
  if (assets > 0) {
    const Fleet big = make_fleet((assets + 9) / 10, 10);
    vpp::config::MqttConfig cfg;
    cfg.url = broker.url();
    cfg.client_id = "vppd-bench-cmd";
    cfg.device_groups.push_back({"g", vpp::config::MqttDialect::json, "", {}});
    vpp::adapters::InputQueue q;
    vpp::adapters::mqtt::MqttAdapterOptions opts;
    opts.command_retry = std::chrono::hours(1);
    if (lanes >= 0) opts.command_lanes = lanes;
    opts.max_pending_commands = static_cast<std::size_t>(assets) * static_cast<std::size_t>(runs + 1);
    auto adapter = vpp::adapters::mqtt::MqttAdapter::create(cfg, big.sites, q, clock, opts);
    if (!adapter) return 1;
    (*adapter)->start();
    (*adapter)->wait_connected(10s);
    // --no-subscriber: nobody subscribes to the commands, so the broker only acknowledges them;
    // this isolates vpp + Paho + broker ingest from the broker's fan-out to devices.
    std::optional<Counter> devices;
    if (subscriber) devices.emplace(broker.url(), "bench-devices", "vpp/+/+/cmd", 1);
    const auto now = clock.now();
    // Baseline in the same run: a bare Paho client publishing the same commands, pre-encoded, at
    // QoS 1 (no outbox, no encoding, one connection), timed the same way. Runs alternate between
    // the two so that load changing over time (a shared machine) hits both alike.
    struct Acks final : mqtt::callback {
      std::atomic<std::uint64_t> n{0};
      void delivery_complete(mqtt::delivery_token_ptr) override { ++n; }
    } acks;
    mqtt::create_options bare_opts(MQTTVERSION_3_1_1);
    bare_opts.set_max_buffered_messages(1'000'000);
    mqtt::async_client bare(broker.url(), "bench-bare-cmd", bare_opts);
    bare.set_callback(acks);
    bare.connect(mqtt::connect_options_builder().clean_session(true).max_inflight(65535).finalize())->wait();
    std::vector<std::pair<std::string, std::string>> msgs;
    for (int i = 0; i < assets; ++i) {
      const auto& [s, a] = big.assets[static_cast<std::size_t>(i)];
      vpp::Command c{"bare-" + std::to_string(i), s, a, vpp::SetpointKind::battery_p_kw, 10.0, now,
                     now + std::chrono::minutes(15), "bench"};
      msgs.emplace_back("vpp/" + s + "/" + a + "/cmd", vpp::to_json(vpp::to_proto(c)));
    }
    std::vector<double> sent_ms, published_ms, delivered_ms, bare_published_ms, bare_delivered_ms;
    auto run_ours = [&](int r) {
      if (devices) devices->reset();
      const std::uint64_t completed0 = (*adapter)->publications_completed();
      const auto t0 = Clock::now();
      for (int i = 0; i < assets; ++i) {
        const auto& [s, a] = big.assets[static_cast<std::size_t>(i)];
        vpp::Command c{"ev" + std::to_string(r) + "-" + std::to_string(i), s, a, vpp::SetpointKind::battery_p_kw, 10.0,
                       now, now + std::chrono::minutes(15), "bench"};
        (void)(*adapter)->send(c);
      }
      const auto t_sent = Clock::now();
      if (!wait_count([&] { return (*adapter)->publications_completed() - completed0; }, static_cast<std::uint64_t>(assets), 60s)) {
        std::fprintf(stderr, "broker acknowledged %llu of %d commands\n",
                     (unsigned long long)((*adapter)->publications_completed() - completed0), assets);
      }
      const auto t_published = Clock::now();
      if (devices && !wait_count([&] { return devices->count(); }, static_cast<std::uint64_t>(assets), 60s)) {
        std::fprintf(stderr, "devices got %llu of %d commands\n", (unsigned long long)devices->count(), assets);
      }
      auto ms = [&](Clock::time_point t) { return std::chrono::duration<double, std::milli>(t - t0).count(); };
      sent_ms.push_back(ms(t_sent));
      published_ms.push_back(ms(t_published));
      delivered_ms.push_back(devices ? ms(devices->last()) : 0.0);
      std::this_thread::sleep_for(100ms);
    };
    auto run_bare = [&] {
      if (devices) devices->reset();
      const std::uint64_t a0 = acks.n.load();
      const auto t0 = Clock::now();
      for (const auto& [topic, payload] : msgs) bare.publish(topic, payload.data(), payload.size(), 1, false);
      wait_count([&] { return acks.n.load() - a0; }, static_cast<std::uint64_t>(assets), 60s);
      const auto t_pub = Clock::now();
      if (devices) wait_count([&] { return devices->count(); }, static_cast<std::uint64_t>(assets), 60s);
      bare_published_ms.push_back(std::chrono::duration<double, std::milli>(t_pub - t0).count());
      bare_delivered_ms.push_back(devices ? std::chrono::duration<double, std::milli>(devices->last() - t0).count() : 0.0);
      std::this_thread::sleep_for(100ms);
    };
    for (int r = 0; r < runs; ++r) {
      if (r % 2 == 0) {
        run_bare();
        run_ours(r);
      } else {
        run_ours(r);
        run_bare();
      }
    }
    bare.disconnect()->wait();
    std::printf("{\"bench\":\"mqtt-commands-bare-paho\",\"assets\":%d,\"runs\":%d,\"published_p50_ms\":%.1f,"
                "\"published_p99_ms\":%.1f,\"delivered_p50_ms\":%.1f,\"delivered_p99_ms\":%.1f}\n",
                assets, runs, percentile(bare_published_ms, 50), percentile(bare_published_ms, 99),
                percentile(bare_delivered_ms, 50), percentile(bare_delivered_ms, 99));
    // sent: send() returned for every command; published: the broker acknowledged every command
    // (PUBACK, QoS 1), i.e. the event is fully published; delivered: a QoS 1 subscriber standing in
    // for the devices has received every command (bounded by mosquitto's QoS 1 fan-out rate).
    std::printf("{\"bench\":\"mqtt-commands\",\"lanes\":%d,\"assets\":%d,\"runs\":%d,\"sent_p50_ms\":%.1f,\"sent_p99_ms\":%.1f,"
                "\"published_p50_ms\":%.1f,\"published_p99_ms\":%.1f,\"delivered_p50_ms\":%.1f,\"delivered_p99_ms\":%.1f,"
                "\"subscriber\":%s,\"goal_published_p99_ms\":200}\n",
                opts.command_lanes, assets, runs, percentile(sent_ms, 50), percentile(sent_ms, 99), percentile(published_ms, 50),
                percentile(published_ms, 99), percentile(delivered_ms, 50), percentile(delivered_ms, 99),
                subscriber ? "true" : "false");
    (*adapter)->stop();
  }
  return 0;
}

const bool registered = vpp::bench::add(
    {"mqtt-ingest", "mqtt-ingest [--messages N] [--rounds R] [--dialect json|sparkplug|both|none] [--assets N] [--runs R] [--lanes K] [--no-subscriber]", run});

}  // namespace
