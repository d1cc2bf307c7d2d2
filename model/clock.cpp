#include "model/clock.hpp"

namespace vpp {

Clock::TimerId TimerQueue::add(TimePoint when, Clock::Callback cb) {
  const auto id = next_id_++;
  timers_.emplace(Key{when, id}, std::move(cb));
  due_of_.emplace(id, when);
  return id;
}

bool TimerQueue::cancel(Clock::TimerId id) {
  const auto it = due_of_.find(id);
  if (it == due_of_.end()) return false;
  timers_.erase(Key{it->second, id});
  due_of_.erase(it);
  return true;
}

std::optional<TimePoint> TimerQueue::next_deadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.first;
}

std::optional<std::pair<TimePoint, Clock::Callback>> TimerQueue::pop_due(TimePoint t) {
  if (timers_.empty()) return std::nullopt;
  auto it = timers_.begin();
  if (it->first.first > t) return std::nullopt;
  std::pair<TimePoint, Clock::Callback> out{it->first.first, std::move(it->second)};
  due_of_.erase(it->first.second);
  timers_.erase(it);
  return out;
}

std::size_t SimClock::advance_to(TimePoint t) {
  std::size_t fired = 0;
  while (auto due = queue_.pop_due(t)) {
    if (due->first > now_) now_ = due->first;  // a timer set in the past fires "now"
    due->second();
    ++fired;
  }
  if (t > now_) now_ = t;
  return fired;
}

bool SimClock::run_next() {
  const auto next = queue_.next_deadline();
  if (!next) return false;
  advance_to(std::max(*next, now_));
  return true;
}

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

std::size_t SystemClock::fire_due() {
  std::size_t fired = 0;
  const auto t = now();
  while (auto due = queue_.pop_due(t)) {
    due->second();
    ++fired;
  }
  return fired;
}

}  // namespace vpp
