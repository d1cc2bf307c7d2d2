#include "sim/emulators/emulator.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "proto/convert.hpp"
#include "proto/sparkplug.hpp"
#include "sim/emulators/mqtt_link.hpp"
#include "sim/emulators/sunspec_server.hpp"
#include "sim/fleet_gen.hpp"
#include "sim/weather.hpp"

namespace vpp::sim::emulators {

namespace sp = vpp::sparkplug;
using namespace std::chrono_literals;

namespace {

FleetOptions fleet_options(const Scenario& sc, double initial_soc_pct) {
  FleetOptions fo;
  fo.step = sc.step;
  fo.seed = sc.seed;
  fo.zone_model = sc.devices.zone_model;
  fo.pv_response_delay = sc.devices.pv_response_delay;
  fo.pv_ramp_pct_per_s = sc.devices.pv_ramp_pct_per_s;
  fo.battery_response_delay = sc.devices.battery_response_delay;
  fo.hvac_response_delay = sc.devices.hvac_response_delay;
  fo.load_response_delay = sc.devices.load_response_delay;
  fo.albedo = sc.weather.albedo;
  fo.initial_soc_pct = initial_soc_pct;
  return fo;
}

// Telemetry fields and the Sparkplug metric names vppd's host reads (adapters/mqtt/README.md).
struct MetricField {
  const char* name;
  std::optional<double> Telemetry::*field;
};
constexpr MetricField kMetrics[] = {
    {"P_kW", &Telemetry::p_kw},          {"Q_kVAr", &Telemetry::q_kvar},           {"SoC_pct", &Telemetry::soc_pct},
    {"IndoorTemp_C", &Telemetry::indoor_temp_c}, {"Setpoint_C", &Telemetry::setpoint_c},
    {"Available_kW", &Telemetry::available_kw},  {"Energy_kWh", &Telemetry::energy_kwh},
};

std::optional<SetpointKind> kind_from_name(std::string name) {
  if (name.rfind("SETPOINT_KIND_", 0) != 0) name = "SETPOINT_KIND_" + name;
  vpp::v1::SetpointKind k{};
  if (!vpp::v1::SetpointKind_Parse(name, &k) || k == vpp::v1::SETPOINT_KIND_UNSPECIFIED) return std::nullopt;
  return static_cast<SetpointKind>(static_cast<int>(k));
}

const char* ack_name(AckStatus s) {
  switch (s) {
    case AckStatus::accepted: return "ACCEPTED";
    case AckStatus::rejected: return "REJECTED";
    case AckStatus::expired: return "EXPIRED";
    default: return "REJECTED";
  }
}

// A small bounded memory of command ids and their acks: devices answer a repeated command id
// with the first answer (vppd republishes unacknowledged commands).
class AckMemory {
 public:
  // false: a new id (now pending); true: seen before.
  bool seen(const std::string& id) {
    std::lock_guard lock(mu_);
    if (acks_.count(id)) return true;
    acks_.emplace(id, CommandAck{});
    order_.push_back(id);
    while (order_.size() > 10000) {
      acks_.erase(order_.front());
      order_.pop_front();
    }
    return false;
  }
  std::optional<CommandAck> get(const std::string& id) {
    std::lock_guard lock(mu_);
    const auto it = acks_.find(id);
    if (it == acks_.end() || it->second.command_id.empty()) return std::nullopt;
    return it->second;
  }
  void done(const CommandAck& a) {
    std::lock_guard lock(mu_);
    if (auto it = acks_.find(a.command_id); it != acks_.end()) it->second = a;
  }

 private:
  std::mutex mu_;
  std::map<std::string, CommandAck> acks_;
  std::deque<std::string> order_;
};

}  // namespace

class JsonSide;
class Edge;

struct Emulator::State {
  Scenario sc;
  ServeOptions opt;
  FleetSetup setup;
  ServePlan plan;
  std::optional<FleetModel> fleet;
  std::unique_ptr<WeatherSeries> weather;

  // Time.
  TimePoint t0{};
  Duration shift{0};
  std::atomic<std::int64_t> cur_ms{0};     // scenario time of the step being served (its start)
  std::chrono::steady_clock::time_point wall0{};

  // The simulation thread's queue.
  std::mutex q_mu;
  std::condition_variable q_cv;
  std::deque<std::function<void()>> queue;
  std::atomic<bool> stopping{false};
  std::atomic<bool> serving{false};

