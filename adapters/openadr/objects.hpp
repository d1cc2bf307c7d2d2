#pragma once
// OpenADR 3 objects as the VEN reads them (programs, events, report descriptors), parsed from
// JSON and checked against the OpenAPI schema of the spec version in use
// (tests/adapters/openadr/spec/openadr3-3.0.1.yaml, openadr3-3.1.0.yaml). A parse either yields
// the whole object or an error naming the field path and the rule broken: an object that breaks
// the schema is never half-applied.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/result.hpp"
#include "model/time.hpp"

namespace vpp::openadr {

using Json = nlohmann::json;

enum class SpecVersion { v3_0_1, v3_1_0 };
std::string_view to_string(SpecVersion v);
std::optional<SpecVersion> parse_spec_version(std::string_view s);

// ISO 8601 durations as the spec's `duration` pattern allows them ("PT1H", "P1D", "PT0.5S",
// "-PT5M"). Years count 365 days and months 30 days (the spec uses them only for "P9999Y",
// 3.1.0's infinity, and for program spans). Returns nullopt on anything else.
std::optional<Duration> parse_iso_duration(std::string_view s);
// Shortest ISO 8601 form: "PT15M", "PT1H30M", "PT0S", "PT0.25S".
std::string format_iso_duration(Duration d);
// RFC 3339 with a "Z" zone, milliseconds only when non-zero.
std::string format_time(TimePoint t);

// 3.0.1: a valuesMap {type, values}; 3.1.0: a plain string (type left empty).
struct Target {
  std::string type;
  std::vector<std::string> values;
};

struct IntervalPeriod {
  TimePoint start{};
  std::optional<Duration> duration;        // absent or PT0S: open ended (see resolve_intervals)
  std::optional<Duration> randomize_start;
  bool start_now = false;                  // 3.1.0: start 0001-01-01 means "now"
};

struct ValuesMap {
  std::string type;
  Json values = Json::array();             // numbers, strings, booleans or {x, y} points
};

struct Interval {
  int id = 0;
  std::optional<IntervalPeriod> period;
  std::vector<ValuesMap> payloads;
};

struct PayloadDescriptor {
  std::string payload_type;
  std::string units;
  std::string currency;
};

struct ReportDescriptor {
  std::string payload_type;
  std::string reading_type;
  std::string units;
  std::vector<Target> targets;
  bool aggregate = false;
  int start_interval = -1;    // -1: at the end of the last interval
  int num_intervals = -1;     // -1: all intervals
  bool historical = true;
  int frequency = -1;         // intervals between reports; -1: same as num_intervals
  int repeat = 1;             // -1: indefinitely
};

struct Event {
  std::string id;
  std::string program_id;
  std::string name;
  std::optional<int> priority;             // lower number = more important (spec)
  std::optional<TimePoint> modified;       // modificationDateTime
  std::vector<Target> targets;
  std::vector<PayloadDescriptor> payload_descriptors;
  std::vector<ReportDescriptor> report_descriptors;
  std::optional<IntervalPeriod> period;
  std::optional<Duration> duration;        // 3.1.0 event-level duration
  std::vector<Interval> intervals;
  std::string canonical;                   // the object re-serialised with sorted keys (change detection)
};

struct Program {
  std::string id;
  std::string name;
  std::optional<TimePoint> modified;
  std::vector<Target> targets;
};

// Schema checks of the spec version, then the object. Errors read like
// "intervals[1].payloads[0].values: must be an array".
Result<Event> parse_event(const Json& j, SpecVersion v);
Result<Program> parse_program(const Json& j, SpecVersion v);
// Checks a JSON value against the spec's `objectID` (1..128 of [a-zA-Z0-9_-]).
bool valid_object_id(const std::string& s);

// An event's intervals placed in time: an interval with its own intervalPeriod uses it (its
// missing duration comes from the event's); the others follow the previous one with no gap,
// starting at the event's intervalPeriod.start, each lasting the event's duration (User Guide:
// "even duration and contiguous"). A zero or missing duration, or 3.1.0's P9999Y, is open ended:
// allowed on the last interval only.
struct ResolvedInterval {
  int id = 0;
  std::size_t index = 0;                   // position in the event's list
  TimePoint start{};
  Duration duration{};
  bool open_ended = false;
  Duration randomize{};                    // randomizeStart (0 = none)
  const Interval* interval = nullptr;
  TimePoint end() const { return start + duration; }
};
// `now` stands for 3.1.0's "start now"; `open_ended_as` is the duration given to open-ended
// intervals.
Result<std::vector<ResolvedInterval>> resolve_intervals(const Event& e, TimePoint now, Duration open_ended_as);

}  // namespace vpp::openadr
