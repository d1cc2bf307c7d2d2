#pragma once
// `vppctl openadr status`: the OpenADR VEN's connection, followed programs, active events and
// report queue, read from the daemon's GET /api/v1/openadr/status (the document
// VenEngine::status builds; adapters/openadr/engine.hpp).
//
//   vppctl openadr status [--json] [--url URL] [--token-file FILE] [--ca-file FILE] [--insecure]
//                         [--timeout 10s]
//
// The token comes from --token-file or VPP_TOKEN, as for the other API commands. Exit codes:
// 0 ok, 1 the server refused, 2 transport failure or an unreadable document, 64 usage error.
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "model/result.hpp"

namespace vpp::apps {

// The status document as text (fixed layout and number formatting). Fails, naming the field,
// on a document that is not the status JSON.
Result<std::string> format_openadr_status(const std::string& json);

// `args` without the program name, e.g. {"openadr", "status", "--json"}.
int run_openadr_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                        const std::function<const char*(const char*)>& getenv);

}  // namespace vpp::apps
