#pragma once
// Conversions between the API's views (api_backend.hpp) and their wire messages
// (proto/api.proto), the settlement CSV, and the checks on enrolments and patches that
// proto/convert.cpp does not make (ranges, uniqueness, id syntax).
#include <optional>
#include <string>
#include <string_view>

#include "adapters/http/api_backend.hpp"
#include "adapters/http/json_body.hpp"
#include "model/result.hpp"
#include "proto/api.pb.h"
#include "proto/vpp.pb.h"

namespace vpp::http {

vpp::v1::CurtailmentEvent to_proto_event(const CurtailmentEvent& e);
// Validates like from_proto(GridSignal); the error reads "path: reason" with the path relative
// to the event ("targetReductionKw: must be > 0").
Result<CurtailmentEvent> from_proto_event(const vpp::v1::CurtailmentEvent& p);

vpp::v1::EventView to_proto(const EventView& v);
vpp::v1::EventReport to_proto(const ReportView& r);
vpp::v1::SiteView to_proto(const SiteView& s);
vpp::v1::CommandRecord to_proto(const CommandRecord& c);
vpp::v1::FleetView to_proto(const FleetView& f);
CommandContext from_proto(const vpp::v1::CommandContext& c);
vpp::v1::CommandContext to_proto(const CommandContext& c);

// One row per interval: the fleet's first, then each site's in site order. Fixed decimals.
std::string report_csv(const ReportView& r);

// Ids in paths and bodies: 1-64 of A-Z a-z 0-9 . _ : - (safe in URLs, topics and file names).
bool valid_id(std::string_view id);

// Ranges and consistency of an enrolment (after from_proto): comfort band, percentages,
// availability windows, asset ratings, unique asset ids.
std::optional<FieldError> check_site(const Site& s);
std::optional<FieldError> check_limits(const SiteLimits& l, const std::string& limits_path,
                                       const std::string& availability_path);
// Event checks beyond from_proto: ramp shorter than the event, sites named once, and (unless
// `may_end_now`, for a modification of an active event) an end in the future.
std::optional<FieldError> check_event(const CurtailmentEvent& e, TimePoint now, bool may_end_now);

SiteLimitsPatch from_proto(const vpp::v1::SitePatch& p);
// Applies an EventPatch to an event.
CurtailmentEvent apply_patch(CurtailmentEvent e, const vpp::v1::EventPatch& p);

void set_time(google::protobuf::Timestamp* ts, TimePoint t);
void set_duration(google::protobuf::Duration* d, Duration v);
TimePoint get_time(const google::protobuf::Timestamp& ts);

}  // namespace vpp::http
