// vpp-bench: benchmarks that print machine-readable results (one JSON line per measurement).
#include <cstdio>
#include <string>
#include <vector>

#include "bench/registry.hpp"

namespace vpp::bench {

std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}

bool add(Command c) {
  commands().push_back(std::move(c));
  return true;
}

}  // namespace vpp::bench

int main(int argc, char** argv) {
  using vpp::bench::commands;
  auto usage = [] {
    std::fprintf(stderr, "usage: vpp-bench COMMAND [args]\ncommands:\n");
    for (const auto& c : commands()) std::fprintf(stderr, "  %s\n", c.usage.c_str());
  };
  if (argc < 2 || std::string(argv[1]) == "--help") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : commands()) {
    if (c.name == argv[1]) return c.run(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "vpp-bench: unknown command '%s'\n", argv[1]);
  usage();
  return 2;
}