  // Telemetry of every asset at the last sample, and where each asset sits in it.
  std::vector<Telemetry> sample;
  std::map<std::pair<std::string, std::string>, std::size_t> index;

  // Devices.
  std::unique_ptr<JsonSide> json;
  std::vector<std::unique_ptr<Edge>> edges;
  std::vector<std::unique_ptr<ServedSunSpec>> sunspec;
  std::unique_ptr<SunSpecServer> modbus;
  struct Revert {
    ServedSunSpec* device;
    SunSpecControl control;
    TimePoint at;   // scenario time
  };
  std::vector<Revert> reverts;                 // simulation thread only
  std::vector<double> sunspec_energy_wh;       // per served device
  std::uint64_t modbus_seq = 0;

  // Counters.
  std::atomic<std::uint64_t> steps{0}, late{0}, telemetry{0}, births{0}, commands{0}, repeats{0}, rejected{0},
      controls{0}, reverts_done{0};

  void post(std::function<void()> f) {
    {
      std::lock_guard lock(q_mu);
      queue.push_back(std::move(f));
    }
    q_cv.notify_all();
  }
  void drain() {
    std::deque<std::function<void()>> work;
    {
      std::lock_guard lock(q_mu);
      work.swap(queue);
    }
    for (auto& f : work) f();
  }
  // Scenario time a message arriving now reaches the device: the wall clock mapped to scenario
  // time, kept inside the step being served (the step is computed once its end is reached).
  TimePoint arrival() const {
    const TimePoint cur = from_unix_ms(cur_ms.load());
    if (!serving) return cur;
    const double wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall0).count();
    const TimePoint t = t0 + Duration(static_cast<std::int64_t>(wall_ms * opt.clock_factor));
    return std::clamp(t, cur, cur + sc.step - Duration(1));
  }
  TimePoint stamp(TimePoint scenario) const { return scenario + shift; }
  TimePoint unstamp(TimePoint device) const { return device - shift; }

  // Applies an MQTT command on the simulation thread; the ack carries the device's clock.
  CommandAck apply(Command c) {
    const TimePoint at = arrival();
    c.issued = unstamp(c.issued);
    c.expires = unstamp(c.expires);
    CommandAck ack = fleet->apply(c, at);
    ack.time = stamp(at);
    ++commands;
    return ack;
  }
};

// ------------------------------------------------------------------------------- JSON devices

class JsonSide {
 public:
  JsonSide(Emulator::State& st, const MqttLinkSpec& spec) : st_(st), prefix_(st.sc.serve.topic_prefix) {
    for (const auto& a : st.plan.json_assets) served_.insert(a);
    link_ = std::make_unique<MqttLink>(
        "json devices", spec, [this](const std::string& t, const std::string& p) { on_message(t, p); },
        [this](MqttLink& l) { return l.subscribe(prefix_ + "/+/+/cmd", 1); });
  }
  void start() { link_->start(); }
  void stop() { link_->stop(); }
  bool connected() const { return link_->connected(); }

  // Simulation thread: every served asset's telemetry.
  void publish(const std::vector<Telemetry>& sample) {
    for (const auto& [site, asset] : st_.plan.json_assets) {
      Telemetry t = sample[st_.index.at({site, asset})];
      t.time = st_.stamp(t.time);
      if (link_->publish(prefix_ + "/" + site + "/" + asset + "/telemetry", to_json(to_proto(t)), st_.sc.serve.telemetry_qos)) {
        ++st_.telemetry;
      }
    }
  }

