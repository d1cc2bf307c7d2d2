#include "adapters/openadr/reports.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace vpp::openadr {
namespace {

// Three decimals (watts): the precision meters give, and fixed so output is reproducible.
double round3(double x) { return std::round(x * 1000.0) / 1000.0; }

bool energy_units(const std::string& u) { return u == "KWH"; }

// Mean of a settlement field over [a, b), if every settlement interval of the window is there.
std::optional<double> settled_mean(const std::vector<controller::SettlementInterval>& rows, TimePoint a, TimePoint b,
                                   Duration step, double controller::SettlementInterval::*field) {
  if (step <= Duration::zero()) return std::nullopt;
  const TimePoint first = a - (a.time_since_epoch() % step);  // the core's interval floor
  int expected = 0;
  for (TimePoint t = first; t < b; t += step) ++expected;
  double sum = 0;
  int n = 0;
  for (const auto& r : rows) {
    if (r.start < first || r.start >= b) continue;
    const double v = r.*field;
    if (!std::isfinite(v)) return std::nullopt;
    sum += v;
    ++n;
  }
  if (n == 0 || n < expected) return std::nullopt;
  return sum / n;
}

}  // namespace

bool supported_report_type(const std::string& t) {
  static const std::set<std::string> kTypes = {"BASELINE",
                                               "USAGE",
                                               "DELTA_USAGE",
                                               "LOAD_SHED_DELTA_AVAILABLE",
                                               "STORAGE_CHARGE_LEVEL",
                                               "STORAGE_USABLE_CAPACITY",
                                               "STORAGE_MAX_DISCHARGE_POWER",
                                               "STORAGE_MAX_CHARGE_POWER"};
  return kTypes.count(t) > 0;
}

std::vector<ReportInstance> report_schedule(const Event& e, const std::vector<ResolvedInterval>& iv, Duration delay) {
  std::vector<ReportInstance> out;
  const int N = static_cast<int>(iv.size());
  if (N == 0) return out;
  for (std::size_t d = 0; d < e.report_descriptors.size(); ++d) {
    const auto& rd = e.report_descriptors[d];
    const int n = rd.num_intervals;
    const int s = rd.start_interval < 0 ? (rd.historical ? N - 1 : 0) : rd.start_interval;
    int f = rd.frequency > 0 ? rd.frequency : (n > 0 ? n : 0);
    const int repeat = rd.repeat == 0 ? 1 : rd.repeat;
    int covered_to = -1;  // last position reported so far
    for (int k = 0; repeat < 0 || k < repeat; ++k) {
      if (k > 0 && f == 0) break;  // "all intervals" reported once
      ReportInstance inst;
      inst.descriptor = d;
      inst.number = k;
      inst.key = e.id + "." + std::to_string(d) + "." + std::to_string(k);
      if (rd.historical) {
        const int end = s + k * f;
        if (end >= N || end < 0) break;
        if (iv[static_cast<std::size_t>(end)].open_ended) break;
        const int from = n > 0 ? std::max(0, end - n + 1) : covered_to + 1;
        for (int p = from; p <= end; ++p) inst.positions.push_back(static_cast<std::size_t>(p));
        inst.due = iv[static_cast<std::size_t>(end)].end() + delay;
        covered_to = end;
      } else {
        const int begin = s + k * f;
        if (begin >= N || begin < 0) break;
        const int to = n > 0 ? std::min(N - 1, begin + n - 1) : N - 1;
        for (int p = begin; p <= to; ++p) inst.positions.push_back(static_cast<std::size_t>(p));
        inst.due = iv[static_cast<std::size_t>(begin)].start;
      }
      if (inst.positions.empty()) break;
      out.push_back(std::move(inst));
    }
  }
  return out;
}

