#include "adapters/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace vpp {

bool valid_log_level(const std::string& level) {
  return level == "off" || spdlog::level::from_str(level) != spdlog::level::off;
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("vpp");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ [%^%l%$] %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace vpp
