#pragma once
// Commands the core has sent: what each asset was last told, whether it acknowledged, and what
// to re-send. Unchanged setpoints are not re-sent; commands are refreshed before they expire
// and rate-limited per asset; an unacknowledged command is re-sent (same id, so the device can
// drop duplicates) a bounded number of times.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/fleet.hpp"
#include "config/controller_settings.hpp"
#include "model/messages.hpp"

namespace vpp::controller {

// What the tracker knows of a slot's last command, as the control tick reads it for every asset:
// compact (the command itself, with its id and reason strings, is kept apart; see command()).
struct SentCommand {
  SetpointKind kind = SetpointKind::unspecified;
  bool acked = false;
  bool rejected = false;
  int retries = 0;
  double value = 0;
  TimePoint issued{};
  TimePoint expires{};
  TimePoint ack_deadline{};
  TimePoint last_sent_at{};
};

enum class SendDecision { send, unchanged, rate_limited };

struct AckOutcome {
  AssetIndex asset = kNone;      // kNone: an ack for a command we do not know (or no longer track)
  std::string problem;           // non-empty: rejected or expired, with the device's detail
};

class CommandTracker {
 public:
  CommandTracker(CommandSettings settings, std::string id_prefix)
      : settings_(settings), prefix_(std::move(id_prefix)) {}

  SendDecision decide(AssetIndex asset, SetpointKind kind, double value, TimePoint now) const;
  // Records and returns a new command (fresh id, expiry = now + ttl).
  Command issue(AssetIndex asset, const std::string& site_id, const std::string& asset_id, SetpointKind kind,
                double value, TimePoint now, std::string reason);
  AckOutcome on_ack(const CommandAck& ack);
  // Commands whose ack is overdue: re-sent (returned in `resend`) or, past the retry budget,
  // given up (returned in `gave_up`).
  void overdue(TimePoint now, std::vector<Command>& resend, std::vector<AssetIndex>& gave_up);
  // The asset's last command (nullptr: none, or forgotten), and the command in full.
  const SentCommand* last(AssetIndex asset) const {
    return asset < sent_.size() && sent_[asset] ? &*sent_[asset] : nullptr;
  }
  const Command* command(AssetIndex asset) const { return last(asset) ? &commands_[asset] : nullptr; }
  // True while the asset's last command is still in force (not expired, not rejected).
  bool in_force(AssetIndex asset, TimePoint now) const {
    const auto* s = last(asset);
    return s && !s->rejected && now < s->expires;
  }
  void forget(AssetIndex asset);
  std::uint64_t issued() const { return next_id_; }

 private:
  double deadband(SetpointKind kind) const;

  CommandSettings settings_;
  std::string prefix_;
  std::vector<std::optional<SentCommand>> sent_;
  std::vector<Command> commands_;  // the last command in full, where sent_ has one
  std::unordered_map<std::string, AssetIndex> pending_;  // command id -> asset, until acked
  std::uint64_t next_id_ = 0;
};

}  // namespace vpp::controller
