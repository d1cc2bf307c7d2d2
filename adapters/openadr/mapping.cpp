#include "adapters/openadr/mapping.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace vpp::openadr {
namespace {

enum class Kind { cap, simple, setpoint, relative, emergency };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::cap: return "cap";
    case Kind::simple: return "simple";
    case Kind::setpoint: return "setpoint";
    case Kind::relative: return "relative";
    case Kind::emergency: return "emergency";
  }
  return "?";
}

const PayloadDescriptor* descriptor(const Event& e, const std::string& type) {
  for (const auto& d : e.payload_descriptors) {
    if (d.payload_type == type) return &d;
  }
  return nullptr;
}

// Factor from the descriptor's power units to kW. KW is the spec's unit for capacity limits
// and setpoints; W and MW are accepted as the obvious private spellings.
Result<double> power_factor(const Event& e, const std::string& type) {
  const auto* d = descriptor(e, type);
  const std::string u = d ? d->units : "";
  if (u.empty() || u == "KW") return 1.0;
  if (u == "W") return 0.001;
  if (u == "MW") return 1000.0;
  return Error{type + ": unsupported units '" + u + "' (expected KW)"};
}

// Factor from the descriptor's energy units to "per kWh" for prices.
Result<double> price_factor(const Event& e, const std::string& type) {
  const auto* d = descriptor(e, type);
  const std::string u = d ? d->units : "";
  if (u.empty() || u == "KWH") return 1.0;
  if (u == "MWH") return 0.001;
  if (u == "WH") return 1000.0;
  return Error{type + ": unsupported units '" + u + "' (expected KWH)"};
}

Result<double> number(const ValuesMap& m, int interval_id) {
  if (m.values.empty() || !m.values[0].is_number()) {
    return Error{"interval " + std::to_string(interval_id) + ": " + m.type + " needs a numeric value"};
  }
  const double x = m.values[0].get<double>();
  if (!std::isfinite(x)) return Error{"interval " + std::to_string(interval_id) + ": " + m.type + " is not finite"};
  return x;
}

struct Piece {
  Kind kind;
  const ResolvedInterval* iv;
  double value;
  Duration offset;
};

}  // namespace

int core_priority(std::optional<int> p) {
  if (!p) return 0;
  return 1000 - std::min(std::max(*p, 0), 999);
}

Duration random_start_offset(const std::string& ven_name, const std::string& event_id, int interval_id, Duration randomize) {
  if (randomize <= Duration::zero()) return Duration::zero();
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  const std::string key = ven_name + "/" + event_id + "/" + std::to_string(interval_id);
  for (unsigned char ch : key) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return Duration(static_cast<long long>(h % static_cast<std::uint64_t>(randomize.count() + 1)));
}

