#include "model/site.hpp"

#include <numeric>

namespace vpp {

std::string_view to_string(AssetKind k) {
  switch (k) {
    case AssetKind::pv: return "pv";
    case AssetKind::battery: return "battery";
    case AssetKind::hvac_zone: return "hvac_zone";
    case AssetKind::flexible_load: return "flexible_load";
    case AssetKind::site_meter: return "site_meter";
    case AssetKind::ev_charger: return "ev_charger";
  }
  return "?";
}

std::string_view to_string(BuildingType t) {
  switch (t) {
    case BuildingType::office: return "office";
    case BuildingType::mall: return "mall";
    case BuildingType::school: return "school";
    case BuildingType::hospital: return "hospital";
    case BuildingType::data_centre: return "data_centre";
  }
  return "?";
}

std::optional<BuildingType> building_type_from_string(std::string_view s) {
  for (auto t : {BuildingType::office, BuildingType::mall, BuildingType::school, BuildingType::hospital,
                 BuildingType::data_centre}) {
    if (to_string(t) == s) return t;
  }
  return std::nullopt;
}

const Asset* Site::find_asset(std::string_view asset_id) const {
  for (const auto& a : assets) {
    if (a.id == asset_id) return &a;
  }
  return nullptr;
}

std::size_t FleetSummary::total_assets() const {
  return std::accumulate(std::begin(assets_by_kind), std::end(assets_by_kind), std::size_t{0});
}

FleetSummary summarize(std::span<const Site> sites) {
  FleetSummary s;
  s.sites = sites.size();
  for (const auto& site : sites) {
    for (const auto& a : site.assets) {
      ++s.assets_by_kind[static_cast<int>(a.kind())];
      if (const auto* pv = a.get<PvSpec>()) s.pv_kw += pv->rated_kw;
      if (const auto* b = a.get<BatterySpec>()) {
        s.battery_kwh += b->capacity_kwh;
        s.battery_kw += b->max_discharge_kw;
      }
      if (const auto* h = a.get<HvacZoneSpec>()) s.hvac_kw += h->rated_electric_kw;
      if (const auto* l = a.get<FlexibleLoadSpec>()) s.flexible_load_kw += l->rated_kw;
      if (const auto* ev = a.get<EvChargerSpec>()) s.ev_kw += ev->max_charge_kw;
    }
  }
  return s;
}

}  // namespace vpp
