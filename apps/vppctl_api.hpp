#pragma once
// vppctl's API commands, run over HTTP against vppd's /api/v1:
//
//   vppctl events create --start T --duration D (--reduction-kw X | --import-cap-kw X)
//                        [--id ID] [--program P] [--priority N] [--ramp D] [--sites A,B]
//   vppctl events list [--state S] | show ID | cancel ID [--reason R] | report ID [--csv]
//   vppctl sites enroll FILE.yaml|FILE.json | show ID | unenroll ID
//   vppctl sites update ID [--comfort-min C] [--comfort-max C] [--battery-reserve-pct P]
//                          [--max-curtailment-pct P] [--import-limit-kw X] [--export-limit-kw X]
//                          [--always-available]
//   vppctl opt-out EVENT --site SITE [--reason R]
//   vppctl fleet
//
// Options anywhere: --url URL (default http://127.0.0.1:8080), --token-file FILE (else the
// VPP_TOKEN environment variable), --json (the server's JSON as is, for scripts), --ca-file
// FILE, --insecure, --timeout 10s. Human tables by default. Exit codes: 0 ok, 1 the server
// refused (its status and message are printed), 2 transport failure, 64 usage error.
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace vpp::apps {

// True for the first words this module handles: events, sites, opt-out, fleet.
bool is_api_command(const std::string& word);

// `args` without the program name, e.g. {"events", "list", "--json"}.
int run_api_command(const std::vector<std::string>& args);
int run_api_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const std::function<const char*(const char*)>& getenv);

}  // namespace vpp::apps
