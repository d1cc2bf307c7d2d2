// Meter history rebuilt from the store's roll-ups at the controller's interval.
#include <gtest/gtest.h>

#include <cmath>

#include "apps/daemon/history.hpp"
#include "tests/daemon/fixtures.hpp"

namespace vpp::daemon::test {
namespace {

TEST(History, DayMeansAreCountWeighted) {
  const auto day = std::chrono::floor<std::chrono::days>(at("2026-07-08T00:00:00Z"));
  // Two 1-minute roll-ups in the 10:00-10:05 interval: 2 samples at 10 kW and 1 at 40 kW.
  const std::vector<store::Rollup> rows = {{"s1", "meter", 60, at("2026-07-08T10:00:00Z"), 2, 10, 10, 10},
                                           {"s1", "meter", 60, at("2026-07-08T10:03:00Z"), 1, 40, 40, 40},
                                           {"s1", "meter", 60, at("2026-07-09T00:00:00Z"), 1, 99, 99, 99}};
  const auto kw = day_means(rows, std::chrono::sys_days(day), 5min, 0);
  ASSERT_EQ(kw.size(), 288u);
  EXPECT_NEAR(kw[120], 20.0, 1e-12);  // (2 x 10 + 40) / 3
  EXPECT_TRUE(std::isnan(kw[119]));
  EXPECT_TRUE(std::isnan(kw[121]));
  // The local day at +08:00 starts at 16:00Z the day before: 10:00Z is 18:00 local, index 216.
  const auto local = day_means(rows, std::chrono::sys_days(day), 5min, 480);
  EXPECT_NEAR(local[216], 20.0, 1e-12);
}

TEST(History, PastDaysWithEligibilityAndTodaysEndedIntervals) {
  const auto dir = temp_path("history");
  auto st = open_store(dir);
  // Sunday 5 July to Wednesday 8 July 10:07, a reading every minute: 100 kW, but 300 kW on the 7th.
  const TimePoint now = at("2026-07-08T10:07:00Z");
  for (TimePoint t = at("2026-07-05T00:00:00Z"); t < now; t += 1min) {
    st->add_telemetry(meter(t, t >= at("2026-07-07T00:00:00Z") && t < at("2026-07-08T00:00:00Z") ? 300 : 100));
  }
  ASSERT_TRUE(st->flush().ok());
  auto s = settings();
  s.interval = 5min;
  auto restored = st->restore(now, 3, 0);
  ASSERT_TRUE(restored.ok()) << restored.error();
  const auto h = meter_history(*st, *restored, {site()}, s, now, 3);
  // 5, 6, 7 July and today.
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].day.day, std::chrono::sys_days(std::chrono::floor<std::chrono::days>(at("2026-07-05T00:00:00Z"))));
  EXPECT_FALSE(h[0].day.eligible);  // Sunday
  EXPECT_TRUE(h[1].day.eligible);
  EXPECT_NEAR(h[2].day.kw[0], 300.0, 1e-9);
  EXPECT_NEAR(h[2].day.kw[287], 300.0, 1e-9);
  // Today: 10:00-10:05 has ended, 10:05-10:10 has not.
  EXPECT_NEAR(h[3].day.kw[119], 100.0, 1e-9);
  EXPECT_NEAR(h[3].day.kw[120], 100.0, 1e-9);
  EXPECT_TRUE(std::isnan(h[3].day.kw[121]));
  // 15-minute intervals read the 15-minute roll-ups.
  s.interval = 15min;
  const auto q = meter_history(*st, *restored, {site()}, s, now, 3);
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(q[2].day.kw.size(), 96u);
  EXPECT_NEAR(q[2].day.kw[50], 300.0, 1e-9);
  EXPECT_NEAR(q[3].day.kw[39], 100.0, 1e-9);  // 09:45-10:00
  EXPECT_TRUE(std::isnan(q[3].day.kw[40]));    // 10:00-10:15 has not ended
}

TEST(History, AnIntervalThatDoesNotDivideADayGetsNoHistory) {
  const auto dir = temp_path("history-odd");
  auto st = open_store(dir);
  auto s = settings();
  s.interval = 7min;
  std::string note;
  store::Restored r;
  EXPECT_TRUE(meter_history(*st, r, {site()}, s, at("2026-07-08T10:07:00Z"), 3, &note).empty());
  EXPECT_NE(note.find("does not divide a day"), std::string::npos) << note;
}

}  // namespace
}  // namespace vpp::daemon::test
