#pragma once
// In-process fixtures for vppd's shell: a fake Shell (commands and solve requests recorded, the
// routes chosen by the test), a real store in a temporary directory, a small site, and time
// moved by hand (the driver takes `now` with every input).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "adapters/store/store.hpp"
#include "apps/daemon/driver.hpp"
#include "apps/daemon/solver.hpp"

namespace vpp::daemon::test {

using namespace std::chrono_literals;

class FakeShell final : public Shell {
 public:
  std::set<std::string> served;            // site/asset keys that an adapter serves
  std::vector<Command> sent;                // commands handed to an adapter
  std::vector<Command> refused;             // commands no adapter serves
  std::vector<controller::SolveRequest> solves;

  Route send_command(const Command& c, std::string& why) override {
    if (served.count(c.site_id + "/" + c.asset_id)) {
      sent.push_back(c);
      return Route::mqtt;
    }
    refused.push_back(c);
    why = "no adapter serves " + c.site_id + "/" + c.asset_id;
    return Route::none;
  }
  void solve(const controller::SolveRequest& r) override { solves.push_back(r); }
};

inline std::filesystem::path temp_path(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("vpp-daemon-unit-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline std::unique_ptr<store::Store> open_store(const std::filesystem::path& dir) {
  auto s = store::Store::open({.path = (dir / "vpp.db").string()});
  if (!s) throw std::runtime_error(s.error());
  return std::move(*s);
}

// 1-minute intervals, 30-step horizon, baselines from history without adjustment.
inline controller::Settings settings() {
  controller::Settings s;
  s.interval = 1min;
  s.horizon_steps = 30;
  s.scheduling.control_tick = 1s;
  s.scheduling.resolve_period = 1min;
  s.scheduling.offline_after = 30s;
  s.commands.ttl = 30s;
  s.commands.refresh_before_expiry = 10s;
  s.commands.ack_timeout = 3s;
  s.commands.min_interval = 2s;
  s.baseline.high_x = 3;
  s.baseline.of_y = 5;
  s.baseline.adjustment = controller::BaselineSettings::Adjustment::none;
  return s;
}

inline Site site(const std::string& id = "s1") {
  Site s;
  s.id = id;
  s.name = "test site";
  s.latitude_deg = 39.9;
  s.longitude_deg = 116.4;
  s.assets.push_back(Asset{"battery", "battery", BatterySpec{500, 200, 200}});
  s.assets.push_back(Asset{"meter", "meter", SiteMeterSpec{}});
  return s;
}

// 2026-07-08 is a Wednesday.
inline TimePoint at(const char* utc) { return *parse_utc(utc); }

inline Telemetry meter(TimePoint t, double kw, const std::string& site_id = "s1") {
  return Telemetry{site_id, "meter", t, Quality::good, kw};
}
inline Telemetry battery(TimePoint t, double kw, double soc, const std::string& site_id = "s1") {
  Telemetry x{site_id, "battery", t, Quality::good, kw};
  x.soc_pct = soc;
  return x;
}

// Meter history one reading a minute at `kw` for the `days` days before `today_utc` (midnight).
inline void write_history(store::Store& st, TimePoint today_utc, double kw, int days, const std::string& site_id = "s1") {
  for (auto t = today_utc - std::chrono::days(days); t < today_utc; t += 1min) st.add_telemetry(meter(t, kw, site_id));
  ASSERT_TRUE(st.flush().ok());
}

}  // namespace vpp::daemon::test