 private:
  void on_message(const std::string& topic, const std::string& payload) {
    // {prefix}/{site}/{asset}/cmd
    if (topic.size() <= prefix_.size() + 1 || topic.compare(0, prefix_.size() + 1, prefix_ + "/") != 0) return;
    const std::string rest = topic.substr(prefix_.size() + 1);
    const auto a = rest.find('/'), b = rest.find('/', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos || rest.substr(b + 1) != "cmd") return;
    const std::string site = rest.substr(0, a), asset = rest.substr(a + 1, b - a - 1);
    if (!served_.count({site, asset})) return;  // another emulator's or dialect's device
    auto cmd = json_to_model<vpp::v1::Command>(payload);
    if (!cmd) {
      ++st_.rejected;
      log_line("warn", "json " + site + "/" + asset + ": command rejected: " + cmd.error());
      return;
    }
    if (cmd->site_id != site || cmd->asset_id != asset) {
      ++st_.rejected;
      CommandAck ack{cmd->command_id, site, asset, AckStatus::rejected, st_.stamp(st_.arrival()),
                     "the command names " + cmd->site_id + "/" + cmd->asset_id + " but was sent to " + site + "/" + asset};
      send_ack(ack);
      return;
    }
    if (acks_.seen(cmd->command_id)) {
      // A repeat: answered with the first ack, after it (the queue keeps arrival order).
      ++st_.repeats;
      st_.post([this, id = cmd->command_id] {
        if (auto a = acks_.get(id)) send_ack(*a);
      });
      return;
    }
    st_.post([this, c = std::move(*cmd)]() mutable {
      const CommandAck ack = st_.apply(std::move(c));
      acks_.done(ack);
      send_ack(ack);
    });
  }
  void send_ack(const CommandAck& a) {
    link_->publish(prefix_ + "/" + a.site_id + "/" + a.asset_id + "/ack", to_json(to_proto(a)), 1);
  }

  Emulator::State& st_;
  std::string prefix_;
  std::set<std::pair<std::string, std::string>> served_;
  AckMemory acks_;
  std::unique_ptr<MqttLink> link_;
};

// ------------------------------------------------------------------------ Sparkplug edge node

class Edge {
 public:
  Edge(Emulator::State& st, std::string group, std::string node, std::vector<std::string> devices, MqttLinkSpec spec)
      : st_(st), group_(std::move(group)), node_(std::move(node)), devices_(std::move(devices)) {
    spec.client_id = st.sc.serve.client_id + "-" + node_;
    link_ = std::make_unique<MqttLink>(
        "sparkplug " + group_ + "/" + node_, spec, [this](const std::string& t, const std::string& p) { on_message(t, p); },
        [this](MqttLink& l) { return on_connected(l); }, [this] { return will(); });
  }
  void start() { link_->start(); }
  void stop() {
    std::optional<LinkMessage> death;
    {
      std::lock_guard lock(mu_);
      if (born_) death = ndeath(bdseq_);
      born_ = false;
    }
    link_->stop(death);
  }
  bool born() const {
    std::lock_guard lock(mu_);
    return born_;
  }

  // Simulation thread, every telemetry period: DDATA with what changed (and everything when the
  // refresh is due).
  void publish(const std::vector<Telemetry>& sample) {
    std::lock_guard lock(mu_);
    const std::int64_t now_ms = to_unix_ms(st_.stamp(sample.empty() ? TimePoint{} : sample.front().time));
    const std::int64_t refresh_ms = st_.sc.serve.sparkplug_refresh.count();
    for (const auto& d : devices_) {
      const Telemetry& t = sample[st_.index.at({node_, d})];
      cache_[d] = t;
      if (!born_) continue;
      auto& sent = sent_[d];
      const bool full = now_ms - last_full_ms_[d] >= refresh_ms;
      sp::Payload p;
      const auto ts = static_cast<std::uint64_t>(to_unix_ms(st_.stamp(t.time)));
      p.set_timestamp(ts);
      for (const auto& mf : kMetrics) {
        const auto& v = t.*(mf.field);
        if (!v) continue;
        const auto it = sent.find(mf.name);
        if (!full && it != sent.end() && it->second == *v) continue;
        add_double(p, mf.name, *v, ts);
        sent[mf.name] = *v;
      }
      if (full) last_full_ms_[d] = now_ms;
      if (p.metrics_size() == 0) continue;
      if (publish_locked(sp::MessageType::ddata, d, p, st_.sc.serve.telemetry_qos)) ++st_.telemetry;
    }
  }

 private:
  static void add_double(sp::Payload& p, const char* name, double v, std::uint64_t ts) {
    auto* m = p.add_metrics();
    m->set_name(name);
    m->set_timestamp(ts);
    (void)sp::set_metric_value(*m, sp::Payload::DOUBLE, v);
  }
  static void add(sp::Payload& p, const char* name, std::uint32_t type, const sp::MetricValue& v, std::uint64_t ts) {
    auto* m = p.add_metrics();
    m->set_name(name);
    m->set_timestamp(ts);
    if (std::holds_alternative<std::monostate>(v)) {
      m->set_datatype(type);
      m->set_is_null(true);
    } else {
      (void)sp::set_metric_value(*m, type, v);
    }
  }
  std::uint64_t now_ms() const { return static_cast<std::uint64_t>(to_unix_ms(st_.stamp(st_.arrival()))); }

