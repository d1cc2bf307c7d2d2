#pragma once
// The core's picture of the fleet: enrolled sites and assets under dense indices, the latest
// accepted telemetry of each asset, and its data quality. Values are gated before they reach a
// plan: a reading that fails a check is reported (GateResult) and not used.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/controller_settings.hpp"
#include "model/messages.hpp"
#include "model/site.hpp"

namespace vpp::controller {

using SiteIndex = std::uint32_t;
using AssetIndex = std::uint32_t;
inline constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Latest accepted measurements of an asset; NaN where the asset does not report a value.
struct Measurement {
  TimePoint time{};
  double p_kw = kNaN;
  double soc_pct = kNaN;
  double indoor_temp_c = kNaN;
  double setpoint_c = kNaN;
  double available_kw = kNaN;
};

// What every control tick reads of every asset comes first, together.
struct AssetState {
  SiteIndex site = kNone;
  bool online = false;
  int identical_readings = 0;            // consecutive identical non-zero readings
  std::optional<Measurement> last;       // nullopt until the first accepted reading
  std::optional<Measurement> previous;   // the reading before `last`, for rates of change
  TimePoint last_accepted_at{};          // core time of the last accepted reading
  Asset asset;
  std::string gated_reason;              // the reason the last reading was gated, if any
};

struct SiteState {
  Site site;
  std::vector<AssetIndex> assets;
  AssetIndex meter = kNone;              // the site meter, if the site has one
  bool enrolled = true;
  // The tighter of the site's enrolled limits and its meters' connection limits, kW (import 0:
  // none; export 0: no export).
  double import_limit_kw = 0;
  double export_limit_kw = 0;
};

enum class GateOutcome { accepted, rejected };

struct GateResult {
  GateOutcome outcome = GateOutcome::accepted;
  std::string reason;                    // why it was rejected (empty when accepted)
  AssetIndex asset = kNone;              // kNone for unknown ids
  bool came_online = false;              // this reading brought the asset back online
};

class Fleet {
 public:
  explicit Fleet(GatingSettings gating = {}) : gating_(gating) {}

  // Enrols (or re-enrols with new limits/assets) a site. Assets keep their index and state
  // when a site is re-enrolled with the same asset ids.
  void enrol(const Site& site);
  // Marks a site unenrolled: its assets are left out of plans and receive no commands.
  bool unenrol(std::string_view site_id);

  GateResult ingest(const Telemetry& t, TimePoint now);
  // Marks assets without accepted telemetry for `offline_after` as offline; returns those that
  // went offline in this call.
  std::vector<AssetIndex> sweep_offline(TimePoint now, Duration offline_after);

  SiteIndex find_site(std::string_view site_id) const;
  AssetIndex find_asset(std::string_view site_id, std::string_view asset_id) const;

  const std::vector<SiteState>& sites() const { return sites_; }
  const std::vector<AssetState>& assets() const { return assets_; }
  const SiteState& site(SiteIndex i) const { return sites_[i]; }
  const AssetState& asset(AssetIndex i) const { return assets_[i]; }
  std::size_t online_assets() const;

  // Rate of change of an HVAC zone's indoor temperature over its last two readings, K/s (0
  // when unknown).
  static double temp_slope_c_per_s(const AssetState& a);

  // Measured net import of the site: its meter's P if fresh, else the sum of its assets'
  // contributions (base load unknown in that case, so nullopt when there is no meter).
  std::optional<double> site_import_kw(SiteIndex s) const;

 private:
  std::optional<std::string> check(const AssetState& a, const Telemetry& t, TimePoint now) const;

  GatingSettings gating_;
  std::vector<SiteState> sites_;
  std::vector<AssetState> assets_;
  std::unordered_map<std::string, SiteIndex> site_index_;
  std::unordered_map<std::string, AssetIndex> asset_index_;  // key: site_id + '/' + asset_id
};

}  // namespace vpp::controller
