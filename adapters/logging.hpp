#pragma once
// Logging for the imperative shell (spdlog). The controller core never logs: it returns alarms
// as outputs, and the shell decides what to print.
#include <optional>
#include <string>

namespace vpp {

// Parses trace|debug|info|warn|error|critical|off; nullopt on anything else.
bool valid_log_level(const std::string& level);
// Configures the default logger: stderr, "[time] [level] message", at `level`.
void setup_logging(const std::string& level);

}  // namespace vpp
