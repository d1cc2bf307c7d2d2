// The one place that knows every strategy by name (vppsim --strategy NAME, scenario `strategy:`).
#include <algorithm>

#include "sim/controller_strategy.hpp"
#include "sim/strategies.hpp"
#include "sim/strategy.hpp"

namespace vpp::sim {

const std::vector<StrategyInfo>& strategies() {
  static const std::vector<StrategyInfo> all = [] {
    std::vector<StrategyInfo> v = {
        {"controller", "the controller core: rolling-horizon optimizer, real-time allocator, safety envelope",
         make_controller_strategy},
        {"rule", "pre-cool and shed HVAC, discharge batteries and curtail flexible loads during events",
         make_rule_strategy},
        {"uncontrolled", "no commands: thermostats and battery self-consumption only", make_uncontrolled_strategy},
    };
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return v;
  }();
  return all;
}

std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for (const auto& s : strategies()) names.push_back(s.name);
  return names;
}

Result<std::unique_ptr<Strategy>> make_strategy(std::string_view name) {
  for (const auto& s : strategies()) {
    if (s.name == name) return s.make();
  }
  std::string list;
  for (const auto& s : strategies()) list += (list.empty() ? "" : ", ") + s.name;
  return Error{"unknown strategy '" + std::string(name) + "' (expected one of: " + list + ")"};
}

}  // namespace vpp::sim