  LinkMessage ndeath(std::uint64_t bdseq) const {
    sp::Payload p;
    p.set_timestamp(now_ms());
    add(p, "bdSeq", sp::Payload::INT64, static_cast<std::int64_t>(bdseq), now_ms());
    return {sp::format_topic({sp::MessageType::ndeath, group_, node_, ""}), p.SerializeAsString(), 1, false};
  }
  // Called before every connect: a new session gets the next bdSeq (0..255, spec 3.0).
  std::optional<LinkMessage> will() {
    std::lock_guard lock(mu_);
    bdseq_ = next_bdseq_;
    next_bdseq_ = (next_bdseq_ + 1) % 256;
    born_ = false;
    return ndeath(bdseq_);
  }
  bool on_connected(MqttLink& l) {
    const std::string base = std::string(sp::kNamespace) + "/" + group_;
    if (!l.subscribe(base + "/NCMD/" + node_, 1) || !l.subscribe(base + "/DCMD/" + node_ + "/+", 1)) return false;
    std::lock_guard lock(mu_);
    return births_locked();
  }
  bool births_locked() {
    seq_ = 0;
    const std::uint64_t ts = now_ms();
    sp::Payload n;
    n.set_timestamp(ts);
    n.set_seq(0);
    add(n, "bdSeq", sp::Payload::INT64, static_cast<std::int64_t>(bdseq_), ts);
    add(n, std::string(sp::kRebirthMetric).c_str(), sp::Payload::BOOLEAN, false, ts);
    if (!link_->publish(sp::format_topic({sp::MessageType::nbirth, group_, node_, ""}), n.SerializeAsString(), 0)) {
      return false;
    }
    seq_ = 1;
    ++st_.births;
    born_ = true;
    sent_.clear();
    for (const auto& d : devices_) {
      const auto it = cache_.find(d);
      if (it == cache_.end()) continue;
      const Telemetry& t = it->second;
      sp::Payload p;
      const auto mts = static_cast<std::uint64_t>(to_unix_ms(st_.stamp(t.time)));
      p.set_timestamp(ts);
      for (const auto& mf : kMetrics) {
        if (const auto& v = t.*(mf.field)) {
          add_double(p, mf.name, *v, mts);
          sent_[d][mf.name] = *v;
        }
      }
      // Declared in the birth, null until the first command (the host reads null as "no ack").
      for (const char* a : {"Ack/CommandId", "Ack/Status", "Ack/Detail"}) add(p, a, sp::Payload::STRING, std::monostate{}, ts);
      last_full_ms_[d] = to_unix_ms(st_.stamp(t.time));
      if (publish_locked(sp::MessageType::dbirth, d, p, 0)) ++st_.births;
    }
    return true;
  }
  // Publishes with the next seq (one counter per edge node over every message after NBIRTH).
  bool publish_locked(sp::MessageType type, const std::string& device, sp::Payload& p, int qos) {
    p.set_seq(seq_);
    seq_ = (seq_ + 1) % 256;
    return link_->publish(sp::format_topic({type, group_, node_, device}), p.SerializeAsString(), qos);
  }

