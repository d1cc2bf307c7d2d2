#include "adapters/http/json_body.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

namespace vpp::http {
namespace {

namespace gp = google::protobuf;
using FD = gp::FieldDescriptor;

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

const char* kind_name(const gp::Value& v) {
  switch (v.kind_case()) {
    case gp::Value::kNullValue: return "null";
    case gp::Value::kNumberValue: return "a number";
    case gp::Value::kStringValue: return "a string";
    case gp::Value::kBoolValue: return "a boolean";
    case gp::Value::kStructValue: return "an object";
    case gp::Value::kListValue: return "an array";
    default: return "nothing";
  }
}

std::optional<FieldError> wrong(const std::string& path, const std::string& want, const gp::Value& v) {
  return FieldError{path, "must be " + want + ", found " + kind_name(v)};
}

bool parses_as(const std::string& quoted_json, gp::Message& m) {
  gp::util::JsonParseOptions opts;
  return gp::util::JsonStringToMessage(quoted_json, &m, opts).ok();
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) return "\"\x01\"";  // control characters: refuse below
    out += c;
  }
  return out + "\"";
}

std::optional<FieldError> check_integer(const std::string& path, const gp::Value& v, double lo, double hi) {
  double x = 0;
  if (v.kind_case() == gp::Value::kNumberValue) {
    x = v.number_value();
  } else if (v.kind_case() == gp::Value::kStringValue) {  // protobuf JSON allows quoted integers
    const std::string& s = v.string_value();
    char* end = nullptr;
    x = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) return FieldError{path, "must be an integer"};
  } else {
    return wrong(path, "an integer", v);
  }
  if (!std::isfinite(x) || x != std::floor(x)) return FieldError{path, "must be an integer"};
  if (x < lo || x > hi) return FieldError{path, "is out of range for an integer of this field"};
  return std::nullopt;
}

