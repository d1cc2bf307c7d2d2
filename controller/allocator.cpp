#include "controller/allocator.hpp"

#include <algorithm>
#include <cmath>

namespace vpp::controller {

std::vector<Share> allocate(std::span<const Flex> flex, double need_kw, double& unmet_kw) {
  std::vector<Share> out;
  unmet_kw = need_kw;
  if (need_kw == 0 || flex.empty()) return out;
  const bool more = need_kw > 0;
  auto room = [&](const Flex& f) { return more ? f.up_kw : f.down_kw; };
  // Merit order as a heap: the need is usually covered by a few of the fleet's assets, so
  // building a heap (linear) and taking its best few beats sorting them all.
  std::vector<std::uint32_t> order;
  order.reserve(flex.size());
  for (std::uint32_t i = 0; i < flex.size(); ++i) {
    if (room(flex[i]) > 0) order.push_back(i);
  }
  // True when flex[a] comes after flex[b]: a heap on it keeps the next in merit order on top.
  const auto after = [&](std::uint32_t a, std::uint32_t b) {
    const auto& x = flex[a];
    const auto& y = flex[b];
    if (x.cost != y.cost) return more ? x.cost > y.cost : x.cost < y.cost;
    return x.asset > y.asset;
  };
  std::make_heap(order.begin(), order.end(), after);
  double left = std::fabs(need_kw);
  for (auto end = order.end(); left > 0 && end != order.begin(); --end) {
    std::pop_heap(order.begin(), end, after);
    const Flex& f = flex[*(end - 1)];
    const double take = std::min(room(f), left);
    out.push_back({f.asset, more ? take : -take});
    left -= take;
  }
  unmet_kw = more ? left : -left;
  return out;
}

}  // namespace vpp::controller
