#pragma once
// The controller core as a simulator strategy: the same core vppd runs, fed the messages that
// arrive through the simulated channel, its solve requests answered by the optimizer in
// process one control period later (a solve is never instantaneous, and the core must not rely
// on it being so), its commands sent back down the channel. Optionally records every input of
// the core and its output stream (sim/recording.hpp) for replay.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/core.hpp"
#include "sim/recording.hpp"
#include "sim/strategy.hpp"

namespace vpp::sim {

struct ControllerStats {
  std::uint64_t solves = 0;
  double solve_seconds = 0;           // wall time, for notes only (never in outputs)
  std::map<std::string, std::uint64_t> alarms;  // by code
};

class ControllerStrategy final : public Strategy {
 public:
  ControllerStrategy();
  ~ControllerStrategy() override;

  std::string_view name() const override { return "controller"; }
  void start(const StrategyContext& ctx) override;
  std::vector<Command> tick(TimePoint now, std::span<const Telemetry> telemetry, std::span<const CommandAck> acks,
                            std::span<const GridSignal> signals) override;
  std::vector<double> settlement_baseline_kw(std::string_view event_id) const override;
  std::vector<std::string> finish() override;

  const controller::Core& core() const { return *core_; }

 private:
  std::vector<controller::Output> feed(const controller::Input& in, TimePoint now);
  void handle_outputs(std::vector<controller::Output>&& outs, TimePoint now, std::vector<Command>& commands);
  std::shared_ptr<controller::Forecast> forecast(TimePoint now) const;

  StrategyContext ctx_;
  controller::Settings settings_;
  std::string solver_;
  std::unique_ptr<controller::Core> core_;
  std::unique_ptr<DelimitedWriter> inputs_, outputs_;
  std::unique_ptr<RecordingCore> recording_;
  std::vector<controller::SolveResult> ready_;            // answered, fed at the next tick
  std::map<std::string, controller::EventReport> reports_;
  std::optional<TimePoint> last_forecast_;
  ControllerStats stats_;
  bool trace_ = false;
  std::string trace_site_;
  std::map<std::string, Telemetry> seen_;
  std::shared_ptr<const optimizer::Problem> last_problem_;
  std::shared_ptr<const optimizer::Plan> last_plan_;
  void trace_site(TimePoint now) const;
};

// Answers a core's solve request with the optimizer (deterministically: the same request gives
// the same plan), as vppd's solver thread and the replayer do.
controller::SolveResult solve(const controller::SolveRequest& request, const std::string& solver);

std::unique_ptr<Strategy> make_controller_strategy();

}  // namespace vpp::sim
