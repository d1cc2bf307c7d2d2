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
  const Command& c = s->command;
  const bool changed = c.kind != kind || std::fabs(c.value - value) > deadband(kind);
  const bool expiring = c.expires - now <= settings_.refresh_before_expiry;
  if (!changed && !expiring) return SendDecision::unchanged;
  if (now - s->last_sent_at < settings_.min_interval) return SendDecision::rate_limited;
  return SendDecision::send;
}

Command CommandTracker::issue(AssetIndex asset, const std::string& site_id, const std::string& asset_id,
                              SetpointKind kind, double value, TimePoint now, std::string reason) {
  if (asset >= by_asset_.size()) by_asset_.resize(asset + 1);
  if (auto& old = by_asset_[asset]; old && !old->acked) pending_.erase(old->command.command_id);
  Command c;
  c.command_id = prefix_ + std::to_string(++next_id_);
  c.site_id = site_id;
  c.asset_id = asset_id;
  c.kind = kind;
  c.value = value;
  c.issued = now;
  c.expires = now + settings_.ttl;
  c.reason = std::move(reason);
  SentCommand s;
  s.command = c;
  s.ack_deadline = now + settings_.ack_timeout;
  s.last_sent_at = now;
  by_asset_[asset] = s;
  pending_.emplace(c.command_id, asset);
  return c;
}

AckOutcome CommandTracker::on_ack(const CommandAck& ack) {
  AckOutcome out;
  const auto it = pending_.find(ack.command_id);
  if (it == pending_.end()) return out;
  out.asset = it->second;
  pending_.erase(it);
  auto& s = by_asset_[out.asset];
  if (!s || s->command.command_id != ack.command_id) return out;
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
    const auto& s = by_asset_[asset];
    if (s && now >= s->ack_deadline) due.push_back(asset);
  }
  std::sort(due.begin(), due.end());
  for (AssetIndex a : due) {
    auto& s = *by_asset_[a];
    if (now >= s.command.expires) {
      pending_.erase(s.command.command_id);  // lapsed unacknowledged: nothing left to retry
      gave_up.push_back(a);
      continue;
    }
    if (s.retries >= settings_.max_retries) {
      pending_.erase(s.command.command_id);
      gave_up.push_back(a);
      continue;
    }
    ++s.retries;
    s.ack_deadline = now + settings_.ack_timeout;
    s.last_sent_at = now;
    resend.push_back(s.command);
  }
}

const SentCommand* CommandTracker::last(AssetIndex asset) const {
  if (asset >= by_asset_.size() || !by_asset_[asset]) return nullptr;
  return &*by_asset_[asset];
}

bool CommandTracker::in_force(AssetIndex asset, TimePoint now) const {
  const auto* s = last(asset);
  return s && !s->rejected && now < s->command.expires;
}

void CommandTracker::forget(AssetIndex asset) {
  if (asset >= by_asset_.size() || !by_asset_[asset]) return;
  pending_.erase(by_asset_[asset]->command.command_id);
  by_asset_[asset].reset();
}

}  // namespace vpp::controller
