#include "controller/baseline.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vpp::controller {
namespace {

// A reading is held until the next one, but never longer than this: a gap in telemetry leaves
// the interval partly uncovered rather than filled with a guess.
constexpr Duration kMaxHold = std::chrono::minutes(5);

bool complete(const DayProfile& d, int first, int last) {
  if (static_cast<int>(d.kw.size()) < last) return false;
  for (int i = first; i < last; ++i) {
    if (std::isnan(d.kw[static_cast<std::size_t>(i)])) return false;
  }
  return true;
}

double mean(const std::vector<double>& v, int first, int last) {
  double s = 0;
  for (int i = first; i < last; ++i) s += v[static_cast<std::size_t>(i)];
  return last > first ? s / (last - first) : 0;
}

double peak(const std::vector<double>& v) {
  double p = -INFINITY;
  for (double x : v) {
    if (!std::isnan(x)) p = std::max(p, x);
  }
  return p;
}

}  // namespace

std::optional<BaselineResult> compute_baseline(const std::vector<DayProfile>& history, const DayProfile& event_day,
                                               const BaselineRequest& req, const BaselineSettings& settings) {
  if (req.last_interval <= req.first_interval || settings.high_x <= 0 || settings.of_y < settings.high_x) {
    return std::nullopt;
  }
  // The Y most recent eligible, complete days before the event day.
  std::vector<const DayProfile*> pool;
  for (const auto& d : history) {
    if (d.day < event_day.day && d.eligible && complete(d, req.first_interval, req.last_interval)) pool.push_back(&d);
  }
  std::sort(pool.begin(), pool.end(), [](const DayProfile* a, const DayProfile* b) { return a->day > b->day; });
  if (pool.size() > static_cast<std::size_t>(settings.of_y)) pool.resize(static_cast<std::size_t>(settings.of_y));
  if (pool.empty()) return std::nullopt;

  BaselineResult r;
  if (pool.size() < static_cast<std::size_t>(settings.of_y)) {
    r.note = "only " + std::to_string(pool.size()) + " eligible days of " + std::to_string(settings.of_y);
  }
  auto score = [&](const DayProfile* d) {
    return req.ranking == BaselineRanking::daily_peak ? peak(d->kw) : mean(d->kw, req.first_interval, req.last_interval);
  };
  // Highest first; ties go to the more recent day (pool is most recent first, stable sort).
  std::stable_sort(pool.begin(), pool.end(), [&](const DayProfile* a, const DayProfile* b) { return score(a) > score(b); });
  const std::size_t x = std::min(pool.size(), static_cast<std::size_t>(settings.high_x));
  std::vector<const DayProfile*> chosen(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(x));
  std::sort(chosen.begin(), chosen.end(), [](const DayProfile* a, const DayProfile* b) { return a->day > b->day; });
  for (const auto* d : chosen) r.days_used.push_back(d->day);

  const int n = req.last_interval - req.first_interval;
  r.kw.assign(static_cast<std::size_t>(n), 0.0);
  for (const auto* d : chosen) {
    for (int i = 0; i < n; ++i) r.kw[static_cast<std::size_t>(i)] += d->kw[static_cast<std::size_t>(req.first_interval + i)];
  }
  for (auto& v : r.kw) v /= static_cast<double>(chosen.size());

  // Same-day adjustment from the event day's own load before the event.
  using Adj = BaselineSettings::Adjustment;
  if (settings.adjustment != Adj::none && req.adjust_last > req.adjust_first && req.adjust_first >= 0) {
    bool ok = complete(event_day, req.adjust_first, req.adjust_last);
    double base_window = 0;
    for (const auto* d : chosen) {
      ok = ok && complete(*d, req.adjust_first, req.adjust_last);
      if (ok) base_window += mean(d->kw, req.adjust_first, req.adjust_last);
    }
    if (ok) {
      base_window /= static_cast<double>(chosen.size());
      const double actual = mean(event_day.kw, req.adjust_first, req.adjust_last);
      if (settings.adjustment == Adj::multiplicative && base_window > 0) {
        r.adjustment = std::clamp(actual / base_window, 1 - settings.adjustment_cap, 1 + settings.adjustment_cap);
        for (auto& v : r.kw) v *= r.adjustment;
      } else if (settings.adjustment == Adj::additive) {
        const double level = std::fabs(base_window);
        r.adjustment = std::clamp(actual - base_window, -settings.adjustment_cap * level, settings.adjustment_cap * level);
        for (auto& v : r.kw) v += r.adjustment;
      }
    } else {
      r.note += std::string(r.note.empty() ? "" : "; ") + "no same-day adjustment: load before the event not measured";
    }
  }
  return r;
}

