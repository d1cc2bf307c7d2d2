#pragma once
// A real API server on a free loopback port with the in-memory backend, and helpers to call it.
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "adapters/http/api_service.hpp"
#include "adapters/http/client.hpp"
#include "adapters/http/json_body.hpp"
#include "adapters/http/memory_backend.hpp"
#include "adapters/http/server.hpp"
#include "model/clock.hpp"
#include "proto/api.pb.h"
#include "proto/convert.hpp"

namespace vpp::http::testing {

inline TimePoint t0() { return *parse_utc("2026-07-07T06:00:00Z"); }

// Tokens by role. The configured hashes are computed from these texts, as an operator would.
inline config::ApiToken token(const std::string& name, config::Role role, std::vector<std::string> sites = {}) {
  return {name, role, sha256_hex("secret-" + name), std::move(sites)};
}

struct ServerHarness {
  SimClock clock{t0()};
  InMemoryBackend backend{clock};
  std::unique_ptr<ApiService> service;
  boost::asio::io_context ioc;
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  std::string scheme = "http";

  ServerHarness(ApiOptions api, ServerOptions opts = {}) {
    if (api.tokens.empty()) {
      api.tokens = {token("op", config::Role::operator_), token("mgr-a", config::Role::site_manager, {"office-a", "office-c"}),
                    token("mgr-b", config::Role::site_manager, {"office-b"}), token("view", config::Role::viewer)};
    }
    service = std::make_unique<ApiService>(backend, clock, std::move(api));
    opts.port = 0;
    if (opts.tls) scheme = "https";
    server = std::make_unique<HttpServer>(ioc, opts, *service);
    thread = std::thread([this] { ioc.run(); });
  }
  ~ServerHarness() {
    server->stop();
    ioc.stop();
    thread.join();
  }
  std::string url(const std::string& host = "127.0.0.1") const {
    return scheme + "://" + host + ":" + std::to_string(server->port());
  }
  std::unique_ptr<HttpClient> client(const std::string& who, ClientOptions o = {}) {
    o.url = o.url == ClientOptions{}.url ? url() : o.url;
    o.token = who.empty() ? "" : "secret-" + who;
    auto c = HttpClient::create(o);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error());
    return std::move(*c);
  }
  // One request with a fresh client; fails the test on a transport error.
  ClientResponse call(const std::string& who, const std::string& method, const std::string& target,
                      const std::string& body = "", std::map<std::string, std::string> headers = {}) {
    auto c = client(who);
    auto r = c->request(method, target, body, headers);
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << (r.ok() ? "" : r.error());
    return r.ok() ? *r : ClientResponse{};
  }
};

// The error body's field and reason.
inline std::pair<std::string, std::string> error_of(const ClientResponse& r) {
  vpp::v1::ErrorBody b;
  if (!parse_json(r.body, b)) return {"<unparseable>", r.body};
  return {b.field(), b.reason()};
}

template <typename Msg>
Msg parse(const ClientResponse& r) {
  Msg m;
  auto ok = parse_json(r.body, m);
  EXPECT_TRUE(ok.ok()) << r.body;
  return m;
}

inline std::string site_json(const std::string& id) {
  return R"({"siteId":")" + id + R"(","name":"Office )" + id + R"(","owner":"Owner","buildingType":"BUILDING_TYPE_OFFICE",
    "latitudeDeg":39.98,"longitudeDeg":116.31,
    "limits":{"comfortMinC":22,"comfortMaxC":27,"batteryReservePct":20,"maxCurtailmentPct":30,
              "availability":[{"daysOfWeek":[1,2,3,4,5],"startMinute":480,"endMinute":1200}]},
    "assets":[{"id":"pv","pv":{"ratedKw":300,"dcPeakKw":330,"tiltDeg":15,"azimuthDeg":180}},
              {"id":"battery","battery":{"capacityKwh":1000,"maxChargeKw":500,"maxDischargeKw":400,
                 "chargeEfficiency":0.95,"dischargeEfficiency":0.95,"socMinPct":5,"socMaxPct":95}},
              {"id":"hvac","hvacZone":{"ratedElectricKw":500,"ratedCop":5.5,"floorAreaM2":45000}},
              {"id":"meter","siteMeter":{"importLimitKw":2500}}]})";
}

inline std::string event_json(const std::string& id, const std::string& start, const std::string& extra = "") {
  return R"({"eventId":")" + id + R"(","program":"beijing-peak","start":")" + start +
         R"(","duration":"7200s","targetReductionKw":300,"ramp":"900s","priority":1)" + extra + "}";
}

}  // namespace vpp::http::testing
