#pragma once
// Mapping between proto/vpp.proto messages and model types, and protobuf's JSON mapping.
// from_proto() validates what the type system cannot (finite numbers, timestamps in range,
// exactly one target on an event) and names the offending field in its error.
#include <string>
#include <string_view>

#include "model/messages.hpp"
#include "model/result.hpp"
#include "model/site.hpp"
#include "proto/vpp.pb.h"

namespace vpp {

vpp::v1::SiteEnrolment to_proto(const Site& s);
vpp::v1::Telemetry to_proto(const Telemetry& t);
vpp::v1::Command to_proto(const Command& c);
vpp::v1::CommandAck to_proto(const CommandAck& a);
vpp::v1::GridSignal to_proto(const GridSignal& g);

Result<Site> from_proto(const vpp::v1::SiteEnrolment& s);
Result<Telemetry> from_proto(const vpp::v1::Telemetry& t);
Result<Command> from_proto(const vpp::v1::Command& c);
Result<CommandAck> from_proto(const vpp::v1::CommandAck& a);
Result<GridSignal> from_proto(const vpp::v1::GridSignal& g);

// Canonical protobuf JSON, one line.
std::string to_json(const google::protobuf::Message& m);
// Parses protobuf JSON into `out`. Unknown fields are errors. The error names the problem as
// protobuf's parser reports it, prefixed by the message type.
Result<bool> parse_json(std::string_view json, google::protobuf::Message& out);

template <typename Proto>
auto json_to_model(std::string_view json) -> decltype(from_proto(std::declval<const Proto&>())) {
  Proto p;
  if (auto r = parse_json(json, p); !r) return Error{r.error()};
  return from_proto(p);
}

}  // namespace vpp
