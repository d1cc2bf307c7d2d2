#include "proto/sparkplug.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <vector>

namespace vpp::sparkplug {

std::string_view to_string(MessageType t) {
  switch (t) {
    case MessageType::nbirth: return "NBIRTH";
    case MessageType::ndeath: return "NDEATH";
    case MessageType::dbirth: return "DBIRTH";
    case MessageType::ddeath: return "DDEATH";
    case MessageType::ndata: return "NDATA";
    case MessageType::ddata: return "DDATA";
    case MessageType::ncmd: return "NCMD";
    case MessageType::dcmd: return "DCMD";
    case MessageType::state: return "STATE";
  }
  return "?";
}

bool valid_id(std::string_view id) {
  return !id.empty() && id.find_first_of("+/#") == std::string_view::npos;
}

namespace {

// Up to 6 levels (one more than any Sparkplug topic has, so "too many" is still seen); no heap.
struct Levels {
  std::array<std::string_view, 6> v;
  std::size_t n = 0;
  std::size_t size() const { return n; }
  std::string_view operator[](std::size_t i) const { return v[i]; }
};

Levels split(std::string_view s) {
  Levels parts;
  std::size_t start = 0;
  while (parts.n < parts.v.size()) {
    const auto slash = s.find('/', start);
    parts.v[parts.n++] = s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

std::optional<MessageType> type_of(std::string_view s) {
  static constexpr std::pair<std::string_view, MessageType> kTypes[] = {
      {"NBIRTH", MessageType::nbirth}, {"NDEATH", MessageType::ndeath}, {"DBIRTH", MessageType::dbirth},
      {"DDEATH", MessageType::ddeath}, {"NDATA", MessageType::ndata},   {"DDATA", MessageType::ddata},
      {"NCMD", MessageType::ncmd},     {"DCMD", MessageType::dcmd},
  };
  for (const auto& [name, t] : kTypes) {
    if (s == name) return t;
  }
  return std::nullopt;
}

bool is_device_type(MessageType t) {
  return t == MessageType::dbirth || t == MessageType::ddeath || t == MessageType::ddata || t == MessageType::dcmd;
}

}  // namespace

Result<Topic> parse_topic(std::string_view topic) {
  const auto parts = split(topic);
  if (parts[0] != kNamespace) return Error{"topic '" + std::string(topic) + "' is not in the spBv1.0 namespace"};
  if (parts.size() >= 2 && parts[1] == "STATE") {
    if (parts.size() != 3 || !valid_id(parts[2])) return Error{"STATE topic '" + std::string(topic) + "' needs one host id"};
    return Topic{MessageType::state, "", std::string(parts[2]), ""};
  }
  if (parts.size() < 4) return Error{"topic '" + std::string(topic) + "' has too few levels"};
  const auto type = type_of(parts[2]);
  if (!type) return Error{"topic '" + std::string(topic) + "': unknown message type '" + std::string(parts[2]) + "'"};
  const std::size_t want = is_device_type(*type) ? 5 : 4;
  if (parts.size() != want) {
    return Error{"topic '" + std::string(topic) + "': " + std::string(to_string(*type)) +
                 (want == 5 ? " needs a device id" : " takes no device id")};
  }
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (i != 2 && !valid_id(parts[i])) return Error{"topic '" + std::string(topic) + "' has an empty id"};
  }
  Topic t{*type, std::string(parts[1]), std::string(parts[3]), want == 5 ? std::string(parts[4]) : ""};
  return t;
}

std::string format_topic(const Topic& t) {
  if (t.type == MessageType::state) return std::string(kNamespace) + "/STATE/" + t.edge_node_id;
  std::string s = std::string(kNamespace) + "/" + t.group_id + "/" + std::string(to_string(t.type)) + "/" + t.edge_node_id;
  if (is_device_type(t.type)) s += "/" + t.device_id;
  return s;
}

Result<MetricValue> metric_value(const Metric& m, std::uint32_t datatype) {
  if (m.has_is_null() && m.is_null()) return MetricValue{};
  auto mismatch = [&](const char* field) {
    return Error{"metric '" + (m.has_name() ? m.name() : "alias " + std::to_string(m.alias())) + "': datatype " +
                 std::to_string(datatype) + " needs " + field};
  };
  switch (datatype) {
    case Payload::INT8:
    case Payload::INT16:
    case Payload::INT32: {
      if (!m.has_int_value()) return mismatch("int_value");
      const auto u = m.int_value();
      // Sign-extended to 32 bits on the wire; narrower types are checked to be in range.
      const auto v = static_cast<std::int32_t>(u);
      if ((datatype == Payload::INT8 && (v < -128 || v > 127)) ||
          (datatype == Payload::INT16 && (v < -32768 || v > 32767))) {
        return mismatch("a value in its range");
      }
      return MetricValue{static_cast<std::int64_t>(v)};
    }
    case Payload::UINT8:
    case Payload::UINT16: {
      if (!m.has_int_value()) return mismatch("int_value");
      const auto u = m.int_value();
      if ((datatype == Payload::UINT8 && u > 0xFF) || (datatype == Payload::UINT16 && u > 0xFFFF)) {
        return mismatch("a value in its range");
      }
      return MetricValue{static_cast<std::uint64_t>(u)};
    }
    case Payload::UINT32:
      if (m.has_int_value()) return MetricValue{static_cast<std::uint64_t>(m.int_value())};
      if (m.has_long_value()) {
        if (m.long_value() > 0xFFFFFFFFULL) return mismatch("a value in its range");
        return MetricValue{m.long_value()};
      }
      return mismatch("int_value or long_value");
    case Payload::INT64:
      if (!m.has_long_value()) return mismatch("long_value");
      return MetricValue{static_cast<std::int64_t>(m.long_value())};
    case Payload::UINT64:
    case Payload::DATETIME:
      if (!m.has_long_value()) return mismatch("long_value");
      return MetricValue{m.long_value()};
    case Payload::FLOAT:
      if (!m.has_float_value()) return mismatch("float_value");
      return MetricValue{static_cast<double>(m.float_value())};
    case Payload::DOUBLE:
      if (!m.has_double_value()) return mismatch("double_value");
      return MetricValue{m.double_value()};
    case Payload::BOOLEAN:
      if (!m.has_boolean_value()) return mismatch("boolean_value");
      return MetricValue{m.boolean_value()};
    case Payload::STRING:
    case Payload::TEXT:
    case Payload::UUID:
      if (!m.has_string_value()) return mismatch("string_value");
      return MetricValue{m.string_value()};
    default:
      return Error{"metric '" + m.name() + "': datatype " + std::to_string(datatype) + " is not read by vpp"};
  }
}

std::optional<double> as_double(const MetricValue& v) {
  if (auto i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (auto u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
  if (auto d = std::get_if<double>(&v)) return *d;
  if (auto b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
  return std::nullopt;
}

Result<bool> set_metric_value(Metric& m, std::uint32_t datatype, const MetricValue& v) {
  m.set_datatype(datatype);
  if (std::holds_alternative<std::monostate>(v)) {
    m.set_is_null(true);
    return true;
  }
  const std::string what = "metric '" + m.name() + "': ";
  auto as_int = [&]() -> std::optional<std::int64_t> {
    if (auto i = std::get_if<std::int64_t>(&v)) return *i;
    if (auto u = std::get_if<std::uint64_t>(&v); u && *u <= std::uint64_t(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(*u);
    }
    return std::nullopt;
  };
  switch (datatype) {
    case Payload::INT8:
    case Payload::INT16:
    case Payload::INT32:
    case Payload::UINT8:
    case Payload::UINT16: {
      const auto i = as_int();
      const std::int64_t lo = datatype == Payload::INT8 ? -128 : datatype == Payload::INT16 ? -32768
                             : datatype == Payload::INT32 ? std::numeric_limits<std::int32_t>::min() : 0;
      const std::int64_t hi = datatype == Payload::INT8 ? 127 : datatype == Payload::INT16 ? 32767
                             : datatype == Payload::INT32 ? std::numeric_limits<std::int32_t>::max()
                             : datatype == Payload::UINT8 ? 255 : 65535;
      if (!i || *i < lo || *i > hi) return Error{what + "value out of range for datatype " + std::to_string(datatype)};
      m.set_int_value(static_cast<std::uint32_t>(static_cast<std::int32_t>(*i)));
      return true;
    }
    case Payload::UINT32: {
      const auto i = as_int();
      if (!i || *i < 0 || *i > 0xFFFFFFFFLL) return Error{what + "value out of range for UInt32"};
      m.set_long_value(static_cast<std::uint64_t>(*i));
      return true;
    }
    case Payload::INT64: {
      const auto i = as_int();
      if (!i) return Error{what + "value out of range for Int64"};
      m.set_long_value(static_cast<std::uint64_t>(*i));
      return true;
    }
    case Payload::UINT64:
    case Payload::DATETIME:
      if (auto u = std::get_if<std::uint64_t>(&v)) {
        m.set_long_value(*u);
        return true;
      }
      if (auto i = std::get_if<std::int64_t>(&v); i && *i >= 0) {
        m.set_long_value(static_cast<std::uint64_t>(*i));
        return true;
      }
      return Error{what + "needs a non-negative integer"};
    case Payload::FLOAT:
    case Payload::DOUBLE: {
      const auto d = std::holds_alternative<bool>(v) || std::holds_alternative<std::string>(v) ? std::nullopt : as_double(v);
      if (!d) return Error{what + "needs a number"};
      if (datatype == Payload::FLOAT) {
        m.set_float_value(static_cast<float>(*d));
      } else {
        m.set_double_value(*d);
      }
      return true;
    }
    case Payload::BOOLEAN:
      if (auto b = std::get_if<bool>(&v)) {
        m.set_boolean_value(*b);
        return true;
      }
      return Error{what + "needs a boolean"};
    case Payload::STRING:
    case Payload::TEXT:
    case Payload::UUID:
      if (auto s = std::get_if<std::string>(&v)) {
        m.set_string_value(*s);
        return true;
      }
      return Error{what + "needs a string"};
    default:
      return Error{what + "datatype " + std::to_string(datatype) + " is not written by vpp"};
  }
}

Result<bool> decode_payload_into(std::string_view bytes, Payload& p) {
  p.Clear();
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      !p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Error{"payload is not a valid Sparkplug B protobuf (" + std::to_string(bytes.size()) + " bytes)"};
  }
  if (p.has_uuid() && p.uuid() == "SPBV1.0_COMPRESSED") {
    return Error{"compressed Sparkplug payloads (uuid SPBV1.0_COMPRESSED) are not accepted"};
  }
  return true;
}

Result<Payload> decode_payload(std::string_view bytes) {
  Payload p;
  if (auto r = decode_payload_into(bytes, p); !r) return Error{r.error()};
  return p;
}

std::string state_json(const HostState& s) {
  return std::string("{\"online\":") + (s.online ? "true" : "false") + ",\"timestamp\":" + std::to_string(s.timestamp_ms) + "}";
}

namespace {

// A strict reader for the two-key STATE object; anything else is an error.
struct JsonCursor {
  std::string_view s;
  std::size_t i = 0;
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::optional<std::string> string() {
    ws();
    if (i >= s.size() || s[i] != '"') return std::nullopt;
    const auto end = s.find('"', i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    std::string out(s.substr(i + 1, end - i - 1));
    i = end + 1;
    return out;
  }
};

}  // namespace

Result<HostState> parse_state_json(std::string_view json) {
  JsonCursor c{json};
  HostState st;
  bool have_online = false, have_ts = false;
  auto bad = [&](const std::string& why) { return Error{"STATE payload: " + why}; };
  if (!c.eat('{')) return bad("expected a JSON object");
  do {
    const auto key = c.string();
    if (!key || !c.eat(':')) return bad("expected \"key\":");
    c.ws();
    if (*key == "online") {
      if (json.substr(c.i, 4) == "true") {
        st.online = true;
        c.i += 4;
      } else if (json.substr(c.i, 5) == "false") {
        st.online = false;
        c.i += 5;
      } else {
        return bad("online must be true or false");
      }
      have_online = true;
    } else if (*key == "timestamp") {
      const char* b = json.data() + c.i;
      const auto [p, ec] = std::from_chars(b, json.data() + json.size(), st.timestamp_ms);
      if (ec != std::errc{}) return bad("timestamp must be a non-negative integer (ms)");
      c.i += static_cast<std::size_t>(p - b);
      have_ts = true;
    } else {
      return bad("unknown key '" + *key + "'");
    }
  } while (c.eat(','));
  if (!c.eat('}')) return bad("expected '}'");
  c.ws();
  if (c.i != json.size()) return bad("trailing characters");
  if (!have_online || !have_ts) return bad("needs both online and timestamp");
  return st;
}

Payload rebirth_request(std::uint64_t timestamp_ms) {
  Payload p;
  p.set_timestamp(timestamp_ms);
  auto* m = p.add_metrics();
  m->set_name(std::string(kRebirthMetric));
  m->set_timestamp(timestamp_ms);
  m->set_datatype(Payload::BOOLEAN);
  m->set_boolean_value(true);
  return p;
}

}  // namespace vpp::sparkplug
