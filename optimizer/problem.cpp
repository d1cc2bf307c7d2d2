#include "optimizer/problem.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace vpp::optimizer {
namespace {

class Collector {
 public:
  void add(const std::string& where, const std::string& what) {
    if (errors_.size() < kMaxErrors) errors_.push_back(where + ": " + what);
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  std::string text() const {
    std::ostringstream out;
    out << "invalid problem (" << count_ << " error" << (count_ == 1 ? "" : "s") << ")";
    for (const auto& e : errors_) out << "\n  " << e;
    if (count_ > errors_.size()) out << "\n  ... and " << (count_ - errors_.size()) << " more";
    return out.str();
  }

 private:
  // A fleet of 100,000 sites with one systematic mistake should not produce a 100 MB message.
  static constexpr std::size_t kMaxErrors = 50;
  std::vector<std::string> errors_;
  std::size_t count_ = 0;
};

bool finite(double v) { return std::isfinite(v); }

void series(Collector& c, const std::string& where, const char* name, const std::vector<double>& v,
            int steps, bool allow_empty, double lo, double hi) {
  if (v.empty() && allow_empty) return;
  if (static_cast<int>(v.size()) != steps) {
    c.add(where + "." + name, "has " + std::to_string(v.size()) + " values, horizon has " +
                                  std::to_string(steps));
    return;
  }
  for (int t = 0; t < steps; ++t) {
    double x = v[t];
    if (!finite(x) || x < lo || x > hi) {
      std::ostringstream m;
      m << "value " << x << " at interval " << t << " is ";
      if (!finite(x)) {
        m << "not a finite number";
      } else {
        m << "outside [" << lo << ", " << hi << "]";
      }
      c.add(where + "." + name, m.str());
      return;  // one per series is enough to locate it
    }
  }
}

void number(Collector& c, const std::string& where, const char* name, double x, double lo, double hi,
            bool lo_open = false) {
  bool bad = !finite(x) || x < lo || x > hi || (lo_open && x <= lo);
  if (!bad) return;
  std::ostringstream m;
  m << "value " << x << " must be " << (lo_open ? "> " : ">= ") << lo;
  if (hi < kNoLimit) m << " and <= " << hi;
  c.add(where + "." + name, m.str());
}

constexpr double kBig = 1e9;  // no kW, kWh or price in a real fleet comes near this

}  // namespace

Result<bool> validate(const Problem& p) {
  Collector c;
  const int T = p.horizon.steps;
  if (T <= 0 || T > 100000) {
    c.add("horizon.steps", "must be in 1..100000 (found " + std::to_string(T) + ")");
    return Error{c.text()};
  }
  if (p.horizon.step.count() <= 0) c.add("horizon.step", "must be positive");
  const auto& s = p.signals;
  series(c, "signals", "import_price", s.import_price, T, false, -kBig, kBig);
  series(c, "signals", "export_price", s.export_price, T, false, -kBig, kBig);
  series(c, "signals", "carbon_kg_per_kwh", s.carbon_kg_per_kwh, T, true, 0, 100);
  number(c, "signals", "carbon_price_per_kg", s.carbon_price_per_kg, 0, kBig);
  number(c, "signals", "shortfall_penalty_per_kwh", s.shortfall_penalty_per_kwh, 0, kBig);
  if (!s.import_cap_kw.empty() && static_cast<int>(s.import_cap_kw.size()) != T)
    c.add("signals.import_cap_kw", "has " + std::to_string(s.import_cap_kw.size()) +
                                       " values, horizon has " + std::to_string(T));
  if (!s.reduction_kw.empty() && static_cast<int>(s.reduction_kw.size()) != T)
    c.add("signals.reduction_kw", "has " + std::to_string(s.reduction_kw.size()) +
                                      " values, horizon has " + std::to_string(T));
  bool any_reduction = false;
  for (std::size_t t = 0; t < s.import_cap_kw.size(); ++t)
    if (s.import_cap_kw[t] && !finite(*s.import_cap_kw[t]))
      c.add("signals.import_cap_kw", "interval " + std::to_string(t) + " is not a finite number");
  for (std::size_t t = 0; t < s.reduction_kw.size(); ++t) {
    if (!s.reduction_kw[t]) continue;
    any_reduction = true;
    if (!finite(*s.reduction_kw[t]) || *s.reduction_kw[t] < 0)
      c.add("signals.reduction_kw", "interval " + std::to_string(t) + " must be a finite number >= 0");
  }
  if (any_reduction) series(c, "signals", "baseline_kw", s.baseline_kw, T, false, -kBig, kBig);
  if (static_cast<int>(s.import_price.size()) == T && static_cast<int>(s.export_price.size()) == T) {
    for (int t = 0; t < T; ++t) {
      double ci = s.carbon_kg_per_kwh.empty() ? 0.0 : s.carbon_kg_per_kwh[t];
      double marginal_import = s.import_price[t] + s.carbon_price_per_kg * ci;
      if (s.export_price[t] > marginal_import + 1e-12) {
        // Paying more for export than import costs would make buying to sell back the optimum:
        // not a tariff, a data error.
        std::ostringstream m;
        m << "export price " << s.export_price[t] << " exceeds import price plus carbon cost "
          << marginal_import << " at interval " << t;
        c.add("signals.export_price", m.str());
        break;
      }
    }
  }

  std::set<std::string> site_ids;
  for (std::size_t i = 0; i < p.sites.size(); ++i) {
    const auto& site = p.sites[i];
    std::string w = "sites[" + std::to_string(i) + "]";
    if (site.id.empty()) c.add(w + ".id", "is empty");
    if (!site_ids.insert(site.id).second) c.add(w + ".id", "duplicate site id '" + site.id + "'");
    w = "site '" + site.id + "'";
    if (site.excluded) continue;  // left out: nothing else of it is read
    series(c, w, "base_load_kw", site.base_load_kw, T, false, -kBig, kBig);
    if (!(site.import_limit_kw >= 0)) c.add(w + ".import_limit_kw", "must be >= 0 (or no limit)");
    if (!(site.export_limit_kw >= 0)) c.add(w + ".export_limit_kw", "must be >= 0 (or no limit)");
    number(c, w, "limit_penalty_per_kwh", site.limit_penalty_per_kwh, 0, kBig);
    if (!site.available.empty() && static_cast<int>(site.available.size()) != T)
      c.add(w + ".available", "has " + std::to_string(site.available.size()) +
                                  " values, horizon has " + std::to_string(T));
    std::set<std::string> asset_ids;
    auto asset_id = [&](const std::string& id, const char* kind, std::size_t k) {
      std::string aw = w + " " + kind + "[" + std::to_string(k) + "]";
      if (id.empty()) c.add(aw + ".id", "is empty");
      if (!asset_ids.insert(id).second) c.add(aw + ".id", "duplicate asset id '" + id + "'");
      return w + " asset '" + id + "'";
    };
    for (std::size_t k = 0; k < site.pv.size(); ++k) {
      const auto& a = site.pv[k];
      std::string aw = asset_id(a.id, "pv", k);
      number(c, aw, "rated_kw", a.rated_kw, 0, kBig);
      series(c, aw, "forecast_kw", a.forecast_kw, T, false, 0, kBig);
    }
    for (std::size_t k = 0; k < site.batteries.size(); ++k) {
      const auto& b = site.batteries[k];
      std::string aw = asset_id(b.id, "battery", k);
      number(c, aw, "capacity_kwh", b.capacity_kwh, 0, kBig, true);
      number(c, aw, "soc_kwh", b.soc_kwh, -kBig, kBig);
      number(c, aw, "max_charge_kw", b.max_charge_kw, 0, kBig);
      number(c, aw, "max_discharge_kw", b.max_discharge_kw, 0, kBig);
      number(c, aw, "charge_efficiency", b.charge_efficiency, 0, 1, true);
      number(c, aw, "discharge_efficiency", b.discharge_efficiency, 0, 1, true);
      number(c, aw, "soc_min_kwh", b.soc_min_kwh, -kBig, kBig);
      number(c, aw, "soc_max_kwh", b.soc_max_kwh, -kBig, kBig);
      number(c, aw, "reserve_kwh", b.reserve_kwh, -kBig, kBig);
      if (b.terminal_soc_kwh) number(c, aw, "terminal_soc_kwh", *b.terminal_soc_kwh, -kBig, kBig);
      number(c, aw, "self_discharge_per_h", b.self_discharge_per_h, 0, 0.5);
      number(c, aw, "cycle_cost_per_kwh", b.cycle_cost_per_kwh, 0, kBig);
      number(c, aw, "soc_penalty_per_kwh_h", b.soc_penalty_per_kwh_h, 0, kBig);
      number(c, aw, "terminal_penalty_per_kwh", b.terminal_penalty_per_kwh, 0, kBig);
    }
    for (std::size_t k = 0; k < site.hvac.size(); ++k) {
      const auto& z = site.hvac[k];
      std::string aw = asset_id(z.id, "hvac", k);
      number(c, aw, "r_k_per_kw", z.r_k_per_kw, 0, kBig, true);
      number(c, aw, "c_kwh_per_k", z.c_kwh_per_k, 0, kBig, true);
      number(c, aw, "temp_c", z.temp_c, -100, 100);
      number(c, aw, "max_electric_kw", z.max_electric_kw, 0, kBig);
      number(c, aw, "discomfort_penalty_per_kh", z.discomfort_penalty_per_kh, 0, kBig);
      series(c, aw, "outdoor_temp_c", z.outdoor_temp_c, T, false, -100, 100);
      series(c, aw, "gains_kw", z.gains_kw, T, false, -kBig, kBig);
      series(c, aw, "cop", z.cop, T, false, 0.05, 50);
      series(c, aw, "comfort_min_c", z.comfort_min_c, T, false, -100, 100);
      series(c, aw, "comfort_max_c", z.comfort_max_c, T, false, -100, 100);
      if (!z.plant_available.empty() && static_cast<int>(z.plant_available.size()) != T) {
        c.add(aw + ".plant_available", "has " + std::to_string(z.plant_available.size()) + " values, horizon has " +
                                           std::to_string(T));
      }
    }
    for (std::size_t k = 0; k < site.flexible.size(); ++k) {
      const auto& f = site.flexible[k];
      std::string aw = asset_id(f.id, "flexible", k);
      series(c, aw, "power_kw", f.power_kw, T, false, 0, kBig);
      number(c, aw, "curtailable_share", f.curtailable_share, 0, 1);
      number(c, aw, "curtail_cost_per_kwh", f.curtail_cost_per_kwh, 0, kBig);
      number(c, aw, "shift_max_kwh", f.shift_max_kwh, 0, kBig);
      number(c, aw, "shift_max_kw", f.shift_max_kw, 0, kBig);
      number(c, aw, "backlog_kwh", f.backlog_kwh, 0, kBig);
      number(c, aw, "backlog_penalty_per_kwh", f.backlog_penalty_per_kwh, 0, kBig);
    }
  }
  if (!c.empty()) return Error{c.text()};
  return true;
}

std::vector<std::optional<double>> fleet_cap_kw(const Problem& p) {
  const int T = p.horizon.steps;
  std::vector<std::optional<double>> cap(static_cast<std::size_t>(std::max(T, 0)));
  const auto& s = p.signals;
  for (int t = 0; t < T; ++t) {
    if (!s.import_cap_kw.empty() && s.import_cap_kw[t]) cap[t] = *s.import_cap_kw[t];
    if (!s.reduction_kw.empty() && s.reduction_kw[t]) {
      double c = s.baseline_kw[t] - *s.reduction_kw[t];
      cap[t] = cap[t] ? std::min(*cap[t], c) : c;
    }
  }
  return cap;
}

}  // namespace vpp::optimizer
