#include "sim/replay.hpp"

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "controller/core.hpp"
#include "sim/controller_strategy.hpp"
#include "sim/recording.hpp"

namespace vpp::sim {
namespace {

Result<std::pair<vpp::v1::RecordingHeader, std::unique_ptr<DelimitedReader>>> open_recording(const std::string& path) {
  auto reader = std::make_unique<DelimitedReader>(path);
  if (!reader->ok()) return Error{reader->error()};
  vpp::v1::RecordingHeader header;
  if (!reader->next(header)) {
    return Error{path + ": " + (reader->error().empty() ? std::string("empty file") : reader->error())};
  }
  if (header.format() != "vpp-recording/1") {
    return Error{path + ": not a vpp recording (format '" + header.format() + "')"};
  }
  return std::make_pair(std::move(header), std::move(reader));
}

Result<RecordedRun> recorded_run(const vpp::v1::RecordingHeader& h, const std::string& path) {
  auto sc = load_scenario_text(h.scenario_yaml(), path + " (recorded scenario " + h.scenario_name() + ")");
  if (!sc) return Error{sc.error()};
  RecordedRun run;
  run.scenario = std::move(*sc);
  run.seed = h.seed();
  run.solver = h.solver().empty() ? run.scenario.solver : h.solver();
  run.scenario.seed = h.seed();
  run.scenario.solver = run.solver;
  return run;
}

}  // namespace

Result<RecordedRun> read_recorded_run(const std::string& recording) {
  auto opened = open_recording(recording);
  if (!opened) return Error{opened.error()};
  return recorded_run(opened->first, recording);
}

Result<ReplayResult> replay(const ReplayOptions& options) {
  auto opened = open_recording(options.recording);
  if (!opened) return Error{opened.error()};
  auto& [header, reader] = *opened;
  auto run = recorded_run(header, options.recording);
  if (!run) return Error{run.error()};

  controller::Settings settings = run->scenario.controller;
  settings.utc_offset_minutes = run->scenario.utc_offset_minutes;
  controller::Core core(settings, header.command_id_prefix());
  std::unique_ptr<DelimitedWriter> out;
  if (!options.outputs.empty()) {
    out = std::make_unique<DelimitedWriter>(options.outputs);
    if (!out->ok()) return Error{"cannot write " + options.outputs};
  }
  std::unique_ptr<DelimitedReader> expected;
  if (!options.expected.empty()) {
    expected = std::make_unique<DelimitedReader>(options.expected);
    if (!expected->ok()) return Error{expected->error()};
  }
  ReplayResult result;
  result.scenario = run->scenario.name;
  bool diverged = false;
  std::map<std::uint64_t, controller::SolveRequest> requests;
  vpp::v1::CoreInputRecord rec;
  while (reader->next(rec)) {
    const TimePoint t = from_unix_ms(rec.time_ms());
    if (options.stop_at && t > *options.stop_at) break;
    auto input = from_record(rec);
    if (!input) {
      return Error{options.recording + ": input " + std::to_string(result.inputs + 1) + " at " + format_utc(t) + ": " +
                   input.error()};
    }
    if (auto* sr = std::get_if<controller::SolveResult>(&*input); sr && !rec.solve_result().failed()) {
      const auto it = requests.find(sr->request_id);
      if (it == requests.end()) {
        return Error{"solve result " + std::to_string(sr->request_id) + " at " + format_utc(t) +
                     " answers a request the replayed core never made: the replay diverged"};
      }
      auto solved = solve(it->second, run->solver);
      if (!solved.plan) {
        result.mismatches.push_back("request " + std::to_string(sr->request_id) + " failed on replay: " + solved.error);
      } else if (digest(*solved.plan) != rec.solve_result().plan_digest()) {
        result.mismatches.push_back("request " + std::to_string(sr->request_id) + " gave a different plan on replay");
      }
      sr->plan = std::move(solved.plan);
      requests.erase(it);
      ++result.solves;
    }
    ++result.inputs;
    result.last_time = t;
    for (const auto& o : core.handle(*input, t)) {
      const auto record = to_record(o, t);
      if (out) out->write(record);
      if (expected && !diverged) {
        // The first output that differs from the recorded stream, shown in full.
        vpp::v1::CoreOutputRecord want;
        if (!expected->next(want) || want.SerializeAsString() != record.SerializeAsString()) {
          diverged = true;
          result.mismatches.push_back("output " + std::to_string(result.outputs + 1) + " at " + format_utc(t) +
                                      " differs:\n  replayed: " + record.ShortDebugString() +
                                      "\n  recorded: " + want.ShortDebugString());
        }
      }
      ++result.outputs;
      if (const auto* req = std::get_if<controller::SolveRequest>(&o)) requests.emplace(req->id, *req);
    }
  }
  if (!reader->error().empty()) return Error{options.recording + ": " + reader->error()};
  if (out) out->flush();
  result.state = core.describe(options.stop_at.value_or(result.last_time));
  return result;
}

Result<Scenario> apply_overrides(const Scenario& base, const std::string& overrides_path) {
  config::Diagnostics diag(overrides_path);
  const YAML::Node root = config::load_yaml_file(overrides_path, diag);
  Scenario sc = base;
  if (diag.empty()) {
    config::MapReader r(root, "", diag);
    if (r.valid()) read_controller_sections(r, sc);
  }
  if (!diag.empty()) return Error{diag.to_string()};
  return sc;
}

}  // namespace vpp::sim