LocalDay IntervalMeter::local_day(TimePoint t) const {
  return std::chrono::floor<std::chrono::days>(t + std::chrono::minutes(utc_offset_));
}

int IntervalMeter::interval_of_day(TimePoint t) const {
  const auto local = t + std::chrono::minutes(utc_offset_);
  return static_cast<int>((local - std::chrono::floor<std::chrono::days>(local)) / interval_);
}

TimePoint IntervalMeter::interval_start(LocalDay d, int index) const {
  return TimePoint{d.time_since_epoch()} + interval_ * index - std::chrono::minutes(utc_offset_);
}

void IntervalMeter::add(TimePoint t, double kw) {
  if (!std::isfinite(kw)) return;
  if (last_ && t <= last_->first) return;  // out of order: already accounted for
  if (last_) {
    TimePoint from = last_->first;
    const TimePoint to = std::min(t, from + kMaxHold);
    const double v = last_->second;
    while (from < to) {
      const auto start_ms = to_unix_ms(from) - ((to_unix_ms(from) + utc_offset_ * 60'000LL) % interval_.count() +
                                               interval_.count()) % interval_.count();
      const TimePoint bucket_end = from_unix_ms(start_ms) + interval_;
      const TimePoint seg_end = std::min(to, bucket_end);
      auto& a = acc_[start_ms];
      const double ms = static_cast<double>((seg_end - from).count());
      a.kw_ms += v * ms;
      a.ms += ms;
      from = seg_end;
    }
  }
  last_ = {t, kw};
}

std::optional<double> IntervalMeter::average(TimePoint interval_start) const {
  const auto it = acc_.find(to_unix_ms(interval_start));
  if (it == acc_.end() || it->second.ms <= 0) return std::nullopt;
  return it->second.kw_ms / it->second.ms;
}

DayProfile IntervalMeter::day(LocalDay d) const {
  DayProfile p;
  p.day = d;
  const int n = intervals_per_day();
  p.kw.assign(static_cast<std::size_t>(n), NAN);
  for (int i = 0; i < n; ++i) {
    if (auto v = average(interval_start(d, i))) p.kw[static_cast<std::size_t>(i)] = *v;
  }
  const std::chrono::weekday wd{d};
  p.eligible = wd != std::chrono::Saturday && wd != std::chrono::Sunday;
  return p;
}

std::vector<LocalDay> IntervalMeter::days() const {
  std::vector<LocalDay> out;
  for (const auto& [ms, acc] : acc_) {
    const auto d = local_day(from_unix_ms(ms));
    if (out.empty() || out.back() != d) out.push_back(d);
  }
  return out;
}

void IntervalMeter::set_day(const DayProfile& p) {
  for (std::size_t i = 0; i < p.kw.size(); ++i) {
    if (std::isnan(p.kw[i])) continue;
    auto& a = acc_[to_unix_ms(interval_start(p.day, static_cast<int>(i)))];
    a.ms = static_cast<double>(interval_.count());
    a.kw_ms = p.kw[i] * a.ms;
  }
}

void IntervalMeter::prune_before(LocalDay d) {
  const auto cutoff = to_unix_ms(interval_start(d, 0));
  acc_.erase(acc_.begin(), acc_.lower_bound(cutoff));
}

}  // namespace vpp::controller
