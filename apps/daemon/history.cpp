#include "apps/daemon/history.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace vpp::daemon {
namespace {

TimePoint day_start(controller::LocalDay day, int utc_offset_minutes) {
  return TimePoint{day.time_since_epoch()} - std::chrono::minutes(utc_offset_minutes);
}

}  // namespace

std::vector<double> day_means(const std::vector<store::Rollup>& rollups, controller::LocalDay day, Duration interval,
                              int utc_offset_minutes) {
  const auto n = static_cast<std::size_t>(std::chrono::days(1) / interval);
  std::vector<double> sum(n, 0.0), count(n, 0.0);
  const TimePoint start = day_start(day, utc_offset_minutes);
  for (const auto& r : rollups) {
    if (r.start < start || r.count <= 0) continue;
    const auto k = static_cast<std::size_t>((r.start - start) / interval);
    if (k >= n) continue;
    sum[k] += r.mean_kw * static_cast<double>(r.count);
    count[k] += static_cast<double>(r.count);
  }
  std::vector<double> out(n, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t k = 0; k < n; ++k) {
    if (count[k] > 0) out[k] = sum[k] / count[k];
  }
  return out;
}

std::vector<controller::MeterHistory> meter_history(store::Store& store, const store::Restored& restored,
                                                    const std::vector<Site>& sites, const controller::Settings& s,
                                                    TimePoint now, int days, std::string* note) {
  std::vector<controller::MeterHistory> out;
  const Duration interval = s.interval;
  if (interval < std::chrono::minutes(1) || interval % std::chrono::minutes(1) != Duration::zero() ||
      std::chrono::days(1) % interval != Duration::zero()) {
    if (note) *note = "no meter history: the interval " + format_duration(interval) + " does not divide a day in whole minutes";
    return out;
  }
  // The coarsest roll-up that divides the interval: 15 minutes when it can, else 1 minute.
  const int resolution_s = interval % std::chrono::minutes(15) == Duration::zero() ? 900 : 60;
  const int off = s.utc_offset_minutes;
  const auto today = std::chrono::floor<std::chrono::days>(now + std::chrono::minutes(off));
  const auto first = today - std::chrono::days(days);
  // Today: only intervals that have ended (a partial interval would weigh as a whole one).
  const std::int64_t step = interval.count();
  const std::int64_t local_now = to_unix_ms(now) + static_cast<std::int64_t>(off) * 60'000;
  const TimePoint ended = from_unix_ms(local_now - ((local_now % step) + step) % step - static_cast<std::int64_t>(off) * 60'000);

  std::map<std::string, const store::MeterHistory*> eligibility;
  for (const auto& h : restored.meter_history) eligibility[h.site_id] = &h;
  for (const auto& site : sites) {
    const Asset* meter = nullptr;
    for (const auto& a : site.assets) {
      if (a.kind() == AssetKind::site_meter) meter = &a;
    }
    if (!meter) continue;
    const auto rows = store.rollups(site.id, meter->id, resolution_s, day_start(first, off), ended);
    if (rows.empty()) continue;
    for (auto d = first; d <= today; d += std::chrono::days(1)) {
      controller::MeterHistory h;
      h.site_id = site.id;
      h.day.day = std::chrono::sys_days(d);
      h.day.kw = day_means(rows, h.day.day, interval, off);
      if (std::none_of(h.day.kw.begin(), h.day.kw.end(), [](double v) { return !std::isnan(v); })) continue;
      // Weekends and the site's event days do not make baselines (the store knows the events).
      const unsigned wd = std::chrono::weekday(h.day.day).iso_encoding();
      h.day.eligible = wd <= 5;
      if (const auto it = eligibility.find(site.id); it != eligibility.end()) {
        for (const auto& p : it->second->days) {
          if (p.day == h.day.day) h.day.eligible = p.eligible;
        }
      }
      out.push_back(std::move(h));
    }
  }
  return out;
}

}  // namespace vpp::daemon