  void on_message(const std::string& topic, const std::string& payload) {
    auto t = sp::parse_topic(topic);
    if (!t || t->group_id != group_ || t->edge_node_id != node_) return;
    auto p = sp::decode_payload(payload);
    if (!p) {
      ++st_.rejected;
      log_line("warn", "sparkplug " + node_ + ": undecodable " + std::string(sp::to_string(t->type)) + ": " + p.error());
      return;
    }
    if (t->type == sp::MessageType::ncmd) {
      for (const auto& m : p->metrics()) {
        if (m.name() != sp::kRebirthMetric) continue;
        auto v = sp::metric_value(m, m.has_datatype() ? m.datatype() : static_cast<std::uint32_t>(sp::Payload::BOOLEAN));
        if (v && std::holds_alternative<bool>(*v) && std::get<bool>(*v)) {
          std::lock_guard lock(mu_);
          births_locked();
        }
      }
      return;
    }
    if (t->type != sp::MessageType::dcmd) return;
    if (std::find(devices_.begin(), devices_.end(), t->device_id) == devices_.end()) {
      ++st_.rejected;
      return;
    }
    Command c;
    c.site_id = node_;
    c.asset_id = t->device_id;
    std::string problem;
    bool have_kind = false, have_value = false, have_expires = false;
    for (const auto& m : p->metrics()) {
      // Datatypes are optional in commands; each name implies its type.
      const std::string& n = m.name();
      auto value = [&](std::uint32_t dt) { return sp::metric_value(m, m.has_datatype() ? m.datatype() : dt); };
      if (n == "Command/Id") {
        if (auto v = value(sp::Payload::STRING); v && std::holds_alternative<std::string>(*v)) c.command_id = std::get<std::string>(*v);
      } else if (n == "Command/Kind") {
        auto v = value(sp::Payload::STRING);
        if (v && std::holds_alternative<std::string>(*v)) {
          if (auto k = kind_from_name(std::get<std::string>(*v))) {
            c.kind = *k;
            have_kind = true;
          } else {
            problem = "unknown Command/Kind '" + std::get<std::string>(*v) + "'";
          }
        }
      } else if (n == "Command/Value") {
        if (auto v = value(sp::Payload::DOUBLE); v) {
          if (auto d = sp::as_double(*v)) {
            c.value = *d;
            have_value = true;
          }
        }
      } else if (n == "Command/Issued" || n == "Command/Expires") {
        if (auto v = value(sp::Payload::DATETIME); v && std::holds_alternative<std::uint64_t>(*v)) {
          const TimePoint tp = from_unix_ms(static_cast<std::int64_t>(std::get<std::uint64_t>(*v)));
          if (n == "Command/Issued") {
            c.issued = tp;
          } else {
            c.expires = tp;
            have_expires = true;
          }
        }
      } else if (n == "Command/Reason") {
        if (auto v = value(sp::Payload::STRING); v && std::holds_alternative<std::string>(*v)) c.reason = std::get<std::string>(*v);
      }
    }
    if (c.command_id.empty()) {
      ++st_.rejected;
      log_line("warn", "sparkplug " + node_ + "/" + c.asset_id + ": DCMD without Command/Id ignored");
      return;
    }
    if (problem.empty() && !have_kind) problem = "Command/Kind is missing";
    if (problem.empty() && !have_value) problem = "Command/Value is missing or not numeric";
    if (problem.empty() && !have_expires) problem = "Command/Expires is missing";
    if (!problem.empty()) {
      ++st_.rejected;
      send_ack({c.command_id, node_, c.asset_id, AckStatus::rejected, st_.stamp(st_.arrival()), problem});
      return;
    }
    if (acks_.seen(c.command_id)) {
      ++st_.repeats;
      st_.post([this, id = c.command_id] {
        if (auto a = acks_.get(id)) send_ack(*a);
      });
      return;
    }
    st_.post([this, c = std::move(c)]() mutable {
      const CommandAck ack = st_.apply(std::move(c));
      acks_.done(ack);
      send_ack(ack);
    });
  }
  void send_ack(const CommandAck& a) {
    std::lock_guard lock(mu_);
    if (!born_) return;  // vppd republishes unacknowledged commands after the rebirth
    sp::Payload p;
    const auto ts = static_cast<std::uint64_t>(to_unix_ms(a.time));
    p.set_timestamp(ts);
    add(p, "Ack/CommandId", sp::Payload::STRING, a.command_id, ts);
    add(p, "Ack/Status", sp::Payload::STRING, std::string(ack_name(a.status)), ts);
    add(p, "Ack/Detail", sp::Payload::STRING, a.detail, ts);
    publish_locked(sp::MessageType::ddata, a.asset_id, p, 1);
  }

  Emulator::State& st_;
  std::string group_, node_;
  std::vector<std::string> devices_;
  std::unique_ptr<MqttLink> link_;
  mutable std::mutex mu_;
  std::uint64_t bdseq_ = 0, next_bdseq_ = 0, seq_ = 0;
  bool born_ = false;
  std::map<std::string, Telemetry> cache_;
  std::map<std::string, std::map<std::string, double>> sent_;
  std::map<std::string, std::int64_t> last_full_ms_;
  AckMemory acks_;
};

// ---------------------------------------------------------------------------------- Emulator

Emulator::Emulator(std::unique_ptr<State> s) : s_(std::move(s)) {}

Emulator::~Emulator() {
  stop();
  if (s_->modbus) s_->modbus->stop();
  for (auto& e : s_->edges) e->stop();
  if (s_->json) s_->json->stop();
}

