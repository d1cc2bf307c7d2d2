#include "controller/events.hpp"

#include <gtest/gtest.h>

#include "fixtures.hpp"

namespace vpp::controller {
namespace {

using namespace std::chrono_literals;
using testing::t0;

CurtailmentEvent event(const std::string& id, TimePoint start, Duration d, double kw, int priority = 0) {
  CurtailmentEvent e;
  e.event_id = id;
  e.start = start;
  e.duration = d;
  e.target_reduction_kw = kw;
  e.priority = priority;
  return e;
}

std::vector<std::pair<std::string, std::string>> states(const std::vector<EventTransition>& ts) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& t : ts) {
    out.emplace_back(t.from ? std::string(to_string(*t.from)) : "-", std::string(to_string(t.to)));
  }
  return out;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(EventBook, FullLifecycleReceivedScheduledActiveCompleted) {
  EventBook book;
  auto r = book.receive(event("e1", t0 + 1h, 2h, 500), t0);
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(states(r.transitions), (Pairs{{"-", "received"}, {"received", "scheduled"}}));
  EXPECT_TRUE(book.advance(t0 + 59min).empty());
  EXPECT_EQ(states(book.advance(t0 + 1h)), (Pairs{{"scheduled", "active"}}));
  EXPECT_EQ(states(book.advance(t0 + 3h)), (Pairs{{"active", "completed"}}));
  EXPECT_EQ(book.find("e1")->state, EventState::completed);
  EXPECT_EQ(book.find("e1")->ended_at, t0 + 3h);
}

TEST(EventBook, AnEventAlreadyDueGoesStraightToActive) {
  EventBook book;
  auto r = book.receive(event("e1", t0 - 10min, 1h, 500), t0);
  EXPECT_EQ(states(r.transitions), (Pairs{{"-", "received"}, {"received", "scheduled"}, {"scheduled", "active"}}));
}

TEST(EventBook, InvalidEventsAreRejectedWithAReason) {
  EventBook book;
  auto past = book.receive(event("old", t0 - 3h, 1h, 500), t0);
  EXPECT_EQ(states(past.transitions), (Pairs{{"-", "received"}, {"received", "rejected"}}));
  EXPECT_NE(past.error.find("event ends in the past"), std::string::npos);
  CurtailmentEvent both = event("both", t0 + 1h, 1h, 500);
  both.import_cap_kw = 100;
  EXPECT_NE(book.receive(both, t0).error.find("exactly one of target reduction and import cap"), std::string::npos);
  EXPECT_NE(book.receive(event("neg", t0 + 1h, 1h, -5), t0).error.find("target reduction must be > 0 kW"),
            std::string::npos);
  EXPECT_NE(book.receive(event("zero", t0 + 1h, 0s, 5), t0).error.find("duration must be > 0"), std::string::npos);
  // A rejected id can be sent again, corrected.
  auto fixed = book.receive(event("neg", t0 + 1h, 1h, 5), t0);
  EXPECT_TRUE(fixed.error.empty());
  EXPECT_EQ(book.find("neg")->state, EventState::scheduled);
}

TEST(EventBook, RepeatsAreIdempotentAndModificationsAreTransitions) {
  EventBook book;
  book.receive(event("e1", t0 + 1h, 2h, 500), t0);
  EXPECT_TRUE(book.receive(event("e1", t0 + 1h, 2h, 500), t0 + 1min).transitions.empty());
  auto m = book.receive(event("e1", t0 + 1h, 3h, 800), t0 + 2min);
  ASSERT_EQ(m.transitions.size(), 1u);
  EXPECT_EQ(m.transitions[0].reason, "modified: duration, target");
  EXPECT_EQ(*m.transitions[0].from, EventState::scheduled);
  EXPECT_EQ(book.find("e1")->revision, 1);
  EXPECT_EQ(*book.find("e1")->event.target_reduction_kw, 800);
}

TEST(EventBook, ModifyingAnActiveEventToEndNowCompletesIt) {
  EventBook book;
  book.receive(event("e1", t0, 2h, 500), t0);
  auto m = book.receive(event("e1", t0, 30min, 500), t0 + 40min);
  EXPECT_EQ(states(m.transitions), (Pairs{{"active", "active"}, {"active", "completed"}}));
}

TEST(EventBook, FinishedEventsCannotBeModified) {
  EventBook book;
  book.receive(event("e1", t0, 1h, 500), t0);
  book.advance(t0 + 2h);
  auto m = book.receive(event("e1", t0 + 3h, 1h, 500), t0 + 2h);
  EXPECT_EQ(m.error, "event e1 is completed and can no longer be modified");
  EXPECT_TRUE(m.transitions.empty());
}

TEST(EventBook, CancellationBeforeAndDuringTheEvent) {
  EventBook book;
  book.receive(event("early", t0 + 1h, 1h, 500), t0);
  book.receive(event("mid", t0, 2h, 500), t0);
  EXPECT_EQ(states(book.cancel("early", t0 + 10min, "grid").transitions), (Pairs{{"scheduled", "cancelled"}}));
  auto mid = book.cancel("mid", t0 + 30min, "grid");
  EXPECT_EQ(states(mid.transitions), (Pairs{{"active", "cancelled"}}));
  EXPECT_EQ(book.find("mid")->ended_at, t0 + 30min);
  EXPECT_TRUE(book.cancel("mid", t0 + 31min, "again").error.empty());  // repeat: nothing to do
  EXPECT_EQ(book.cancel("nope", t0, "x").error, "unknown event nope");
  // A cancelled event never becomes active.
  EXPECT_TRUE(book.advance(t0 + 1h).empty());
}

TEST(EventBook, OverlappingEventsOrderByPriority) {
  EventBook book;
  book.receive(event("low", t0, 2h, 100, 1), t0);
  book.receive(event("high", t0 + 30min, 1h, 300, 5), t0);
  book.receive(event("later", t0 + 3h, 1h, 300, 9), t0);
  const auto o = book.overlapping(t0 + 45min, t0 + 60min);
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o[0]->event.event_id, "high");
  EXPECT_EQ(o[1]->event.event_id, "low");
}

TEST(EventBook, OptOutsAreRecordedForOpenEventsOnly) {
  EventBook book;
  CurtailmentEvent e = event("e1", t0 + 1h, 1h, 500);
  e.site_ids = {"a", "b"};
  book.receive(e, t0);
  EXPECT_FALSE(book.opt_out("e1", "a"));
  EXPECT_EQ(*book.opt_out("e1", "z"), "site z is not called by event e1");
  EXPECT_EQ(*book.opt_out("e9", "a"), "unknown event e9");
  EXPECT_EQ(book.find("e1")->opted_out.count("a"), 1u);
  book.advance(t0 + 3h);
  EXPECT_EQ(*book.opt_out("e1", "b"), "event e1 is completed: opt-outs are closed");
}

}  // namespace
}  // namespace vpp::controller
