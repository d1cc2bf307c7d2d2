#include "apps/vppctl_api.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>

#include "adapters/http/client.hpp"
#include "adapters/http/views.hpp"
#include "config/config.hpp"
#include "config/yaml_reader.hpp"
#include "proto/api.pb.h"
#include "proto/convert.hpp"

namespace vpp::apps {
namespace {

namespace pb = vpp::v1;

struct UsageError {
  std::string message;
};

// Positional words and --options (each option takes one value unless it is a flag).
struct Args {
  std::vector<std::string> words;
  std::map<std::string, std::string> opts;

  static Args parse(const std::vector<std::string>& in) {
    static const std::set<std::string> kFlags = {"--json", "--insecure", "--csv", "--always-available"};
    Args a;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const auto& w = in[i];
      if (w.rfind("--", 0) == 0) {
        if (kFlags.count(w)) {
          a.opts[w] = "1";
        } else if (i + 1 < in.size()) {
          a.opts[w] = in[++i];
        } else {
          throw UsageError{w + " needs a value"};
        }
      } else {
        a.words.push_back(w);
      }
    }
    return a;
  }
  bool flag(const std::string& k) const { return opts.count(k) > 0; }
  std::optional<std::string> opt(const std::string& k) const {
    auto it = opts.find(k);
    return it == opts.end() ? std::nullopt : std::optional(it->second);
  }
  const std::string& word(std::size_t i, const char* what) const {
    if (i >= words.size()) throw UsageError{std::string("missing ") + what};
    return words[i];
  }
};

double number(const Args& a, const std::string& k) {
  const auto v = *a.opt(k);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x)) throw UsageError{k + ": '" + v + "' is not a number"};
  return x;
}

Duration duration(const Args& a, const std::string& k) {
  const auto v = *a.opt(k);
  auto d = parse_duration(v);
  if (!d) throw UsageError{k + ": '" + v + "' is not a duration (e.g. 2h, 90m, 900s)"};
  return *d;
}

