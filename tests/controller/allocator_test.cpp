#include "controller/allocator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace vpp::controller {
namespace {

TEST(Allocator, CheapestFlexibilityFirst) {
  const std::vector<Flex> f{{0, 100, 0, 0.5}, {1, 50, 0, 0.1}, {2, 80, 0, 0.3}};
  double unmet = 0;
  const auto s = allocate(f, 120, unmet);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].asset, 1u);
  EXPECT_DOUBLE_EQ(s[0].delta_kw, 50);
  EXPECT_EQ(s[1].asset, 2u);
  EXPECT_DOUBLE_EQ(s[1].delta_kw, 70);
  EXPECT_DOUBLE_EQ(unmet, 0);
}

TEST(Allocator, ReleasesDearestFirstAndReportsWhatNobodyCovers) {
  const std::vector<Flex> f{{0, 0, 30, 0.5}, {1, 0, 50, 0.1}, {2, 0, 0, 0.9}};
  double unmet = 0;
  const auto s = allocate(f, -100, unmet);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].asset, 0u);
  EXPECT_DOUBLE_EQ(s[0].delta_kw, -30);
  EXPECT_DOUBLE_EQ(s[1].delta_kw, -50);
  EXPECT_DOUBLE_EQ(unmet, -20);
}

TEST(Allocator, TiesBreakByAssetIndexAndNothingNeededDoesNothing) {
  const std::vector<Flex> f{{7, 10, 0, 0.2}, {3, 10, 0, 0.2}};
  double unmet = 0;
  auto s = allocate(f, 5, unmet);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].asset, 3u);
  EXPECT_TRUE(allocate(f, 0, unmet).empty());
}

// The merit order taken from a heap is exactly the order of a full sort (cost, then asset index),
// on fleets with many ties, zero rooms and needs both inside and beyond their headroom.
TEST(Allocator, TakesTheSortedMeritOrderOnRandomFleets) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<Flex> f;
    const int n = 1 + static_cast<int>(rng() % 60);
    std::vector<AssetIndex> ids(200);  // each asset once, in no particular order
    for (AssetIndex i = 0; i < ids.size(); ++i) ids[i] = i;
    std::shuffle(ids.begin(), ids.end(), rng);
    for (int i = 0; i < n; ++i) {
      f.push_back({ids[static_cast<std::size_t>(i)], static_cast<double>(rng() % 4) * 10,
                   static_cast<double>(rng() % 4) * 10, static_cast<double>(rng() % 5) / 10});
    }
    double total_up = 0, total_down = 0;
    for (const auto& x : f) total_up += x.up_kw, total_down += x.down_kw;
    const double need = (trial % 2 ? 1 : -1) * static_cast<double>(rng() % 100) / 100 * 1.3 * (trial % 2 ? total_up : total_down);
    const bool more = need > 0;
    std::vector<Flex> sorted = f;
    std::stable_sort(sorted.begin(), sorted.end(), [&](const Flex& a, const Flex& b) {
      if (a.cost != b.cost) return more ? a.cost < b.cost : a.cost > b.cost;
      return a.asset < b.asset;
    });
    std::vector<Share> expected;
    double left = std::fabs(need);
    for (const auto& x : sorted) {
      const double room = more ? x.up_kw : x.down_kw;
      if (left <= 0) break;
      if (!(room > 0)) continue;
      const double take = std::min(room, left);
      expected.push_back({x.asset, more ? take : -take});
      left -= take;
    }
    double unmet = 0;
    const auto got = allocate(f, need, unmet);
    ASSERT_EQ(got.size(), expected.size()) << "trial " << trial;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].asset, expected[i].asset) << "trial " << trial << " share " << i;
      EXPECT_DOUBLE_EQ(got[i].delta_kw, expected[i].delta_kw) << "trial " << trial << " share " << i;
    }
    EXPECT_NEAR(unmet, need == 0 ? need : (more ? left : -left), 1e-9) << "trial " << trial;
  }
}

}  // namespace
}  // namespace vpp::controller
