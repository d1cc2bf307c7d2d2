#include "controller/baseline.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "fixtures.hpp"

namespace vpp::controller {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

// 2026-07-07 is a Tuesday.
const LocalDay event_day = sys_days{year{2026} / July / 7};

DayProfile flat_day(LocalDay d, double kw, bool eligible = true) {
  return DayProfile{d, eligible, std::vector<double>(96, kw)};
}

// The n working days before the event day, with loads 109, 108, ... (most recent highest).
std::vector<DayProfile> ten_working_days(std::size_t n = 10) {
  std::vector<DayProfile> h;
  LocalDay d = event_day;
  std::vector<LocalDay> days;
  while (days.size() < n) {
    d -= std::chrono::days{1};
    const weekday wd{d};
    if (wd != Saturday && wd != Sunday) days.push_back(d);
  }
  for (std::size_t i = 0; i < days.size(); ++i) h.push_back(flat_day(days[i], 109.0 - static_cast<double>(i)));
  return h;
}

BaselineRequest window_14_to_16() {
  BaselineRequest r;
  r.first_interval = 56;  // 14:00
  r.last_interval = 64;   // 16:00
  r.adjust_first = 44;    // 11:00 - 13:00
  r.adjust_last = 52;
  return r;
}

TEST(Baseline, HighFiveOfTenAveragesTheFiveHighestDays) {
  BaselineSettings s;
  s.adjustment = BaselineSettings::Adjustment::none;
  auto r = compute_baseline(ten_working_days(), flat_day(event_day, 0), window_14_to_16(), s);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->kw.size(), 8u);
  for (double v : r->kw) EXPECT_DOUBLE_EQ(v, (109 + 108 + 107 + 106 + 105) / 5.0);
  ASSERT_EQ(r->days_used.size(), 5u);
  EXPECT_EQ(r->days_used.front(), event_day - std::chrono::days{1});  // Monday 6 July
  EXPECT_TRUE(r->note.empty());
}

TEST(Baseline, SkipsIneligibleIncompleteAndOlderDays) {
  auto h = ten_working_days(12);      // 109 ... 98
  h[0].eligible = false;              // the day before had its own event: 109 is not used
  h[1].kw[60] = NAN;                  // 108 has a hole in the window
  h.push_back(flat_day(event_day - std::chrono::days{40}, 500));  // older than the 10 most recent
  BaselineSettings s;
  s.adjustment = BaselineSettings::Adjustment::none;
  auto r = compute_baseline(h, flat_day(event_day, 0), window_14_to_16(), s);
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->kw[0], (107 + 106 + 105 + 104 + 103) / 5.0);
  EXPECT_EQ(r->note, "");  // 10 eligible days remain (107 ... 98); the 500 kW day is older
}

TEST(Baseline, ReportsFewEligibleDays) {
  auto h = ten_working_days();
  h.resize(3);
  BaselineSettings s;
  s.adjustment = BaselineSettings::Adjustment::none;
  auto r = compute_baseline(h, flat_day(event_day, 0), window_14_to_16(), s);
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->kw[0], 108);
  EXPECT_EQ(r->note, "only 3 eligible days of 10");
  EXPECT_FALSE(compute_baseline({}, flat_day(event_day, 0), window_14_to_16(), s));
}

TEST(Baseline, SameDayAdjustmentScalesWithinItsCap) {
  BaselineSettings s;  // multiplicative, cap 20 %
  auto today = flat_day(event_day, 0);
  for (int i = 44; i < 52; ++i) today.kw[static_cast<std::size_t>(i)] = 107 * 1.1;
  auto r = compute_baseline(ten_working_days(), today, window_14_to_16(), s);
  ASSERT_TRUE(r);
  EXPECT_NEAR(r->adjustment, 1.1, 1e-12);
  EXPECT_NEAR(r->kw[0], 107 * 1.1, 1e-9);
  for (int i = 44; i < 52; ++i) today.kw[static_cast<std::size_t>(i)] = 300;
  r = compute_baseline(ten_working_days(), today, window_14_to_16(), s);
  EXPECT_NEAR(r->adjustment, 1.2, 1e-12);
  s.adjustment = BaselineSettings::Adjustment::additive;
  for (int i = 44; i < 52; ++i) today.kw[static_cast<std::size_t>(i)] = 112;
  r = compute_baseline(ten_working_days(), today, window_14_to_16(), s);
  EXPECT_NEAR(r->adjustment, 5, 1e-12);
  EXPECT_NEAR(r->kw[3], 112, 1e-9);
}

TEST(Baseline, DailyPeakRankingPicksPeakyDays) {
  auto h = ten_working_days();
  // The lowest-load day has a huge morning peak outside the window.
  h[9].kw[40] = 1000;
  BaselineSettings s;
  s.adjustment = BaselineSettings::Adjustment::none;
  s.high_x = 1;
  auto req = window_14_to_16();
  auto by_window = compute_baseline(h, flat_day(event_day, 0), req, s);
  req.ranking = BaselineRanking::daily_peak;
  auto by_peak = compute_baseline(h, flat_day(event_day, 0), req, s);
  EXPECT_DOUBLE_EQ(by_window->kw[0], 109);
  EXPECT_DOUBLE_EQ(by_peak->kw[0], 100);
}

TEST(IntervalMeter, TimeWeightedAveragesPerInterval) {
  IntervalMeter m(15min, 480);
  const TimePoint start = *parse_utc("2026-07-07T14:00:00+08:00");
  m.add(start, 100);
  m.add(start + 5min, 200);
  m.add(start + 10min, 200);
  m.add(start + 15min, 50);   // closes the first interval
  m.add(start + 16min, 50);
  EXPECT_NEAR(*m.average(start), (100 * 5 + 200 * 10) / 15.0, 1e-9);
  EXPECT_EQ(m.local_day(start), event_day);
  EXPECT_EQ(m.interval_of_day(start), 56);
  EXPECT_EQ(m.interval_start(event_day, 56), start);
  const auto d = m.day(event_day);
  EXPECT_NEAR(d.kw[56], 166.666666666, 1e-6);
  EXPECT_TRUE(std::isnan(d.kw[55]));
  EXPECT_TRUE(d.eligible);
}

TEST(IntervalMeter, GapsAreNotFilledBeyondFiveMinutes) {
  IntervalMeter m(15min, 0);
  const TimePoint start = *parse_utc("2026-07-07T00:00:00Z");
  m.add(start, 100);
  m.add(start + 12min, 400);   // 100 held 5 min only
  m.add(start + 15min, 0);
  EXPECT_NEAR(*m.average(start), (100 * 5 + 400 * 3) / 8.0, 1e-9);
}

}  // namespace
}  // namespace vpp::controller
