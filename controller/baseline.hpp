#pragma once
// Customer baselines and settlement, the figures a utility pays on.
//
// Baseline: "high X of Y" — from the Y most recent eligible days before the event day (working
// days without an event of their own), take the X with the highest load (ranked by their mean
// over the event window, as NYISO's CBL, or by their daily peak, as Beijing's 2015 pilot: "take
// the 10 working days ... pick the 5 with the highest daily peak, average their load over the
// event window"), and average them interval by interval. A same-day adjustment then scales
// (or shifts) that average so it matches the day's own load in a window before the event
// (Jiangsu 2015; most US programmes), within a cap.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/controller_settings.hpp"
#include "model/time.hpp"

namespace vpp::controller {

using LocalDay = std::chrono::sys_days;  // a calendar day in the fleet's local time

// Average measured load per interval of one local day (NaN where nothing was measured).
struct DayProfile {
  LocalDay day{};
  bool eligible = true;   // false for weekends, holidays and days with an event of their own
  std::vector<double> kw;
};

enum class BaselineRanking { event_window_mean, daily_peak };

struct BaselineRequest {
  int first_interval = 0;        // event window [first, last) as interval indices of the day
  int last_interval = 0;
  BaselineRanking ranking = BaselineRanking::event_window_mean;
  // Adjustment window [first, last) on the event day itself; empty = no adjustment.
  int adjust_first = 0;
  int adjust_last = 0;
};

struct BaselineResult {
  std::vector<double> kw;              // per interval of the event window
  std::vector<LocalDay> days_used;     // the high X days, most recent first
  double adjustment = 1.0;             // multiplicative factor (or additive kW) applied
  std::string note;                    // e.g. "only 3 eligible days of 10"
};

// `history` holds earlier days, any order; `event_day` is the day of the event (its intervals
// before the event feed the adjustment). Days with missing values in the window are skipped.
std::optional<BaselineResult> compute_baseline(const std::vector<DayProfile>& history, const DayProfile& event_day,
                                               const BaselineRequest& req, const BaselineSettings& settings);

// Accumulates interval averages of a power signal from irregular samples (sample-and-hold
// weighted by time within each interval) and keeps whole days.
class IntervalMeter {
 public:
  IntervalMeter(Duration interval, int utc_offset_minutes) : interval_(interval), utc_offset_(utc_offset_minutes) {}

  void add(TimePoint t, double kw);
  // Average kW over the interval starting at `start` (UTC), if anything was measured in it.
  std::optional<double> average(TimePoint interval_start) const;
  // One local day's profile (NaN where nothing was measured).
  DayProfile day(LocalDay d) const;
  std::vector<LocalDay> days() const;
  void set_day(const DayProfile& p);  // loads history (e.g. from the store or a simulation)
  int intervals_per_day() const { return static_cast<int>(std::chrono::days(1) / interval_); }
  LocalDay local_day(TimePoint t) const;
  int interval_of_day(TimePoint t) const;
  TimePoint interval_start(LocalDay d, int index) const;
  void prune_before(LocalDay d);

 private:
  struct Acc {
    double kw_ms = 0;    // integral of kW over milliseconds
    double ms = 0;       // milliseconds covered
  };
  Duration interval_;
  int utc_offset_;
  std::map<std::int64_t, Acc> acc_;      // key: interval start in unix ms
  std::optional<std::pair<TimePoint, double>> last_;
};

// Per interval settlement of one site (or the fleet) for one event.
struct SettlementInterval {
  TimePoint start{};
  double requested_kw = 0;     // the reduction asked of this site/fleet
  double baseline_kw = 0;
  double metered_kw = 0;
  double delivered_kw = 0;     // baseline - metered
  double ratio = 0;            // delivered / requested (0 when nothing was requested)

  bool operator==(const SettlementInterval&) const = default;
};

}  // namespace vpp::controller
