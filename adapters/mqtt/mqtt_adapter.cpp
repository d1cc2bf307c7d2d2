#include "adapters/mqtt/mqtt_adapter.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "adapters/mqtt/json_dialect.hpp"

namespace vpp::adapters::mqtt {

namespace sp = vpp::sparkplug;

Result<std::string> read_password_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Error{"cannot read password file '" + path + "'"};
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty()) return Error{"password file '" + path + "' is empty"};
  return s;
}

// Sits between the dialects and the daemon's sink: de-duplicates acks by command id and closes
// the command's outbox entry.
class MqttAdapter::AckFilter final : public InputSink {
 public:
  explicit AckFilter(MqttAdapter& a) : a_(a) {}
  void push(AdapterInput in) override {
    if (auto* ack = std::get_if<CommandAck>(&in)) {
      std::lock_guard lock(a_.pending_mu_);
      if (a_.acked_.count(ack->command_id)) {
        a_.counters_.reject(reason::duplicate_ack, ack->site_id + "/" + ack->asset_id, "command " + ack->command_id);
        return;
      }
      if (!a_.pending_.erase(ack->command_id)) {
        a_.counters_.reject(reason::unknown_command, ack->site_id + "/" + ack->asset_id,
                            "ack for command '" + ack->command_id + "' that this vppd did not send");
        return;
      }
      a_.acked_.insert(ack->command_id);
      a_.acked_order_.push_back(ack->command_id);
      while (a_.acked_order_.size() > a_.options_.ack_memory) {
        a_.acked_.erase(a_.acked_order_.front());
        a_.acked_order_.pop_front();
      }
    }
    a_.sink_.push(std::move(in));
  }

 private:
  MqttAdapter& a_;
};

MqttAdapter::MqttAdapter(const config::MqttConfig& cfg, InputSink& sink, const Clock& clock, MqttAdapterOptions options)
    : cfg_(cfg),
      sink_(sink),
      clock_(clock),
      options_(options),
      status_topic_(cfg.topic_prefix + "/status/" + cfg.client_id),
      ack_filter_(std::make_unique<AckFilter>(*this)) {}

MqttAdapter::~MqttAdapter() { stop(); }

Result<std::unique_ptr<MqttAdapter>> MqttAdapter::create(const config::MqttConfig& cfg, const std::vector<Site>& fleet,
                                                         InputSink& sink, const Clock& clock,
                                                         MqttAdapterOptions options) {
  if (cfg.device_groups.empty()) return Error{"mqtt: no device_groups configured"};
  std::unique_ptr<MqttAdapter> a(new MqttAdapter(cfg, sink, clock, options));
  std::string password;
  if (!cfg.password_file.empty()) {
    auto p = read_password_file(cfg.password_file);
    if (!p) return Error{"mqtt: " + p.error()};
    password = std::move(p).value();
  }
  for (const auto& g : cfg.device_groups) a->groups_.push_back(Group{g, nullptr});
  bool any_sparkplug = false;
  for (auto& g : a->groups_) {
    if (g.cfg.dialect != config::MqttDialect::sparkplug_b) continue;
    any_sparkplug = true;
    g.host = std::make_unique<SparkplugHost>(g.cfg.sparkplug_group_id, std::map<std::string, std::set<std::string>>{},
                                             options.sparkplug, a->counters_);
  }
  a->assign(fleet);
  ConnectionSpec spec{cfg.url, cfg.client_id, cfg.username, password, cfg.tls, cfg.keepalive,
                      options.connect_timeout, options.reconnect_min, options.reconnect_max};
  MqttAdapter* self = a.get();
  a->json_conn_ = std::make_unique<MqttConnection>(
      "mqtt", spec, [self](const std::string& t, const std::string& p) { self->on_json_message(t, p); },
      [self](MqttConnection& c) { return self->on_json_connected(c); }, nullptr,
      [self]() -> std::optional<WillMessage> { return WillMessage{self->status_topic(), "offline", 1, true}; });
  for (int i = 0; i < options.command_lanes; ++i) {
    auto lane = spec;
    lane.client_id = cfg.client_id + "-cmd" + std::to_string(i);
    a->cmd_conns_.push_back(std::make_unique<MqttConnection>(
        "mqtt-cmd" + std::to_string(i), lane, [](const std::string&, const std::string&) {},
        [self, i](MqttConnection&) {
          self->republish_pending(i);
          return true;
        },
        nullptr, nullptr));
    a->lanes_.push_back(a->cmd_conns_.back().get());
  }
  if (a->lanes_.empty()) a->lanes_.push_back(a->json_conn_.get());
  if (any_sparkplug) {
    auto spb = spec;
    spb.client_id = cfg.client_id + "-spb";
    a->spb_conn_ = std::make_unique<MqttConnection>(
        "sparkplug", spb, [self](const std::string& t, const std::string& p) { self->on_sparkplug_message(t, p); },
        [self](MqttConnection& c) { return self->on_sparkplug_connected(c); },
        [self] {
          for (auto& g : self->groups_) {
            if (g.host) g.host->on_connection_lost(self->clock_.now(), *self->ack_filter_);
          }
        },
        [self]() -> std::optional<WillMessage> {
          std::lock_guard lock(self->state_mu_);
          // A fresh timestamp per connect; the online STATE repeats it (Sparkplug 3.0 STATE rules).
          self->state_timestamp_ms_ = static_cast<std::uint64_t>(to_unix_ms(self->clock_.now()));
          return WillMessage{sp::format_topic({sp::MessageType::state, "", self->cfg_.client_id, ""}),
                             sp::state_json({false, self->state_timestamp_ms_}), 1, true};
        });
  }
  return a;
}

