#include "sim/signals.hpp"

#include <algorithm>
#include <chrono>
#include <map>

namespace vpp::sim {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : (a - b + 1) / b; }

}  // namespace

TariffBand tariff_band(const TariffConfig& t, TimePoint time, int utc_offset_minutes) {
  const std::int64_t local_ms = to_unix_ms(time) + utc_offset_minutes * kMinuteMs;
  const std::int64_t day = floor_div(local_ms, kDayMs);
  const int minute = static_cast<int>((local_ms - day * kDayMs) / kMinuteMs);
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  const int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  for (const auto& s : t.sharp) {
    const bool in_month = s.months.empty() || std::find(s.months.begin(), s.months.end(), month) != s.months.end();
    if (in_month && minute >= s.start_minute && minute < s.end_minute) return TariffBand::sharp;
  }
  return t.base[static_cast<std::size_t>(minute / 15)];
}

double import_price(const TariffConfig& t, TimePoint time, int utc_offset_minutes) {
  if (!t.defined) return 0;
  return t.price[static_cast<std::size_t>(tariff_band(t, time, utc_offset_minutes))];
}

PriceSeries make_price_series(const TariffConfig& t, TimePoint start, TimePoint end, int utc_offset_minutes) {
  PriceSeries ps;
  ps.currency = t.currency;
  ps.interval = std::chrono::minutes(15);
  for (TimePoint x = start; x < end; x += ps.interval) {
    ps.import_price.push_back({x, import_price(t, x, utc_offset_minutes)});
    ps.export_price.push_back({x, t.export_price});
  }
  return ps;
}

CarbonSeries make_carbon_series(const CarbonConfig& c, TimePoint start, TimePoint end, Duration step,
                                int utc_offset_minutes, std::span<const double> load_kw, std::span<const double> ghi) {
  CarbonSeries cs;
  cs.interval = std::chrono::hours(1);
  const std::int64_t off = utc_offset_minutes * kMinuteMs;
  // Points at local hour starts; the first at `start`.
  std::vector<TimePoint> hours;
  for (std::int64_t ms = to_unix_ms(start); ms < to_unix_ms(end);) {
    hours.push_back(from_unix_ms(ms));
    const std::int64_t local = ms + off;
    ms = (floor_div(local, kHourMs) + 1) * kHourMs - off;
  }
  auto local_hour = [&](TimePoint t) {
    const std::int64_t local = to_unix_ms(t) + off;
    return static_cast<int>((local - floor_div(local, kDayMs) * kDayMs) / kHourMs);
  };
  if (c.method == CarbonConfig::Method::constant) {
    for (auto h : hours) cs.intensity_kg_per_kwh.push_back({h, c.kg_per_kwh});
    return cs;
  }
  if (c.method == CarbonConfig::Method::hourly) {
    for (auto h : hours) cs.intensity_kg_per_kwh.push_back({h, c.hourly[static_cast<std::size_t>(local_hour(h))]});
    return cs;
  }
  // Derived: hourly means of load and GHI per local day, from the per-step inputs.
  struct HourAcc {
    double load = 0, ghi = 0;
    int n = 0;
  };
  std::vector<HourAcc> acc(hours.size());
  const std::size_t steps = std::min(load_kw.size(), ghi.size());
  std::size_t hi = 0;
  for (std::size_t k = 0; k < steps; ++k) {
    const TimePoint t = start + step * static_cast<std::int64_t>(k);
    while (hi + 1 < hours.size() && t >= hours[hi + 1]) ++hi;
    acc[hi].load += load_kw[k];
    acc[hi].ghi += ghi[k];
    ++acc[hi].n;
  }
  std::map<std::int64_t, std::vector<std::size_t>> days;  // local day -> hour indices
  for (std::size_t i = 0; i < hours.size(); ++i) days[floor_div(to_unix_ms(hours[i]) + off, kDayMs)].push_back(i);
  std::vector<double> ef(hours.size(), c.kg_per_kwh);
  for (const auto& [day, idx] : days) {
    double load_sum = 0, ghi_sum = 0;
    for (auto i : idx) {
      const double n = std::max(1, acc[i].n);
      load_sum += acc[i].load / n;
      ghi_sum += acc[i].ghi / n;
    }
    if (load_sum <= 0) continue;
    const double clean_total = (1.0 - c.kg_per_kwh / c.ef_fossil) * load_sum;
    const double solar_share = ghi_sum > 0 ? c.solar_share_of_clean : 0.0;
    for (auto i : idx) {
      const double n = std::max(1, acc[i].n);
      const double load = acc[i].load / n;
      const double clean = clean_total * ((1.0 - solar_share) / static_cast<double>(idx.size()) +
                                          (ghi_sum > 0 ? solar_share * (acc[i].ghi / n) / ghi_sum : 0.0));
      ef[i] = load > 0 ? std::clamp(c.ef_fossil * (1.0 - clean / load), 0.0, c.ef_fossil) : c.kg_per_kwh;
    }
  }
  for (std::size_t i = 0; i < hours.size(); ++i) cs.intensity_kg_per_kwh.push_back({hours[i], ef[i]});
  return cs;
}

}  // namespace vpp::sim
