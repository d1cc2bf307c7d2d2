#pragma once
// Replay of a recorded controller core (sim/recording.hpp), and what-if runs of a recorded day.
//
// Replay feeds every recorded input to a fresh core built with the recording's settings and
// writes its output stream, byte-identical to the recorded one. Plans are not stored: each
// recorded solve result is answered by solving the replayed core's own request again (the
// optimizer is deterministic), and the recorded plan digest checks that it came out the same.
// Engineers can stop at any moment and print the core's state and why it decided what it did.
#include <optional>
#include <string>
#include <vector>

#include "model/result.hpp"
#include "model/time.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim {

struct ReplayOptions {
  std::string recording;                 // the file `vppsim run --record` wrote
  std::string outputs;                   // where to write the output stream ("" = nowhere)
  std::optional<TimePoint> stop_at;      // stop before the first input after this time
  std::string expected;                  // an outputs file to compare with, record by record
};

struct ReplayResult {
  std::string scenario;
  std::uint64_t inputs = 0;
  std::uint64_t outputs = 0;
  std::uint64_t solves = 0;
  std::vector<std::string> mismatches;   // plans (or outputs) that did not come out as recorded
  TimePoint last_time{};
  std::string state;                     // the core's describe() where the replay stopped
};

Result<ReplayResult> replay(const ReplayOptions& options);

// The recording's header: the scenario it ran (its YAML and seed determine every exogenous
// input: weather, base loads, signals, initial device states) and the controller settings.
struct RecordedRun {
  Scenario scenario;
  std::uint64_t seed = 0;
  std::string solver;
};
Result<RecordedRun> read_recorded_run(const std::string& recording);

// Applies a what-if file (`controller:`, `optimizer:` and `history_days:` keys, as in a
// scenario) over a scenario. Errors name file:line:column and field.
Result<Scenario> apply_overrides(const Scenario& base, const std::string& overrides_path);

}  // namespace vpp::sim
