#pragma once
// The real-time allocator's arithmetic: spread a needed change of fleet import over assets with
// headroom, in merit order. Pure and allocation-light so it runs on every control tick for tens
// of thousands of assets.
#include <span>
#include <vector>

#include "controller/fleet.hpp"

namespace vpp::controller {

// One asset's flexibility at this moment, in kW of site import it can remove (up) or give back
// (down) relative to what it is doing now.
struct Flex {
  AssetIndex asset = kNone;
  double up_kw = 0;        // >= 0: more reduction available
  double down_kw = 0;      // >= 0: reduction that can be released
  double cost = 0;         // merit order, currency per kWh of reduction; lower is used first
};

struct Share {
  AssetIndex asset = kNone;
  double delta_kw = 0;     // > 0: reduce import by this much more; < 0: release
};

// need_kw > 0 asks for that much more reduction (cheapest first), < 0 for that much less
// (dearest released first). Returns the shares (only non-zero ones, in merit order) and the
// part of the need that no asset could cover in `unmet_kw` (same sign as need). Ties in cost
// are broken by asset index, so the result is deterministic.
std::vector<Share> allocate(std::span<const Flex> flex, double need_kw, double& unmet_kw);

}  // namespace vpp::controller
