#include "controller/commands.hpp"

#include <algorithm>
#include <cmath>

namespace vpp::controller {

double CommandTracker::deadband(SetpointKind kind) const {
  switch (kind) {
    case SetpointKind::hvac_setpoint_offset_c: return settings_.deadband_c;
    case SetpointKind::pv_limit_pct:
    case SetpointKind::load_curtail_pct: return settings_.deadband_pct;
    default: return settings_.deadband_kw;
  }
}

SendDecision CommandTracker::decide(AssetIndex asset, SetpointKind kind, double value, TimePoint now) const {
  const SentCommand* s = last(asset);
  if (!s || s->rejected) return SendDecision::send;
  const bool changed = s->kind != kind || std::fabs(s->value - value) > deadband(kind);
  const bool expiring = s->expires - now <= settings_.refresh_before_expiry;
  if (!changed && !expiring) return SendDecision::unchanged;
  if (now - s->last_sent_at < settings_.min_interval) return SendDecision::rate_limited;
  return SendDecision::send;
}

Command CommandTracker::issue(AssetIndex asset, const std::string& site_id, const std::string& asset_id,
                              SetpointKind kind, double value, TimePoint now, std::string reason) {
  if (asset >= sent_.size()) {
    sent_.resize(asset + 1);
    commands_.resize(asset + 1);
  }
  if (auto& old = sent_[asset]; old && !old->acked) pending_.erase(commands_[asset].command_id);
  Command& c = commands_[asset];
  c.command_id = prefix_ + std::to_string(++next_id_);
  c.site_id = site_id;
  c.asset_id = asset_id;
  c.kind = kind;
  c.value = value;
  c.issued = now;
  c.expires = now + settings_.ttl;
  c.reason = std::move(reason);
  SentCommand s;
  s.kind = kind;
  s.value = value;
  s.issued = now;
  s.expires = c.expires;
  s.ack_deadline = now + settings_.ack_timeout;
  s.last_sent_at = now;
  sent_[asset] = s;
  pending_.emplace(c.command_id, asset);
  return c;
}

AckOutcome CommandTracker::on_ack(const CommandAck& ack) {
  AckOutcome out;
  const auto it = pending_.find(ack.command_id);
  if (it == pending_.end()) return out;
  out.asset = it->second;
  pending_.erase(it);
  auto& s = sent_[out.asset];
  if (!s || commands_[out.asset].command_id != ack.command_id) return out;
  s->acked = true;
  if (ack.status == AckStatus::rejected || ack.status == AckStatus::expired) {
    s->rejected = true;
    out.problem = std::string(ack.status == AckStatus::rejected ? "rejected" : "expired before it arrived") +
                  (ack.detail.empty() ? "" : ": " + ack.detail);
  }
  return out;
}

void CommandTracker::overdue(TimePoint now, std::vector<Command>& resend, std::vector<AssetIndex>& gave_up) {
  // Deterministic order: by asset index.
  std::vector<AssetIndex> due;
  for (const auto& [id, asset] : pending_) {
    const auto& s = sent_[asset];
    if (s && now >= s->ack_deadline) due.push_back(asset);
  }
  std::sort(due.begin(), due.end());
  for (AssetIndex a : due) {
    auto& s = *sent_[a];
    if (now >= s.expires || s.retries >= settings_.max_retries) {
      // Lapsed unacknowledged (nothing left to retry), or out of retries.
      pending_.erase(commands_[a].command_id);
      gave_up.push_back(a);
      continue;
    }
    ++s.retries;
    s.ack_deadline = now + settings_.ack_timeout;
    s.last_sent_at = now;
    resend.push_back(commands_[a]);
  }
}

void CommandTracker::forget(AssetIndex asset) {
  if (!last(asset)) return;
  pending_.erase(commands_[asset].command_id);
  sent_[asset].reset();
}

}  // namespace vpp::controller
