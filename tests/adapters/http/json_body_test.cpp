// Body validation, token hashing and the rate limiter, without sockets.
#include <gtest/gtest.h>

#include "adapters/http/auth.hpp"
#include "adapters/http/json_body.hpp"
#include "proto/api.pb.h"
#include "proto/vpp.pb.h"

namespace vpp::http {
namespace {

std::pair<std::string, std::string> fail(const std::string& json, google::protobuf::Message&& m) {
  auto e = parse_body(json, m);
  if (!e) return {"<ok>", ""};
  return {e->field, e->reason};
}

TEST(JsonBody, NamesTheFieldPathAndReason) {
  using vpp::v1::SiteEnrolment;
  EXPECT_EQ(fail(R"({"assets":[{"id":"a"},{"id":"b","battery":{"capacityKwh":"lots"}}]})", SiteEnrolment{}),
            std::make_pair(std::string("assets[1].battery.capacityKwh"), std::string("must be a number, found a string")));
  EXPECT_EQ(fail(R"({"limits":{"availability":[{"daysOfWeek":[1,2.5]}]}})", SiteEnrolment{}).first,
            "limits.availability[0].daysOfWeek[1]");
  EXPECT_EQ(fail(R"({"limits":{"extra":1}})", SiteEnrolment{}),
            std::make_pair(std::string("limits.extra"), std::string("unknown field")));
  EXPECT_EQ(fail(R"({"assets":{}})", SiteEnrolment{}).second, "must be an array, found an object");
  EXPECT_EQ(fail(R"({"assets":[{"id":"a","pv":{},"battery":{}}]})", SiteEnrolment{}).first, "assets[0].pv");
  EXPECT_EQ(fail(R"([1,2])", SiteEnrolment{}).second, "body must be a JSON object");
  EXPECT_EQ(fail("", SiteEnrolment{}).second, "a JSON body is required");
  EXPECT_EQ(fail(R"({"siteId":"a")", SiteEnrolment{}).second, "body is not valid JSON");
  EXPECT_EQ(fail(R"({"latitudeDeg":"NaN"})", SiteEnrolment{}).second, "must be a finite number");
  EXPECT_EQ(fail(R"({"site_id":"a"})", SiteEnrolment{}).first, "<ok>");  // proto names are accepted too
  EXPECT_EQ(fail(R"({"priority":2147483648})", vpp::v1::CurtailmentEvent{}).first, "priority");
  EXPECT_EQ(fail(R"({"duration":"15m"})", vpp::v1::CurtailmentEvent{}).second,
            "must be a duration in seconds, e.g. \"900s\" or \"1.5s\"");
  EXPECT_EQ(fail(R"({"start":"2026-07-07T08:00:00"})", vpp::v1::CurtailmentEvent{}).first, "start");  // no zone
  EXPECT_EQ(fail(R"({"start":"2026-07-07T08:00:00+08:00","duration":"1.5s"})", vpp::v1::CurtailmentEvent{}).first, "<ok>");
}

TEST(JsonBody, SplitsConvertErrors) {
  const auto e = split_field_error("curtailment.targetReductionKw: must be > 0", "curtailment.");
  EXPECT_EQ(e.field, "targetReductionKw");
  EXPECT_EQ(e.reason, "must be > 0");
}

TEST(Auth, HashesMatchSha256sum) {
  // echo -n demo-operator | sha256sum (the hash in config/examples/demo.yaml).
  EXPECT_EQ(sha256_hex("demo-operator"), "9437e87fae95c03d3778f2575bb18ce30e647e51d86a8c37963364e1fc4f374e");
}

TEST(Auth, BearerTokensMapToTheirPrincipal) {
  Authenticator a({{"ops", config::Role::operator_, sha256_hex("t-ops"), {}},
                   {"mgr", config::Role::site_manager, sha256_hex("t-mgr"), {"b", "a"}}});
  EXPECT_EQ(a.authenticate("Bearer t-ops")->name, "ops");
  EXPECT_EQ(a.authenticate("bearer   t-mgr ")->name, "mgr");
  EXPECT_FALSE(a.authenticate("Bearer t-op").has_value());
  EXPECT_FALSE(a.authenticate("Basic t-ops").has_value());
  EXPECT_FALSE(a.authenticate("Bearert-ops").has_value());
  EXPECT_FALSE(a.authenticate("").has_value());
  const auto m = *a.authenticate("Bearer t-mgr");
  EXPECT_TRUE(m.may_manage("a"));
  EXPECT_TRUE(m.may_manage("b"));
  EXPECT_FALSE(m.may_manage("c"));
  EXPECT_TRUE(a.authenticate("Bearer t-ops")->may_manage("c"));
}

TEST(RateLimiter, RefillsAtTheRateUpToTheBurst) {
  RateLimiter r(2, 4);  // 2/s, bursts of 4
  const TimePoint t = from_unix_ms(1'000'000);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.allow("k", t));
  Duration wait{};
  EXPECT_FALSE(r.allow("k", t, &wait));
  EXPECT_EQ(wait, std::chrono::milliseconds(500));
  EXPECT_TRUE(r.allow("other", t));
  EXPECT_FALSE(r.allow("k", t + std::chrono::milliseconds(499)));
  EXPECT_TRUE(r.allow("k", t + std::chrono::milliseconds(500)));
  // A long pause refills to the burst, not beyond.
  const TimePoint later = t + std::chrono::hours(1);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.allow("k", later));
  EXPECT_FALSE(r.allow("k", later));
}

}  // namespace
}  // namespace vpp::http
