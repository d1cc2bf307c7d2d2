// vppctl: the operator's command-line tool. Commands are a table of (words, usage, handler) so
// new ones slot in beside `modbus scan`.
//
//   vppctl modbus scan HOST:PORT [--unit N] [--base 40000|0|50000] [--timeout-ms MS]
//     Discovers the SunSpec models of a device and prints them with their scaled values as JSON
//     (one object, keys in register order), for installers checking a device.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "adapters/modbus/modbus_link.hpp"
#include "adapters/modbus/sunspec_device.hpp"
#include "apps/vppctl_api.hpp"

namespace {

using Args = std::vector<std::string>;

struct CommandSpec {
  std::vector<std::string> words;
  std::string usage;
  std::function<int(const Args&)> run;
};

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// Fixed formatting: the same registers always print the same text.
std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::optional<long> parse_int(const std::string& s) {
  long v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

int fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "vppctl: %s\n", msg.c_str());
  return code;
}

int modbus_scan(const Args& args) {
  using namespace vpp::adapters::modbus;
  if (args.empty()) return fail("modbus scan needs HOST:PORT", 2);
  const std::string& target = args[0];
  const auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0) return fail("expected HOST:PORT, got '" + target + "'", 2);
  const auto port = parse_int(target.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535) return fail("invalid port in '" + target + "'", 2);
  int unit = 1;
  std::optional<int> base;
  long timeout_ms = 1000;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return fail("option " + a + " needs a value", 2);
    const auto v = parse_int(args[++i]);
    if (a == "--unit") {
      if (!v || *v < 0 || *v > 247) return fail("--unit must be 0..247", 2);
      unit = static_cast<int>(*v);
    } else if (a == "--base") {
      if (!v || (*v != 0 && *v != 40000 && *v != 50000)) return fail("--base must be 40000, 0 or 50000", 2);
      base = static_cast<int>(*v);
    } else if (a == "--timeout-ms") {
      if (!v || *v < 10 || *v > 60000) return fail("--timeout-ms must be 10..60000", 2);
      timeout_ms = *v;
    } else {
      return fail("unknown option '" + a + "'", 2);
    }
  }
  ModbusLink link(LinkSpec{false, target.substr(0, colon), static_cast<int>(*port), "", 0, {}});
  link.set_timeout(std::chrono::milliseconds(timeout_ms));
  SunSpecMap map;
  if (auto s = discover(link, unit, base, map); !s.ok()) return fail("discovery failed: " + s.message);
  std::vector<ScannedModel> models;
  if (auto s = read_models(link, unit, map, models); !s.ok()) return fail("read failed: " + s.message);

  std::string out = "{\"host\":" + json_string(target.substr(0, colon)) + ",\"port\":" + std::to_string(*port) +
                    ",\"unit\":" + std::to_string(unit) + ",\"base\":" + std::to_string(map.base) + ",\"models\":[";
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& m = models[i];
    out += i ? "," : "";
    out += "{\"id\":" + std::to_string(m.where.id) + ",\"address\":" + std::to_string(m.where.address) +
           ",\"length\":" + std::to_string(m.where.length);
    if (!m.decoded) {
      out += m.error.empty() ? ",\"known\":false}" : ",\"error\":" + json_string(m.error) + "}";
      continue;
    }
    out += ",\"name\":" + json_string(m.decoded->def->name) + ",\"points\":{";
    bool first = true;
    for (const auto& p : m.decoded->points) {
      if (!p.implemented() || p.def->type == vpp::sunspec::PointType::sunssf || p.path == "ID" || p.path == "L") continue;
      out += first ? "" : ",";
      first = false;
      out += json_string(p.path) + ":{\"value\":";
      if (const auto* s = std::get_if<std::string>(&p.raw)) {
        out += json_string(*s);
      } else if (p.value) {
        out += json_number(*p.value);
      } else {
        out += "null";  // the scale factor is not implemented
      }
      if (!p.def->units.empty()) out += ",\"units\":" + json_string(p.def->units);
      for (const auto& sym : p.def->symbols) {
        const auto* u = std::get_if<std::uint64_t>(&p.raw);
        if (u && p.def->type == vpp::sunspec::PointType::enum16 && static_cast<std::int64_t>(*u) == sym.value) {
          out += ",\"symbol\":" + json_string(sym.name);
        }
      }
      out += "}";
    }
    out += "}}";
  }
  out += "]}";
  std::printf("%s\n", out.c_str());
  return 0;
}

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> all = {
      {{"modbus", "scan"}, "modbus scan HOST:PORT [--unit N] [--base 40000|0|50000] [--timeout-ms MS]", modbus_scan},
  };
  return all;
}

void usage(std::FILE* f) {
  std::fprintf(f, "usage: vppctl COMMAND [args]\ncommands:\n");
  for (const auto& c : commands()) std::fprintf(f, "  %s\n", c.usage.c_str());
  std::fprintf(f, "  events|sites|opt-out|fleet ...   over vppd's HTTP API (vppctl events --help)\n");
}

}  // namespace

int main(int argc, char** argv) {
  const Args args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    usage(args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (vpp::apps::is_api_command(args[0])) {
    return vpp::apps::run_api_command(args);
  }
  for (const auto& c : commands()) {
    if (args.size() >= c.words.size() && std::equal(c.words.begin(), c.words.end(), args.begin())) {
      return c.run(Args(args.begin() + static_cast<std::ptrdiff_t>(c.words.size()), args.end()));
    }
  }
  std::fprintf(stderr, "vppctl: unknown command\n");
  usage(stderr);
  return 2;
}
