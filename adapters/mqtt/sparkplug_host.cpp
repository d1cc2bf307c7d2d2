#include "adapters/mqtt/sparkplug_host.hpp"

#include <cmath>

namespace vpp::adapters::mqtt {

namespace sp = vpp::sparkplug;

namespace {

struct TelemetryField {
  std::string_view metric;
  std::optional<double> Telemetry::*field;
};
constexpr TelemetryField kTelemetryFields[] = {
    {"P_kW", &Telemetry::p_kw},
    {"Q_kVAr", &Telemetry::q_kvar},
    {"SoC_pct", &Telemetry::soc_pct},
    {"IndoorTemp_C", &Telemetry::indoor_temp_c},
    {"Setpoint_C", &Telemetry::setpoint_c},
    {"Available_kW", &Telemetry::available_kw},
    {"Energy_kWh", &Telemetry::energy_kwh},
};

const TelemetryField* telemetry_field(std::string_view name) {
  for (const auto& f : kTelemetryFields) {
    if (f.metric == name) return &f;
  }
  return nullptr;
}

constexpr std::pair<SetpointKind, std::string_view> kKinds[] = {
    {SetpointKind::pv_limit_kw, "PV_LIMIT_KW"},
    {SetpointKind::pv_limit_pct, "PV_LIMIT_PCT"},
    {SetpointKind::battery_p_kw, "BATTERY_P_KW"},
    {SetpointKind::hvac_setpoint_offset_c, "HVAC_SETPOINT_OFFSET_C"},
    {SetpointKind::hvac_power_cap_kw, "HVAC_POWER_CAP_KW"},
    {SetpointKind::load_curtail_pct, "LOAD_CURTAIL_PCT"},
    {SetpointKind::ev_current_limit_a, "EV_CURRENT_LIMIT_A"},
    {SetpointKind::ev_p_kw, "EV_P_KW"},
};

// Sparkplug quality codes (spec 6.4.x, property "Quality"): 0 BAD, 192 GOOD, 500 STALE.
std::optional<Quality> metric_quality(const sp::Metric& m) {
  if (!m.has_properties()) return std::nullopt;
  const auto& ps = m.properties();
  for (int i = 0; i < ps.keys_size() && i < ps.values_size(); ++i) {
    if (ps.keys(i) != "Quality") continue;
    const auto& v = ps.values(i);
    const std::uint64_t q = v.has_int_value() ? v.int_value() : v.has_long_value() ? v.long_value() : 192;
    if (q == 0) return Quality::bad;
    if (q == 500) return Quality::stale;
    if (q == 192) return Quality::good;
    return Quality::uncertain;
  }
  return std::nullopt;
}

int severity(Quality q) {
  switch (q) {
    case Quality::good: return 0;
    case Quality::unspecified: return 0;
    case Quality::uncertain: return 1;
    case Quality::stale: return 2;
    case Quality::bad: return 3;
  }
  return 0;
}

std::string metric_label(const sp::Metric& m) {
  return m.has_name() ? "'" + m.name() + "'" : "alias " + std::to_string(m.alias());
}

// bdSeq may be Int64 (3.0), UInt64 (2.2 and Tahu) or, leniently, any integer field.
std::optional<std::uint64_t> bd_seq_of(const sp::Payload& p) {
  for (const auto& m : p.metrics()) {
    if (m.name() != sp::kBdSeqMetric) continue;
    if (m.has_long_value()) return m.long_value();
    if (m.has_int_value()) return m.int_value();
  }
  return std::nullopt;
}

}  // namespace

std::string setpoint_kind_name(SetpointKind k) {
  for (auto [kind, name] : kKinds) {
    if (kind == k) return std::string(name);
  }
  return "UNSPECIFIED";
}

std::optional<AckStatus> parse_ack_status(std::string_view s) {
  if (s.starts_with("ACK_STATUS_")) s.remove_prefix(11);
  if (s == "ACCEPTED") return AckStatus::accepted;
  if (s == "REJECTED") return AckStatus::rejected;
  if (s == "EXPIRED") return AckStatus::expired;
  return std::nullopt;
}

SparkplugHost::SparkplugHost(std::string group_id, std::map<std::string, std::set<std::string>> fleet,
                             SparkplugHostOptions options, AdapterCounters& counters)
    : group_id_(std::move(group_id)), fleet_(std::move(fleet)), options_(options), counters_(counters) {}

bool SparkplugHost::node_born(const std::string& node) const {
  std::lock_guard lock(mu_);
  const auto it = nodes_.find(node);
  return it != nodes_.end() && it->second.born;
}

bool SparkplugHost::device_online(const std::string& node, const std::string& device) const {
  std::lock_guard lock(mu_);
  const auto it = nodes_.find(node);
  if (it == nodes_.end()) return false;
  const auto d = it->second.devices.find(device);
  return d != it->second.devices.end() && d->second.online;
}

std::uint64_t SparkplugHost::rebirths_requested() const {
  std::lock_guard lock(mu_);
  return rebirths_;
}

void SparkplugHost::request_rebirth(const std::string& node_id, Node& node, TimePoint now,
                                    std::vector<Outgoing>& out) {
  node.born = false;  // drop DATA until the NBIRTH that answers
  if (node.last_rebirth && now - *node.last_rebirth < options_.rebirth_holdoff) return;
  node.last_rebirth = now;
  ++rebirths_;
  const sp::Topic t{sp::MessageType::ncmd, group_id_, node_id, ""};
  out.push_back({sp::format_topic(t), sp::rebirth_request(static_cast<std::uint64_t>(to_unix_ms(now))).SerializeAsString(),
                 1, false});
}

void SparkplugHost::take_offline(const std::string& node_id, Device& dev, const std::string& device_id, TimePoint t,
                                 const std::string& why, InputSink& sink) {
  if (!dev.online) return;
  dev.online = false;
  sink.push(DeviceStatus{node_id, device_id, false, t, why});
}

std::vector<Outgoing> SparkplugHost::on_message(const sp::Topic& topic, std::string_view payload, TimePoint now,
                                                InputSink& sink) {
  std::vector<Outgoing> out;
  // The source label is built only when something is rejected (this is the per-message hot path).
  struct Src {
    const sp::Topic& t;
    operator std::string() const { return sp::format_topic(t); }
  } const src{topic};
  if (topic.type == sp::MessageType::ncmd || topic.type == sp::MessageType::dcmd ||
      topic.type == sp::MessageType::state) {
    return out;  // our own commands echoed back by the broker, or other hosts' STATE
  }
  bool known_node;
  {
    std::lock_guard lock(mu_);
    known_node = fleet_.count(topic.edge_node_id) > 0;
  }
  if (!known_node) {
    counters_.reject(reason::unknown_device, std::string(src), "edge node '" + topic.edge_node_id + "' is not a site of group '" + group_id_ + "'");
    return out;
  }
  // One payload per thread, reused: its metrics' memory survives Clear() (hot path).
  thread_local sp::Payload p;
  auto decoded = sp::decode_payload_into(payload, p);
  std::lock_guard lock(mu_);
  Node& node = nodes_[topic.edge_node_id];
  if (!decoded) {
    counters_.reject(reason::malformed, std::string(src), decoded.error());
    if (topic.type != sp::MessageType::ndeath) request_rebirth(topic.edge_node_id, node, now, out);
    return out;
  }
  const TimePoint payload_time = p.has_timestamp() ? from_unix_ms(static_cast<std::int64_t>(p.timestamp())) : now;

  switch (topic.type) {
    case sp::MessageType::nbirth: {
      const auto bd = bd_seq_of(p);
      if (!bd) {
        counters_.reject(reason::malformed, std::string(src), "NBIRTH without a bdSeq metric");
        request_rebirth(topic.edge_node_id, node, now, out);
        return out;
      }
      // Validate every metric before replacing the session: a bad birth must not half-apply.
      std::map<std::uint64_t, AliasEntry> aliases;
      std::map<std::string, std::uint32_t, std::less<>> types;
      for (const auto& m : p.metrics()) {
        if (!m.has_name() || !m.has_datatype()) {
          counters_.reject(reason::malformed, std::string(src), "NBIRTH metric " + metric_label(m) + " lacks a name or datatype");
          request_rebirth(topic.edge_node_id, node, now, out);
          return out;
        }
        types[m.name()] = m.datatype();
        if (m.has_alias()) aliases[m.alias()] = AliasEntry{"", m.name(), m.datatype()};
      }
      node.born = true;
      node.ever_born = true;
      node.bd_seq = *bd;
      // Sparkplug says NBIRTH seq is 0; accept any and continue from it (spec issue #178).
      node.seq = p.has_seq() ? p.seq() % 256 : 0;
      node.aliases = std::move(aliases);
      node.node_datatypes = std::move(types);
      // Device births follow; until then the devices' old sessions are void.
      for (auto& [id, dev] : node.devices) dev.datatypes.clear();
      counters_.count_in();
      return out;
    }
    case sp::MessageType::ndeath: {
      const auto bd = bd_seq_of(p);
      if (!node.born || !bd || *bd != node.bd_seq) {
        counters_.reject(reason::stale_death, std::string(src),
                         "NDEATH bdSeq " + (bd ? std::to_string(*bd) : std::string("missing")) +
                             (node.born ? " does not match the NBIRTH's " + std::to_string(node.bd_seq) : " for a node without a session"));
        return out;
      }
      counters_.count_in();
      node.born = false;
      for (auto& [id, dev] : node.devices) {
        take_offline(topic.edge_node_id, dev, id, now, "NDEATH bdSeq " + std::to_string(*bd), sink);
      }
      return out;
    }
    default:
      break;
  }

  // Every other edge message carries the node's seq.
  if (!node.born) {
    counters_.reject(reason::before_birth, std::string(src), "no NBIRTH for this session yet");
    request_rebirth(topic.edge_node_id, node, now, out);
    return out;
  }
  if (!p.has_seq()) {
    counters_.reject(reason::malformed, std::string(src), std::string(sp::to_string(topic.type)) + " without seq");
    request_rebirth(topic.edge_node_id, node, now, out);
    return out;
  }
  const std::uint64_t expected = (node.seq + 1) % 256;
  if (p.seq() != expected) {
    counters_.reject(reason::seq_gap, std::string(src), "seq " + std::to_string(p.seq()) + ", expected " + std::to_string(expected));
    request_rebirth(topic.edge_node_id, node, now, out);
    return out;
  }
  node.seq = expected;
  // Checked after the seq so that an edge node with a device vpp does not know keeps its session.
  const auto fleet_it = fleet_.find(topic.edge_node_id);
  if (!topic.device_id.empty() && (fleet_it == fleet_.end() || !fleet_it->second.count(topic.device_id))) {
    counters_.reject(reason::unknown_device, std::string(src),
                     "device '" + topic.device_id + "' is not an asset of site '" + topic.edge_node_id + "'");
    return out;
  }

  switch (topic.type) {
    case sp::MessageType::ndata: {
      for (const auto& m : p.metrics()) {
        if (!m.has_name() && !(m.has_alias() && node.aliases.count(m.alias()))) {
          counters_.reject(reason::unknown_alias, std::string(src), "metric " + metric_label(m) + " was not in the NBIRTH");
          request_rebirth(topic.edge_node_id, node, now, out);
          return out;
        }
      }
      counters_.count_in();  // node metrics carry nothing vpp reads
      return out;
    }
    case sp::MessageType::dbirth:
    case sp::MessageType::ddata: {
      Device& dev = node.devices[topic.device_id];
      const bool birth = topic.type == sp::MessageType::dbirth;
      if (!birth && !dev.online) {
        counters_.reject(reason::before_birth, std::string(src), "DDATA before the device's DBIRTH");
        request_rebirth(topic.edge_node_id, node, now, out);
        return out;
      }
      if (apply_device_metrics(topic.edge_node_id, node, topic.device_id, dev, p, birth, payload_time, now, sink, out)) {
        counters_.count_in();
      }
      return out;
    }
    case sp::MessageType::ddeath: {
      counters_.count_in();
      auto it = node.devices.find(topic.device_id);
      if (it != node.devices.end()) {
        it->second.datatypes.clear();
        take_offline(topic.edge_node_id, it->second, topic.device_id, payload_time, "DDEATH", sink);
      }
      return out;
    }
    default:
      return out;
  }
}

bool SparkplugHost::apply_device_metrics(const std::string& node_id, Node& node, const std::string& device_id,
                                         Device& dev, const sp::Payload& p, bool birth, TimePoint payload_time,
                                         TimePoint now, InputSink& sink, std::vector<Outgoing>& out) {
  struct Src {
    const std::string& n;
    const std::string& d;
    operator std::string() const { return n + "/" + d; }
  } const src{node_id, device_id};
  struct Resolved {
    const sp::Metric* m;
    std::string_view name;  // into the payload or the alias table, both alive for this call
    std::uint32_t datatype;
  };
  std::vector<Resolved> metrics;
  metrics.reserve(static_cast<std::size_t>(p.metrics_size()));
  std::map<std::uint64_t, AliasEntry> new_aliases;
  std::map<std::string, std::uint32_t, std::less<>> new_types;
  // Pass 1: resolve names and datatypes; an unresolvable metric voids the whole message.
  for (const auto& m : p.metrics()) {
    std::string_view name;
    std::uint32_t dt = 0;
    if (m.has_name()) {
      name = m.name();
      if (m.has_datatype()) {
        dt = m.datatype();
      } else if (!birth) {
        const auto it = dev.datatypes.find(name);
        if (it == dev.datatypes.end()) {
          counters_.reject(reason::unknown_alias, std::string(src), "metric '" + std::string(name) + "' was not in the DBIRTH");
          request_rebirth(node_id, node, now, out);
          return false;
        }
        dt = it->second;
      } else {
        counters_.reject(reason::malformed, std::string(src), "DBIRTH metric '" + std::string(name) + "' has no datatype");
        request_rebirth(node_id, node, now, out);
        return false;
      }
      if (birth && m.has_alias()) new_aliases[m.alias()] = AliasEntry{device_id, std::string(name), dt};
    } else if (m.has_alias() && !birth) {
      const auto it = node.aliases.find(m.alias());
      if (it == node.aliases.end() || it->second.device != device_id) {
        counters_.reject(reason::unknown_alias, std::string(src), "alias " + std::to_string(m.alias()) + " is not in this device's birth");
        request_rebirth(node_id, node, now, out);
        return false;
      }
      name = it->second.name;
      dt = m.has_datatype() ? m.datatype() : it->second.datatype;
    } else {
      counters_.reject(reason::malformed, std::string(src), "metric without a name" + std::string(birth ? " in DBIRTH" : " or alias"));
      request_rebirth(node_id, node, now, out);
      return false;
    }
    if (birth) new_types[std::string(name)] = dt;
    metrics.push_back({&m, name, dt});
  }
  if (birth) {
    // Aliases are unique per edge node: drop this device's old ones, then add the new ones.
    for (auto it = node.aliases.begin(); it != node.aliases.end();) {
      it = it->second.device == device_id ? node.aliases.erase(it) : std::next(it);
    }
    for (auto& [alias, e] : new_aliases) node.aliases[alias] = std::move(e);
    dev.datatypes = std::move(new_types);
    dev.last = Telemetry{};
    dev.last.site_id = node_id;
    dev.last.asset_id = device_id;
  }

  // Pass 2: values.
  bool telemetry_changed = birth;
  std::optional<std::string_view> bad_reason;
  std::string bad_detail;
  TimePoint latest = payload_time;
  bool have_metric_time = false;
  Quality quality = Quality::good;
  CommandAck ack;
  bool have_ack = false;
  std::optional<AckStatus> ack_status;
  for (const auto& r : metrics) {
    const TelemetryField* tf = telemetry_field(r.name);
    const bool is_ack = r.name.starts_with("Ack/");
    if (!tf && !is_ack) continue;
    auto v = sp::metric_value(*r.m, r.datatype);
    if (!v) {
      if (!bad_reason) {
        bad_reason = reason::wrong_type;
        bad_detail = v.error();
      }
      continue;
    }
    if (r.m->has_timestamp()) {
      const TimePoint t = from_unix_ms(static_cast<std::int64_t>(r.m->timestamp()));
      if (!have_metric_time || t > latest) latest = t;
      have_metric_time = true;
    }
    if (tf) {
      if (std::holds_alternative<std::monostate>(*v)) {
        dev.last.*(tf->field) = std::nullopt;  // is_null: the value is unknown now
        telemetry_changed = true;
        continue;
      }
      const auto d = std::holds_alternative<std::string>(*v) || std::holds_alternative<bool>(*v)
                         ? std::nullopt
                         : sp::as_double(*v);
      if (!d) {
        if (!bad_reason) {
          bad_reason = reason::wrong_type;
          bad_detail = "metric '" + std::string(r.name) + "' must be numeric, datatype " + std::to_string(r.datatype);
        }
        continue;
      }
      if (!std::isfinite(*d)) {
        if (!bad_reason) {
          bad_reason = reason::non_finite;
          bad_detail = "metric '" + std::string(r.name) + "' is not finite";
        }
        continue;
      }
      dev.last.*(tf->field) = *d;
      telemetry_changed = true;
      if (auto q = metric_quality(*r.m); q && severity(*q) > severity(quality)) quality = *q;
      continue;
    }
    // Ack metrics: strings.
    const auto* s = std::get_if<std::string>(&*v);
    if (std::holds_alternative<std::monostate>(*v)) continue;  // null in DBIRTH: no ack yet
    if (!s) {
      if (!bad_reason) {
        bad_reason = reason::wrong_type;
        bad_detail = "metric '" + std::string(r.name) + "' must be a string";
      }
      continue;
    }
    if (r.name == "Ack/CommandId") {
      ack.command_id = *s;
      have_ack = true;
    } else if (r.name == "Ack/Status") {
      ack_status = parse_ack_status(*s);
      if (!ack_status && !bad_reason) {
        bad_reason = reason::wrong_type;
        bad_detail = "Ack/Status '" + *s + "' is not ACCEPTED, REJECTED or EXPIRED";
      }
    } else if (r.name == "Ack/Detail") {
      ack.detail = *s;
    }
  }
  if (bad_reason) counters_.reject(*bad_reason, std::string(src), bad_detail);
  if (birth) {
    dev.online = true;
    sink.push(DeviceStatus{node_id, device_id, true, latest, "DBIRTH"});
  }
  if (telemetry_changed) {
    dev.last.time = latest;
    dev.last.quality = quality;
    sink.push(dev.last);
  }
  if (have_ack) {
    if (ack.command_id.empty() || !ack_status) {
      counters_.reject(reason::malformed, std::string(src), "ack needs Ack/CommandId and a valid Ack/Status");
    } else {
      ack.site_id = node_id;
      ack.asset_id = device_id;
      ack.status = *ack_status;
      ack.time = latest;
      sink.push(std::move(ack));
    }
  }
  return !bad_reason.has_value();
}

void SparkplugHost::set_fleet(std::map<std::string, std::set<std::string>> fleet) {
  std::lock_guard lock(mu_);
  fleet_ = std::move(fleet);
}

Result<Outgoing> SparkplugHost::command(const Command& c, TimePoint now) {
  bool known;
  {
    std::lock_guard lock(mu_);
    const auto it = fleet_.find(c.site_id);
    known = it != fleet_.end() && it->second.count(c.asset_id);
  }
  if (!known) {
    return Error{"no Sparkplug device " + c.site_id + "/" + c.asset_id + " in group '" + group_id_ + "'"};
  }
  sp::Payload p;
  p.set_timestamp(static_cast<std::uint64_t>(to_unix_ms(now)));
  auto add = [&](const char* name, std::uint32_t dt, sp::MetricValue v) {
    auto* m = p.add_metrics();
    m->set_name(name);
    m->set_timestamp(static_cast<std::uint64_t>(to_unix_ms(now)));
    (void)sp::set_metric_value(*m, dt, std::move(v));  // types chosen here always fit
    if (!options_.datatype_in_commands) m->clear_datatype();
  };
  add("Command/Id", sp::Payload::STRING, c.command_id);
  add("Command/Kind", sp::Payload::STRING, setpoint_kind_name(c.kind));
  add("Command/Value", sp::Payload::DOUBLE, c.value);
  add("Command/Issued", sp::Payload::DATETIME, static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_unix_ms(c.issued))));
  add("Command/Expires", sp::Payload::DATETIME, static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_unix_ms(c.expires))));
  if (!c.reason.empty()) add("Command/Reason", sp::Payload::STRING, c.reason);
  const sp::Topic t{sp::MessageType::dcmd, group_id_, c.site_id, c.asset_id};
  return Outgoing{sp::format_topic(t), p.SerializeAsString(), 1, false};
}

void SparkplugHost::on_connection_lost(TimePoint now, InputSink& sink) {
  std::lock_guard lock(mu_);
  for (auto& [node_id, node] : nodes_) {
    node.born = false;
    for (auto& [id, dev] : node.devices) take_offline(node_id, dev, id, now, "broker connection lost", sink);
  }
}

std::vector<Outgoing> SparkplugHost::on_connected(TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<Outgoing> out;
  for (auto& [node_id, node] : nodes_) {
    if (!node.ever_born) continue;
    node.last_rebirth.reset();  // a new connection: ask at once
    request_rebirth(node_id, node, now, out);
  }
  return out;
}

}  // namespace vpp::adapters::mqtt
