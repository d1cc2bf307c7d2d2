#pragma once
// A small schema walker over yaml-cpp nodes that collects every error it finds, each naming the
// file, line, column and field path:
//   demo.yaml:14:7: sites[2].assets[0].capacity_kwh: must be > 0
// Usage: wrap a mapping in a MapReader, ask for each key you know, then call finish(), which
// reports every key nobody asked for (so typos never pass silently).
#include <yaml-cpp/yaml.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/time.hpp"

namespace vpp::config {

struct Diagnostic {
  std::string file;
  int line = 0;     // 1-based
  int column = 0;   // 1-based
  std::string path; // e.g. sites[2].assets[0].capacity_kwh
  std::string message;

  std::string to_string() const;
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  void add(const YAML::Mark& mark, std::string path, std::string message);
  const std::vector<Diagnostic>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  const std::string& file() const { return file_; }
  std::string to_string() const;  // one diagnostic per line

 private:
  std::string file_;
  std::vector<Diagnostic> items_;
};

// Bounds for numbers: each set bound is checked and named in the error.
// Designated initialisers must follow this order: min, greater_than, max, less_than.
struct Bounds {
  std::optional<double> min;            // value >= min
  std::optional<double> greater_than;   // value > greater_than
  std::optional<double> max;            // value <= max
  std::optional<double> less_than;      // value < less_than
};
inline constexpr Bounds kPositive{.greater_than = 0.0};
inline constexpr Bounds kNonNegative{.min = 0.0};
inline constexpr Bounds kPercent{.min = 0.0, .max = 100.0};
inline constexpr Bounds kFraction{.greater_than = 0.0, .max = 1.0};

class MapReader {
 public:
  // `node` must be a mapping; otherwise an error is recorded and every getter returns nothing.
  MapReader(const YAML::Node& node, std::string path, Diagnostics& diag);

  bool valid() const { return valid_; }
  const std::string& path() const { return path_; }
  YAML::Mark mark() const { return node_.Mark(); }
  Diagnostics& diagnostics() { return diag_; }
  bool has(const std::string& key);

  std::optional<std::string> string(const std::string& key, bool required = false);
  std::string string_or(const std::string& key, std::string fallback) {
    return string(key).value_or(std::move(fallback));
  }
  // One of `choices`; the error lists them.
  std::optional<std::string> choice(const std::string& key, const std::vector<std::string>& choices,
                                    bool required = false);
  std::optional<double> number(const std::string& key, Bounds b = {}, bool required = false);
  double number_or(const std::string& key, double fallback, Bounds b = {}) {
    return number(key, b).value_or(fallback);
  }
  std::optional<long long> integer(const std::string& key, Bounds b = {}, bool required = false);
  std::optional<bool> boolean(const std::string& key, bool required = false);
  // "15m", "900s", "1h30m"
  std::optional<Duration> duration(const std::string& key, bool required = false, Duration min = Duration{0});
  // RFC 3339 with a zone
  std::optional<TimePoint> time(const std::string& key, bool required = false);

  // A nested mapping; returns an invalid reader (and records an error if required) when absent.
  std::optional<MapReader> map(const std::string& key, bool required = false);
  // Calls `each(reader_or_node, index_path)` for every element of a sequence.
  void list(const std::string& key, const std::function<void(const YAML::Node&, const std::string&)>& each,
            bool required = false);
  void map_list(const std::string& key, const std::function<void(MapReader&)>& each, bool required = false);
  std::vector<std::string> string_list(const std::string& key);
  // The raw node for custom parsing; marks the key as known.
  YAML::Node raw(const std::string& key);

  // Records an error at the key's value (or at this map when the key is absent).
  void error(const std::string& key, const std::string& message);
  // Reports every key that was never asked for. Called by the destructor if not called before.
  void finish();
  ~MapReader();
  MapReader(MapReader&&) noexcept;
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;
  MapReader& operator=(MapReader&&) = delete;

  std::string field(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  YAML::Node get(const std::string& key, bool required);

  YAML::Node node_;
  std::string path_;
  Diagnostics& diag_;
  std::set<std::string> seen_;
  bool valid_ = true;
  bool finished_ = false;
};

// Parses `text` (named `file` in errors) into a root node. A syntax error is recorded with its
// position and an empty node returned.
YAML::Node parse_yaml(const std::string& text, Diagnostics& diag);
// Reads and parses a file; an unreadable file is recorded as an error at 1:1.
YAML::Node load_yaml_file(const std::string& path, Diagnostics& diag);

}  // namespace vpp::config
