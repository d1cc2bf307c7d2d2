#include "adapters/counters.hpp"

#include <spdlog/spdlog.h>

namespace vpp::adapters {

void AdapterCounters::reject(std::string_view why, std::string_view source, std::string_view detail) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    auto it = rejected_.find(why);
    if (it == rejected_.end()) it = rejected_.emplace(std::string(why), 0).first;
    ++it->second;
    // Bounded: past 10,000 distinct pairs (a scan of random topics) stop remembering.
    if (logged_.size() < 10000) first = logged_.emplace(std::string(why), std::string(source)).second;
  }
  if (first) {
    spdlog::warn("{}: rejected {} from '{}': {}", name_, why, source, detail);
  } else {
    spdlog::debug("{}: rejected {} from '{}': {}", name_, why, source, detail);
  }
}

std::uint64_t AdapterCounters::rejected(std::string_view why) const {
  std::lock_guard lock(mu_);
  const auto it = rejected_.find(why);
  return it == rejected_.end() ? 0 : it->second;
}

std::uint64_t AdapterCounters::rejected_total() const {
  std::lock_guard lock(mu_);
  std::uint64_t n = 0;
  for (const auto& [_, v] : rejected_) n += v;
  return n;
}

std::map<std::string, std::uint64_t> AdapterCounters::rejections() const {
  std::lock_guard lock(mu_);
  return {rejected_.begin(), rejected_.end()};
}

}  // namespace vpp::adapters
