#pragma once
// One Clock interface for the whole project (DESIGN.md "Time"): the daemon holds a SystemClock,
// the simulator and the tests a SimClock. The controller core takes `now` as an argument and
// never holds a clock at all.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "model/time.hpp"

namespace vpp {

class Clock {
 public:
  using TimerId = std::uint64_t;
  using Callback = std::function<void()>;

  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Runs `cb` once at or after `when`. A time in the past fires at the next opportunity.
  virtual TimerId call_at(TimePoint when, Callback cb) = 0;
  // Returns false if the timer had already fired or was cancelled.
  virtual bool cancel(TimerId id) = 0;

  TimerId call_after(Duration delay, Callback cb) { return call_at(now() + delay, std::move(cb)); }
};

// Pending timers ordered by due time. Each timer also has a unique, increasing id that acts as
// the deterministic tie-breaker: timers due at the same instant fire in insertion order.
class TimerQueue {
 public:
  Clock::TimerId add(TimePoint when, Clock::Callback cb);
  bool cancel(Clock::TimerId id);
  std::optional<TimePoint> next_deadline() const;
  // Removes and returns the earliest timer if it is due at or before `t`.
  std::optional<std::pair<TimePoint, Clock::Callback>> pop_due(TimePoint t);
  std::size_t size() const { return timers_.size(); }

 private:
  using Key = std::pair<TimePoint, Clock::TimerId>;
  std::map<Key, Clock::Callback> timers_;
  std::map<Clock::TimerId, TimePoint> due_of_;
  Clock::TimerId next_id_ = 1;
};

// Virtual time that only moves when told to. advance_to(t) fires every timer due at or before
// t in time order (ties in insertion order), with now() equal to each timer's due time while it
// runs; timers that callbacks add are honoured in the same pass if they fall due by t.
class SimClock final : public Clock {
 public:
  explicit SimClock(TimePoint start) : now_(start) {}

  TimePoint now() const override { return now_; }
  TimerId call_at(TimePoint when, Callback cb) override { return queue_.add(when, std::move(cb)); }
  bool cancel(TimerId id) override { return queue_.cancel(id); }

  // Moves time forward to `t` (never backward) and returns the number of timers fired.
  std::size_t advance_to(TimePoint t);
  std::size_t advance(Duration d) { return advance_to(now_ + d); }
  // Jumps to the next pending timer and fires everything due then. Returns false if none.
  bool run_next();
  std::size_t pending() const { return queue_.size(); }

 private:
  TimePoint now_;
  TimerQueue queue_;
};

// Wall-clock UTC time. Timers are kept in a TimerQueue that the owning event loop drives: it
// waits until next_deadline() (e.g. with an Asio steady_timer) and calls fire_due(). Not thread
// safe: use it from the loop's thread only.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
  TimerId call_at(TimePoint when, Callback cb) override { return queue_.add(when, std::move(cb)); }
  bool cancel(TimerId id) override { return queue_.cancel(id); }

  std::optional<TimePoint> next_deadline() const { return queue_.next_deadline(); }
  std::size_t fire_due();

 private:
  TimerQueue queue_;
};

}  // namespace vpp