void MqttAdapter::assign(const std::vector<Site>& fleet) {
  std::map<std::string, std::size_t> site_group;
  std::map<std::string, std::set<std::string>> assets;
  // Sites listed by a group belong to it; the others go to the first group that lists none.
  std::optional<std::size_t> catch_all;
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    if (groups_[i].cfg.sites.empty() && !catch_all) catch_all = i;
  }
  for (const auto& s : fleet) {
    std::optional<std::size_t> gi;
    for (std::size_t i = 0; i < groups_.size() && !gi; ++i) {
      const auto& sites = groups_[i].cfg.sites;
      if (std::find(sites.begin(), sites.end(), s.id) != sites.end()) gi = i;
    }
    if (!gi) gi = catch_all;
    if (!gi) continue;  // not an MQTT site (e.g. Modbus only)
    site_group[s.id] = *gi;
    auto& a = assets[s.id];
    for (const auto& asset : s.assets) a.insert(asset.id);
  }
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    if (!groups_[i].host) continue;
    std::map<std::string, std::set<std::string>> fleet_of_group;
    for (const auto& [site, gi] : site_group) {
      if (gi == i) fleet_of_group[site] = assets[site];
    }
    groups_[i].host->set_fleet(std::move(fleet_of_group));
  }
  std::unique_lock lock(fleet_mu_);
  site_group_ = std::move(site_group);
  assets_ = std::move(assets);
}

void MqttAdapter::set_fleet(const std::vector<Site>& fleet) { assign(fleet); }

std::string MqttAdapter::status_topic() const { return status_topic_; }

void MqttAdapter::start() {
  json_conn_->start();
  if (spb_conn_) spb_conn_->start();
  for (auto& c : cmd_conns_) c->start();
  std::lock_guard lock(pending_mu_);
  if (!retry_thread_.joinable()) {
    retry_stop_ = false;
    retry_thread_ = std::thread([this] { retry_loop(); });
  }
}

void MqttAdapter::retry_loop() {
  std::unique_lock lock(pending_mu_);
  while (!retry_stop_) {
    retry_cv_.wait_for(lock, options_.command_retry / 2, [&] { return retry_stop_; });
    if (retry_stop_) return;
    lock.unlock();
    for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) republish_pending(i, options_.command_retry);
    if (spb_conn_) republish_pending(kSparkplugLane, options_.command_retry);
    lock.lock();
  }
}

void MqttAdapter::stop() {
  {
    std::lock_guard lock(pending_mu_);
    retry_stop_ = true;
  }
  retry_cv_.notify_all();
  if (retry_thread_.joinable()) retry_thread_.join();
  if (spb_conn_) {
    std::uint64_t ts;
    {
      std::lock_guard lock(state_mu_);
      ts = state_timestamp_ms_;
    }
    spb_conn_->stop(WillMessage{sp::format_topic({sp::MessageType::state, "", cfg_.client_id, ""}),
                                sp::state_json({false, ts}), 1, true});
  }
  for (auto& c : cmd_conns_) c->stop();
  if (json_conn_) json_conn_->stop(WillMessage{status_topic(), "offline", 1, true});
}

bool MqttAdapter::connected() const {
  for (const auto& c : cmd_conns_) {
    if (!c->connected()) return false;
  }
  return json_conn_->connected() && (!spb_conn_ || spb_conn_->connected());
}

