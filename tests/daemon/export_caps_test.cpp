// OpenADR export caps in vppd: shared over the covered sites in proportion to their enrolled
// limits, the lowest of overlapping caps wins, enrolled limits come back when a cap ends or is
// withdrawn, and an API change during a cap becomes the site's enrolled limit.
#include <gtest/gtest.h>

#include "apps/daemon/export_caps.hpp"

namespace vpp::daemon {
namespace {

using namespace std::chrono_literals;

const TimePoint T0 = from_unix_ms(1'780'000'000'000);

Site site(const std::string& id, double export_kw) {
  Site s;
  s.id = id;
  s.limits.export_limit_kw = export_kw;
  return s;
}

// The core's view after the changes are fed back, as the daemon does.
void feed(std::vector<Site>& sites, const std::vector<Site>& changes) {
  for (const auto& c : changes) {
    for (auto& s : sites) {
      if (s.id == c.id) s = c;
    }
  }
}

double limit(const std::vector<Site>& sites, const std::string& id) {
  for (const auto& s : sites) {
    if (s.id == id) return s.limits.export_limit_kw;
  }
  return -1;
}

TEST(ExportCaps, SharedInProportionAndGivenBackAtTheEnd) {
  std::vector<Site> sites = {site("a", 300), site("b", 100), site("c", 50)};
  ExportCaps caps;
  EXPECT_TRUE(caps.idle());
  caps.set({"cap-1", {"a", "b"}, T0 + 10min, 1h, 200});
  // Not in force yet: nothing changes.
  EXPECT_TRUE(caps.apply(sites, T0).empty());
  feed(sites, caps.apply(sites, T0 + 10min));
  EXPECT_DOUBLE_EQ(limit(sites, "a"), 150);   // 300 * 200 / 400
  EXPECT_DOUBLE_EQ(limit(sites, "b"), 50);
  EXPECT_DOUBLE_EQ(limit(sites, "c"), 50);    // not covered
  EXPECT_EQ(caps.sites_capped(), 2u);
  // What is persisted is the enrolled limit.
  EXPECT_DOUBLE_EQ(caps.enrolled(sites[0]).limits.export_limit_kw, 300);
  // Steady while in force.
  EXPECT_TRUE(caps.apply(sites, T0 + 30min).empty());
  // Ended: enrolled limits back.
  feed(sites, caps.apply(sites, T0 + 70min));
  EXPECT_DOUBLE_EQ(limit(sites, "a"), 300);
  EXPECT_DOUBLE_EQ(limit(sites, "b"), 100);
  EXPECT_TRUE(caps.idle());
}

TEST(ExportCaps, ACapAboveTheEnrolledSumChangesNothingAndTheLowestWins) {
  std::vector<Site> sites = {site("a", 300), site("b", 100)};
  ExportCaps caps;
  caps.set({"loose", {}, T0, 1h, 1000});
  EXPECT_TRUE(caps.apply(sites, T0).empty());
  caps.set({"tight", {"b"}, T0, 1h, 20});
  caps.set({"fleet", {}, T0, 1h, 200});
  feed(sites, caps.apply(sites, T0 + 1min));
  EXPECT_DOUBLE_EQ(limit(sites, "a"), 150);
  EXPECT_DOUBLE_EQ(limit(sites, "b"), 20);    // min(50 from the fleet cap, 20)
  // Withdrawn at the VTN: the engine sends it with its window cut to now.
  caps.set({"tight", {"b"}, T0, 2min, 20});
  feed(sites, caps.apply(sites, T0 + 2min));
  EXPECT_DOUBLE_EQ(limit(sites, "b"), 50);
  caps.set({"fleet", {}, T0, Duration::zero(), 200});
  feed(sites, caps.apply(sites, T0 + 3min));
  EXPECT_DOUBLE_EQ(limit(sites, "a"), 300);
  EXPECT_DOUBLE_EQ(limit(sites, "b"), 100);
}

TEST(ExportCaps, AnApiChangeDuringACapIsTheNewEnrolledLimit) {
  std::vector<Site> sites = {site("a", 300), site("b", 100)};
  ExportCaps caps;
  caps.set({"cap", {}, T0, 1h, 200});
  feed(sites, caps.apply(sites, T0));
  ASSERT_DOUBLE_EQ(limit(sites, "a"), 150);
  // The API patches site a from its enrolled version (300) to 100 and re-enrols it at that.
  Site a = caps.enrolled(sites[0]);
  EXPECT_DOUBLE_EQ(a.limits.export_limit_kw, 300);
  a.limits.export_limit_kw = 100;
  feed(sites, {a});
  feed(sites, caps.apply(sites, T0 + 1min));
  EXPECT_DOUBLE_EQ(limit(sites, "a"), 100);   // 100 * 200 / 200: the sum is now within the cap
  EXPECT_DOUBLE_EQ(limit(sites, "b"), 100);
  feed(sites, caps.apply(sites, T0 + 2h));
  EXPECT_DOUBLE_EQ(limit(sites, "a"), 100);   // not the 300 of before the change
  // Unenrolled sites are forgotten.
  caps.set({"cap2", {}, T0 + 2h, 1h, 100});
  feed(sites, caps.apply(sites, T0 + 2h));
  EXPECT_EQ(caps.sites_capped(), 2u);
  EXPECT_DOUBLE_EQ(limit(sites, "a"), 50);
  // Site b unenrolled: a alone is within the cap again, and b is forgotten.
  const auto changes = caps.apply({sites[0]}, T0 + 2h + 1min);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_DOUBLE_EQ(changes[0].limits.export_limit_kw, 100);
  EXPECT_EQ(caps.sites_capped(), 0u);
}

}  // namespace
}  // namespace vpp::daemon
