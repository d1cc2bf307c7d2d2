#pragma once
// Bearer-token authentication and per-token rate limiting for the HTTP API.
//
// Tokens are configured by the SHA-256 of their text (config::ApiToken::sha256_hex); the server
// never holds a token itself. A presented token is hashed and compared against every configured
// hash in constant time, so neither the match position nor a prefix leaks through timing.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "model/time.hpp"

namespace vpp::http {

// Lower-case hex SHA-256 of `text` (OpenSSL).
std::string sha256_hex(std::string_view text);

struct Principal {
  std::string name;                 // the token's configured name, for logs and rate limits
  config::Role role = config::Role::viewer;
  std::vector<std::string> sites;   // site_manager scope, sorted

  bool may_manage(std::string_view site_id) const;  // operator: any; site_manager: own sites
};

class Authenticator {
 public:
  explicit Authenticator(const std::vector<config::ApiToken>& tokens);

  // The principal of an `Authorization` header value ("Bearer <token>"); nullopt when missing,
  // malformed or unknown.
  std::optional<Principal> authenticate(std::string_view authorization_header) const;

 private:
  struct Entry {
    unsigned char hash[32];
    Principal principal;
  };
  std::vector<Entry> entries_;
};

// Token bucket per principal: `rate_per_s` tokens a second, bursts up to `burst` (at least one
// second's worth). Time comes from the caller so tests can drive it.
class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst);

  // True if a request at `now` is within the limit (and takes a token). Otherwise false and
  // `retry_after` is how long until a token is free.
  bool allow(const std::string& key, TimePoint now, Duration* retry_after = nullptr);

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint last{};
  };
  double rate_per_s_;
  double burst_;
  std::map<std::string, Bucket> buckets_;  // one per configured token: bounded by the config
};

}  // namespace vpp::http
