#pragma once
// Tunables of the controller core. Defaults suit a fleet of commercial buildings whose devices
// report every 10-60 s. The struct lives here, header-only and free of YAML, so the loader can
// fill it (read_controller_settings in config.hpp) without config depending on the controller
// library, and the pure core can include it without pulling in yaml-cpp.
#include <chrono>

#include "model/time.hpp"

namespace vpp::controller {

using namespace std::chrono_literals;

struct GatingSettings {
  Duration max_clock_skew = 30s;        // telemetry stamped further in the future is rejected
  Duration max_age = 10min;             // older telemetry is rejected as stale on arrival
  double rating_margin = 1.15;          // |P| beyond rating x margin is physically impossible
  double soc_jump_tolerance_pct = 2.0;  // SoC change beyond what |P| explains, plus this
  int frozen_reports = 20;              // identical non-zero readings in a row => frozen
};

struct CommandSettings {
  Duration ttl = 20min;                 // every command expires; devices revert to their default
  Duration refresh_before_expiry = 5min;
  Duration min_interval = 10s;          // per-asset rate limit
  Duration ack_timeout = 15s;
  int max_retries = 3;                  // re-sends of an unacknowledged command
  double deadband_kw = 1.0;             // changes smaller than this are not re-sent
  double deadband_c = 0.1;
  double deadband_pct = 1.0;
  double max_setpoint_offset_c = 4.0;   // BMSs accept demand-response resets of a few K
};

struct PlanningSettings {
  double carbon_price_per_kg = 0.06;        // China ETS ~60 CNY/t
  double shortfall_penalty_per_kwh = 50.0;  // missing an event costs far more than any energy
  // Plans aim this much beyond the requested reduction, so they set flexibility aside for when
  // buildings give less than the plan's model expects (the allocator aims at its own margin).
  double delivery_margin = 0.10;
  double comfort_penalty_per_kw_kh = 2.0;   // per degC-hour outside the band, per kW of HVAC rating
  double curtail_cost_per_kwh = 1.5;        // value of shed flexible load
  double unoccupied_comfort_relax_c = 4.0;  // comfort band widened by this outside occupancy
  // Share of a zone's enrolled heat capacity the planner counts on. A thermostat controls the
  // air; the building mass behind it follows with a time constant of hours (ISO 13790 5R1C:
  // h_ms = 9.1 W/(m2 K) x A_m against 110-260 kJ/(K m2) gives 1-3 h), so over the 15-minute to
  // 2-hour moves a plan makes only part of the mass takes part.
  double zone_capacitance_factor = 0.4;
  // Around an event, keep the group's import under the highest it would draw left alone, so
  // preparing for the event (pre-cooling, recharging) does not make a new peak.
  bool peak_guard = true;
  Duration solve_timeout = std::chrono::minutes(2);  // re-request if no result by then
};

struct AllocatorSettings {
  double deadband_fraction = 0.01;      // of the requested reduction, below which deviation is ignored
  double deadband_min_kw = 5.0;
  double gain = 0.7;                    // share of the measured deviation corrected per step
  double delivery_margin = 0.02;        // aim this much beyond the requested reduction
  Duration settle_time = 2min;          // wait after a correction before judging its effect
  double battery_cost_per_kwh = 0.05;   // merit order: wear cost of cycling
  double comfort_cost_per_c = 0.5;      // merit order: cost per degC of comfort margin used
  // A power cap must leave a zone inside its comfort margin for at least this long: a released
  // plant takes minutes to pull the air back, so shorter would overshoot.
  Duration hvac_hold = std::chrono::minutes(15);
};

struct SchedulingSettings {
  Duration control_tick = 30s;
  Duration resolve_period = 15min;
  Duration offline_after = 5min;        // no accepted telemetry for this long => offline
  double deviation_resolve_fraction = 0.15;  // |measured - plan| / plan beyond this...
  Duration deviation_resolve_after = 10min;  // ...for this long => re-solve
  int rebound_stages = 3;               // loads released in this many groups after an event
  Duration rebound_stage_gap = 10min;
  Duration precondition_window = 2h;    // how long before an event pre-cooling may start
};

struct BaselineSettings {
  int high_x = 5;                       // Beijing 2015: the 5 highest...
  int of_y = 10;                        // ...of the last 10 eligible weekdays
  enum class Adjustment { none, additive, multiplicative } adjustment = Adjustment::multiplicative;
  Duration adjustment_window = 2h;      // ending `adjustment_gap` before the event
  Duration adjustment_gap = 1h;
  double adjustment_cap = 0.2;          // multiplicative factor limited to [0.8, 1.2]
};

struct Settings {
  GatingSettings gating;
  CommandSettings commands;
  AllocatorSettings allocator;
  SchedulingSettings scheduling;
  BaselineSettings baseline;
  PlanningSettings planning;
  Duration interval = 15min;            // settlement and planning interval
  int horizon_steps = 96;
  int utc_offset_minutes = 0;           // local time of the fleet
};

}  // namespace vpp::controller
