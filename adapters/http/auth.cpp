#include "adapters/http/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vpp::http {
namespace {

void sha256(std::string_view text, unsigned char out[32]) {
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), out, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
    throw std::runtime_error("OpenSSL SHA-256 failed");  // only if libcrypto itself is broken
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string sha256_hex(std::string_view text) {
  unsigned char h[32];
  sha256(text, h);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (int i = 0; i < 32; ++i) {
    out[2 * i] = kHex[h[i] >> 4];
    out[2 * i + 1] = kHex[h[i] & 0xf];
  }
  return out;
}

bool Principal::may_manage(std::string_view site_id) const {
  if (role == config::Role::operator_) return true;
  if (role != config::Role::site_manager) return false;
  return std::binary_search(sites.begin(), sites.end(), site_id);
}

Authenticator::Authenticator(const std::vector<config::ApiToken>& tokens) {
  for (const auto& t : tokens) {
    Entry e{};
    if (t.sha256_hex.size() != 64) {
      throw std::invalid_argument("token '" + t.name + "': sha256 must have 64 hex digits");
    }
    for (int i = 0; i < 32; ++i) {
      const int hi = hex_value(t.sha256_hex[2 * i]);
      const int lo = hex_value(t.sha256_hex[2 * i + 1]);
      if (hi < 0 || lo < 0) throw std::invalid_argument("token '" + t.name + "': sha256 is not hex");
      e.hash[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    e.principal.name = t.name;
    e.principal.role = t.role;
    e.principal.sites = t.sites;
    std::sort(e.principal.sites.begin(), e.principal.sites.end());
    entries_.push_back(std::move(e));
  }
}

std::optional<Principal> Authenticator::authenticate(std::string_view header) const {
  // RFC 6750 section 2.1: "Bearer" is case-insensitive, one or more spaces, then the token.
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(kScheme.size());
  if (token.empty() || token.front() != ' ') return std::nullopt;
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > 4096) return std::nullopt;
  unsigned char h[32];
  sha256(token, h);
  const Principal* found = nullptr;
  // Compare against every entry, without an early exit, in constant time per entry.
  for (const auto& e : entries_) {
    if (CRYPTO_memcmp(h, e.hash, sizeof h) == 0) found = &e.principal;
  }
  if (!found) return std::nullopt;
  return *found;
}

RateLimiter::RateLimiter(double rate_per_s, double burst)
    : rate_per_s_(rate_per_s), burst_(std::max({burst, rate_per_s, 1.0})) {}

bool RateLimiter::allow(const std::string& key, TimePoint now, Duration* retry_after) {
  auto [it, fresh] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = burst_;
    b.last = now;
  } else if (now > b.last) {
    b.tokens = std::min(burst_, b.tokens + rate_per_s_ * to_seconds(now - b.last));
    b.last = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_after) {
    const double wait_s = (1.0 - b.tokens) / rate_per_s_;
    *retry_after = Duration{static_cast<Duration::rep>(std::ceil(wait_s * 1000.0))};
  }
  return false;
}

}  // namespace vpp::http
