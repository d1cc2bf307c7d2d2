#include "model/clock.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vpp {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint t0 = from_unix_ms(1'783'400'000'000);

TEST(SimClock, FiresTimersInTimeOrderWithNowAtTheirDueTime) {
  SimClock clock(t0);
  std::vector<std::pair<std::string, TimePoint>> fired;
  clock.call_at(t0 + seconds(30), [&] { fired.emplace_back("c", clock.now()); });
  clock.call_at(t0 + seconds(10), [&] { fired.emplace_back("a", clock.now()); });
  clock.call_at(t0 + seconds(20), [&] { fired.emplace_back("b", clock.now()); });

  EXPECT_EQ(clock.advance_to(t0 + seconds(25)), 2u);
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0], std::make_pair(std::string("a"), t0 + seconds(10)));
  EXPECT_EQ(fired[1], std::make_pair(std::string("b"), t0 + seconds(20)));
  EXPECT_EQ(clock.now(), t0 + seconds(25));
  EXPECT_EQ(clock.pending(), 1u);
}

TEST(SimClock, TiesFireInInsertionOrder) {
  SimClock clock(t0);
  std::string order;
  for (char c : std::string("abcdefgh")) clock.call_at(t0 + seconds(5), [&order, c] { order += c; });
  clock.advance(seconds(5));
  EXPECT_EQ(order, "abcdefgh");
}

TEST(SimClock, TimersAddedByCallbacksFireInTheSamePassWhenDue) {
  SimClock clock(t0);
  std::vector<TimePoint> at;
  clock.call_at(t0 + seconds(1), [&] {
    at.push_back(clock.now());
    clock.call_after(seconds(1), [&] { at.push_back(clock.now()); });
    clock.call_after(seconds(100), [&] { at.push_back(clock.now()); });
  });
  clock.advance_to(t0 + seconds(10));
  EXPECT_EQ(at, (std::vector<TimePoint>{t0 + seconds(1), t0 + seconds(2)}));
  EXPECT_EQ(clock.pending(), 1u);
}

TEST(SimClock, CancelledTimersDoNotFire) {
  SimClock clock(t0);
  int fired = 0;
  const auto id = clock.call_after(seconds(1), [&] { ++fired; });
  clock.call_after(seconds(2), [&] { ++fired; });
  EXPECT_TRUE(clock.cancel(id));
  EXPECT_FALSE(clock.cancel(id));
  clock.advance(seconds(5));
  EXPECT_EQ(fired, 1);
}

TEST(SimClock, PastTimersFireAtCurrentTimeAndTimeNeverGoesBack) {
  SimClock clock(t0 + seconds(10));
  TimePoint seen{};
  clock.call_at(t0, [&] { seen = clock.now(); });
  clock.advance_to(t0);  // backwards: time stays, the overdue timer fires
  EXPECT_EQ(seen, t0 + seconds(10));
  EXPECT_EQ(clock.now(), t0 + seconds(10));
}

TEST(SimClock, RunNextJumpsToTheNextTimer) {
  SimClock clock(t0);
  int n = 0;
  clock.call_at(t0 + milliseconds(1500), [&] { ++n; });
  clock.call_at(t0 + milliseconds(1500), [&] { ++n; });
  clock.call_at(t0 + seconds(3), [&] { ++n; });
  EXPECT_TRUE(clock.run_next());
  EXPECT_EQ(n, 2);
  EXPECT_EQ(clock.now(), t0 + milliseconds(1500));
  EXPECT_TRUE(clock.run_next());
  EXPECT_FALSE(clock.run_next());
  EXPECT_EQ(n, 3);
}

TEST(SystemClock, FiresOnlyDueTimers) {
  SystemClock clock;
  int fired = 0;
  clock.call_at(clock.now() - seconds(1), [&] { ++fired; });
  clock.call_at(clock.now() + std::chrono::hours(1), [&] { ++fired; });
  EXPECT_EQ(clock.fire_due(), 1u);
  EXPECT_EQ(fired, 1);
  ASSERT_TRUE(clock.next_deadline().has_value());
  EXPECT_GT(*clock.next_deadline(), clock.now());
}

}  // namespace
}  // namespace vpp
