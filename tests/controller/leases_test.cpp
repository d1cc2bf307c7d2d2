#include "controller/leases.hpp"

#include <gtest/gtest.h>

#include "fixtures.hpp"

namespace vpp::controller {
namespace {

using namespace std::chrono_literals;
using testing::t0;

TEST(Leases, OneWriterAtATimeByPriority) {
  LeaseTable t;
  std::string why;
  EXPECT_TRUE(t.dispatch_may_write("s/bat"));
  auto manual = t.acquire("s/bat", {"manual:alice", kManualPriority, t0 + 1h}, t0, why);
  ASSERT_TRUE(manual);
  EXPECT_EQ(manual->reason, "granted");
  EXPECT_FALSE(t.dispatch_may_write("s/bat"));
  // A lower priority owner is refused, and told who holds it until when.
  EXPECT_FALSE(t.acquire("s/bat", {"manual:bob", 10, t0 + 1h}, t0, why));
  EXPECT_EQ(why, "held by manual:alice (priority 50) until 2026-07-07T07:00:00Z");
  // A safety limit takes over.
  auto safety = t.acquire("s/bat", {"safety:bms", kSafetyPriority, t0 + 10min}, t0 + 1min, why);
  ASSERT_TRUE(safety);
  EXPECT_EQ(safety->reason, "taken over from manual:alice");
  EXPECT_EQ(t.holder("s/bat")->owner, "safety:bms");
  // Expiry hands the asset back to dispatch, recorded.
  auto expired = t.expire(t0 + 10min);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].reason, "expired");
  EXPECT_FALSE(expired[0].after);
  EXPECT_TRUE(t.dispatch_may_write("s/bat"));
}

TEST(Leases, ReleaseOnlyByTheHolder) {
  LeaseTable t;
  std::string why;
  ASSERT_TRUE(t.acquire("s/hvac", {"manual:alice", kManualPriority, t0 + 1h}, t0, why));
  EXPECT_FALSE(t.release("s/hvac", "manual:bob", t0));
  auto r = t.release("s/hvac", "manual:alice", t0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "released by manual:alice");
  EXPECT_TRUE(t.dispatch_may_write("s/hvac"));
}

TEST(Leases, InvalidRequestsAreRefused) {
  LeaseTable t;
  std::string why;
  EXPECT_FALSE(t.acquire("s/a", {"dispatch", 5, t0 + 1h}, t0, why));
  EXPECT_FALSE(t.acquire("s/a", {"manual:x", 5, t0 - 1s}, t0, why));
  EXPECT_EQ(why, "lease expires in the past");
  EXPECT_FALSE(t.acquire("s/a", {"manual:x", 0, t0 + 1h}, t0, why));
  EXPECT_EQ(why, "a lease must outrank dispatch (priority > 0)");
}

}  // namespace
}  // namespace vpp::controller
