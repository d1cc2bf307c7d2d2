#pragma once
// Curtailment events and their lifecycle:
//   received -> scheduled -> active -> completed
//          \-> (rejected)  \-> cancelled  \-> cancelled
// Every transition (and every modification) is returned to the caller so it can be persisted
// and reported. The book never reads a clock: `now` comes with every call.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/messages.hpp"

namespace vpp::controller {

enum class EventState { received, scheduled, active, completed, cancelled, rejected };
std::string_view to_string(EventState s);

struct EventTransition {
  std::string event_id;
  std::optional<EventState> from;     // nullopt when the event is first received
  EventState to = EventState::received;
  TimePoint time{};
  std::string reason;           // e.g. "start reached", "cancelled by grid", "modified: duration"

  bool operator==(const EventTransition&) const = default;
};

struct EventRecord {
  CurtailmentEvent event;
  EventState state = EventState::received;
  std::set<std::string> opted_out;    // site ids
  TimePoint received_at{};
  TimePoint ended_at{};               // completion or cancellation time
  int revision = 0;                   // modifications so far
};

struct BookResult {
  std::vector<EventTransition> transitions;
  std::string error;                  // non-empty when the request was refused
};

class EventBook {
 public:
  // A new event or a modification of a known one (same id). Returns the transitions it causes
  // (several when an event arrives already due). An invalid event ends in `rejected`; a repeat
  // of the same content changes nothing.
  BookResult receive(const CurtailmentEvent& e, TimePoint now);
  BookResult cancel(const std::string& event_id, TimePoint now, const std::string& why);
  // Moves events whose start or end has been reached.
  std::vector<EventTransition> advance(TimePoint now);
  // Records a site's opt-out. Fails (with a reason) for unknown or finished events.
  std::optional<std::string> opt_out(const std::string& event_id, const std::string& site_id);

  const EventRecord* find(const std::string& event_id) const;
  const std::map<std::string, EventRecord>& all() const { return events_; }
  // Scheduled or active events overlapping [from, to), highest priority first (ties: earlier
  // start, then id), for deterministic planning.
  std::vector<const EventRecord*> overlapping(TimePoint from, TimePoint to) const;
  // Events that completed or were cancelled within `window` before `t` (rebound handling).
  std::vector<const EventRecord*> ended_within(TimePoint t, Duration window) const;

  // Loads an event exactly as it was persisted (state, opt-outs, revision, times), e.g. when
  // vppd restarts. Replaces any record with the same id; no transitions are produced.
  void restore(const EventRecord& record) { events_[record.event.event_id] = record; }

  // Forgets completed/cancelled events that ended before `before` (bounded memory).
  void prune(TimePoint before);

 private:
  std::map<std::string, EventRecord> events_;  // ordered: deterministic iteration
};

}  // namespace vpp::controller