Result<MappedEvent> map_event(const Event& e, const std::string& program_name, const MappingConfig& cfg, TimePoint now) {
  MappedEvent out;
  // Targets: VEN_NAME and RESOURCE_NAME are checked here; other target types (GROUP, SERVICE_AREA,
  // ...) are the VTN's to filter, so an event it delivered with them applies to the whole VEN.
  std::set<std::string> sites;
  bool named_resources = false;
  for (const auto& t : e.targets) {
    if (t.type == "VEN_NAME") {
      if (std::find(t.values.begin(), t.values.end(), cfg.ven_name) == t.values.end()) {
        out.applies = false;
        out.not_for_us = "targets VEN_NAME without " + cfg.ven_name;
        return out;
      }
    } else if (t.type == "RESOURCE_NAME" || t.type.empty()) {
      for (const auto& v : t.values) {
        const auto it = cfg.site_of_resource.find(v);
        if (it != cfg.site_of_resource.end()) {
          sites.insert(it->second);
          named_resources = true;
        } else if (t.type == "RESOURCE_NAME") {
          named_resources = true;  // a resource that is not ours: still a resource selection
        }
      }
    }
  }
  if (named_resources && sites.empty()) {
    out.applies = false;
    out.not_for_us = "targets resources none of which this VEN represents";
    return out;
  }
  if (sites.empty()) {
    for (const auto& [res, site] : cfg.site_of_resource) sites.insert(site);
  }
  out.site_ids.assign(sites.begin(), sites.end());

  auto resolved = resolve_intervals(e, now, cfg.open_ended_as);
  if (!resolved) return Error{resolved.error()};
  out.intervals = *resolved;

  std::vector<Piece> pieces;
  Duration shortest{};
  for (const auto& iv : out.intervals) {
    const Duration offset = random_start_offset(cfg.ven_name, e.id, iv.id, iv.randomize);
    for (const auto& m : iv.interval->payloads) {
      const std::string where = m.type + " (interval " + std::to_string(iv.id) + ")";
      if (m.type == "IMPORT_CAPACITY_LIMIT" || m.type == "EXPORT_CAPACITY_LIMIT" || m.type == "DISPATCH_SETPOINT" ||
          m.type == "DISPATCH_SETPOINT_RELATIVE") {
        auto f = power_factor(e, m.type);
        if (!f) return Error{f.error()};
        auto x = number(m, iv.id);
        if (!x) return Error{x.error()};
        const double kw = *x * *f;
        if (m.type == "IMPORT_CAPACITY_LIMIT") {
          if (kw < 0) return Error{where + ": a capacity limit must be >= 0"};
          pieces.push_back({Kind::cap, &iv, kw, offset});
        } else if (m.type == "DISPATCH_SETPOINT") {
          if (kw < 0) return Error{where + ": a consumption setpoint below 0 kW is export, which the core cannot target"};
          pieces.push_back({Kind::setpoint, &iv, kw, offset});
        } else if (m.type == "DISPATCH_SETPOINT_RELATIVE") {
          if (kw < 0) {
            pieces.push_back({Kind::relative, &iv, -kw, offset});
          } else if (kw > 0) {
            out.ignored.push_back(where + ": an increase of consumption is not dispatched (the core targets reductions)");
          }
        } else {
          if (kw < 0) return Error{where + ": a capacity limit must be >= 0"};
          out.export_limits.push_back({"oadr-" + e.id + "-export-" + std::to_string(iv.id), out.site_ids,
                                       iv.start + offset, iv.duration, kw});
        }
      } else if (m.type == "SIMPLE") {
        auto x = number(m, iv.id);
        if (!x) return Error{x.error()};
        const double lv = *x;
        if (lv != std::floor(lv) || lv < 0 || lv > 3) return Error{where + ": SIMPLE level must be 0, 1, 2 or 3"};
        const int level = static_cast<int>(lv);
        if (level == 0) continue;  // normal operation: nothing asked
        const auto table = cfg.simple_levels_kw.find(program_name);
        if (table == cfg.simple_levels_kw.end() || !table->second.count(level)) {
          return Error{where + ": no reduction configured for SIMPLE level " + std::to_string(level) + " of program '" +
                       program_name + "' (openadr.programs[].simple_levels_kw)"};
        }
        pieces.push_back({Kind::simple, &iv, table->second.at(level), offset});
      } else if (m.type == "ALERT_GRID_EMERGENCY") {
        pieces.push_back({Kind::emergency, &iv, cfg.emergency_import_cap_kw, offset});
      } else if (m.type == "PRICE" || m.type == "EXPORT_PRICE") {
        auto f = price_factor(e, m.type);
        if (!f) return Error{f.error()};
        auto x = number(m, iv.id);
        if (!x) return Error{x.error()};
        const auto* d = descriptor(e, m.type);
        if (d && !d->currency.empty()) {
          if (!out.currency.empty() && out.currency != d->currency) return Error{"prices in two currencies"};
          out.currency = d->currency;
        }
        (m.type == "PRICE" ? out.import_price : out.export_price).push_back({iv.start + offset, *x * *f});
        shortest = shortest == Duration::zero() ? iv.duration : std::min(shortest, iv.duration);
      } else if (m.type == "GHG") {
        auto x = number(m, iv.id);
        if (!x) return Error{x.error()};
        if (*x < 0) return Error{where + ": must be >= 0 g/kWh"};
        out.carbon_kg_per_kwh.push_back({iv.start + offset, *x / 1000.0});  // g/kWh -> kg/kWh
        shortest = shortest == Duration::zero() ? iv.duration : std::min(shortest, iv.duration);
      } else {
        out.ignored.push_back(where + ": not a signal this VEN dispatches");
      }
    }
  }
  out.series_interval = shortest;
  auto by_start = [](const SeriesPoint& a, const SeriesPoint& b) { return a.start < b.start; };
  std::stable_sort(out.import_price.begin(), out.import_price.end(), by_start);
  std::stable_sort(out.export_price.begin(), out.export_price.end(), by_start);
  std::stable_sort(out.carbon_kg_per_kwh.begin(), out.carbon_kg_per_kwh.end(), by_start);

  // Runs: same kind, same value, contiguous in time, same randomisation offset.
  std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.iv->start < b.iv->start;
  });
  for (std::size_t i = 0; i < pieces.size();) {
    std::size_t j = i + 1;
    while (j < pieces.size() && pieces[j].kind == pieces[i].kind && pieces[j].value == pieces[i].value &&
           pieces[j].offset == pieces[i].offset && pieces[j].iv->start == pieces[j - 1].iv->end()) {
      ++j;
    }
    const Piece& p = pieces[i];
    CurtailmentEvent ce;
    ce.event_id = "oadr-" + e.id + "-" + kind_name(p.kind) + "-" + std::to_string(p.iv->id);
    ce.program = program_name;
    ce.start = p.iv->start + p.offset;
    ce.duration = pieces[j - 1].iv->end() - p.iv->start;
    if (p.kind == Kind::simple || p.kind == Kind::relative) {
      ce.target_reduction_kw = p.value;
    } else {
      ce.import_cap_kw = p.value;
    }
    ce.priority = p.kind == Kind::emergency ? kEmergencyCorePriority : core_priority(e.priority);
    ce.site_ids = out.site_ids;
    auto& ids = out.intervals_of[ce.event_id];
    for (std::size_t k = i; k < j; ++k) ids.push_back(pieces[k].iv->id);
    out.curtailments.push_back(std::move(ce));
    i = j;
  }
  for (auto& iv : out.intervals) iv.interval = nullptr;  // points into `e`; not kept past this call
  return out;
}

}  // namespace vpp::openadr
