#pragma once
// The controller core: a deterministic state machine. `outputs = core.handle(input, now)`.
//
// It never reads a clock, a socket, a file or spawns a thread: the shell (vppd with a real clock,
// vppsim on a virtual one, replay from a recording) feeds it inputs with their time and carries
// out its outputs. Solving is an output too (SolveRequest); the shell runs the optimizer where it
// likes and hands the plan back as a SolveResult input, so a slow solve never delays commands.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "config/controller_settings.hpp"
#include "controller/baseline.hpp"
#include "controller/commands.hpp"
#include "controller/events.hpp"
#include "controller/fleet.hpp"
#include "controller/leases.hpp"
#include "model/messages.hpp"
#include "model/site.hpp"
#include "optimizer/plan.hpp"
#include "optimizer/problem.hpp"

namespace vpp::controller {

// ------------------------------------------------------------------------------------- inputs

// Exogenous forecasts over the planning horizon, from the shell's forecaster (in the simulator,
// the scenario's weather and load model; in vppd, a forecast provider). Every series has one
// value per interval starting at `start`. Missing series fall back to persistence of the last
// measurement.
struct SiteForecast {
  std::vector<double> base_load_kw;                        // consumption not modelled as an asset
  std::map<std::string, std::vector<double>> pv_kw;        // per PV asset: available AC power
  std::map<std::string, std::vector<double>> gains_kw;     // per HVAC zone: solar + internal gains
  std::map<std::string, std::vector<double>> flexible_kw;  // per flexible load: its consumption
  std::vector<std::uint8_t> occupied;                      // comfort applies where 1 (empty: always)
  std::vector<std::uint8_t> hvac_available;                // the plant may run where 1 (empty: always)
};

struct Forecast {
  TimePoint start{};
  Duration step{};
  int steps = 0;
  std::vector<double> outdoor_temp_c;
  std::map<std::string, SiteForecast> sites;
};

struct EnrolSite {
  Site site;
};
struct UnenrolSite {
  std::string site_id;
};
struct OptOut {
  std::string event_id;
  std::string site_id;
};
struct LeaseRequest {
  std::string site_id;
  std::string asset_id;
  Lease lease;
  std::optional<SetpointKind> kind;  // a manual setpoint sent on the holder's behalf
  double value = 0;
};
struct LeaseRelease {
  std::string site_id;
  std::string asset_id;
  std::string owner;
};
struct Tick {};
struct SolveResult {
  std::uint64_t request_id = 0;
  std::shared_ptr<const optimizer::Plan> plan;  // null when the solve failed
  std::string error;
};
struct ForecastUpdate {
  std::shared_ptr<const Forecast> forecast;
};
// A day of metered site load from before the core started (baselines need history).
struct MeterHistory {
  std::string site_id;
  DayProfile day;
};

// An event exactly as the store kept it (state, opt-outs, revision), when vppd restarts. No
// transitions are produced; an event that should have moved on while vppd was down moves at
// the next input, with the time it really is.
struct RestoreEvent {
  EventRecord record;
};

// The last plan a planning group followed, when vppd restarts (after its sites and events are
// restored). Adopted only if the group exists again, has no plan yet and the plan's horizon has
// not run out; the fresh solve the restored events ask for replaces it. Until then the fleet is
// dispatched from it (and the allocator corrects around it) instead of from headroom alone.
struct RestorePlan {
  std::string group;
  std::shared_ptr<const optimizer::Plan> plan;
};

using Input = std::variant<Telemetry, CommandAck, GridSignal, EnrolSite, UnenrolSite, OptOut, LeaseRequest,
                           LeaseRelease, Tick, SolveResult, ForecastUpdate, MeterHistory, RestoreEvent, RestorePlan>;

// ------------------------------------------------------------------------------------ outputs

struct SolveRequest {
  std::uint64_t id = 0;
  std::string group;                          // "fleet", "free" or "event:<id>"
  std::shared_ptr<const optimizer::Problem> problem;
  std::vector<double> warm_prices;            // coordination prices of the last plan, shifted
  std::string reason;                         // what triggered it
};

enum class Severity { info, warning, error };
std::string_view to_string(Severity s);

struct Alarm {
  Severity severity = Severity::warning;
  std::string code;       // stable, e.g. "telemetry_gated", "asset_offline", "command_rejected"
  std::string subject;    // site/asset, event id, ...
  std::string message;

  bool operator==(const Alarm&) const = default;
};

struct AssetStatus {
  std::string site_id;
  std::string asset_id;
  bool online = false;
  std::string reason;

  bool operator==(const AssetStatus&) const = default;
};

// An interval is settled once it has ended and its last meter readings had time to arrive: the
// core's own EventReport outputs include it this long after its end. Before that, a reading
// lost or late at the interval's boundary still changes its mean (sample and hold).
inline constexpr Duration kSettlementGrace = std::chrono::minutes(2);

// Settlement of one event: per interval for the fleet and for each participating site.
struct EventReport {
  std::string event_id;
  bool final = false;                         // true once the event has ended
  std::vector<SettlementInterval> fleet;
  std::map<std::string, std::vector<SettlementInterval>> sites;
  double requested_kwh = 0;
  double delivered_kwh = 0;
  double min_interval_ratio = 0;
  std::string baseline_method;                // e.g. "high 5 of 10, multiplicative adjustment"
  std::vector<std::string> notes;

  bool operator==(const EventReport&) const = default;
};

using Output = std::variant<Command, SolveRequest, EventTransition, EventReport, Alarm, LeaseChange, AssetStatus>;

// ---------------------------------------------------------------------------------------- core

struct CoreCounters {
  std::uint64_t telemetry_accepted = 0;
  std::uint64_t telemetry_rejected = 0;
  std::uint64_t commands_sent = 0;
  std::uint64_t commands_resent = 0;
  std::uint64_t commands_clamped = 0;
  std::uint64_t acks_unknown = 0;
  std::uint64_t signals_rejected = 0;
  std::uint64_t solves_requested = 0;
  std::uint64_t plans_adopted = 0;
  std::uint64_t plans_discarded = 0;
  std::uint64_t plans_restored = 0;
};

class Core {
 public:
  explicit Core(Settings settings, std::string command_id_prefix = "c");
  ~Core();
  Core(Core&&) noexcept;
  Core& operator=(Core&&) noexcept;

  std::vector<Output> handle(const Input& input, TimePoint now);

  // Introspection, for the shells (metrics, API) and for engineers stepping through a replay.
  const Fleet& fleet() const;
  const EventBook& events() const;
  const LeaseTable& leases() const;
  const CoreCounters& counters() const;
  const Settings& settings() const;
  // Live settlement of an event (interim while it runs): every interval that has ended by `now`,
  // including the last one, whose meter readings may not all have arrived yet (see
  // kSettlementGrace for when an interval's figures are final).
  std::optional<EventReport> report(const std::string& event_id, TimePoint now) const;
  // Fleet import target at `now` for the given group ("fleet" by default), if an event applies.
  std::optional<double> target_kw(TimePoint now) const;
  // The reduction the enrolled sites' own readings show the plant's control gives now (what the
  // allocator steers a reduction event by): battery discharge, PV curtailment, curtailed load,
  // and the heat the zones under command hold beyond their default setpoints. kW.
  double measured_reduction_kw(TimePoint now) const;
  // Human-readable state: events, plan, targets, per-asset setpoints and why.
  std::string describe(TimePoint now) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpp::controller
