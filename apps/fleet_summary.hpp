#pragma once
#include <string>

#include "config/config.hpp"

namespace vpp::apps {

// Human summary of a configuration: sites by type, assets by kind, capacities, connections.
std::string fleet_summary_text(const config::Config& cfg);

}  // namespace vpp::apps
