#pragma once
// From an OpenADR 3 event to the controller core's grid signals. Pure: no I/O, no clock.
//
//   IMPORT_CAPACITY_LIMIT      -> CurtailmentEvent{import_cap_kw}   (aggregate import of the targeted sites)
//   EXPORT_CAPACITY_LIMIT      -> ExportLimit (the core has no time-bound export cap; the shell applies it
//                                 to the sites' enrolled export limits for the window)
//   SIMPLE level 1..3          -> CurtailmentEvent{target_reduction_kw} from the program's table (level 0: none)
//   DISPATCH_SETPOINT          -> CurtailmentEvent{import_cap_kw = setpoint}
//   DISPATCH_SETPOINT_RELATIVE -> CurtailmentEvent{target_reduction_kw = -value} (negative values: a reduction)
//   PRICE, EXPORT_PRICE        -> PriceSeries points (per kWh)
//   GHG                        -> CarbonSeries points (g/kWh -> kg/kWh)
//   ALERT_GRID_EMERGENCY       -> CurtailmentEvent{import_cap_kw = emergency cap} at the highest priority
//   anything else              -> ignored, as the spec asks of a VEN, and listed
//
// Contiguous intervals of one kind with the same value (and the same start randomisation) make
// one core event, named "oadr-<eventID>-<kind>-<first interval id>", so a two-hour cap over
// eight 15-minute intervals is one event with one baseline, and a changed interval splits it.
//
// Priority: OpenADR's lower number is more important; the core's higher number wins. The core
// priority is 1000 - min(p, 999) for an event priority p, 0 for an event without one (the
// least important), and 2000 for ALERT_GRID_EMERGENCY.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/openadr/objects.hpp"
#include "model/messages.hpp"

namespace vpp::openadr {

inline constexpr int kEmergencyCorePriority = 2000;
int core_priority(std::optional<int> openadr_priority);

struct MappingConfig {
  std::string ven_name;
  std::map<std::string, std::string> site_of_resource;       // resourceName -> site id (empty: whole fleet)
  std::map<std::string, std::map<int, double>> simple_levels_kw;  // by programName
  double emergency_import_cap_kw = 0;
  Duration open_ended_as = std::chrono::hours(24);           // an open-ended interval lasts this long
};

struct ExportLimit {
  std::string id;                      // same naming as the core events
  std::vector<std::string> site_ids;   // empty = whole fleet
  TimePoint start{};
  Duration duration{};
  double export_cap_kw = 0;
  bool operator==(const ExportLimit&) const = default;
};

struct MappedEvent {
  bool applies = true;                 // false when the targets name neither this VEN nor its resources
  std::string not_for_us;              // why, when !applies
  std::vector<std::string> site_ids;   // the sites the event selects (empty = whole fleet)
  std::vector<CurtailmentEvent> curtailments;
  std::map<std::string, std::vector<int>> intervals_of;  // core event id -> OpenADR interval ids
  std::vector<ExportLimit> export_limits;
  std::vector<SeriesPoint> import_price;
  std::vector<SeriesPoint> export_price;
  std::string currency;
  std::vector<SeriesPoint> carbon_kg_per_kwh;
  Duration series_interval{};          // shortest interval of the price/carbon points
  std::vector<std::string> ignored;    // "ALERT_FIRE (interval 0): not a dispatch signal"
  std::vector<ResolvedInterval> intervals;  // nominal placement (before randomisation), for reports
};

// Deterministic start offset in [0, randomize] for this VEN, event and interval (FNV-1a of
// the three), so re-polling an event never moves its start.
Duration random_start_offset(const std::string& ven_name, const std::string& event_id, int interval_id, Duration randomize);

// Errors (unknown units, a non-numeric value where a number is needed, a SIMPLE level without
// a configured reduction, ...) reject the whole event.
Result<MappedEvent> map_event(const Event& e, const std::string& program_name, const MappingConfig& cfg, TimePoint now);

}  // namespace vpp::openadr
