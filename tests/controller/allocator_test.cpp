#include "controller/allocator.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace vpp::controller
