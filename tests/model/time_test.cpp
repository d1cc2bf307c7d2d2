#include "model/time.hpp"

#include <gtest/gtest.h>

namespace vpp {
namespace {

TEST(Time, ParsesAndFormatsUtc) {
  const auto t = parse_utc("2026-07-07T14:30:00+08:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_utc(*t), "2026-07-07T06:30:00Z");
  EXPECT_EQ(format_utc(*parse_utc("2026-07-07T06:30:00.250Z")), "2026-07-07T06:30:00.250Z");
  EXPECT_EQ(to_unix_ms(*parse_utc("1970-01-01T00:00:01Z")), 1000);
  EXPECT_EQ(*parse_utc("2026-01-01 00:00:00-05:30"), *parse_utc("2026-01-01T05:30:00Z"));
}

TEST(Time, RejectsTimesWithoutZoneOrOutOfRange) {
  EXPECT_FALSE(parse_utc("2026-07-07T14:30:00"));
  EXPECT_FALSE(parse_utc("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_utc("2026-07-07T25:00:00Z"));
  EXPECT_FALSE(parse_utc("yesterday"));
  EXPECT_FALSE(parse_utc("2026-07-07T14:30:00Zjunk"));
}

TEST(Time, ParsesDurations) {
  EXPECT_EQ(parse_duration("15m"), Duration(std::chrono::minutes(15)));
  EXPECT_EQ(parse_duration("1h30m"), Duration(std::chrono::minutes(90)));
  EXPECT_EQ(parse_duration("250ms"), Duration(250));
  EXPECT_EQ(parse_duration("1d"), Duration(std::chrono::hours(24)));
  EXPECT_FALSE(parse_duration("15"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("5 s"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_EQ(format_duration(std::chrono::minutes(90)), "1h30m");
  EXPECT_EQ(format_duration(Duration(1500)), "1s500ms");
}

}  // namespace
}  // namespace vpp