BuiltReport build_report(const Event& e, const MappedEvent& mapped, const ReportInstance& inst, const ReportContext& ctx,
                         ReportSource& source, TimePoint now) {
  BuiltReport out;
  const auto& rd = e.report_descriptors.at(inst.descriptor);
  const std::string& type = rd.payload_type;
  std::string units = rd.units;
  if (units.empty()) {
    units = type == "STORAGE_CHARGE_LEVEL" ? "PERCENT" : type == "STORAGE_USABLE_CAPACITY" ? "KWH" : "KW";
  }

  // Resources reported: (name, site id); the aggregate has an empty site id.
  std::vector<std::pair<std::string, std::string>> resources;
  if (rd.aggregate) {
    resources.push_back({ctx.aggregate_name, ""});
  } else {
    std::set<std::string> wanted;
    for (const auto& t : rd.targets) {
      if (t.type == "RESOURCE_NAME" || t.type.empty()) wanted.insert(t.values.begin(), t.values.end());
    }
    const std::set<std::string> event_sites(mapped.site_ids.begin(), mapped.site_ids.end());
    for (const auto& [name, site] : ctx.site_of_resource) {
      if (!wanted.empty() && !wanted.count(name)) continue;
      if (wanted.empty() && !event_sites.empty() && !event_sites.count(site)) continue;
      resources.push_back({name, site});
    }
  }

  // The core event that covers an OpenADR interval, if any.
  auto core_event_of = [&](int interval_id) -> std::optional<std::string> {
    for (const auto& [core_id, ids] : mapped.intervals_of) {
      if (std::find(ids.begin(), ids.end(), interval_id) != ids.end()) return core_id;
    }
    return std::nullopt;
  };
  std::map<std::string, std::optional<controller::EventReport>> settlements;
  auto settlement = [&](const std::string& core_id) -> const controller::EventReport* {
    auto it = settlements.find(core_id);
    if (it == settlements.end()) it = settlements.emplace(core_id, source.settlement(core_id, now)).first;
    return it->second ? &*it->second : nullptr;
  };
  std::map<std::string, std::optional<StorageState>> storage;
  auto storage_of = [&](const std::string& site) -> std::optional<StorageState> {
    auto it = storage.find(site);
    if (it == storage.end()) it = storage.emplace(site, source.storage(site, now)).first;
    return it->second;
  };
  auto sum_sites = [&](auto&& per_site) -> std::optional<double> {
    // Aggregate of a per-site figure over the sites the event selected (or every resource).
    std::set<std::string> sites(mapped.site_ids.begin(), mapped.site_ids.end());
    if (sites.empty()) {
      for (const auto& [n, s] : ctx.site_of_resource) sites.insert(s);
    }
    if (sites.empty()) return std::nullopt;
    double total = 0;
    for (const auto& s : sites) {
      auto v = per_site(s);
      if (!v) return std::nullopt;
      total += *v;
    }
    return total;
  };

  auto value = [&](const std::string& site, const ResolvedInterval& iv) -> std::optional<double> {
    const TimePoint a = iv.start, b = iv.end();
    const double hours = to_seconds(b - a) / 3600.0;
    const double scale = energy_units(units) ? hours : 1.0;
    if (type == "BASELINE" || type == "USAGE" || type == "DELTA_USAGE") {
      if (auto core_id = core_event_of(iv.id)) {
        const auto* rep = settlement(*core_id);
        if (!rep) return std::nullopt;
        const std::vector<controller::SettlementInterval>* rows = &rep->fleet;
        if (!site.empty()) {
          const auto it = rep->sites.find(site);
          if (it == rep->sites.end()) return std::nullopt;
          rows = &it->second;
        }
        auto field = type == "BASELINE" ? &controller::SettlementInterval::baseline_kw
                     : type == "USAGE"  ? &controller::SettlementInterval::metered_kw
                                        : &controller::SettlementInterval::delivered_kw;
        auto m = settled_mean(*rows, a, b, ctx.settlement_interval, field);
        if (!m) return std::nullopt;
        return *m * scale;
      }
      if (type != "USAGE") return std::nullopt;  // no event, no baseline
      if (now < b) return std::nullopt;
      std::optional<double> u = site.empty() ? sum_sites([&](const std::string& s) { return source.usage_kw(s, a, b); })
                                             : source.usage_kw(site, a, b);
      if (!u) return std::nullopt;
      return *u * scale;
    }
    if (type == "LOAD_SHED_DELTA_AVAILABLE") {
      return site.empty() ? sum_sites([&](const std::string& s) { return source.load_shed_available_kw(s, now); })
                          : source.load_shed_available_kw(site, now);
    }
    auto storage_field = [&](const std::string& s) -> std::optional<double> {
      auto st = storage_of(s);
      if (!st) return std::nullopt;
      if (type == "STORAGE_CHARGE_LEVEL") return units == "KWH" ? st->charge_level_kwh : st->soc_pct;
      if (type == "STORAGE_USABLE_CAPACITY") return st->usable_capacity_kwh;
      if (type == "STORAGE_MAX_DISCHARGE_POWER") return st->max_discharge_kw;
      if (type == "STORAGE_MAX_CHARGE_POWER") return st->max_charge_kw;
      return std::nullopt;
    };
    if (!site.empty()) return storage_field(site);
    if (type == "STORAGE_CHARGE_LEVEL" && units != "KWH") return std::nullopt;  // percentages do not add up
    return sum_sites(storage_field);
  };

  Json res = Json::array();
  for (const auto& [name, site] : resources) {
    Json intervals = Json::array();
    for (auto pos : inst.positions) {
      const auto& iv = mapped.intervals.at(pos);
      auto v = value(site, iv);
      if (!v || !std::isfinite(*v)) {
        ++out.missing;
        continue;
      }
      ++out.values;
      intervals.push_back({{"id", iv.id},
                           {"intervalPeriod", {{"start", format_time(iv.start)}, {"duration", format_iso_duration(iv.duration)}}},
                           {"payloads", Json::array({{{"type", type}, {"values", Json::array({round3(*v)})}}})}});
    }
    res.push_back({{"resourceName", name}, {"intervals", std::move(intervals)}});
  }
  Json descriptor = {{"objectType", "REPORT_PAYLOAD_DESCRIPTOR"}, {"payloadType", type}, {"units", units}};
  descriptor["readingType"] = !rd.reading_type.empty() ? rd.reading_type : (rd.historical ? "DIRECT_READ" : "FORECAST");
  Json body = {{"eventID", e.id},
               {"clientName", ctx.ven_name},
               {"reportName", "vpp-" + inst.key},
               {"payloadDescriptors", Json::array({descriptor})},
               {"resources", std::move(res)}};
  if (ctx.version == SpecVersion::v3_0_1) body["programID"] = e.program_id;
  out.body = std::move(body);
  return out;
}

}  // namespace vpp::openadr
