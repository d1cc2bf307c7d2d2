#pragma once
// The core driver: vppd's one owner of the controller core. It feeds the core every input with
// the time it is handled and carries out every output:
//   Command        -> the adapter serving the asset (Shell::send_command), audit log with the
//                     core's reason and context; unserved assets counted and alarmed once
//   SolveRequest   -> the solver worker (Shell::solve); its SolveResult comes back to on_solved
//   EventTransition-> store (transition, event record), kept for the API
//   EventReport    -> store (settlement per interval for the fleet and each site, baselines)
//   Alarm          -> log by severity, counted by code
//   AssetStatus, LeaseChange -> log, kept for the fleet view
// Telemetry the core accepts is rolled up in the store; acks are recorded in the audit log.
//
// Threading: not thread-safe. The daemon calls it from its event loop only (adapters hand their
// inputs over through the loop's inbox, the solver posts its results to the loop).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/inputs.hpp"
#include "adapters/store/store.hpp"
#include "controller/core.hpp"

namespace vpp::daemon {

enum class Route { mqtt, modbus, none };
std::string_view to_string(Route r);

// What the driver needs from the I/O around it: the daemon's adapters and solver worker, or a
// test's fake.
class Shell {
 public:
  virtual ~Shell() = default;
  // Hands a command to the adapter that serves its asset; `none` (with `why`) when none does.
  virtual Route send_command(const Command& c, std::string& why) = 0;
  // Starts a solve; its result must come back through CoreDriver::on_solved on the loop.
  virtual void solve(const controller::SolveRequest& r) = 0;
};

struct DriverCounters {
  std::uint64_t inputs = 0;
  std::map<std::string, std::uint64_t> commands_routed;   // by adapter: mqtt, modbus
  std::uint64_t commands_unserved = 0;
  std::uint64_t acks = 0;
  std::uint64_t telemetry_stored = 0;
  std::uint64_t device_online = 0;                        // DeviceStatus reports from adapters
  std::uint64_t device_offline = 0;
  std::uint64_t solves_ok = 0;
  std::uint64_t solves_failed = 0;
  double solve_seconds_sum = 0;
  double solve_seconds_last = 0;
  double solve_seconds_max = 0;
  std::map<std::string, std::uint64_t> alarms;            // by code
};

struct SiteTimes {
  TimePoint enrolled_at{};
  TimePoint updated_at{};
};

// A plan the core follows and the problem it solved (forecasts, limits: what the plan assumed).
struct AdoptedPlan {
  std::shared_ptr<const optimizer::Plan> plan;
  std::shared_ptr<const optimizer::Problem> problem;
};

// The latest status of an asset as adapters and the core reported it.
struct StatusNote {
  bool online = false;
  std::string reason;
  TimePoint time{};
};

class CoreDriver {
 public:
  // `store` may be null (nothing persisted: tests). `command_prefix` must differ between runs of
  // the daemon: devices treat a repeated command id as the same command.
  CoreDriver(const controller::Settings& settings, std::string command_prefix, store::Store* store, Shell& shell);

  // Feeds one input and carries out its outputs, which are returned too (the API backend reads
  // refusals from them).
  std::vector<controller::Output> feed(const controller::Input& in, TimePoint now);
  // Grid signals from any source; price and carbon series are also kept in the store, so a
  // restart plans with them.
  std::vector<controller::Output> signal(const GridSignal& g, TimePoint now);
  void on_adapter_input(const adapters::AdapterInput& in, TimePoint now);
  void on_solved(controller::SolveResult r, double seconds, TimePoint now);

  // Startup, in the order the core needs: sites (each config site, taking the stored version if
  // its limits were changed over the API; then sites enrolled over the API), meter history,
  // stored price and carbon series, then events with their state and opt-outs: `ended` ones
  // (recently completed, cancelled or rejected: so the API still lists them) and the live ones.
  // The last plans (still current) wait for resume_plans(); the restored events ask the core for
  // a fresh solve anyway. Returns a summary for the log.
  std::string restore(const std::vector<Site>& config_sites, const store::Restored& r,
                      const std::vector<controller::MeterHistory>& history, TimePoint now,
                      const std::vector<store::StoredEvent>& ended = {});

  // Hands the core the plans restore() found (the last plan of each planning group), once the
  // daemon runs and its adapters can carry the commands they produce (restore() runs before the
  // adapters exist). Returns how many the core took up; the fresh solves replace them.
  std::size_t resume_plans(TimePoint now);

  const controller::Core& core() const { return core_; }
  store::Store* store() const { return store_; }
  const DriverCounters& counters() const { return counters_; }
  const std::vector<controller::EventTransition>& transitions(const std::string& event_id) const;
  const std::map<std::string, SiteTimes>& site_times() const { return site_times_; }
  void set_site_times(const std::string& site_id, SiteTimes t) { site_times_[site_id] = t; }
  void forget_site_times(const std::string& site_id) { site_times_.erase(site_id); }
  std::optional<StatusNote> status(const std::string& site_id, const std::string& asset_id) const;
  // The plan each planning group follows (as adopted by the core), by group.
  const std::map<std::string, AdoptedPlan>& plans() const { return plans_; }
  // The planning group a site was last solved in ("fleet", "free", "event:<id>"), if any.
  const std::string* group_of(const std::string& site_id) const;
  const std::optional<PriceSeries>& prices() const { return prices_; }
  const std::optional<CarbonSeries>& carbon() const { return carbon_; }
  const std::set<std::string>& unserved_assets() const { return unserved_; }

  // Reserved keys of the store's opaque-blob table (store::StoredPlan) for the last series.
  static constexpr const char* kPricesKey = "signal:prices";
  static constexpr const char* kCarbonKey = "signal:carbon";
  // Format of the last adopted plan of each group, kept under the group's name (PlanRecord).
  static constexpr const char* kPlanFormat = "vpp.v1.PlanRecord/protobuf";

 private:
  void handle(controller::Output& o, TimePoint now);
  void on_command(const Command& c, TimePoint now);
  std::string context_json(const Command& c, TimePoint now) const;

  controller::Settings settings_;
  controller::Core core_;
  store::Store* store_;
  Shell& shell_;
  DriverCounters counters_;
  std::map<std::string, std::vector<controller::EventTransition>> transitions_;
  std::map<std::string, SiteTimes> site_times_;
  std::map<std::pair<std::string, std::string>, StatusNote> status_;
  std::map<std::uint64_t, AdoptedPlan> requests_;                  // solve request id -> problem
  std::map<std::uint64_t, std::string> request_group_;             // solve request id -> group
  std::map<std::string, std::string> site_group_;                  // site -> group of its last solve
  std::map<std::string, AdoptedPlan> plans_;
  std::optional<PriceSeries> prices_;
  std::optional<CarbonSeries> carbon_;
  std::set<std::string> unserved_;                                 // site/asset, alarmed once
  std::vector<controller::RestorePlan> restored_plans_;            // until resume_plans()
};

}  // namespace vpp::daemon
