#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "model/building.hpp"

namespace vpp::config {
namespace {

const std::vector<std::string> kAssetKinds = {"pv", "battery", "hvac_zone", "flexible_load", "site_meter", "ev_charger"};
const std::vector<std::string> kBuildingTypes = {"office", "mall", "school", "hospital", "data_centre"};
const std::vector<std::string> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

// Errors found after the whole document was read point at the node that holds the value.
struct Located {
  YAML::Mark mark;
  std::string path;
};

bool is_hex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

std::optional<int> parse_utc_offset(const std::string& s) {
  // "+08:00", "-05:30", "Z"
  if (s == "Z" || s == "UTC" || s == "+00:00") return 0;
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return std::nullopt;
  const auto hm = parse_hh_mm(s.substr(1));
  if (!hm || *hm > 14 * 60) return std::nullopt;
  return s[0] == '-' ? -*hm : *hm;
}

std::optional<TlsFiles> read_tls(MapReader& parent) {
  auto r = parent.map("tls");
  if (!r) return std::nullopt;
  TlsFiles t;
  t.ca_file = r->string_or("ca_file", "");
  t.cert_file = r->string_or("cert_file", "");
  t.key_file = r->string_or("key_file", "");
  t.verify_peer = r->boolean("verify_peer").value_or(true);
  if (t.cert_file.empty() != t.key_file.empty()) {
    r->error(t.cert_file.empty() ? "cert_file" : "key_file", "cert_file and key_file must be given together");
  }
  return t;
}

MqttConfig read_mqtt(MapReader& r) {
  MqttConfig m;
  if (auto url = r.string("url", true)) {
    static const char* kSchemes[] = {"tcp://", "ssl://", "mqtt://", "mqtts://", "ws://", "wss://"};
    if (std::none_of(std::begin(kSchemes), std::end(kSchemes), [&](const char* p) { return url->starts_with(p); })) {
      r.error("url", "must start with tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://, found '" + *url + "'");
    }
    m.url = *url;
  }
  m.client_id = r.string_or("client_id", "vppd");
  if (m.client_id.empty()) r.error("client_id", "must not be empty");
  m.username = r.string_or("username", "");
  m.password_file = r.string_or("password_file", "");
  if (!m.password_file.empty() && m.username.empty()) r.error("password_file", "needs a username");
  m.tls = read_tls(r);
  if (m.tls && (m.url.starts_with("tcp://") || m.url.starts_with("mqtt://"))) {
    r.error("tls", "is set but url uses a plain-text scheme (use ssl:// or mqtts://)");
  }
  m.keepalive = r.duration("keepalive", false, std::chrono::seconds(1)).value_or(m.keepalive);
  m.topic_prefix = r.string_or("topic_prefix", "vpp");
  r.map_list("device_groups", [&](MapReader& g) {
    MqttDeviceGroup dg;
    dg.name = g.string("name", true).value_or("");
    const auto dialect = g.choice("dialect", {"json", "sparkplug_b"}, true);
    dg.dialect = dialect == "sparkplug_b" ? MqttDialect::sparkplug_b : MqttDialect::json;
    if (dg.dialect == MqttDialect::sparkplug_b) {
      dg.sparkplug_group_id = g.string("group_id", true).value_or("");
      if (dg.sparkplug_group_id.find_first_of("+/#") != std::string::npos) {
        g.error("group_id", "must not contain '+', '/' or '#'");
      }
    } else if (g.has("group_id")) {
      g.error("group_id", "applies to the sparkplug_b dialect only");
    }
    dg.sites = g.string_list("sites");
    m.device_groups.push_back(std::move(dg));
  });
  return m;
}

HttpConfig read_http(MapReader& r) {
  HttpConfig h;
  h.bind_address = r.string_or("bind", h.bind_address);
  h.port = static_cast<std::uint16_t>(r.integer("port", {.min = 0, .max = 65535}).value_or(h.port));
  h.tls = read_tls(r);
  h.max_body_bytes = static_cast<std::size_t>(
      r.integer("max_body_bytes", {.min = 256, .max = 64.0 * 1024 * 1024}).value_or(static_cast<long long>(h.max_body_bytes)));
  h.rate_limit_per_s = r.number_or("rate_limit_per_s", h.rate_limit_per_s, kPositive);
  std::set<std::string> names;
  r.map_list("tokens", [&](MapReader& t) {
    ApiToken tok;
    tok.name = t.string("name", true).value_or("");
    if (!tok.name.empty() && !names.insert(tok.name).second) t.error("name", "duplicate token name '" + tok.name + "'");
    const auto role = t.choice("role", {"operator", "site_manager", "viewer"}, true);
    tok.role = role == "operator" ? Role::operator_ : role == "site_manager" ? Role::site_manager : Role::viewer;
    if (auto hash = t.string("sha256", true)) {
      if (!is_hex64(*hash)) {
        t.error("sha256", "must be the 64-hex-digit SHA-256 of the token (e.g. from `sha256sum`)");
      } else {
        tok.sha256_hex = *hash;
        std::transform(tok.sha256_hex.begin(), tok.sha256_hex.end(), tok.sha256_hex.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      }
    }
    tok.sites = t.string_list("sites");
    if (role == "site_manager" && tok.sites.empty()) t.error("sites", "a site_manager token needs at least one site");
    if (role && role != "site_manager" && !tok.sites.empty()) t.error("sites", "only site_manager tokens are scoped to sites");
    h.tokens.push_back(std::move(tok));
  });
  return h;
}

ModbusDevice read_modbus_device(MapReader& r) {
  ModbusDevice d;
  d.id = r.string("id", true).value_or("");
  d.site_id = r.string("site", true).value_or("");
  d.asset_id = r.string("asset", true).value_or("");
  d.transport = r.choice("transport", {"tcp", "rtu"}).value_or("tcp") == "rtu" ? ModbusTransport::rtu : ModbusTransport::tcp;
  if (d.transport == ModbusTransport::tcp) {
    d.host = r.string("host", true).value_or("");
    d.port = static_cast<std::uint16_t>(r.integer("port", {.min = 1, .max = 65535}).value_or(502));
    if (r.has("serial_port")) r.error("serial_port", "applies to transport: rtu only");
  } else {
    d.serial_port = r.string("serial_port", true).value_or("");
    d.baud = static_cast<int>(r.integer("baud", {.min = 300, .max = 4'000'000}).value_or(9600));
    if (r.has("host")) r.error("host", "applies to transport: tcp only");
  }
  d.unit_id = static_cast<int>(r.integer("unit_id", {.min = 0, .max = 247}).value_or(1));
  if (r.has("sunspec_base")) {
    const auto s = r.string("sunspec_base").value_or("");
    if (s != "auto") {
      if (s == "0" || s == "40000" || s == "50000") {
        d.sunspec_base = std::stoi(s);
      } else {
        r.error("sunspec_base", "must be auto, 0, 40000 or 50000, found '" + s + "'");
      }
    }
  }
  d.poll_period = r.duration("poll_period", false, std::chrono::milliseconds(100)).value_or(d.poll_period);
  d.timeout = r.duration("timeout", false, std::chrono::milliseconds(10)).value_or(d.timeout);
  d.retries = static_cast<int>(r.integer("retries", {.min = 0, .max = 10}).value_or(d.retries));
  d.frame_gap = r.duration("frame_gap").value_or(d.frame_gap);
  return d;
}

bool http_url(const std::string& u) { return u.starts_with("http://") || u.starts_with("https://"); }

OpenAdrConfig read_openadr(MapReader& r, std::vector<Located>& resource_sites_at) {
  OpenAdrConfig o;
  if (auto u = r.string("vtn_url", true)) {
    if (!http_url(*u)) r.error("vtn_url", "must start with http:// or https://, found '" + *u + "'");
    o.vtn_url = *u;
  }
  o.token_url = r.string_or("token_url", "");
  if (!o.token_url.empty() && !http_url(o.token_url)) {
    r.error("token_url", "must start with http:// or https://, found '" + o.token_url + "'");
  }
  o.client_id = r.string("client_id", true).value_or("");
  o.client_secret_file = r.string_or("client_secret_file", "");
  o.client_secret_env = r.string_or("client_secret_env", "");
  if (o.client_secret_file.empty() == o.client_secret_env.empty()) {
    r.error(o.client_secret_file.empty() ? "client_secret_file" : "client_secret_env",
            "exactly one of client_secret_file and client_secret_env must be set (the secret is never inline)");
  }
  if (r.has("client_secret")) r.error("client_secret", "the secret is never inline: use client_secret_file or client_secret_env");
  o.scope = r.string_or("scope", "");
  if (auto n = r.string("ven_name", true)) {
    if (n->empty() || n->size() > 128) r.error("ven_name", "must be 1 to 128 characters");
    o.ven_name = *n;
  }
  o.spec_version = r.choice("spec_version", {"3.0.1", "3.1.0"}).value_or("3.0.1");
  o.poll_interval = r.duration("poll_interval", false, std::chrono::seconds(1)).value_or(o.poll_interval);
  o.request_timeout = r.duration("request_timeout", false, std::chrono::milliseconds(100)).value_or(o.request_timeout);
  o.report_delay = r.duration("report_delay").value_or(o.report_delay);
  o.ca_file = r.string_or("ca_file", "");
  o.callback_url = r.string_or("callback_url", "");
  o.allow_http_callback = r.boolean("allow_http_callback").value_or(false);
  if (!o.callback_url.empty() && !o.callback_url.starts_with("https://") &&
      !(o.allow_http_callback && o.callback_url.starts_with("http://"))) {
    r.error("callback_url", "must be an https:// URL (OpenADR 3 requires HTTPS callbacks; allow_http_callback: true for tests)");
  }
  o.emergency_import_cap_kw = r.number_or("emergency_import_cap_kw", 0, kNonNegative);
  std::set<std::string> names;
  r.map_list(
      "programs",
      [&](MapReader& p) {
        OpenAdrProgram prog;
        prog.name = p.string("name", true).value_or("");
        if (!prog.name.empty() && !names.insert(prog.name).second) p.error("name", "duplicate program '" + prog.name + "'");
        if (auto l = p.map("simple_levels_kw")) {
          for (int level = 1; level <= 3; ++level) {
            if (auto kw = l->number(std::to_string(level), kPositive)) prog.simple_levels_kw[level] = *kw;
          }
          l->finish();
        }
        o.programs.push_back(std::move(prog));
      },
      true);
  std::set<std::string> res_names;
  r.map_list("resources", [&](MapReader& x) {
    OpenAdrResource res;
    res.site_id = x.string("site", true).value_or("");
    res.name = x.string_or("name", res.site_id);
    if (res.name.empty() || res.name.size() > 128) x.error("name", "must be 1 to 128 characters");
    if (!res.name.empty() && !res_names.insert(res.name).second) x.error("name", "duplicate resource name '" + res.name + "'");
    resource_sites_at.push_back({x.mark(), x.field("site")});
    o.resources.push_back(std::move(res));
  });
  return o;
}

OptimizerConfig read_optimizer(MapReader& r) {
  OptimizerConfig o;
  o.horizon_steps = static_cast<int>(r.integer("horizon_steps", {.min = 1, .max = 2016}).value_or(o.horizon_steps));
  o.step = r.duration("step", false, std::chrono::minutes(1)).value_or(o.step);
  o.solver = r.choice("solver", {"clp", "decomposed"}).value_or("decomposed") == "clp" ? SolverKind::clp
                                                                                      : SolverKind::decomposed;
  o.resolve_period = r.duration("resolve_period", false, std::chrono::seconds(10)).value_or(o.resolve_period);
  o.threads = static_cast<int>(r.integer("threads", {.min = 0, .max = 1024}).value_or(0));
  return o;
}

}  // namespace

void read_controller_settings(MapReader& r, controller::Settings& s) {
  using namespace std::chrono_literals;
  if (auto g = r.map("gating")) {
    auto& x = s.gating;
    x.max_clock_skew = g->duration("max_clock_skew").value_or(x.max_clock_skew);
    x.max_age = g->duration("max_age", false, 1s).value_or(x.max_age);
    x.rating_margin = g->number_or("rating_margin", x.rating_margin, {.min = 1.0, .max = 3.0});
    x.soc_jump_tolerance_pct = g->number_or("soc_jump_tolerance_pct", x.soc_jump_tolerance_pct, {.min = 0, .max = 100});
    x.frozen_reports = static_cast<int>(g->integer("frozen_reports", {.min = 2, .max = 100000}).value_or(x.frozen_reports));
  }
  if (auto c = r.map("commands")) {
    auto& x = s.commands;
    x.ttl = c->duration("ttl", false, 10s).value_or(x.ttl);
    x.refresh_before_expiry = c->duration("refresh_before_expiry").value_or(x.refresh_before_expiry);
    if (x.refresh_before_expiry >= x.ttl) c->error("refresh_before_expiry", "must be shorter than ttl");
    x.min_interval = c->duration("min_interval").value_or(x.min_interval);
    x.ack_timeout = c->duration("ack_timeout", false, 100ms).value_or(x.ack_timeout);
    x.max_retries = static_cast<int>(c->integer("max_retries", {.min = 0, .max = 20}).value_or(x.max_retries));
    x.deadband_kw = c->number_or("deadband_kw", x.deadband_kw, kNonNegative);
    x.deadband_c = c->number_or("deadband_c", x.deadband_c, kNonNegative);
    x.deadband_pct = c->number_or("deadband_pct", x.deadband_pct, kPercent);
    x.max_setpoint_offset_c = c->number_or("max_setpoint_offset_c", x.max_setpoint_offset_c, {.greater_than = 0, .max = 10});
  }
  if (auto a = r.map("allocator")) {
    auto& x = s.allocator;
    x.deadband_fraction = a->number_or("deadband_fraction", x.deadband_fraction, {.min = 0, .max = 0.5});
    x.deadband_min_kw = a->number_or("deadband_min_kw", x.deadband_min_kw, kNonNegative);
    x.gain = a->number_or("gain", x.gain, kFraction);
    x.delivery_margin = a->number_or("delivery_margin", x.delivery_margin, {.min = 0, .max = 1});
    x.settle_time = a->duration("settle_time").value_or(x.settle_time);
    x.battery_cost_per_kwh = a->number_or("battery_cost_per_kwh", x.battery_cost_per_kwh, kNonNegative);
    x.comfort_cost_per_c = a->number_or("comfort_cost_per_c", x.comfort_cost_per_c, kNonNegative);
    x.hvac_hold = a->duration("hvac_hold", false, std::chrono::minutes(1)).value_or(x.hvac_hold);
  }
  if (auto k = r.map("scheduling")) {
    auto& x = s.scheduling;
    x.control_tick = k->duration("control_tick", false, 1s).value_or(x.control_tick);
    x.offline_after = k->duration("offline_after", false, 1s).value_or(x.offline_after);
    x.deviation_resolve_fraction =
        k->number_or("deviation_resolve_fraction", x.deviation_resolve_fraction, {.greater_than = 0, .max = 10});
    x.deviation_resolve_after = k->duration("deviation_resolve_after").value_or(x.deviation_resolve_after);
    x.rebound_stages = static_cast<int>(k->integer("rebound_stages", {.min = 1, .max = 12}).value_or(x.rebound_stages));
    x.rebound_stage_gap = k->duration("rebound_stage_gap").value_or(x.rebound_stage_gap);
    x.precondition_window = k->duration("precondition_window").value_or(x.precondition_window);
  }
  if (auto p = r.map("planning")) {
    auto& x = s.planning;
    x.carbon_price_per_kg = p->number_or("carbon_price_per_kg", x.carbon_price_per_kg, kNonNegative);
    x.shortfall_penalty_per_kwh = p->number_or("shortfall_penalty_per_kwh", x.shortfall_penalty_per_kwh, kNonNegative);
    x.delivery_margin = p->number_or("delivery_margin", x.delivery_margin, {.min = 0, .max = 1});
    x.comfort_penalty_per_kw_kh = p->number_or("comfort_penalty_per_kw_kh", x.comfort_penalty_per_kw_kh, kNonNegative);
    x.curtail_cost_per_kwh = p->number_or("curtail_cost_per_kwh", x.curtail_cost_per_kwh, kNonNegative);
    x.unoccupied_comfort_relax_c = p->number_or("unoccupied_comfort_relax_c", x.unoccupied_comfort_relax_c, {.min = 0, .max = 15});
    x.solve_timeout = p->duration("solve_timeout", false, std::chrono::seconds(1)).value_or(x.solve_timeout);
    x.zone_capacitance_factor = p->number_or("zone_capacitance_factor", x.zone_capacitance_factor, kFraction);
    x.peak_guard = p->boolean("peak_guard").value_or(x.peak_guard);
  }
  if (auto b = r.map("baseline")) {
    auto& x = s.baseline;
    x.high_x = static_cast<int>(b->integer("high_x", {.min = 1, .max = 60}).value_or(x.high_x));
    x.of_y = static_cast<int>(b->integer("of_y", {.min = 1, .max = 90}).value_or(x.of_y));
    if (x.of_y < x.high_x) b->error("of_y", "must be at least high_x");
    if (auto adj = b->choice("adjustment", {"none", "additive", "multiplicative"})) {
      using A = controller::BaselineSettings::Adjustment;
      x.adjustment = *adj == "none" ? A::none : *adj == "additive" ? A::additive : A::multiplicative;
    }
    x.adjustment_window = b->duration("adjustment_window").value_or(x.adjustment_window);
    x.adjustment_gap = b->duration("adjustment_gap").value_or(x.adjustment_gap);
    x.adjustment_cap = b->number_or("adjustment_cap", x.adjustment_cap, {.min = 0, .max = 1});
  }
}

std::string controller_settings_yaml(const controller::Settings& c, int indent) {
  // Shortest text that reads back to the same double.
  auto num = [](double v) {
    char buf[32];
    for (int p = 6; p <= 17; ++p) {
      std::snprintf(buf, sizeof buf, "%.*g", p, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
    return std::string(buf);
  };
  auto dur = [](Duration d) { return format_duration(d); };
  const std::string in(static_cast<std::size_t>(indent), ' ');
  std::ostringstream o;
  auto section = [&](const char* name) { o << in << name << ":\n"; };
  auto key = [&](const char* name, const std::string& value) { o << in << "  " << name << ": " << value << "\n"; };
  section("gating");
  key("max_clock_skew", dur(c.gating.max_clock_skew));
  key("max_age", dur(c.gating.max_age));
  key("rating_margin", num(c.gating.rating_margin));
  key("soc_jump_tolerance_pct", num(c.gating.soc_jump_tolerance_pct));
  key("frozen_reports", std::to_string(c.gating.frozen_reports));
  section("commands");
  key("ttl", dur(c.commands.ttl));
  key("refresh_before_expiry", dur(c.commands.refresh_before_expiry));
  key("min_interval", dur(c.commands.min_interval));
  key("ack_timeout", dur(c.commands.ack_timeout));
  key("max_retries", std::to_string(c.commands.max_retries));
  key("deadband_kw", num(c.commands.deadband_kw));
  key("deadband_c", num(c.commands.deadband_c));
  key("deadband_pct", num(c.commands.deadband_pct));
  key("max_setpoint_offset_c", num(c.commands.max_setpoint_offset_c));
  section("allocator");
  key("deadband_fraction", num(c.allocator.deadband_fraction));
  key("deadband_min_kw", num(c.allocator.deadband_min_kw));
  key("gain", num(c.allocator.gain));
  key("delivery_margin", num(c.allocator.delivery_margin));
  key("settle_time", dur(c.allocator.settle_time));
  key("battery_cost_per_kwh", num(c.allocator.battery_cost_per_kwh));
  key("comfort_cost_per_c", num(c.allocator.comfort_cost_per_c));
  key("hvac_hold", dur(c.allocator.hvac_hold));
  section("scheduling");
  key("control_tick", dur(c.scheduling.control_tick));
  key("offline_after", dur(c.scheduling.offline_after));
  key("deviation_resolve_fraction", num(c.scheduling.deviation_resolve_fraction));
  key("deviation_resolve_after", dur(c.scheduling.deviation_resolve_after));
  key("rebound_stages", std::to_string(c.scheduling.rebound_stages));
  key("rebound_stage_gap", dur(c.scheduling.rebound_stage_gap));
  key("precondition_window", dur(c.scheduling.precondition_window));
  section("baseline");
  key("high_x", std::to_string(c.baseline.high_x));
  key("of_y", std::to_string(c.baseline.of_y));
  using A = controller::BaselineSettings::Adjustment;
  key("adjustment", c.baseline.adjustment == A::none ? "none" : c.baseline.adjustment == A::additive ? "additive" : "multiplicative");
  key("adjustment_window", dur(c.baseline.adjustment_window));
  key("adjustment_gap", dur(c.baseline.adjustment_gap));
  key("adjustment_cap", num(c.baseline.adjustment_cap));
  section("planning");
  key("carbon_price_per_kg", num(c.planning.carbon_price_per_kg));
  key("shortfall_penalty_per_kwh", num(c.planning.shortfall_penalty_per_kwh));
  key("delivery_margin", num(c.planning.delivery_margin));
  key("comfort_penalty_per_kw_kh", num(c.planning.comfort_penalty_per_kw_kh));
  key("curtail_cost_per_kwh", num(c.planning.curtail_cost_per_kwh));
  key("unoccupied_comfort_relax_c", num(c.planning.unoccupied_comfort_relax_c));
  key("zone_capacitance_factor", num(c.planning.zone_capacitance_factor));
  key("peak_guard", c.planning.peak_guard ? "true" : "false");
  key("solve_timeout", dur(c.planning.solve_timeout));
  return o.str();
}

std::string_view to_string(Role r) {
  switch (r) {
    case Role::operator_: return "operator";
    case Role::site_manager: return "site_manager";
    case Role::viewer: return "viewer";
  }
  return "?";
}

std::optional<int> parse_hh_mm(const std::string& s) {
  if (s.size() != 5 || s[2] != ':' || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      !std::isdigit(static_cast<unsigned char>(s[1])) || !std::isdigit(static_cast<unsigned char>(s[3])) ||
      !std::isdigit(static_cast<unsigned char>(s[4]))) {
    return std::nullopt;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::optional<Asset> read_asset(MapReader& r) {
  Asset a;
  a.id = r.string("id", true).value_or("");
  a.name = r.string_or("name", "");
  const auto kind = r.choice("kind", kAssetKinds, true);
  if (!kind) return std::nullopt;
  const std::size_t before = r.diagnostics().items().size();
  if (*kind == "pv") {
    PvSpec s;
    s.rated_kw = r.number("rated_kw", kPositive, true).value_or(0);
    s.dc_peak_kw = r.number_or("dc_peak_kw", s.rated_kw * 1.1, kPositive);
    s.tilt_deg = r.number_or("tilt_deg", s.tilt_deg, {.min = 0, .max = 90});
    s.azimuth_deg = r.number_or("azimuth_deg", s.azimuth_deg, {.min = 0, .max = 360});
    s.temp_coeff_per_c = r.number_or("temp_coeff_per_c", s.temp_coeff_per_c, {.min = -0.02, .max = 0});
    a.spec = s;
  } else if (*kind == "battery") {
    BatterySpec s;
    s.capacity_kwh = r.number("capacity_kwh", kPositive, true).value_or(0);
    s.max_charge_kw = r.number("max_charge_kw", kPositive, true).value_or(0);
    s.max_discharge_kw = r.number("max_discharge_kw", kPositive, true).value_or(0);
    s.charge_efficiency = r.number_or("charge_efficiency", s.charge_efficiency, kFraction);
    s.discharge_efficiency = r.number_or("discharge_efficiency", s.discharge_efficiency, kFraction);
    s.soc_min_pct = r.number_or("soc_min_pct", s.soc_min_pct, kPercent);
    s.soc_max_pct = r.number_or("soc_max_pct", s.soc_max_pct, kPercent);
    if (s.soc_min_pct >= s.soc_max_pct) {
      r.error("soc_max_pct", "must be greater than soc_min_pct (" + std::to_string(s.soc_min_pct) + ")");
    }
    s.self_discharge_pct_per_day = r.number_or("self_discharge_pct_per_day", s.self_discharge_pct_per_day, kPercent);
    s.ramp_kw_per_s = r.number_or("ramp_kw_per_s", s.ramp_kw_per_s, kNonNegative);
    a.spec = s;
  } else if (*kind == "hvac_zone") {
    HvacZoneSpec s;
    s.rated_electric_kw = r.number("rated_electric_kw", kPositive, true).value_or(0);
    s.rated_cop = r.number_or("rated_cop", s.rated_cop, {.greater_than = 0, .max = 15});
    s.floor_area_m2 = r.number("floor_area_m2", kPositive, true).value_or(0);
    // R and C default to the building type's archetype (set by read_site, which knows the type).
    s.thermal_resistance_k_per_kw = r.number_or("thermal_resistance_k_per_kw", 0, kPositive);
    s.thermal_capacitance_kwh_per_k = r.number_or("thermal_capacitance_kwh_per_k", 0, kPositive);
    s.default_setpoint_c = r.number_or("default_setpoint_c", s.default_setpoint_c, {.min = 10, .max = 35});
    s.deadband_c = r.number_or("deadband_c", s.deadband_c, {.min = 0, .max = 5});
    a.spec = s;
  } else if (*kind == "flexible_load") {
    FlexibleLoadSpec s;
    s.rated_kw = r.number("rated_kw", kPositive, true).value_or(0);
    s.max_curtail_pct = r.number_or("max_curtail_pct", 0, kPercent);
    s.max_shift_kwh = r.number_or("max_shift_kwh", 0, kNonNegative);
    a.spec = s;
  } else if (*kind == "site_meter") {
    SiteMeterSpec s;
    s.import_limit_kw = r.number_or("import_limit_kw", 0, kNonNegative);
    s.export_limit_kw = r.number_or("export_limit_kw", 0, kNonNegative);
    a.spec = s;
  } else {
    EvChargerSpec s;
    s.max_charge_kw = r.number("max_charge_kw", kPositive, true).value_or(0);
    s.max_discharge_kw = r.number_or("max_discharge_kw", 0, kNonNegative);
    s.connectors = static_cast<int>(r.integer("connectors", {.min = 1, .max = 1000}).value_or(1));
    a.spec = s;
  }
  if (r.diagnostics().items().size() != before) return std::nullopt;
  return a;
}

void read_site_limits(MapReader& r, SiteLimits& l) {
  l.comfort_min_c = r.number_or("comfort_min_c", l.comfort_min_c, {.min = 5, .max = 40});
  l.comfort_max_c = r.number_or("comfort_max_c", l.comfort_max_c, {.min = 5, .max = 40});
  if (l.comfort_min_c >= l.comfort_max_c) {
    r.error(r.has("comfort_max_c") ? "comfort_max_c" : "comfort_min_c",
            "comfort band is empty: comfort_min_c must be below comfort_max_c");
  }
  l.battery_reserve_pct = r.number_or("battery_reserve_pct", l.battery_reserve_pct, kPercent);
  l.max_curtailment_pct = r.number_or("max_curtailment_pct", l.max_curtailment_pct, kPercent);
  l.import_limit_kw = r.number_or("import_limit_kw", l.import_limit_kw, kNonNegative);
  l.export_limit_kw = r.number_or("export_limit_kw", l.export_limit_kw, kNonNegative);
  r.map_list("availability", [&](MapReader& w) {
    AvailabilityWindow aw;
    aw.days_of_week.clear();
    w.list("days", [&](const YAML::Node& d, const std::string& path) {
      const auto it = d.IsScalar() ? std::find(kDays.begin(), kDays.end(), d.Scalar()) : kDays.end();
      if (it == kDays.end()) {
        w.diagnostics().add(d.Mark(), path, "must be one of mon, tue, wed, thu, fri, sat, sun");
      } else {
        aw.days_of_week.push_back(static_cast<int>(it - kDays.begin()) + 1);
      }
    });
    if (aw.days_of_week.empty() && !w.has("days")) aw.days_of_week = {1, 2, 3, 4, 5, 6, 7};
    // Minutes after midnight, -1 where absent or invalid (plain ints: GCC 12 misreports
    // std::optional<int> here as maybe-uninitialized).
    auto minutes = [&](const char* key) {
      const auto text = w.string(key, true);
      if (!text) return -1;
      const auto m = parse_hh_mm(*text);
      if (!m) w.error(key, "must be a local time HH:MM, found '" + *text + "'");
      return m.value_or(-1);
    };
    const int sm = minutes("start");
    const int em = minutes("end");
    if (sm >= 0 && em >= 0 && sm >= em) w.error("end", "must be after start");
    aw.start_minute = sm >= 0 ? sm : 0;
    aw.end_minute = em >= 0 ? em : 1440;
    l.availability.push_back(std::move(aw));
  });
}

std::optional<Site> read_site(MapReader& r) {
  const std::size_t before = r.diagnostics().items().size();
  Site s;
  s.id = r.string("id", true).value_or("");
  if (!s.id.empty() && s.id.find_first_of("/+# ") != std::string::npos) {
    r.error("id", "must not contain '/', '+', '#' or spaces (ids appear in MQTT topics)");
  }
  s.name = r.string_or("name", s.id);
  s.owner = r.string_or("owner", "");
  if (auto t = r.choice("type", kBuildingTypes, true)) s.type = *building_type_from_string(*t);
  s.latitude_deg = r.number_or("latitude", 0, {.min = -90, .max = 90});
  s.longitude_deg = r.number_or("longitude", 0, {.min = -180, .max = 180});
  if (auto l = r.map("limits")) read_site_limits(*l, s.limits);

  std::map<std::string, int> asset_index;
  int index = 0;
  r.map_list("assets", [&](MapReader& a) {
    auto asset = read_asset(a);
    if (asset) {
      if (!asset->id.empty() && !asset_index.emplace(asset->id, index).second) {
        a.error("id", "duplicate asset id '" + asset->id + "' in site '" + s.id + "'");
      }
      if (auto* h = std::get_if<HvacZoneSpec>(&asset->spec)) {
        const auto th = typical_zone_thermal(s.type, h->floor_area_m2);
        if (h->thermal_resistance_k_per_kw == 0) h->thermal_resistance_k_per_kw = th.r_k_per_kw;
        if (h->thermal_capacitance_kwh_per_k == 0) h->thermal_capacitance_kwh_per_k = th.c_kwh_per_k;
      }
      if (const auto* b = std::get_if<BatterySpec>(&asset->spec)) {
        if (s.limits.battery_reserve_pct > b->soc_max_pct) {
          a.error("soc_max_pct", "is below the site's battery_reserve_pct (" +
                                     std::to_string(s.limits.battery_reserve_pct) + "): the reserve could never be held");
        }
      }
      s.assets.push_back(std::move(*asset));
    }
    ++index;
  });
  if (r.diagnostics().items().size() != before) return std::nullopt;
  return s;
}

Result<Config> load_config_text(const std::string& text, const std::string& file_name) {
  Diagnostics diag(file_name);
  Config cfg;
  cfg.source_file = file_name;
  const YAML::Node root = parse_yaml(text, diag);
  if (diag.empty()) {
    MapReader r(root, "", diag);
    if (r.valid()) {
      if (auto off = r.string("utc_offset")) {
        if (auto m = parse_utc_offset(*off)) {
          cfg.utc_offset_minutes = *m;
        } else {
          r.error("utc_offset", "must be an offset such as +08:00 or Z, found '" + *off + "'");
        }
      }
      if (auto m = r.map("mqtt")) cfg.mqtt = read_mqtt(*m);
      if (auto h = r.map("http")) cfg.http = read_http(*h);
      std::vector<Located> device_at;
      if (auto m = r.map("modbus")) {
        m->map_list("devices", [&](MapReader& d) {
          cfg.modbus_devices.push_back(read_modbus_device(d));
          device_at.push_back({d.mark(), d.path()});
        });
      }
      if (auto o = r.map("optimizer")) cfg.optimizer = read_optimizer(*o);
      std::vector<Located> openadr_sites;
      if (auto o = r.map("openadr")) cfg.openadr = read_openadr(*o, openadr_sites);
      if (auto c = r.map("controller")) read_controller_settings(*c, cfg.controller);
      cfg.controller.interval = cfg.optimizer.step;
      cfg.controller.horizon_steps = cfg.optimizer.horizon_steps;
      cfg.controller.utc_offset_minutes = cfg.utc_offset_minutes;
      cfg.controller.scheduling.resolve_period = cfg.optimizer.resolve_period;
      if (auto s = r.map("store")) {
        cfg.store.path = s->string_or("path", cfg.store.path);
        if (cfg.store.path.empty()) s->error("path", "must not be empty");
      }
      if (auto f = r.map("forecast")) {
        if (auto t = f->map("outdoor_temp")) {
          OutdoorTemperatureCycle c;
          c.min_c = t->number("min_c", {.min = -60, .max = 60}, true).value_or(c.min_c);
          c.max_c = t->number("max_c", {.min = -60, .max = 60}, true).value_or(c.max_c);
          if (c.max_c < c.min_c) t->error("max_c", "must be at least min_c");
          for (auto [key, minute] : {std::pair{"min_at", &c.min_minute}, std::pair{"max_at", &c.max_minute}}) {
            if (auto hm = t->string(key)) {
              if (auto m = parse_hh_mm(*hm); m && *m < 1440) {
                *minute = *m;
              } else {
                t->error(key, "must be a local time HH:MM, found '" + *hm + "'");
              }
            }
          }
          if (c.min_minute == c.max_minute) t->error("max_at", "must differ from min_at");
          cfg.forecast.outdoor_temp = c;
        }
      }
      if (auto l = r.map("logging")) {
        cfg.logging.level =
            l->choice("level", {"trace", "debug", "info", "warn", "error", "critical", "off"}).value_or("info");
      }
      std::set<std::string> site_ids;
      r.map_list("sites", [&](MapReader& sr) {
        auto site = read_site(sr);
        if (!site) return;
        if (!site_ids.insert(site->id).second) {
          sr.error("id", "duplicate site id '" + site->id + "'");
          return;
        }
        cfg.sites.push_back(std::move(*site));
      });
      std::map<std::string, const Site*> by_id;
      for (const auto& s : cfg.sites) by_id.emplace(s.id, &s);
      // Cross references, checked once every site is known.
      for (std::size_t i = 0; i < cfg.modbus_devices.size(); ++i) {
        const auto& d = cfg.modbus_devices[i];
        const auto it = by_id.find(d.site_id);
        if (it == by_id.end()) {
          if (!d.site_id.empty()) diag.add(device_at[i].mark, device_at[i].path + ".site", "unknown site '" + d.site_id + "'");
          continue;
        }
        const Asset* a = it->second->find_asset(d.asset_id);
        if (!a) {
          if (!d.asset_id.empty()) {
            diag.add(device_at[i].mark, device_at[i].path + ".asset",
                     "unknown asset '" + d.asset_id + "' in site '" + d.site_id + "'");
          }
        } else if (a->kind() != AssetKind::pv && a->kind() != AssetKind::battery && a->kind() != AssetKind::site_meter) {
          diag.add(device_at[i].mark, device_at[i].path + ".asset",
                   "asset '" + d.asset_id + "' is a " + std::string(to_string(a->kind())) +
                       "; SunSpec devices serve pv, battery or site_meter assets");
        }
      }
      // site_manager tokens may name sites not in this file: sites are also enrolled over the API.
      if (cfg.openadr) {
        for (std::size_t i = 0; i < cfg.openadr->resources.size(); ++i) {
          const auto& site = cfg.openadr->resources[i].site_id;
          if (!site.empty() && !by_id.count(site)) diag.add(openadr_sites[i].mark, openadr_sites[i].path, "unknown site '" + site + "'");
        }
      }
      if (cfg.mqtt) {
        const YAML::Node groups = root["mqtt"]["device_groups"];
        for (std::size_t g = 0; g < cfg.mqtt->device_groups.size(); ++g) {
          const auto& sites = cfg.mqtt->device_groups[g].sites;
          for (std::size_t j = 0; j < sites.size(); ++j) {
            if (!by_id.count(sites[j])) {
              diag.add(groups[g]["sites"][j].Mark(),
                       "mqtt.device_groups[" + std::to_string(g) + "].sites[" + std::to_string(j) + "]",
                       "unknown site '" + sites[j] + "'");
            }
          }
        }
      }
    }
  }
  if (!diag.empty()) return Error{diag.to_string()};
  return cfg;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ":1:1: cannot read file"};
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_config_text(ss.str(), path);
}

}  // namespace vpp::config
