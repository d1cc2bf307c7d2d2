#include "apps/vppctl_openadr.hpp"

#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "adapters/http/client.hpp"
#include "model/time.hpp"

namespace vpp::apps {
namespace {

using Json = nlohmann::json;

struct BadDoc {
  std::string what;
};

const Json& need(const Json& j, const char* key, const char* path) {
  if (!j.is_object() || !j.contains(key)) throw BadDoc{std::string(path) + "." + key + ": missing"};
  return j[key];
}

std::string text(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) {
    std::ostringstream ss;
    ss.setf(std::ios::fixed);
    ss.precision(3);
    ss << v.get<double>();
    return ss.str();
  }
  return v.dump();
}

std::string pad(std::string s, std::size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

}  // namespace

Result<std::string> format_openadr_status(const std::string& json) {
  Json doc;
  try {
    doc = Json::parse(json);
  } catch (const Json::exception& e) {
    return Error{std::string("status: not JSON: ") + e.what()};
  }
  try {
    std::ostringstream out;
    const Json& c = need(doc, "connection", "status");
    out << "VTN         " << text(need(doc, "vtn_url", "status")) << " (OpenADR " << text(need(doc, "spec_version", "status"))
        << ")\n";
    out << "VEN         " << text(need(doc, "ven_name", "status")) << " id " << text(need(doc, "ven_id", "status")) << "\n";
    out << "Connection  " << text(need(c, "state", "connection"));
    if (!need(c, "unreachable_since", "connection").is_null()) out << " since " << text(c["unreachable_since"]);
    out << ", last success " << text(need(c, "last_success", "connection")) << ", failures "
        << text(need(c, "consecutive_failures", "connection")) << "\n";
    if (!need(c, "last_error", "connection").is_null()) {
      out << "Last error  " << text(c["last_error"]) << " at " << text(need(c, "last_error_at", "connection")) << "\n";
    }
    out << "Next poll   " << text(need(c, "next_poll", "connection")) << ", token valid until "
        << text(need(c, "token_valid_until", "connection")) << "\n";
    out << "Webhook     " << text(need(c, "webhook", "connection"));
    if (!c["webhook"].is_null()) out << (need(c, "subscribed", "connection").get<bool>() ? " (subscribed)" : " (not subscribed)");
    out << "\n\nPrograms\n";
    const Json& progs = need(doc, "programs", "status");
    if (!progs.is_array()) throw BadDoc{"status.programs: must be an array"};
    for (const auto& p : progs) {
      out << "  " << pad(text(need(p, "name", "programs[]")), 24)
          << (need(p, "found", "programs[]").get<bool>() ? "id " + text(need(p, "id", "programs[]")) : std::string("not found at the VTN"))
          << "\n";
    }
    if (progs.empty()) out << "  (none)\n";
    out << "\nEvents\n";
    const Json& events = need(doc, "events", "status");
    if (!events.is_array()) throw BadDoc{"status.events: must be an array"};
    if (events.empty()) out << "  (none)\n";
    if (!events.empty()) {
      out << "  " << pad("ID", 20) << pad("PROGRAM", 16) << pad("STATE", 11) << pad("PRIO", 6) << pad("START", 22)
          << pad("END", 22) << "SIGNALS\n";
    }
    for (const auto& e : events) {
      std::string types;
      for (const auto& t : need(e, "payload_types", "events[]")) types += (types.empty() ? "" : ",") + text(t);
      out << "  " << pad(text(need(e, "id", "events[]")), 20) << pad(text(need(e, "program", "events[]")), 16)
          << pad(text(need(e, "state", "events[]")), 11) << pad(text(need(e, "priority", "events[]")), 6)
          << pad(text(need(e, "start", "events[]")), 22) << pad(text(need(e, "end", "events[]")), 22) << types << "\n";
    }
    const Json& r = need(doc, "reports", "status");
    out << "\nReports     " << text(need(r, "pending", "reports")) << " pending, " << text(need(r, "sent", "reports"))
        << " sent, " << text(need(r, "rejected", "reports")) << " rejected";
    if (!need(r, "oldest_pending", "reports").is_null()) out << "; oldest pending " << text(r["oldest_pending"]);
    out << "\n";
    const Json& k = need(doc, "counters", "status");
    out << "Rejected    " << text(need(k, "invalid_objects", "counters")) << " invalid objects, "
        << text(need(k, "out_of_order", "counters")) << " out of order, " << text(need(k, "duplicates", "counters"))
        << " duplicates\n";
    return out.str();
  } catch (const BadDoc& b) {
    return Error{"status document: " + b.what};
  } catch (const Json::exception& e) {
    return Error{std::string("status document: ") + e.what()};
  }
}

int run_openadr_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                        const std::function<const char*(const char*)>& getenv) {
  const std::string usage =
      "usage: vppctl openadr status [--json] [--url URL] [--token-file FILE] [--ca-file FILE] [--insecure] [--timeout D]\n";
  if (args.size() < 2 || args[0] != "openadr" || args[1] != "status") {
    err << usage;
    return 64;
  }
  http::ClientOptions o;
  bool raw_json = false;
  std::string token_file;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--json") {
      raw_json = true;
    } else if (a == "--insecure") {
      o.insecure = true;
    } else if (a == "--url" || a == "--token-file" || a == "--ca-file" || a == "--timeout") {
      auto v = value();
      if (!v) {
        err << a << ": needs a value\n" << usage;
        return 64;
      }
      if (a == "--url") o.url = *v;
      if (a == "--token-file") token_file = *v;
      if (a == "--ca-file") o.ca_file = *v;
      if (a == "--timeout") {
        auto d = parse_duration(*v);
        if (!d || *d <= Duration::zero()) {
          err << "--timeout: not a duration: '" << *v << "'\n";
          return 64;
        }
        o.timeout = *d;
      }
    } else {
      err << "unknown option '" << a << "'\n" << usage;
      return 64;
    }
  }
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in || !std::getline(in, o.token) || o.token.empty()) {
      err << "--token-file: cannot read a token from '" << token_file << "'\n";
      return 64;
    }
  } else if (const char* t = getenv ? getenv("VPP_TOKEN") : nullptr; t && *t) {
    o.token = t;
  } else {
    err << "no API token: set VPP_TOKEN or pass --token-file FILE\n";
    return 64;
  }
  auto client = http::HttpClient::create(o);
  if (!client) {
    err << client.error() << "\n";
    return 64;
  }
  auto res = (*client)->request("GET", "/api/v1/openadr/status");
  if (!res) {
    err << "cannot reach " << o.url << ": " << res.error() << "\n";
    return 2;
  }
  if (res->status != 200) {
    err << "server answered " << res->status << ": " << res->body << "\n";
    return 1;
  }
  if (raw_json) {
    out << res->body << (res->body.empty() || res->body.back() != '\n' ? "\n" : "");
    return 0;
  }
  auto text = format_openadr_status(res->body);
  if (!text) {
    err << text.error() << "\n";
    return 2;
  }
  out << *text;
  return 0;
}

}  // namespace vpp::apps
