#pragma once
// Reports as an event's reportDescriptors ask for them: which report instances fall due when,
// which event intervals each covers, and the report object built from the project's own
// figures (a ReportSource: the daemon's controller core and fleet state, or a fake in tests).
//
// Schedule of descriptor (startInterval s, numIntervals n, historical h, frequency f, repeat r)
// over an event of N intervals (positions 0..N-1):
//   historical: report k (k = 0, 1, ...) is due when interval e_k = s + k*f has ended (plus the
//     configured report delay, so meter data of the interval's last minutes has arrived), and
//     covers the n intervals up to e_k (n = -1: every interval after the previous report's).
//     s = -1 means the last interval; f = -1 means f = n (n = -1 too: one report).
//   forecast (historical false): report k is due at the start of interval s + k*f and covers
//     the n intervals from there (n = -1: to the end).
//   r = -1 repeats while intervals remain; otherwise at most r reports.
//
// Values, per interval [a, b) and resource (or AGGREGATED_REPORT for aggregate descriptors):
//   BASELINE, USAGE, DELTA_USAGE: the means over [a, b) of the settlement intervals of the core
//     event that covers the interval (baseline_kw, metered_kw, delivered_kw: the controller's
//     own figures, so a VTN settles on what the controller measured); USAGE outside any core
//     event comes from ReportSource::usage_kw. Units KW (default) or KWH (mean kW x hours).
//   LOAD_SHED_DELTA_AVAILABLE: ReportSource::load_shed_available_kw at generation time.
//   STORAGE_CHARGE_LEVEL (PERCENT default, or KWH), STORAGE_USABLE_CAPACITY (KWH),
//   STORAGE_MAX_DISCHARGE_POWER, STORAGE_MAX_CHARGE_POWER (KW): ReportSource::storage.
// Other payload types are not produced (counted as unsupported).
#include <optional>
#include <string>
#include <vector>

#include "adapters/openadr/mapping.hpp"
#include "adapters/openadr/objects.hpp"
#include "controller/core.hpp"

namespace vpp::openadr {

struct StorageState {
  std::optional<double> soc_pct;
  std::optional<double> usable_capacity_kwh;
  std::optional<double> charge_level_kwh;
  std::optional<double> max_discharge_kw;
  std::optional<double> max_charge_kw;
};

// What reports are made of. Called on the engine's thread (the daemon's loop, where the core
// lives). Missing figures are nullopt, never a made-up 0.
class ReportSource {
 public:
  virtual ~ReportSource() = default;
  // The core's settlement of one of its events (Core::report).
  virtual std::optional<controller::EventReport> settlement(const std::string& core_event_id, TimePoint now) = 0;
  // Mean metered import of a site over [from, to), kW.
  virtual std::optional<double> usage_kw(const std::string& site_id, TimePoint from, TimePoint to) = 0;
  // Further reduction the site could give now, kW.
  virtual std::optional<double> load_shed_available_kw(const std::string& site_id, TimePoint now) = 0;
  virtual std::optional<StorageState> storage(const std::string& site_id, TimePoint now) = 0;
};

bool supported_report_type(const std::string& payload_type);

struct ReportInstance {
  std::size_t descriptor = 0;          // index in event.reportDescriptors
  int number = 0;                      // k
  TimePoint due{};
  std::vector<std::size_t> positions;  // event interval positions covered
  std::string key;                     // unique and stable: "<eventID>.<descriptor>.<k>"
};

// Every instance the descriptors ask for over the event's nominal intervals (open-ended
// intervals cannot be reported on historically and end the schedule).
std::vector<ReportInstance> report_schedule(const Event& e, const std::vector<ResolvedInterval>& intervals,
                                            Duration report_delay);

struct ReportContext {
  SpecVersion version = SpecVersion::v3_0_1;
  std::string ven_name;
  std::map<std::string, std::string> site_of_resource;   // resourceName -> site id
  std::string aggregate_name = "AGGREGATED_REPORT";
  Duration settlement_interval = std::chrono::minutes(15);  // the core's settlement interval
};

struct BuiltReport {
  Json body;                  // the report object to POST
  int values = 0;             // interval values filled in
  int missing = 0;            // interval values the source could not give
};

// Builds the report object of one instance. Resources: the descriptor's RESOURCE_NAME targets,
// else the resources the event selected (`mapped.site_ids`), else every configured resource.
BuiltReport build_report(const Event& e, const MappedEvent& mapped, const ReportInstance& inst, const ReportContext& ctx,
                         ReportSource& source, TimePoint now);

}  // namespace vpp::openadr
