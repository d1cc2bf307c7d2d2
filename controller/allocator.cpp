#include "controller/allocator.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vpp::controller {

std::vector<Share> allocate(std::span<const Flex> flex, double need_kw, double& unmet_kw) {
  std::vector<Share> out;
  unmet_kw = need_kw;
  if (need_kw == 0 || flex.empty()) return out;
  const bool more = need_kw > 0;
  std::vector<std::uint32_t> order(flex.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const auto& x = flex[a];
    const auto& y = flex[b];
    if (x.cost != y.cost) return more ? x.cost < y.cost : x.cost > y.cost;
    return x.asset < y.asset;
  });
  double left = std::fabs(need_kw);
  for (auto i : order) {
    if (left <= 0) break;
    const double room = more ? flex[i].up_kw : flex[i].down_kw;
    if (!(room > 0)) continue;
    const double take = std::min(room, left);
    out.push_back({flex[i].asset, more ? take : -take});
    left -= take;
  }
  unmet_kw = more ? left : -left;
  return out;
}

}  // namespace vpp::controller
