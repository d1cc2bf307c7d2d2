#pragma once
// Writes a google.protobuf.Value as JSON with object keys in sorted order and fixed number
// formatting, so a document built from protobuf maps (whose iteration order is unspecified)
// prints byte-identically every time.
#include <string>

#include <google/protobuf/struct.pb.h>

namespace vpp::http {

std::string write_json(const google::protobuf::Value& v);

}  // namespace vpp::http