std::optional<FieldError> check_single(const std::string& path, const FD& f, const gp::Value& v) {
  if (v.kind_case() == gp::Value::kNullValue) return std::nullopt;  // JSON null = default value
  switch (f.cpp_type()) {
    case FD::CPPTYPE_INT32:
      return check_integer(path, v, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max());
    case FD::CPPTYPE_UINT32:
      return check_integer(path, v, 0, std::numeric_limits<std::uint32_t>::max());
    case FD::CPPTYPE_INT64:
      return check_integer(path, v, -9.2e18, 9.2e18);
    case FD::CPPTYPE_UINT64:
      return check_integer(path, v, 0, 1.8e19);
    case FD::CPPTYPE_DOUBLE:
    case FD::CPPTYPE_FLOAT:
      if (v.kind_case() == gp::Value::kStringValue) {
        // protobuf JSON spells non-finite numbers as strings; vpp never accepts them.
        const auto& t = v.string_value();
        if (t == "NaN" || t == "Infinity" || t == "-Infinity") return FieldError{path, "must be a finite number"};
        return FieldError{path, "must be a number, found a string"};
      }
      if (v.kind_case() != gp::Value::kNumberValue) return wrong(path, "a number", v);
      if (!std::isfinite(v.number_value())) return FieldError{path, "must be a finite number"};
      return std::nullopt;
    case FD::CPPTYPE_BOOL:
      if (v.kind_case() != gp::Value::kBoolValue) return wrong(path, "true or false", v);
      return std::nullopt;
    case FD::CPPTYPE_STRING:
      if (v.kind_case() != gp::Value::kStringValue) return wrong(path, "a string", v);
      if (v.string_value().size() > 64 * 1024) return FieldError{path, "is longer than 65536 bytes"};
      return std::nullopt;
    case FD::CPPTYPE_ENUM: {
      const gp::EnumDescriptor& e = *f.enum_type();
      if (v.kind_case() == gp::Value::kStringValue && e.FindValueByName(v.string_value())) return std::nullopt;
      if (v.kind_case() == gp::Value::kNumberValue && v.number_value() == std::floor(v.number_value()) &&
          std::abs(v.number_value()) < 1e9 && e.FindValueByNumber(static_cast<int>(v.number_value()))) {
        return std::nullopt;
      }
      std::string names;
      for (int i = 0; i < e.value_count(); ++i) {
        if (e.value(i)->number() == 0) continue;  // *_UNSPECIFIED is never a valid choice
        names += (names.empty() ? "" : ", ") + e.value(i)->name();
      }
      return FieldError{path, "must be one of " + names};
    }
    case FD::CPPTYPE_MESSAGE: {
      const gp::Descriptor& m = *f.message_type();
      if (m.full_name() == "google.protobuf.Timestamp") {
        gp::Timestamp ts;
        if (v.kind_case() != gp::Value::kStringValue || !parses_as(quote(v.string_value()), ts)) {
          return FieldError{path, "must be an RFC 3339 time with a zone, e.g. \"2026-07-07T14:00:00Z\""};
        }
        return std::nullopt;
      }
      if (m.full_name() == "google.protobuf.Duration") {
        gp::Duration d;
        if (v.kind_case() != gp::Value::kStringValue || !parses_as(quote(v.string_value()), d)) {
          return FieldError{path, "must be a duration in seconds, e.g. \"900s\" or \"1.5s\""};
        }
        if (d.seconds() < 0 || d.nanos() < 0) return FieldError{path, "must not be negative"};
        return std::nullopt;
      }
      if (m.full_name() == "google.protobuf.Value" || m.full_name() == "google.protobuf.Struct") return std::nullopt;
      if (v.kind_case() != gp::Value::kStructValue) return wrong(path, "an object", v);
      return check_against(v.struct_value(), m, path);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<FieldError> check_against(const gp::Struct& object, const gp::Descriptor& type, const std::string& path) {
  // Key order, not the map's hash order: the same body always reports the same first error.
  std::vector<std::string> keys;
  keys.reserve(static_cast<std::size_t>(object.fields().size()));
  for (const auto& [k, v] : object.fields()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  std::map<const gp::OneofDescriptor*, std::string> oneof_set;
  for (const auto& key : keys) {
    const gp::Value& v = object.fields().at(key);
    const std::string p = join(path, key);
    const FD* f = type.FindFieldByName(key);  // protobuf's parser accepts both spellings
    for (int i = 0; !f && i < type.field_count(); ++i) {
      if (type.field(i)->json_name() == key) f = type.field(i);
    }
    if (!f) return FieldError{p, "unknown field"};
    if (const auto* o = f->real_containing_oneof(); o && v.kind_case() != gp::Value::kNullValue) {
      auto [it, fresh] = oneof_set.emplace(o, key);
      if (!fresh) return FieldError{p, "conflicts with '" + join(path, it->second) + "': set only one of them"};
    }
    if (f->is_map()) {
      if (v.kind_case() != gp::Value::kStructValue) return wrong(p, "an object", v);
      continue;
    }
    if (f->is_repeated()) {
      if (v.kind_case() == gp::Value::kNullValue) continue;
      if (v.kind_case() != gp::Value::kListValue) return wrong(p, "an array", v);
      const auto& items = v.list_value().values();
      for (int i = 0; i < items.size(); ++i) {
        if (auto e = check_single(p + "[" + std::to_string(i) + "]", *f, items[i])) return e;
      }
      continue;
    }
    if (auto e = check_single(p, *f, v)) return e;
  }
  return std::nullopt;
}

std::optional<gp::Value> parse_json_value(std::string_view json) {
  gp::Value v;
  gp::util::JsonParseOptions opts;
  if (!gp::util::JsonStringToMessage(gp::StringPiece(json.data(), json.size()), &v, opts).ok()) return std::nullopt;
  return v;
}

std::optional<FieldError> parse_body(std::string_view json, gp::Message& out) {
  const bool blank = std::all_of(json.begin(), json.end(), [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
  if (blank) return FieldError{"", "a JSON body is required"};
  auto value = parse_json_value(json);
  if (!value) return FieldError{"", "body is not valid JSON"};
  if (value->kind_case() != gp::Value::kStructValue) return FieldError{"", "body must be a JSON object"};
  if (auto e = check_against(value->struct_value(), *out.GetDescriptor())) return e;
  gp::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  const auto st = gp::util::JsonStringToMessage(gp::StringPiece(json.data(), json.size()), &out, opts);
  if (!st.ok()) return FieldError{"", std::string(st.message())};
  return std::nullopt;
}

std::string response_json(const gp::Message& m) {
  std::string out;
  gp::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  (void)gp::util::MessageToJsonString(m, &out, opts);
  return out;
}

FieldError split_field_error(std::string_view message, std::string_view strip_prefix) {
  const auto colon = message.find(": ");
  if (colon == std::string_view::npos) return {"", std::string(message)};
  std::string_view field = message.substr(0, colon);
  if (!strip_prefix.empty() && field.starts_with(strip_prefix)) field.remove_prefix(strip_prefix.size());
  return {std::string(field), std::string(message.substr(colon + 2))};
}

}  // namespace vpp::http
