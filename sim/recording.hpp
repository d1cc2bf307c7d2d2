#pragma once
// Recording and replay of the controller core (proto/recording.proto): every input with its
// time, and the output stream, as length-delimited protobuf.
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "controller/core.hpp"
#include "model/result.hpp"
#include "proto/recording.pb.h"

namespace vpp::sim {

// Conversions. Inputs that carry a plan (SolveResult) keep only its digest: replay re-solves.
vpp::v1::CoreInputRecord to_record(const controller::Input& in, TimePoint t);
Result<controller::Input> from_record(const vpp::v1::CoreInputRecord& r);
vpp::v1::CoreOutputRecord to_record(const controller::Output& out, TimePoint t);

// A plan as vppd stores it for a restart (PlanRecord): setpoints, fleet figures and prices;
// violations, messages and solver statistics are left out. from_proto checks that every series
// has the horizon's length.
vpp::v1::PlanRecord plan_to_record(const optimizer::Plan& p);
Result<std::shared_ptr<const optimizer::Plan>> plan_from_record(const vpp::v1::PlanRecord& r);

// FNV-1a over every number and id of a problem or plan: equal digests, same content.
std::uint64_t digest(const optimizer::Problem& p);
std::uint64_t digest(const optimizer::Plan& p);

// Writes varint-length-delimited messages to a file.
class DelimitedWriter {
 public:
  explicit DelimitedWriter(const std::string& path);
  bool ok() const { return static_cast<bool>(out_); }
  const std::string& path() const { return path_; }
  void write(const google::protobuf::MessageLite& m);
  void flush() { out_.flush(); }

 private:
  std::string path_;
  std::ofstream out_;
};

// Reads them back. next() returns false at the end; a truncated or corrupt message sets error().
class DelimitedReader {
 public:
  explicit DelimitedReader(const std::string& path);
  ~DelimitedReader();
  bool ok() const { return opened_; }
  bool next(google::protobuf::MessageLite& m);
  const std::string& error() const { return error_; }
  std::uint64_t messages() const { return count_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool opened_ = false;
  std::string error_;
  std::uint64_t count_ = 0;
};

// Records a core: wraps handle(), writing each input (to the recording) and its outputs (to
// the outputs file), both optional.
class RecordingCore {
 public:
  RecordingCore(controller::Core& core, DelimitedWriter* inputs, DelimitedWriter* outputs)
      : core_(core), inputs_(inputs), outputs_(outputs) {}
  std::vector<controller::Output> handle(const controller::Input& in, TimePoint now);

 private:
  controller::Core& core_;
  DelimitedWriter* inputs_;
  DelimitedWriter* outputs_;
};

}  // namespace vpp::sim