Result<std::unique_ptr<Emulator>> Emulator::create(const Scenario& sc, const ServeOptions& opt) {
  if (!(opt.clock_factor > 0) || opt.clock_factor > 10000) return Error{"--clock-factor must be > 0 and at most 10000"};
  auto st = std::make_unique<State>();
  st->sc = sc;
  st->opt = opt;
  st->setup = make_fleet(sc, sc.seed);
  auto plan = make_plan(sc.serve, st->setup.sites, opt.modbus_base_port);
  if (!plan) return Error{plan.error()};
  st->plan = std::move(*plan);
  if ((!st->plan.json_assets.empty() || !st->plan.sparkplug_assets.empty()) && opt.broker_url.empty()) {
    return Error{"the scenario serves sites over MQTT: --broker tcp://HOST:PORT is required"};
  }
  auto fleet = FleetModel::build(st->setup.sites, st->setup.loads, fleet_options(sc, opt.initial_soc_pct));
  if (!fleet) return Error{fleet.error()};
  st->fleet.emplace(std::move(*fleet));
  for (const auto& m : st->plan.modbus) {
    const Site* site = nullptr;
    for (const auto& s : st->setup.sites) {
      if (s.id == m.site_id) site = &s;
    }
    const Asset* a = site ? site->find_asset(m.asset_id) : nullptr;
    if (!a) return Error{"no asset " + m.site_id + "/" + m.asset_id};
    SunSpecDeviceSpec spec;
    spec.serial = m.site_id + "." + m.asset_id;
    spec.unit_id = m.unit_id;
    spec.role = m.role;
    spec.profile = m.profile;
    if (const auto* pv = a->get<PvSpec>()) {
      spec.rated_kw = pv->rated_kw;
    } else if (const auto* b = a->get<BatterySpec>()) {
      spec.rated_kw = b->max_discharge_kw;
      spec.max_charge_kw = b->max_charge_kw;
      spec.capacity_kwh = b->capacity_kwh;
      spec.reserve_pct = site->limits.battery_reserve_pct;
    }
    auto img = SunSpecImage::build(spec);
    if (!img) return Error{img.error()};
    auto d = std::make_unique<ServedSunSpec>();
    d->site_id = m.site_id;
    d->asset_id = m.asset_id;
    d->port = m.port;
    d->unit_id = m.unit_id;
    d->image = std::move(*img);
    st->sunspec.push_back(std::move(d));
  }
  st->sunspec_energy_wh.assign(st->sunspec.size(), 0.0);
  return std::unique_ptr<Emulator>(new Emulator(std::move(st)));
}

const ServePlan& Emulator::plan() const { return s_->plan; }
const std::vector<Site>& Emulator::sites() const { return s_->setup.sites; }
TimePoint Emulator::scenario_time() const { return from_unix_ms(s_->cur_ms.load()); }
Duration Emulator::stamp_shift() const { return s_->shift; }
void Emulator::stop() { s_->stopping = true; }

ServeStats Emulator::stats() const {
  ServeStats r;
  r.steps = s_->steps;
  r.late_steps = s_->late;
  r.telemetry_messages = s_->telemetry;
  r.births = s_->births;
  r.commands = s_->commands;
  r.repeated_commands = s_->repeats;
  r.rejected_messages = s_->rejected;
  r.modbus_controls = s_->controls;
  r.modbus_reverts = s_->reverts_done;
  if (s_->modbus) r.modbus_requests = s_->modbus->counters().requests;
  return r;
}

bool Emulator::with_fleet(const std::function<void(const FleetModel&)>& f, Duration timeout) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  s_->post([this, f, done] {
    f(*s_->fleet);
    done->set_value();
  });
  return fut.wait_for(timeout) == std::future_status::ready;
}

