#pragma once
// `vppsim serve`: the scenario's simulated fleet, run on a wall clock scaled by a factor and
// exposed as real devices that a real vppd talks to (DESIGN.md: "device emulators that speak
// real MQTT and Modbus to a real vppd"):
//   - a Sparkplug B 3.0 edge node per site (NBIRTH/DBIRTH, DDATA by exception with a periodic
//     refresh, NDEATH as the Will with bdSeq, seq over every message, DCMD with acks as DDATA,
//     rebirth on NCMD), exactly as adapters/mqtt/README.md describes the host's side;
//   - JSON MQTT devices (`{prefix}/{site}/{asset}/telemetry|cmd|ack`, protobuf JSON), one
//     connection for all of them, repeated command ids answered with the first ack;
//   - SunSpec Modbus TCP servers for PV and battery inverters (sunspec_server.hpp), whose control
//     writes become commands on the simulated asset and revert when their timers run out.
//
// Time. The fleet steps in scenario time. Serving starts at the scenario's start (or, with
// start_at_now, at the scenario time whose local time of day is the current one, reached by
// stepping the physics unpaced), and each step is computed when the wall clock reaches its end:
// scenario time = t0 + factor x (wall - wall0), a virtual-time loop that sleeps to stay in step
// (and steps without sleeping when behind). Commands that arrive during a step act within it,
// at their arrival time plus the device's response delay, as in the scenario runner.
// Device clocks: messages are stamped with scenario time plus a shift, 0 for start_at scenario
// and "now minus t0" for start_at now, so that with factor 1 devices report the real time and
// a vppd on the system clock accepts their telemetry. Commands' times are read back the same way.
//
// Threads: the simulation thread (run()) owns the fleet; Paho's callback threads and the Modbus
// server thread post closures to it through a queue, so the physics needs no locks.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/result.hpp"
#include "sim/emulators/serve_plan.hpp"
#include "sim/fleet.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim::emulators {

struct ServeOptions {
  double clock_factor = 1;              // scenario seconds per wall second
  std::string broker_url;               // needed when any site is served over MQTT
  int modbus_base_port = 1502;
  std::string modbus_host = "127.0.0.1";
  std::optional<Duration> duration;     // scenario time to serve; default the scenario's duration
  bool start_at_now = false;
  std::optional<Duration> time_of_day;  // with start_at_now: this local time of day, not now's
  double initial_soc_pct = 50;
};

struct ServeStats {
  std::uint64_t steps = 0;
  std::uint64_t late_steps = 0;          // computed after their wall deadline had passed
  std::uint64_t telemetry_messages = 0;  // JSON telemetry and Sparkplug DDATA
  std::uint64_t births = 0;              // NBIRTH + DBIRTH
  std::uint64_t commands = 0;            // MQTT commands applied (not repeats)
  std::uint64_t repeated_commands = 0;
  std::uint64_t rejected_messages = 0;   // undecodable or misaddressed
  std::uint64_t modbus_controls = 0;     // control changes from Modbus writes
  std::uint64_t modbus_reverts = 0;
  std::uint64_t modbus_requests = 0;
};

class Emulator {
 public:
  static Result<std::unique_ptr<Emulator>> create(const Scenario& sc, const ServeOptions& opt);
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  // Warm-up, then serves until the duration is over or stop() is called. `on_ready` runs once
  // every server is up and the first telemetry exists (births may still be in flight).
  Result<bool> run(const std::function<void()>& on_ready = {});
  // Async-signal-safe: only sets a flag that the loop checks at least every 100 ms.
  void stop();

  const ServePlan& plan() const;
  const std::vector<Site>& sites() const;
  // Scenario time of the step being served (t0 before serving starts).
  TimePoint scenario_time() const;
  // The shift from scenario time to device timestamps.
  Duration stamp_shift() const;
  ServeStats stats() const;
  // Runs `f` on the simulation thread between steps and waits for it; false when the loop did
  // not run it within `timeout` (not serving).
  bool with_fleet(const std::function<void(const FleetModel&)>& f, Duration timeout = std::chrono::seconds(5));

  struct State;

 private:
  explicit Emulator(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace vpp::sim::emulators
