#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/asset.hpp"

namespace vpp {

enum class BuildingType { office, mall, school, hospital, data_centre };

std::string_view to_string(BuildingType t);
std::optional<BuildingType> building_type_from_string(std::string_view s);

// Local-time window in which a site offers flexibility. ISO weekdays: 1 = Monday .. 7 = Sunday.
struct AvailabilityWindow {
  std::vector<int> days_of_week;
  int start_minute = 0;     // minutes after local midnight
  int end_minute = 1440;

  bool operator==(const AvailabilityWindow&) const = default;
};

struct SiteLimits {
  double comfort_min_c = 22;
  double comfort_max_c = 26;
  double battery_reserve_pct = 20;
  double max_curtailment_pct = 0;
  double import_limit_kw = 0;   // 0 = none
  double export_limit_kw = 0;   // magnitude; 0 = no export
  std::vector<AvailabilityWindow> availability;  // empty = always

  bool operator==(const SiteLimits&) const = default;
};

struct Site {
  std::string id;
  std::string name;
  std::string owner;
  BuildingType type = BuildingType::office;
  double latitude_deg = 0;
  double longitude_deg = 0;
  SiteLimits limits;
  std::vector<Asset> assets;

  const Asset* find_asset(std::string_view asset_id) const;

  bool operator==(const Site&) const = default;
};

// Aggregate figures for a fleet, as `vppd --check-config` prints them.
struct FleetSummary {
  std::size_t sites = 0;
  std::size_t assets_by_kind[6] = {};
  double pv_kw = 0;           // inverter AC ratings
  double battery_kwh = 0;
  double battery_kw = 0;      // discharge ratings
  double hvac_kw = 0;         // electric ratings
  double flexible_load_kw = 0;
  double ev_kw = 0;

  std::size_t assets(AssetKind k) const { return assets_by_kind[static_cast<int>(k)]; }
  std::size_t total_assets() const;
};

FleetSummary summarize(std::span<const Site> sites);

}  // namespace vpp
