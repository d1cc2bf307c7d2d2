#include "controller/leases.hpp"

namespace vpp::controller {

std::optional<LeaseChange> LeaseTable::acquire(const std::string& asset_key, const Lease& lease, TimePoint now,
                                                std::string& why) {
  if (lease.owner.empty() || lease.owner == "dispatch") {
    why = "a lease needs an owner other than dispatch";
    return std::nullopt;
  }
  if (lease.expires <= now) {
    why = "lease expires in the past";
    return std::nullopt;
  }
  if (lease.priority <= kDispatchPriority) {
    why = "a lease must outrank dispatch (priority > 0)";
    return std::nullopt;
  }
  std::optional<Lease> before;
  if (auto it = leases_.find(asset_key); it != leases_.end() && it->second.expires > now) {
    before = it->second;
    if (lease.priority < before->priority && lease.owner != before->owner) {
      why = "held by " + before->owner + " (priority " + std::to_string(before->priority) + ") until " +
            format_utc(before->expires);
      return std::nullopt;
    }
  }
  leases_[asset_key] = lease;
  std::string reason = before ? (before->owner == lease.owner ? "renewed" : "taken over from " + before->owner) : "granted";
  return LeaseChange{asset_key, before, lease, now, reason};
}

std::optional<LeaseChange> LeaseTable::release(const std::string& asset_key, const std::string& owner, TimePoint now) {
  auto it = leases_.find(asset_key);
  if (it == leases_.end() || it->second.owner != owner) return std::nullopt;
  LeaseChange c{asset_key, it->second, std::nullopt, now, "released by " + owner};
  leases_.erase(it);
  return c;
}

std::vector<LeaseChange> LeaseTable::expire(TimePoint now) {
  std::vector<LeaseChange> out;
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.expires <= now) {
      out.push_back({it->first, it->second, std::nullopt, now, "expired"});
      it = leases_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

const Lease* LeaseTable::holder(const std::string& asset_key) const {
  const auto it = leases_.find(asset_key);
  return it == leases_.end() ? nullptr : &it->second;
}

}  // namespace vpp::controller
