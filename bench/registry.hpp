#pragma once
// vpp-bench subcommands register themselves here: `vpp-bench NAME [args]`. Each lives in its own
// *_bench.cpp file, compiled into the one executable.
#include <functional>
#include <string>
#include <vector>

namespace vpp::bench {

struct Command {
  std::string name;
  std::string usage;  // one line, e.g. "optimizer --sites N [--steps 96] --solver clp|decomposed|both"
  std::function<int(const std::vector<std::string>& args)> run;
};

std::vector<Command>& commands();
// Use at namespace scope: `static const bool registered = vpp::bench::add({...});`
bool add(Command c);

}  // namespace vpp::bench