bool MqttAdapter::any_connected() const {
  for (const auto& c : cmd_conns_) {
    if (c->connected()) return true;
  }
  return json_conn_->connected() || (spb_conn_ && spb_conn_->connected());
}

bool MqttAdapter::wait_connected(Duration timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!connected()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::uint64_t MqttAdapter::connects() const {
  std::uint64_t n = json_conn_->connects() + (spb_conn_ ? spb_conn_->connects() : 0);
  for (const auto& c : cmd_conns_) n += c->connects();
  return n;
}

std::uint64_t MqttAdapter::publications_completed() const {
  std::uint64_t n = json_conn_->completed() + (spb_conn_ ? spb_conn_->completed() : 0);
  for (const auto& c : cmd_conns_) n += c->completed();
  return n;
}

std::size_t MqttAdapter::pending_commands() const {
  std::lock_guard lock(pending_mu_);
  return pending_.size();
}

const SparkplugHost* MqttAdapter::sparkplug_host(const std::string& group_id) const {
  for (const auto& g : groups_) {
    if (g.host && g.host->group_id() == group_id) return g.host.get();
  }
  return nullptr;
}

bool MqttAdapter::has_asset(const std::string& site, const std::string& asset) const {
  std::shared_lock lock(fleet_mu_);
  const auto it = assets_.find(site);
  return it != assets_.end() && it->second.count(asset) > 0;
}

const MqttAdapter::Group* MqttAdapter::group_of_site(const std::string& site) const {
  std::shared_lock lock(fleet_mu_);
  const auto it = site_group_.find(site);
  return it == site_group_.end() ? nullptr : &groups_[it->second];
}

void MqttAdapter::publish(MqttConnection& c, const Outgoing& m) {
  if (c.publish(m.topic, m.payload, m.qos, m.retained)) counters_.count_out();
}

bool MqttAdapter::on_json_connected(MqttConnection& c) {
  const std::string& p = cfg_.topic_prefix;
  bool any_json = false;
  for (const auto& g : groups_) any_json = any_json || g.cfg.dialect == config::MqttDialect::json;
  bool ok = c.subscribe(p + "/grid/#", 1);
  if (any_json) ok = ok && c.subscribe(p + "/+/+/telemetry", 0) && c.subscribe(p + "/+/+/ack", 1);
  if (!ok) return false;
  c.publish(status_topic(), "online", 1, true);
  if (cmd_conns_.empty()) republish_pending(0);
  return true;
}

bool MqttAdapter::on_sparkplug_connected(MqttConnection& c) {
  std::uint64_t ts;
  {
    std::lock_guard lock(state_mu_);
    ts = state_timestamp_ms_;
  }
  const std::string state_topic = sp::format_topic({sp::MessageType::state, "", cfg_.client_id, ""});
  bool ok = c.subscribe(state_topic, 1);
  // The edge-to-host message types only: a `#` would also bring back our own NCMD/DCMD.
  for (const auto& g : groups_) {
    if (!g.host) continue;
    const std::string base = std::string(sp::kNamespace) + "/" + g.host->group_id() + "/";
    for (const char* t : {"NBIRTH/+", "NDEATH/+", "NDATA/+", "DBIRTH/+/+", "DDATA/+/+", "DDEATH/+/+"}) {
      ok = ok && c.subscribe(base + t, 1);
    }
  }
  if (!ok) return false;
  c.publish(state_topic, sp::state_json({true, ts}), 1, true);
  const TimePoint now = clock_.now();
  for (auto& g : groups_) {
    if (!g.host) continue;
    for (const auto& m : g.host->on_connected(now)) publish(c, m);
  }
  republish_pending(kSparkplugLane);
  return true;
}

MqttConnection& MqttAdapter::connection_of_lane(int lane) {
  return lane == kSparkplugLane ? *spb_conn_ : *lanes_[static_cast<std::size_t>(lane)];
}

void MqttAdapter::republish_pending(int lane, std::optional<Duration> only_older_than) {
  MqttConnection* c = &connection_of_lane(lane);
  if (!c->connected()) return;
  const TimePoint now = clock_.now();
  std::vector<Outgoing> again;
  {
    std::lock_guard lock(pending_mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.command.expires != TimePoint{} && it->second.command.expires <= now) {
        it = pending_.erase(it);  // expired: the device has reverted, the core knows from expiry
        continue;
      }
      if (it->second.lane == lane && (!only_older_than || now - it->second.last_sent >= *only_older_than)) {
        again.push_back(it->second.msg);
        it->second.last_sent = now;
      }
      ++it;
    }
  }
  for (const auto& m : again) publish(*c, m);
  if (!again.empty()) {
    spdlog::info("mqtt: republished {} unacknowledged commands{}", again.size(), only_older_than ? "" : " after reconnect");
  }
}

