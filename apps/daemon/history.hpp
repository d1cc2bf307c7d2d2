#pragma once
// Meter history for the core's baselines, rebuilt from the store's telemetry roll-ups at the
// controller's own interval (the store keeps 1- and 15-minute roll-ups; the core may plan and
// settle at any interval that divides a day). Past days carry the store's eligibility (working
// days without an event of the site's); today's intervals that have ended are included too, so
// a restart in the middle of an event keeps its same-day adjustment and the readings of the
// intervals already settled.
#include <vector>

#include "adapters/store/store.hpp"
#include "controller/core.hpp"

namespace vpp::daemon {

// Interval means (count-weighted) of `rollups` for one local day, at `interval`; NaN where none.
// Roll-ups must be at a resolution that divides `interval`.
std::vector<double> day_means(const std::vector<store::Rollup>& rollups, controller::LocalDay day, Duration interval,
                              int utc_offset_minutes);

// History of every enrolled site with a meter: `days` local days before today, plus today's
// ended intervals. Days without any reading are left out. Empty (with a warning in `note`) when
// the interval does not divide a day or is not a whole number of minutes.
std::vector<controller::MeterHistory> meter_history(store::Store& store, const store::Restored& restored,
                                                    const std::vector<Site>& sites, const controller::Settings& s,
                                                    TimePoint now, int days, std::string* note = nullptr);

}  // namespace vpp::daemon
