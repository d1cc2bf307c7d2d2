#include "controller/events.hpp"

#include <algorithm>

namespace vpp::controller {
namespace {

bool finished(EventState s) {
  return s == EventState::completed || s == EventState::cancelled || s == EventState::rejected;
}

// `ending_allowed`: a modification of an active event may move its end to now or earlier (it
// ends the event early); a new event that ends in the past is refused.
std::string validate(const CurtailmentEvent& e, TimePoint now, bool ending_allowed = false) {
  if (e.event_id.empty()) return "event id is empty";
  if (e.duration <= Duration::zero()) return "duration must be > 0";
  if (e.target_reduction_kw.has_value() == e.import_cap_kw.has_value()) {
    return "exactly one of target reduction and import cap must be set";
  }
  if (e.target_reduction_kw && !(*e.target_reduction_kw > 0)) return "target reduction must be > 0 kW";
  if (e.import_cap_kw && !(*e.import_cap_kw >= 0)) return "import cap must be >= 0 kW";
  if (e.ramp < Duration::zero() || e.ramp >= e.duration) return "ramp must be >= 0 and shorter than the event";
  if (!ending_allowed && e.end() <= now) return "event ends in the past (" + format_utc(e.end()) + ")";
  return {};
}

std::string describe_change(const CurtailmentEvent& a, const CurtailmentEvent& b) {
  std::string out;
  auto add = [&](bool changed, const char* what) {
    if (changed) out += (out.empty() ? "" : ", ") + std::string(what);
  };
  add(a.start != b.start, "start");
  add(a.duration != b.duration, "duration");
  add(a.target_reduction_kw != b.target_reduction_kw || a.import_cap_kw != b.import_cap_kw, "target");
  add(a.ramp != b.ramp, "ramp");
  add(a.priority != b.priority, "priority");
  add(a.site_ids != b.site_ids, "sites");
  add(a.program != b.program, "program");
  return out;
}

}  // namespace

std::string_view to_string(EventState s) {
  switch (s) {
    case EventState::received: return "received";
    case EventState::scheduled: return "scheduled";
    case EventState::active: return "active";
    case EventState::completed: return "completed";
    case EventState::cancelled: return "cancelled";
    case EventState::rejected: return "rejected";
  }
  return "?";
}

BookResult EventBook::receive(const CurtailmentEvent& e, TimePoint now) {
  BookResult r;
  auto it = events_.find(e.event_id);
  if (it != events_.end() && it->second.state != EventState::rejected) {
    EventRecord& rec = it->second;
    if (rec.event == e) return r;  // a repeat: idempotent
    if (finished(rec.state)) {
      r.error = "event " + e.event_id + " is " + std::string(to_string(rec.state)) + " and can no longer be modified";
      return r;
    }
    if (auto why = validate(e, now, rec.state == EventState::active); !why.empty()) {
      r.error = "modification of event " + e.event_id + " refused: " + why;
      return r;
    }
    if (rec.state == EventState::active && e.start != rec.event.start && e.start > now) {
      r.error = "modification of event " + e.event_id + " refused: an active event cannot be moved into the future";
      return r;
    }
    const auto changed = describe_change(rec.event, e);
    rec.event = e;
    ++rec.revision;
    r.transitions.push_back({e.event_id, rec.state, rec.state, now, "modified: " + changed});
    auto more = advance(now);
    r.transitions.insert(r.transitions.end(), more.begin(), more.end());
    return r;
  }
  EventRecord rec;
  rec.event = e;
  rec.received_at = now;
  rec.state = EventState::received;
  r.transitions.push_back({e.event_id, std::nullopt, EventState::received, now, "received"});
  if (auto why = validate(e, now); !why.empty()) {
    rec.state = EventState::rejected;
    rec.ended_at = now;
    r.transitions.push_back({e.event_id, EventState::received, EventState::rejected, now, why});
    r.error = "event " + e.event_id + " rejected: " + why;
    events_[e.event_id] = std::move(rec);
    return r;
  }
  rec.state = EventState::scheduled;
  r.transitions.push_back({e.event_id, EventState::received, EventState::scheduled, now,
                           "scheduled for " + format_utc(e.start)});
  events_[e.event_id] = std::move(rec);
  auto more = advance(now);
  r.transitions.insert(r.transitions.end(), more.begin(), more.end());
  return r;
}

BookResult EventBook::cancel(const std::string& event_id, TimePoint now, const std::string& why) {
  BookResult r;
  auto it = events_.find(event_id);
  if (it == events_.end()) {
    r.error = "unknown event " + event_id;
    return r;
  }
  EventRecord& rec = it->second;
  if (finished(rec.state)) {
    if (rec.state != EventState::cancelled) {
      r.error = "event " + event_id + " is already " + std::string(to_string(rec.state));
    }
    return r;  // cancelling a cancelled event is a repeat: nothing to do
  }
  r.transitions.push_back({event_id, rec.state, EventState::cancelled, now, why});
  rec.state = EventState::cancelled;
  rec.ended_at = now;
  return r;
}

std::vector<EventTransition> EventBook::advance(TimePoint now) {
  std::vector<EventTransition> out;
  for (auto& [id, rec] : events_) {
    if (rec.state == EventState::scheduled && now >= rec.event.start) {
      out.push_back({id, EventState::scheduled, EventState::active, now, "start reached"});
      rec.state = EventState::active;
    }
    if (rec.state == EventState::active && now >= rec.event.end()) {
      out.push_back({id, EventState::active, EventState::completed, now, "end reached"});
      rec.state = EventState::completed;
      rec.ended_at = rec.event.end();
    }
  }
  return out;
}

std::optional<std::string> EventBook::opt_out(const std::string& event_id, const std::string& site_id) {
  auto it = events_.find(event_id);
  if (it == events_.end()) return "unknown event " + event_id;
  if (finished(it->second.state)) {
    return "event " + event_id + " is " + std::string(to_string(it->second.state)) + ": opt-outs are closed";
  }
  const auto& sites = it->second.event.site_ids;
  if (!sites.empty() && std::find(sites.begin(), sites.end(), site_id) == sites.end()) {
    return "site " + site_id + " is not called by event " + event_id;
  }
  it->second.opted_out.insert(site_id);
  return std::nullopt;
}

const EventRecord* EventBook::find(const std::string& event_id) const {
  const auto it = events_.find(event_id);
  return it == events_.end() ? nullptr : &it->second;
}

std::vector<const EventRecord*> EventBook::overlapping(TimePoint from, TimePoint to) const {
  std::vector<const EventRecord*> out;
  for (const auto& [id, rec] : events_) {
    if ((rec.state == EventState::scheduled || rec.state == EventState::active) && rec.event.start < to &&
        rec.event.end() > from) {
      out.push_back(&rec);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const EventRecord* a, const EventRecord* b) {
    if (a->event.priority != b->event.priority) return a->event.priority > b->event.priority;
    return a->event.start < b->event.start;
  });
  return out;
}

std::vector<const EventRecord*> EventBook::ended_within(TimePoint t, Duration window) const {
  std::vector<const EventRecord*> out;
  for (const auto& [id, rec] : events_) {
    if ((rec.state == EventState::completed || rec.state == EventState::cancelled) && rec.ended_at <= t &&
        t < rec.ended_at + window) {
      out.push_back(&rec);
    }
  }
  return out;
}

void EventBook::prune(TimePoint before) {
  std::erase_if(events_, [&](const auto& kv) { return finished(kv.second.state) && kv.second.ended_at < before; });
}

}  // namespace vpp::controller
