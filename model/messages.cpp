#include "model/messages.hpp"

#include <algorithm>

namespace vpp {

std::optional<double> value_at(const std::vector<SeriesPoint>& series, Duration interval, TimePoint t) {
  if (series.empty() || t < series.front().start) return std::nullopt;
  auto it = std::upper_bound(series.begin(), series.end(), t,
                             [](TimePoint x, const SeriesPoint& p) { return x < p.start; });
  --it;
  if (std::next(it) == series.end() && t >= it->start + interval) return std::nullopt;
  return it->value;
}

}  // namespace vpp
