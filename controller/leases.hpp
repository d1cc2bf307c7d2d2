#pragma once
// Command ownership: each controllable asset has one writer at a time. A lease names its owner,
// a priority and an expiry; the plant's own dispatch holds an implicit lease of the lowest
// priority. A request of higher or equal priority than the current holder's takes over; a lower
// one is refused. Every change is returned so it can be recorded and audited.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/time.hpp"

namespace vpp::controller {

// Conventional priorities. Dispatch is the plant's optimizer and allocator.
inline constexpr int kDispatchPriority = 0;
inline constexpr int kManualPriority = 50;   // a site manager's manual override
inline constexpr int kSafetyPriority = 100;  // a local safety limit

struct Lease {
  std::string owner;       // "dispatch", "manual:<who>", "safety:<source>"
  int priority = kDispatchPriority;
  TimePoint expires{};

  bool operator==(const Lease&) const = default;
};

struct LeaseChange {
  std::string asset_key;   // site/asset
  std::optional<Lease> before;  // nullopt = dispatch
  std::optional<Lease> after;   // nullopt = back to dispatch
  TimePoint time{};
  std::string reason;

  bool operator==(const LeaseChange&) const = default;
};

class LeaseTable {
 public:
  // Grants or refuses `lease` on `asset_key`. On refusal returns nullopt and sets `why`.
  std::optional<LeaseChange> acquire(const std::string& asset_key, const Lease& lease, TimePoint now, std::string& why);
  // Releases a lease held by `owner` (early end). nullopt if `owner` does not hold it.
  std::optional<LeaseChange> release(const std::string& asset_key, const std::string& owner, TimePoint now);
  // Returns leases that expired by `now` to dispatch.
  std::vector<LeaseChange> expire(TimePoint now);

  // The holder other than dispatch, if any.
  const Lease* holder(const std::string& asset_key) const;
  bool dispatch_may_write(const std::string& asset_key) const { return holder(asset_key) == nullptr; }
  const std::map<std::string, Lease>& all() const { return leases_; }

 private:
  std::map<std::string, Lease> leases_;
};

}  // namespace vpp::controller
