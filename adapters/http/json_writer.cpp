#include "adapters/http/json_writer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace vpp::http {
namespace {

void write_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void write(std::string& out, const google::protobuf::Value& v) {
  using V = google::protobuf::Value;
  switch (v.kind_case()) {
    case V::kNullValue:
    case V::KIND_NOT_SET: out += "null"; break;
    case V::kBoolValue: out += v.bool_value() ? "true" : "false"; break;
    case V::kNumberValue: {
      const double x = v.number_value();
      char buf[40];
      if (!std::isfinite(x)) {
        out += "null";
        break;
      }
      if (x == std::floor(x) && std::abs(x) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", x);
      } else {
        std::snprintf(buf, sizeof buf, "%.17g", x);
      }
      out += buf;
      break;
    }
    case V::kStringValue: write_string(out, v.string_value()); break;
    case V::kListValue: {
      out += '[';
      bool first = true;
      for (const auto& item : v.list_value().values()) {
        if (!first) out += ',';
        first = false;
        write(out, item);
      }
      out += ']';
      break;
    }
    case V::kStructValue: {
      std::vector<const std::string*> keys;
      for (const auto& [k, x] : v.struct_value().fields()) keys.push_back(&k);
      std::sort(keys.begin(), keys.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
      out += '{';
      bool first = true;
      for (const auto* k : keys) {
        if (!first) out += ',';
        first = false;
        write_string(out, *k);
        out += ':';
        write(out, v.struct_value().fields().at(*k));
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string write_json(const google::protobuf::Value& v) {
  std::string out;
  write(out, v);
  return out;
}

}  // namespace vpp::http