std::string fmt(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A plain text table: columns padded to their widest cell.
void table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> w;
  for (const auto& r : rows) {
    w.resize(std::max(w.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string ts(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return format_utc(http::get_time(t));
}

std::string target_of(const pb::CurtailmentEvent& e) {
  if (e.target_case() == pb::CurtailmentEvent::kTargetReductionKw) return "-" + fmt(e.target_reduction_kw()) + " kW";
  if (e.target_case() == pb::CurtailmentEvent::kImportCapKw) return "cap " + fmt(e.import_cap_kw()) + " kW";
  return "-";
}

TimePoint end_of(const pb::CurtailmentEvent& e) {
  return http::get_time(e.start()) + Duration{e.duration().seconds() * 1000 + e.duration().nanos() / 1'000'000};
}

template <typename Msg>
Msg parse_or_throw(const std::string& body) {
  Msg m;
  if (auto r = parse_json(body, m); !r) throw std::runtime_error("unexpected response: " + r.error());
  return m;
}

void print_event(std::ostream& out, const pb::EventView& v) {
  const auto& e = v.event();
  table(out, {{"event", e.event_id()},
              {"state", v.state()},
              {"program", e.program().empty() ? "-" : e.program()},
              {"window", format_utc(http::get_time(e.start())) + " .. " + format_utc(end_of(e))},
              {"target", target_of(e)},
              {"priority", std::to_string(e.priority())},
              {"sites", e.site_ids().empty() ? "whole fleet" : [&] {
                 std::string s;
                 for (const auto& id : e.site_ids()) s += (s.empty() ? "" : ",") + id;
                 return s;
               }()},
              {"opted out", [&] {
                 std::string s;
                 for (const auto& id : v.opted_out_sites()) s += (s.empty() ? "" : ",") + id;
                 return s.empty() ? std::string("-") : s;
               }()},
              {"revision", std::to_string(v.revision())}});
  if (v.has_delivery()) {
    const auto& d = v.delivery();
    out << "delivery as of " << ts(d.as_of()) << ": " << fmt(d.delivered_kw()) << " of " << fmt(d.requested_kw())
        << " kW (baseline " << fmt(d.baseline_kw()) << ", metered " << fmt(d.metered_kw()) << "); "
        << fmt(d.delivered_kwh()) << " of " << fmt(d.requested_kwh()) << " kWh so far\n";
  }
  std::vector<std::vector<std::string>> rows = {{"TIME", "FROM", "TO", "REASON"}};
  for (const auto& t : v.transitions()) rows.push_back({ts(t.time()), t.from().empty() ? "-" : t.from(), t.to(), t.reason()});
  out << "\n";
  table(out, rows);
}

struct Session {
  std::unique_ptr<http::HttpClient> client;
  bool json = false;
  std::ostream& out;
  std::ostream& err;

  // Sends; prints the server's refusal and returns nullopt on a non-2xx status.
  std::optional<http::ClientResponse> send(const std::string& method, const std::string& target,
                                           const std::string& body = "",
                                           const std::map<std::string, std::string>& headers = {}) {
    auto r = client->request(method, target, body, headers);
    if (!r) throw std::system_error(std::make_error_code(std::errc::io_error), r.error());
    if (r->status >= 200 && r->status < 300) return *r;
    pb::ErrorBody e;
    std::string msg = r->body;
    if (parse_json(r->body, e)) msg = e.reason() + (e.field().empty() ? "" : " (field " + e.field() + ")");
    err << "vppctl: HTTP " << r->status << (e.error().empty() ? "" : " " + e.error()) << ": " << msg << "\n";
    return std::nullopt;
  }
  int print_json(const http::ClientResponse& r) {
    out << r.body << (r.body.empty() || r.body.back() == '\n' ? "" : "\n");
    return 0;
  }
};

int events(Session& s, const Args& a) {
  const std::string& verb = a.word(1, "events subcommand (create, list, show, cancel, report)");
  if (verb == "create") {
    pb::CurtailmentEvent e;
    if (auto id = a.opt("--id")) e.set_event_id(*id);
    if (auto p = a.opt("--program")) e.set_program(*p);
    const auto start = a.opt("--start");
    if (!start) throw UsageError{"events create needs --start (e.g. 2026-07-07T14:00:00+08:00)"};
    const auto t = parse_utc(*start);
    if (!t) throw UsageError{"--start: '" + *start + "' is not a time with a zone (e.g. 2026-07-07T14:00:00+08:00)"};
    http::set_time(e.mutable_start(), *t);
    if (!a.opt("--duration")) throw UsageError{"events create needs --duration (e.g. 2h)"};
    http::set_duration(e.mutable_duration(), duration(a, "--duration"));
    const bool red = a.opt("--reduction-kw").has_value(), cap = a.opt("--import-cap-kw").has_value();
    if (red == cap) throw UsageError{"events create needs exactly one of --reduction-kw and --import-cap-kw"};
    if (red) e.set_target_reduction_kw(number(a, "--reduction-kw"));
    else e.set_import_cap_kw(number(a, "--import-cap-kw"));
    if (a.opt("--ramp")) http::set_duration(e.mutable_ramp(), duration(a, "--ramp"));
    if (a.opt("--priority")) e.set_priority(static_cast<int>(number(a, "--priority")));
    if (auto sites = a.opt("--sites")) {
      std::stringstream ss(*sites);
      for (std::string id; std::getline(ss, id, ',');) {
        if (!id.empty()) e.add_site_ids(id);
      }
    }
    auto r = s.send("POST", "/api/v1/events", to_json(e));
    if (!r) return 1;
    if (s.json) return s.print_json(*r);
    const auto v = parse_or_throw<pb::EventView>(r->body);
    s.out << "created event " << v.event().event_id() << " (" << v.state() << ")\n";
    return 0;
  }
  if (verb == "list") {
    std::string target = "/api/v1/events";
    if (auto st = a.opt("--state")) target += "?state=" + *st;
    auto r = s.send("GET", target);
    if (!r) return 1;
    if (s.json) return s.print_json(*r);
    const auto list = parse_or_throw<pb::EventList>(r->body);
    std::vector<std::vector<std::string>> rows = {{"EVENT", "STATE", "START", "END", "TARGET", "PROGRAM", "OPTED-OUT"}};
    for (const auto& v : list.events()) {
      rows.push_back({v.event().event_id(), v.state(), ts(v.event().start()), format_utc(end_of(v.event())),
                      target_of(v.event()), v.event().program().empty() ? "-" : v.event().program(),
                      std::to_string(v.opted_out_sites_size())});
    }
    table(s.out, rows);
    return 0;
  }
  const std::string& id = a.word(2, "event id");
  if (verb == "show" || verb == "cancel") {
    std::string body;
    if (verb == "cancel" && a.opt("--reason")) {
      pb::CancelRequest c;
      c.set_reason(*a.opt("--reason"));
      body = to_json(c);
    }
    auto r = verb == "show" ? s.send("GET", "/api/v1/events/" + id) : s.send("POST", "/api/v1/events/" + id + "/cancel", body);
    if (!r) return 1;
    if (s.json) return s.print_json(*r);
    print_event(s.out, parse_or_throw<pb::EventView>(r->body));
    return 0;
  }
  if (verb == "report") {
    const bool csv = a.flag("--csv");
    auto r = s.send("GET", "/api/v1/events/" + id + "/report" + (csv ? "?format=csv" : ""));
    if (!r) return 1;
    if (s.json || csv) return s.print_json(*r);
    const auto rep = parse_or_throw<pb::EventReport>(r->body);
    s.out << "event " << rep.event_id() << (rep.final() ? " (final)" : " (interim)") << ": delivered "
          << fmt(rep.delivered_kwh()) << " of " << fmt(rep.requested_kwh()) << " kWh, worst interval "
          << fmt(rep.min_interval_ratio() * 100, 0) << " %\n";
    if (!rep.baseline_method().empty()) s.out << "baseline: " << rep.baseline_method() << "\n";
    for (const auto& n : rep.notes()) s.out << "note: " << n << "\n";
    std::vector<std::vector<std::string>> rows = {{"SCOPE", "INTERVAL", "REQUESTED_KW", "BASELINE_KW", "METERED_KW", "DELIVERED_KW", "RATIO"}};
    auto add = [&](const std::string& scope, const pb::SettlementInterval& i) {
      rows.push_back({scope, ts(i.start()), fmt(i.requested_kw()), fmt(i.baseline_kw()), fmt(i.metered_kw()),
                      fmt(i.delivered_kw()), fmt(i.ratio(), 2)});
    };
    for (const auto& i : rep.fleet()) add("fleet", i);
    for (const auto& site : rep.sites()) {
      for (const auto& i : site.intervals()) add(site.site_id(), i);
    }
    s.out << "\n";
    table(s.out, rows);
    return 0;
  }
  throw UsageError{"unknown events subcommand '" + verb + "' (create, list, show, cancel, report)"};
}

// Reads an enrolment from YAML (the site format of vppd's configuration) or JSON.
std::string enrolment_json(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw UsageError{"cannot read '" + file + "'"};
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (file.size() > 5 && file.substr(file.size() - 5) == ".json") return text;
  config::Diagnostics diag(file);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UsageError{file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
  std::optional<Site> site;
  {
    config::MapReader r(root, "", diag);
    if (r.valid()) site = config::read_site(r);
  }
  if (!diag.empty() || !site) throw UsageError{diag.to_string()};
  return to_json(to_proto(*site));
}

int print_site(Session& s, const http::ClientResponse& r) {
  if (s.json) return s.print_json(r);
  const auto v = parse_or_throw<pb::SiteView>(r.body);
  const auto& site = v.site();
  const auto& l = site.limits();
  table(s.out, {{"site", site.site_id()},
                {"name", site.name()},
                {"owner", site.owner()},
                {"enrolled", ts(v.enrolled_at())},
                {"updated", ts(v.updated_at())},
                {"comfort band", fmt(l.comfort_min_c()) + " .. " + fmt(l.comfort_max_c()) + " degC"},
                {"battery reserve", fmt(l.battery_reserve_pct(), 0) + " %"},
                {"max curtailment", fmt(l.max_curtailment_pct(), 0) + " %"},
                {"availability", l.availability().empty() ? "always" : std::to_string(l.availability_size()) + " window(s)"},
                {"assets online", std::to_string(v.assets_online()) + " of " + std::to_string(site.assets_size())}});
  return 0;
}

int sites(Session& s, const Args& a) {
  const std::string& verb = a.word(1, "sites subcommand (enroll, show, update, unenroll)");
  if (verb == "enroll" || verb == "enrol") {
    auto r = s.send("POST", "/api/v1/sites", enrolment_json(a.word(2, "enrolment file (.yaml or .json)")));
    if (!r) return 1;
    if (s.json) return s.print_json(*r);
    s.out << "enrolled site " << parse_or_throw<pb::SiteView>(r->body).site().site_id() << "\n";
    return 0;
  }
  const std::string& id = a.word(2, "site id");
  if (verb == "show") {
    auto r = s.send("GET", "/api/v1/sites/" + id);
    return r ? print_site(s, *r) : 1;
  }
  if (verb == "update") {
    pb::SitePatch p;
    auto* l = p.mutable_limits();
    if (a.opt("--comfort-min")) l->set_comfort_min_c(number(a, "--comfort-min"));
    if (a.opt("--comfort-max")) l->set_comfort_max_c(number(a, "--comfort-max"));
    if (a.opt("--battery-reserve-pct")) l->set_battery_reserve_pct(number(a, "--battery-reserve-pct"));
    if (a.opt("--max-curtailment-pct")) l->set_max_curtailment_pct(number(a, "--max-curtailment-pct"));
    if (a.opt("--import-limit-kw")) l->set_import_limit_kw(number(a, "--import-limit-kw"));
    if (a.opt("--export-limit-kw")) l->set_export_limit_kw(number(a, "--export-limit-kw"));
    if (a.flag("--always-available")) p.mutable_availability();
    if (l->ByteSizeLong() == 0 && !p.has_availability()) throw UsageError{"sites update needs at least one change"};
    auto r = s.send("PATCH", "/api/v1/sites/" + id, to_json(p));
    return r ? print_site(s, *r) : 1;
  }
  if (verb == "unenroll" || verb == "unenrol") {
    auto r = s.send("DELETE", "/api/v1/sites/" + id);
    if (!r) return 1;
    if (!s.json) s.out << "unenrolled site " << id << "\n";
    return 0;
  }
  throw UsageError{"unknown sites subcommand '" + verb + "' (enroll, show, update, unenroll)"};
}

int opt_out(Session& s, const Args& a) {
  const std::string& event = a.word(1, "event id");
  const auto site = a.opt("--site");
  if (!site) throw UsageError{"opt-out needs --site SITE"};
  pb::OptOutRequest req;
  req.set_site_id(*site);
  if (auto r = a.opt("--reason")) req.set_reason(*r);
  auto r = s.send("POST", "/api/v1/events/" + event + "/opt-outs", to_json(req));
  if (!r) return 1;
  if (s.json) return s.print_json(*r);
  s.out << "site " << *site << " opted out of event " << event << "\n";
  return 0;
}

int fleet(Session& s) {
  auto r = s.send("GET", "/api/v1/fleet");
  if (!r) return 1;
  if (s.json) return s.print_json(*r);
  const auto f = parse_or_throw<pb::FleetView>(r->body);
  s.out << f.sites() << " sites, " << f.assets_online() << " of " << f.assets() << " assets online (as of "
        << ts(f.as_of()) << ")\n";
  for (const auto& a : f.asset_states()) {
    if (!a.online()) s.out << "offline: " << a.site_id() << "/" << a.asset_id() << " (" << a.reason() << ")\n";
  }
  std::vector<std::vector<std::string>> rows = {{"INTERVAL", "UP_KW", "DOWN_KW"}};
  for (const auto& x : f.flexibility()) rows.push_back({ts(x.start()), fmt(x.up_kw()), fmt(x.down_kw())});
  s.out << "\n";
  table(s.out, rows);
  return 0;
}

}  // namespace

bool is_api_command(const std::string& word) {
  return word == "events" || word == "sites" || word == "opt-out" || word == "fleet";
}

int run_api_command(const std::vector<std::string>& args) {
  return run_api_command(args, std::cout, std::cerr, [](const char* k) { return std::getenv(k); });
}

int run_api_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const std::function<const char*(const char*)>& getenv) {
  try {
    const Args a = Args::parse(args);
    http::ClientOptions o;
    if (auto u = a.opt("--url")) o.url = *u;
    if (auto f = a.opt("--token-file")) {
      std::ifstream in(*f);
      if (!in) throw UsageError{"--token-file: cannot read '" + *f + "'"};
      std::getline(in, o.token);
      while (!o.token.empty() && (o.token.back() == '\r' || o.token.back() == ' ')) o.token.pop_back();
      if (o.token.empty()) throw UsageError{"--token-file: '" + *f + "' is empty"};
    } else if (const char* t = getenv("VPP_TOKEN"); t && *t) {
      o.token = t;
    } else {
      throw UsageError{"no API token: set VPP_TOKEN or pass --token-file FILE"};
    }
    if (auto c = a.opt("--ca-file")) o.ca_file = *c;
    o.insecure = a.flag("--insecure");
    if (a.opt("--timeout")) o.timeout = duration(a, "--timeout");
    auto client = http::HttpClient::create(o);
    if (!client) throw UsageError{client.error()};
    Session s{std::move(*client), a.flag("--json"), out, err};
    const std::string& cmd = a.word(0, "command (events, sites, opt-out, fleet)");
    if (cmd == "events") return events(s, a);
    if (cmd == "sites") return sites(s, a);
    if (cmd == "opt-out") return opt_out(s, a);
    if (cmd == "fleet") return fleet(s);
    throw UsageError{"unknown command '" + cmd + "'"};
  } catch (const UsageError& e) {
    err << "vppctl: " << e.message << "\n";
    return 64;
  } catch (const std::system_error& e) {
    err << "vppctl: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "vppctl: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace vpp::apps