Result<bool> MqttAdapter::send(const Command& c) {
  const Group* g = group_of_site(c.site_id);
  if (!g || !has_asset(c.site_id, c.asset_id)) {
    return Error{"mqtt: no device " + c.site_id + "/" + c.asset_id + " in any MQTT device group"};
  }
  if (c.command_id.empty()) return Error{"mqtt: command without an id"};
  Pending p{c, {}, g->host ? kSparkplugLane : static_cast<int>(std::hash<std::string>{}(c.site_id) % lanes_.size()),
            clock_.now()};
  if (g->host) {
    auto m = g->host->command(c, clock_.now());
    if (!m) return Error{"mqtt: " + m.error()};
    p.msg = std::move(m).value();
  } else {
    p.msg = Outgoing{json_topic(cfg_.topic_prefix, JsonTopicKind::cmd, c.site_id, c.asset_id), encode_command_json(c), 1,
                     false};
  }
  {
    std::lock_guard lock(pending_mu_);
    if (pending_.size() >= options_.max_pending_commands && !pending_.count(c.command_id)) {
      return Error{"mqtt: " + std::to_string(pending_.size()) + " commands await acks; refusing more"};
    }
    pending_[c.command_id] = p;
  }
  MqttConnection& conn = connection_of_lane(p.lane);
  if (conn.publish(p.msg.topic, p.msg.payload, p.msg.qos, p.msg.retained)) {
    counters_.count_out();
    return true;
  }
  return false;
}

void MqttAdapter::on_json_message(const std::string& topic, const std::string& payload) {
  if (payload.size() > options_.max_payload_bytes) {
    counters_.reject(reason::oversized, topic, std::to_string(payload.size()) + " bytes > " +
                                                   std::to_string(options_.max_payload_bytes));
    return;
  }
  if (topic == status_topic_) return;
  auto t = parse_json_topic(cfg_.topic_prefix, topic);
  if (!t) {
    counters_.reject(reason::unknown_topic, topic, t.error());
    return;
  }
  if (t->kind != JsonTopicKind::grid_signal) {
    const Group* g = group_of_site(t->site_id);
    if (!g || g->cfg.dialect != config::MqttDialect::json || !has_asset(t->site_id, t->asset_id)) {
      counters_.reject(reason::unknown_device, topic, "no JSON device " + t->site_id + "/" + t->asset_id);
      return;
    }
  }
  auto d = decode_json(*t, payload, clock_.now());
  if (auto* r = std::get_if<JsonRejection>(&d)) {
    counters_.reject(r->why, topic, r->detail);
    return;
  }
  counters_.count_in();
  ack_filter_->push(std::move(std::get<AdapterInput>(d)));
}

void MqttAdapter::on_sparkplug_message(const std::string& topic, const std::string& payload) {
  if (payload.size() > options_.max_payload_bytes) {
    counters_.reject(reason::oversized, topic, std::to_string(payload.size()) + " bytes > " +
                                                   std::to_string(options_.max_payload_bytes));
    return;
  }
  auto t = sp::parse_topic(topic);
  if (!t) {
    counters_.reject(reason::unknown_topic, topic, t.error());
    return;
  }
  if (t->type == sp::MessageType::state) {
    if (t->edge_node_id != cfg_.client_id) return;
    auto st = sp::parse_state_json(payload);
    if (st && !st->online) {
      // A stale Will or another instance claiming our id: say we are online (Sparkplug 3.0).
      std::uint64_t ts;
      {
        std::lock_guard lock(state_mu_);
        ts = state_timestamp_ms_;
      }
      if (spb_conn_->publish(topic, sp::state_json({true, ts}), 1, true)) counters_.count_out();
    }
    return;
  }
  for (auto& g : groups_) {
    if (!g.host || g.host->group_id() != t->group_id) continue;
    for (const auto& m : g.host->on_message(*t, payload, clock_.now(), *ack_filter_)) publish(*spb_conn_, m);
    return;
  }
  counters_.reject(reason::unknown_topic, topic, "group '" + t->group_id + "' is not configured");
}

}  // namespace vpp::adapters::mqtt