Result<bool> Emulator::run(const std::function<void()>& on_ready) {
  State& st = *s_;
  const Scenario& sc = st.sc;
  const Duration step = sc.step;
  const Duration serve_for = st.opt.duration.value_or(sc.duration);
  const std::size_t n = static_cast<std::size_t>(serve_for / step);
  if (n == 0) return Error{"nothing to serve: the duration is shorter than one step (" + format_duration(step) + ")"};

  // Where serving starts in scenario time, and the device clock's shift.
  std::size_t offset_steps = 0;
  if (st.opt.start_at_now) {
    const TimePoint now = std::chrono::floor<Duration>(std::chrono::system_clock::now());
    const TimePoint now_step = TimePoint{(now.time_since_epoch() / step) * step};
    const auto day = std::chrono::duration_cast<Duration>(std::chrono::days(1));
    // Local time of day of now and of the scenario's start; serve from the same time of day.
    const auto tod = [&](TimePoint t) {
      const auto local = t.time_since_epoch() + std::chrono::minutes(sc.utc_offset_minutes);
      return ((local % day) + day) % day;
    };
    const Duration target = st.opt.time_of_day ? *st.opt.time_of_day : tod(now_step);
    const Duration delta = ((target - tod(sc.start)) % day + day) % day;
    offset_steps = static_cast<std::size_t>(delta / step);
    st.t0 = sc.start + step * static_cast<std::int64_t>(offset_steps);
    st.shift = now_step - st.t0;
  } else {
    st.t0 = sc.start;
  }
  st.cur_ms = to_unix_ms(st.t0);
  const std::size_t warm = sc.warmup_steps();
  st.weather = std::make_unique<WeatherSeries>(sc.weather, st.setup.locations, sc.start - sc.warmup, step,
                                               warm + offset_steps + n, sc.utc_offset_minutes, sc.seed);
  FleetModel& fleet = *st.fleet;
  StepInputs in;
  for (std::size_t k = 0; k < warm; ++k) {
    make_step_inputs(*st.weather, k, 0, in);
    fleet.step(in);
  }
  fleet.reset_batteries(st.opt.initial_soc_pct);
  for (std::size_t k = 0; k < offset_steps; ++k) {  // unpaced, to the current time of day
    make_step_inputs(*st.weather, warm + k, 0, in);
    fleet.step(in);
  }

  // Index of every asset in the telemetry sample (site order, then asset order).
  fleet.telemetry(st.t0, st.sample);
  for (std::size_t i = 0; i < st.sample.size(); ++i) st.index[{st.sample[i].site_id, st.sample[i].asset_id}] = i;

  auto update_sunspec = [&](double dt_s) {
    for (std::size_t i = 0; i < st.sunspec.size(); ++i) {
      auto& d = *st.sunspec[i];
      const Telemetry& t = st.sample[st.index.at({d.site_id, d.asset_id})];
      SunSpecMeasurements m;
      m.p_kw = t.p_kw.value_or(0);
      m.available_kw = t.available_kw;
      m.soc_pct = t.soc_pct;
      st.sunspec_energy_wh[i] += std::max(0.0, m.p_kw) * 1000.0 * dt_s / 3600.0;
      m.energy_out_wh = st.sunspec_energy_wh[i];
      std::lock_guard lock(d.mu);
      d.image.update(m);
    }
  };
  update_sunspec(0);

  // Devices up.
  MqttLinkSpec link;
  link.url = st.opt.broker_url;
  if (!st.plan.json_assets.empty()) {
    link.client_id = sc.serve.client_id + "-json";
    st.json = std::make_unique<JsonSide>(st, link);
  }
  {
    std::map<std::string, std::vector<std::string>> devices;  // site -> assets
    for (const auto& [site, asset] : st.plan.sparkplug_assets) devices[site].push_back(asset);
    for (const auto& ps : st.plan.sites) {
      if (ps.dialect != ServeDialect::sparkplug_b) continue;
      st.edges.push_back(std::make_unique<Edge>(st, ps.group_id, ps.site_id, devices[ps.site_id], link));
    }
  }
  for (auto& e : st.edges) e->publish(st.sample);  // fills the birth caches
  if (!st.sunspec.empty()) {
    std::vector<ServedSunSpec*> devs;
    for (auto& d : st.sunspec) devs.push_back(d.get());
    st.modbus = std::make_unique<SunSpecServer>(st.opt.modbus_host, devs, [&st](ServedSunSpec& d, const SunSpecControl& c) {
      st.post([&st, &d, c] {
        const TimePoint at = st.arrival();
        Command cmd;
        cmd.command_id = "modbus-" + std::to_string(++st.modbus_seq);
        cmd.site_id = d.site_id;
        cmd.asset_id = d.asset_id;
        cmd.kind = c.kind == SunSpecControl::Kind::pv_limit_pct ? SetpointKind::pv_limit_pct : SetpointKind::battery_p_kw;
        cmd.issued = at;
        cmd.reason = "SunSpec model " + std::to_string(c.model) + " write";
        std::erase_if(st.reverts, [&](const State::Revert& r) { return r.device == &d && r.control.model == c.model; });
        if (c.enabled) {
          // Registers carry scaled, rounded values: a device holds its setpoint within its own
          // ratings (WChaMax in units of 10 W may read a few watts above the rating).
          const auto& spec = d.image.spec();
          cmd.value = c.kind == SunSpecControl::Kind::pv_limit_pct ? std::clamp(c.value, 0.0, 100.0)
                                                                    : std::clamp(c.value, -spec.max_charge_kw, spec.rated_kw);
          // No reversion timer: the control holds until it is disabled (a year stands for ever).
          cmd.expires = at + (c.revert.count() > 0 ? c.revert : Duration(std::chrono::hours(24 * 365)));
          if (c.revert.count() > 0) st.reverts.push_back({&d, c, cmd.expires});
        } else {
          // Disabled: the asset goes back to its own default; a command that expires at once
          // ends whatever control was in force.
          cmd.value = c.kind == SunSpecControl::Kind::pv_limit_pct ? 100.0 : 0.0;
          cmd.expires = at + Duration(1);
        }
        const CommandAck ack = st.fleet->apply(cmd, at);
        ++st.controls;
        if (ack.status != AckStatus::accepted) {
          log_line("warn", "modbus " + d.site_id + "/" + d.asset_id + ": control not applied: " + ack.detail);
        }
      });
    });
    if (auto r = st.modbus->start(); !r) return Error{r.error()};
  }
  if (st.json) st.json->start();
  for (auto& e : st.edges) e->start();
  // Serving starts once the devices are on the broker (births out), or after 10 s without it:
  // a device that cannot connect keeps trying, as a real one does, and reports once it can.
  const auto connect_until = std::chrono::steady_clock::now() + 10s;
  auto all_up = [&] {
    return (!st.json || st.json->connected()) &&
           std::all_of(st.edges.begin(), st.edges.end(), [](const auto& e) { return e->born(); });
  };
  while (!all_up() && !st.stopping && std::chrono::steady_clock::now() < connect_until) std::this_thread::sleep_for(10ms);
  if (!all_up()) log_line("warn", "not every MQTT device is connected to " + st.opt.broker_url + " yet; serving anyway");
  st.wall0 = std::chrono::steady_clock::now();
  st.serving = true;  // publishes wall0 to the threads that call arrival()
  if (on_ready) on_ready();

  const std::size_t tel_steps = std::max<std::size_t>(1, static_cast<std::size_t>(sc.telemetry_period / step));
  const double step_s = to_seconds(step);
  for (std::size_t k = 0; k < n && !st.stopping; ++k) {
    const TimePoint t = st.t0 + step * static_cast<std::int64_t>(k);
    st.cur_ms = to_unix_ms(t);
    // Sleep until the wall clock reaches the end of this step, running what arrives meanwhile.
    const auto deadline =
        st.wall0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(to_seconds(step * static_cast<std::int64_t>(k + 1)) / st.opt.clock_factor));
    if (std::chrono::steady_clock::now() > deadline + std::chrono::milliseconds(50)) ++st.late;
    while (!st.stopping) {
      st.drain();
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      std::unique_lock lock(st.q_mu);
      st.q_cv.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(100)),
                         [&] { return !st.queue.empty() || st.stopping; });
    }
    if (st.stopping) break;
    st.drain();
    make_step_inputs(*st.weather, warm + offset_steps + k, 0, in);
    fleet.step(in);
    ++st.steps;
    const TimePoint t_end = t + step;
    st.sample.clear();  // telemetry() appends
    fleet.telemetry(t_end, st.sample);
    update_sunspec(step_s);
    // SunSpec reversion timers that ran out: the device disables the control by itself (the
    // fleet's command expired at the same instant).
    for (auto it = st.reverts.begin(); it != st.reverts.end();) {
      if (it->at <= t_end) {
        std::lock_guard lock(it->device->mu);
        it->device->image.revert(it->control);
        ++st.reverts_done;
        it = st.reverts.erase(it);
      } else {
        ++it;
      }
    }
    if ((k + 1) % tel_steps == 0) {
      if (st.json) st.json->publish(st.sample);
      for (auto& e : st.edges) e->publish(st.sample);
    }
  }
  st.serving = false;
  if (st.modbus) st.modbus->stop();
  for (auto& e : st.edges) e->stop();
  if (st.json) st.json->stop();
  st.drain();
  return true;
}

}  // namespace vpp::sim::emulators
