#pragma once
// JSON bodies of the HTTP API: protobuf's JSON mapping of proto/vpp.proto and proto/api.proto
// messages, checked field by field against the message's schema first, so a 400 names the
// field path (`limits.comfortMinC`, `assets[2].battery.capacityKwh`) and the reason.
#include <optional>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>

namespace vpp::http {

struct FieldError {
  std::string field;   // JSON path; empty when the body as a whole is wrong
  std::string reason;
};

// Parses `json` into `out`. Unknown fields, wrong types, non-finite numbers, unknown enum names,
// malformed times and durations and oneof conflicts are refused with the path of the field.
std::optional<FieldError> parse_body(std::string_view json, google::protobuf::Message& out);

// Checks a parsed JSON object against a message type (the first problem, in key order).
std::optional<FieldError> check_against(const google::protobuf::Struct& object, const google::protobuf::Descriptor& type,
                                        const std::string& path = "");

// Any JSON document as a google.protobuf.Value; nullopt when it is not valid JSON.
std::optional<google::protobuf::Value> parse_json_value(std::string_view json);

// Response JSON: canonical protobuf JSON with zero numbers and empty lists printed too, so
// clients see every field of a response.
std::string response_json(const google::protobuf::Message& m);

// Splits a "path: reason" message (proto/convert.cpp's from_proto errors) into a FieldError,
// dropping `strip_prefix` from the path (e.g. "curtailment." when an event was wrapped in a
// GridSignal for validation).
FieldError split_field_error(std::string_view message, std::string_view strip_prefix = "");

}  // namespace vpp::http
