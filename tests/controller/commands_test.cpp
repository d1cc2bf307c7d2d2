#include "controller/commands.hpp"

#include <gtest/gtest.h>

#include "fixtures.hpp"

namespace vpp::controller {
namespace {

using namespace std::chrono_literals;
using testing::t0;

CommandSettings settings() {
  CommandSettings s;
  s.ttl = 15min;
  s.refresh_before_expiry = 5min;
  s.min_interval = 10s;
  s.ack_timeout = 15s;
  s.max_retries = 2;
  s.deadband_kw = 1;
  return s;
}

TEST(CommandTracker, UnchangedSetpointsAreNotResentUntilNearExpiry) {
  CommandTracker t(settings(), "c-");
  EXPECT_EQ(t.decide(0, SetpointKind::battery_p_kw, 100, t0), SendDecision::send);
  const auto c = t.issue(0, "s", "bat", SetpointKind::battery_p_kw, 100, t0, "plan 1");
  EXPECT_EQ(c.command_id, "c-1");
  EXPECT_EQ(c.expires, t0 + 15min);
  EXPECT_EQ(t.decide(0, SetpointKind::battery_p_kw, 100.5, t0 + 1min), SendDecision::unchanged);
  EXPECT_EQ(t.decide(0, SetpointKind::battery_p_kw, 150, t0 + 1min), SendDecision::send);
  EXPECT_EQ(t.decide(0, SetpointKind::battery_p_kw, 100, t0 + 10min), SendDecision::send);  // refresh
}

TEST(CommandTracker, RateLimitsChangesPerAsset) {
  CommandTracker t(settings(), "c-");
  t.issue(0, "s", "bat", SetpointKind::battery_p_kw, 100, t0, "");
  EXPECT_EQ(t.decide(0, SetpointKind::battery_p_kw, 300, t0 + 5s), SendDecision::rate_limited);
  EXPECT_EQ(t.decide(1, SetpointKind::battery_p_kw, 300, t0 + 5s), SendDecision::send);  // another asset
  EXPECT_EQ(t.decide(0, SetpointKind::battery_p_kw, 300, t0 + 10s), SendDecision::send);
}

TEST(CommandTracker, RetriesUnacknowledgedCommandsThenGivesUp) {
  CommandTracker t(settings(), "c-");
  const auto c = t.issue(3, "s", "bat", SetpointKind::battery_p_kw, 100, t0, "");
  std::vector<Command> resend;
  std::vector<AssetIndex> gave_up;
  t.overdue(t0 + 10s, resend, gave_up);
  EXPECT_TRUE(resend.empty());
  t.overdue(t0 + 15s, resend, gave_up);
  ASSERT_EQ(resend.size(), 1u);
  EXPECT_EQ(resend[0].command_id, c.command_id);  // same id: the device drops duplicates
  t.overdue(t0 + 30s, resend, gave_up);
  EXPECT_EQ(resend.size(), 2u);
  t.overdue(t0 + 45s, resend, gave_up);
  EXPECT_EQ(resend.size(), 2u);
  EXPECT_EQ(gave_up, std::vector<AssetIndex>{3});
}

TEST(CommandTracker, AcksStopRetriesAndRejectionsAreReported) {
  CommandTracker t(settings(), "c-");
  const auto c = t.issue(0, "s", "bat", SetpointKind::battery_p_kw, 100, t0, "");
  auto ok = t.on_ack({c.command_id, "s", "bat", AckStatus::accepted, t0 + 1s, ""});
  EXPECT_EQ(ok.asset, 0u);
  EXPECT_TRUE(ok.problem.empty());
  std::vector<Command> resend;
  std::vector<AssetIndex> gave_up;
  t.overdue(t0 + 1min, resend, gave_up);
  EXPECT_TRUE(resend.empty());
  EXPECT_TRUE(t.in_force(0, t0 + 1min));

  const auto d = t.issue(1, "s", "pv", SetpointKind::pv_limit_kw, 1e9, t0, "");
  auto bad = t.on_ack({d.command_id, "s", "pv", AckStatus::rejected, t0 + 1s, "beyond rating"});
  EXPECT_EQ(bad.problem, "rejected: beyond rating");
  EXPECT_FALSE(t.in_force(1, t0 + 2s));
  EXPECT_EQ(t.decide(1, SetpointKind::pv_limit_kw, 1e9, t0 + 2s), SendDecision::send);
  EXPECT_EQ(t.on_ack({"unknown", "s", "pv", AckStatus::accepted, t0, ""}).asset, kNone);
}

}  // namespace
}  // namespace vpp::controller
