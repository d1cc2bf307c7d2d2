#pragma once
// The safety envelope: the last word before a command leaves the core. Whatever the optimizer,
// the allocator or an operator asks for, the setpoint is clamped to the asset's ratings, the
// site's enrolled limits (battery reserve, comfort band, curtailment share, import/export
// limits) and the asset's ramp limit, and the clamps applied are named.
#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/fleet.hpp"
#include "config/controller_settings.hpp"
#include "model/messages.hpp"

namespace vpp::controller {

struct EnvelopeInput {
  const AssetState* asset = nullptr;
  const SiteState* site = nullptr;
  std::optional<double> site_import_kw;  // measured, if known
  SetpointKind kind = SetpointKind::unspecified;
  double requested = 0;
  std::optional<double> last_sent;       // last value sent of the same kind, for ramp limits
  TimePoint last_sent_at{};
  TimePoint now{};
  Duration ttl{};                        // how long the command may act unsupervised
  double max_setpoint_offset_c = 4;      // largest setpoint change a BMS is asked for
};

// The limits that changed a setpoint, by name ("rating", "reserve", "ramp", ...), in the order
// they applied. Names are string literals held inline: the envelope runs for every asset on
// every control tick and allocates nothing.
class Clamps {
 public:
  void add(const char* why) {
    // By address: the names are the envelope's own literals.
    if (std::find(begin(), end(), why) == end() && n_ < names_.size()) names_[n_++] = why;
  }
  bool contains(std::string_view why) const { return std::find(begin(), end(), why) != end(); }
  bool empty() const { return n_ == 0; }
  const char* const* begin() const { return names_.data(); }
  const char* const* end() const { return names_.data() + n_; }
  std::vector<std::string> names() const { return {begin(), end()}; }

 private:
  std::array<const char*, 8> names_{};  // more than any setpoint kind has limits
  std::size_t n_ = 0;
};

struct EnvelopeResult {
  bool allowed = true;                   // false: the kind is not valid for this asset
  double value = 0;
  Clamps clamps;
  std::string refusal;                   // why not allowed
};

// How far ahead an HVAC zone's temperature is projected (from its last two readings) when
// judging whether a power cap keeps it comfortable: a released plant needs about its control
// loop's time constant (~10 min for a chilled-water or VAV loop) to pull the air back, plus a
// control tick and the command's way to the device.
inline constexpr double kComfortLookaheadS = 600;
// A cap is released while the projected temperature is still this far below the band's top.
inline constexpr double kComfortGuardC = 0.5;

EnvelopeResult apply_envelope(const EnvelopeInput& in);

// The setpoint kinds an asset accepts, and the value that means "no intervention" (used to
// release an asset: e.g. no PV limit = its rating, no HVAC cap = its rating, 0 % curtailment).
bool kind_valid_for(AssetKind asset, SetpointKind kind);
double neutral_value(const Asset& asset, SetpointKind kind);

}  // namespace vpp::controller
