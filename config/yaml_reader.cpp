#include "config/yaml_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace vpp::config {
namespace {

std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string node_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "?";
}

std::optional<std::string> check_bounds(double v, const Bounds& b) {
  if (b.greater_than && !(v > *b.greater_than)) return "must be > " + format_number(*b.greater_than);
  if (b.min && !(v >= *b.min)) return "must be >= " + format_number(*b.min);
  if (b.less_than && !(v < *b.less_than)) return "must be < " + format_number(*b.less_than);
  if (b.max && !(v <= *b.max)) return "must be <= " + format_number(*b.max);
  return std::nullopt;
}

}  // namespace

std::string Diagnostic::to_string() const {
  std::string out = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

void Diagnostics::add(const YAML::Mark& mark, std::string path, std::string message) {
  const int line = mark.line >= 0 ? mark.line + 1 : 1;
  const int col = mark.column >= 0 ? mark.column + 1 : 1;
  items_.push_back({file_, line, col, std::move(path), std::move(message)});
}

std::string Diagnostics::to_string() const {
  std::string out;
  for (const auto& d : items_) out += d.to_string() + "\n";
  return out;
}

MapReader::MapReader(const YAML::Node& node, std::string path, Diagnostics& diag)
    : node_(node), path_(std::move(path)), diag_(diag) {
  if (!node_.IsMap()) {
    valid_ = false;
    finished_ = true;
    diag_.add(node_.Mark(), path_, "must be a mapping, found " + node_kind(node_));
  }
}

MapReader::MapReader(MapReader&& o) noexcept
    : node_(o.node_), path_(std::move(o.path_)), diag_(o.diag_), seen_(std::move(o.seen_)), valid_(o.valid_),
      finished_(o.finished_) {
  o.finished_ = true;
}

MapReader::~MapReader() { finish(); }

bool MapReader::has(const std::string& key) {
  if (!valid_) return false;
  const auto n = std::as_const(node_)[key];
  return n.IsDefined() && !n.IsNull();
}

YAML::Node MapReader::get(const std::string& key, bool required) {
  if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
  seen_.insert(key);
  const YAML::Node n = std::as_const(node_)[key];
  if (!n.IsDefined() || n.IsNull()) {
    if (required) diag_.add(node_.Mark(), field(key), "is required");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return n;
}

void MapReader::error(const std::string& key, const std::string& message) {
  const YAML::Node n = valid_ ? std::as_const(node_)[key] : YAML::Node();
  diag_.add(n.IsDefined() && !n.IsNull() ? n.Mark() : node_.Mark(), field(key), message);
}

std::optional<std::string> MapReader::string(const std::string& key, bool required) {
  const auto n = get(key, required);
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    diag_.add(n.Mark(), field(key), "must be a string, found " + node_kind(n));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<std::string> MapReader::choice(const std::string& key, const std::vector<std::string>& choices,
                                             bool required) {
  auto s = string(key, required);
  if (!s) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    diag_.add(std::as_const(node_)[key].Mark(), field(key), "unknown value '" + *s + "' (expected one of: " + list + ")");
    return std::nullopt;
  }
  return s;
}

std::optional<double> MapReader::number(const std::string& key, Bounds b, bool required) {
  const auto n = get(key, required);
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    diag_.add(n.Mark(), field(key), "must be a number, found " + node_kind(n));
    return std::nullopt;
  }
  const std::string& s = n.Scalar();
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) {
    diag_.add(n.Mark(), field(key), "must be a finite number, found '" + s + "'");
    return std::nullopt;
  }
  if (auto why = check_bounds(v, b)) {
    diag_.add(n.Mark(), field(key), *why + " (found " + s + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<long long> MapReader::integer(const std::string& key, Bounds b, bool required) {
  const auto n = get(key, required);
  if (!n.IsDefined()) return std::nullopt;
  const std::string s = n.IsScalar() ? n.Scalar() : std::string();
  errno = 0;
  char* end = nullptr;
  const long long v = n.IsScalar() ? std::strtoll(s.c_str(), &end, 10) : 0;
  if (!n.IsScalar() || s.empty() || end != s.c_str() + s.size() || errno == ERANGE) {
    diag_.add(n.Mark(), field(key), "must be an integer, found '" + s + "'");
    return std::nullopt;
  }
  if (auto why = check_bounds(static_cast<double>(v), b)) {
    diag_.add(n.Mark(), field(key), *why + " (found " + s + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> MapReader::boolean(const std::string& key, bool required) {
  const auto n = get(key, required);
  if (!n.IsDefined()) return std::nullopt;
  if (n.IsScalar()) {
    const auto& s = n.Scalar();
    if (s == "true" || s == "True" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "False" || s == "no" || s == "off") return false;
  }
  diag_.add(n.Mark(), field(key), "must be true or false");
  return std::nullopt;
}

std::optional<Duration> MapReader::duration(const std::string& key, bool required, Duration min) {
  auto s = string(key, required);
  if (!s) return std::nullopt;
  const auto d = parse_duration(*s);
  if (!d) {
    diag_.add(std::as_const(node_)[key].Mark(), field(key),
              "must be a duration such as 900s, 15m, 2h or 1h30m, found '" + *s + "'");
    return std::nullopt;
  }
  if (*d < min) {
    diag_.add(std::as_const(node_)[key].Mark(), field(key), "must be at least " + format_duration(min));
    return std::nullopt;
  }
  return d;
}

std::optional<TimePoint> MapReader::time(const std::string& key, bool required) {
  auto s = string(key, required);
  if (!s) return std::nullopt;
  const auto t = parse_utc(*s);
  if (!t) {
    diag_.add(std::as_const(node_)[key].Mark(), field(key),
              "must be an RFC 3339 time with a zone, e.g. 2026-07-07T14:00:00+08:00, found '" + *s + "'");
  }
  return t;
}

std::optional<MapReader> MapReader::map(const std::string& key, bool required) {
  const auto n = get(key, required);
  if (!n.IsDefined()) return std::nullopt;
  MapReader r(n, field(key), diag_);
  if (!r.valid()) return std::nullopt;
  return r;
}

void MapReader::list(const std::string& key, const std::function<void(const YAML::Node&, const std::string&)>& each,
                     bool required) {
  const auto n = get(key, required);
  if (!n.IsDefined()) return;
  if (!n.IsSequence()) {
    diag_.add(n.Mark(), field(key), "must be a list, found " + node_kind(n));
    return;
  }
  for (std::size_t i = 0; i < n.size(); ++i) each(n[i], field(key) + "[" + std::to_string(i) + "]");
}

void MapReader::map_list(const std::string& key, const std::function<void(MapReader&)>& each, bool required) {
  list(
      key,
      [&](const YAML::Node& item, const std::string& path) {
        MapReader r(item, path, diag_);
        if (r.valid()) each(r);
      },
      required);
}

std::vector<std::string> MapReader::string_list(const std::string& key) {
  std::vector<std::string> out;
  list(key, [&](const YAML::Node& item, const std::string& path) {
    if (item.IsScalar()) {
      out.push_back(item.Scalar());
    } else {
      diag_.add(item.Mark(), path, "must be a string, found " + node_kind(item));
    }
  });
  return out;
}

YAML::Node MapReader::raw(const std::string& key) { return get(key, false); }

void MapReader::finish() {
  if (finished_) return;
  finished_ = true;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string k = it->first.IsScalar() ? it->first.Scalar() : std::string("?");
    if (!seen_.count(k)) {
      std::string known;
      for (const auto& s : seen_) known += (known.empty() ? "" : ", ") + s;
      diag_.add(it->first.Mark(), field(k), "unknown key" + (known.empty() ? std::string() : " (known here: " + known + ")"));
    }
  }
}

YAML::Node parse_yaml(const std::string& text, Diagnostics& diag) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    diag.add(e.mark, "", "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    diag.add(e.mark, "", "YAML error: " + e.msg);
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node load_yaml_file(const std::string& path, Diagnostics& diag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diag.add(YAML::Mark::null_mark(), "", "cannot read file");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_yaml(ss.str(), diag);
}

}  // namespace vpp::config
