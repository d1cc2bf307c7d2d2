// Independent re-verification of a plan. Deliberately shares no code with the solvers or
// finalize_plan (not even optimizer/terms.hpp): the physics is re-derived here from the problem
// definition, so a modelling slip in one place shows up as a disagreement.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "optimizer/plan.hpp"

namespace vpp::optimizer {
namespace {

class Checker {
 public:
  Checker(const Problem& p, const Plan& plan, double tol) : p_(p), plan_(plan), tol_(tol) {}

  CheckReport run() {
    const int T = p_.horizon.steps;
    const double h = p_.horizon.dt_h();
    const auto& g = p_.signals;
    std::size_t active = 0;
    for (const auto& s : p_.sites) active += s.excluded ? 0 : 1;
    if (plan_.sites.size() != active) {
      fail("plan has " + std::to_string(plan_.sites.size()) + " sites, problem has " + std::to_string(active) +
           " active sites");
      return report_;
    }
    std::vector<double> fleet(T, 0.0);
    double obj = 0;
    std::size_t k = 0;
    for (const auto& site : p_.sites) {
      if (site.excluded) continue;
      const SitePlan& sp = plan_.sites[k++];
      site_ = site.id;
      if (sp.id != site.id) fail("plan site '" + sp.id + "' where '" + site.id + "' was expected");
      if (!sized(sp.import_kw, T, "import_kw")) continue;
      if (sp.pv.size() != site.pv.size() || sp.batteries.size() != site.batteries.size() ||
          sp.hvac.size() != site.hvac.size() || sp.flexible.size() != site.flexible.size()) {
        fail("asset count differs from the problem");
        continue;
      }
      auto avail = [&](int t) { return site.available.empty() || site.available[t] != 0; };
      std::vector<double> x(site.base_load_kw.begin(), site.base_load_kw.end());
      for (std::size_t i = 0; i < site.pv.size(); ++i) {
        const auto& a = site.pv[i];
        const auto& ap = sp.pv[i];
        asset_ = a.id;
        if (!sized(ap.limit_kw, T, "limit_kw")) continue;
        for (int t = 0; t < T; ++t) {
          within(ap.limit_kw[t], 0, std::min(a.forecast_kw[t], a.rated_kw), "pv limit", t);
          x[t] -= ap.limit_kw[t];
        }
      }
      for (std::size_t i = 0; i < site.batteries.size(); ++i) {
        const auto& b = site.batteries[i];
        const auto& bp = sp.batteries[i];
        asset_ = b.id;
        if (!sized(bp.p_kw, T, "p_kw") || !sized(bp.charge_kw, T, "charge_kw") ||
            !sized(bp.discharge_kw, T, "discharge_kw") || !sized(bp.soc_kwh, T, "soc_kwh"))
          continue;
        double soc = std::clamp(b.soc_kwh, 0.0, b.capacity_kwh);
        const double keep = std::pow(1.0 - b.self_discharge_per_h, h);
        const double lo = std::max(b.soc_min_kwh, b.reserve_kwh);
        for (int t = 0; t < T; ++t) {
          within(bp.charge_kw[t], 0, avail(t) ? b.max_charge_kw : 0.0, "charge power", t);
          within(bp.discharge_kw[t], 0, avail(t) ? b.max_discharge_kw : 0.0, "discharge power", t);
          equal(bp.p_kw[t], bp.discharge_kw[t] - bp.charge_kw[t], "net power", t);
          soc = keep * soc + h * (b.charge_efficiency * bp.charge_kw[t] - bp.discharge_kw[t] / b.discharge_efficiency);
          equal(bp.soc_kwh[t], soc, "SoC dynamics", t);
          within(bp.soc_kwh[t], 0, b.capacity_kwh, "SoC physical range", t);
          soc = bp.soc_kwh[t];
          x[t] += bp.charge_kw[t] - bp.discharge_kw[t];
          obj += h * b.cycle_cost_per_kwh * bp.discharge_kw[t];
          obj += h * b.soc_penalty_per_kwh_h * (std::max(0.0, lo - soc) + std::max(0.0, soc - b.soc_max_kwh));
        }
        if (b.terminal_soc_kwh) obj += b.terminal_penalty_per_kwh * std::max(0.0, *b.terminal_soc_kwh - soc);
      }
      for (std::size_t i = 0; i < site.hvac.size(); ++i) {
        const auto& z = site.hvac[i];
        const auto& zp = sp.hvac[i];
        asset_ = z.id;
        if (!sized(zp.electric_kw, T, "electric_kw") || !sized(zp.temp_c, T, "temp_c")) continue;
        // Exact solution of C dT/dt = (T_out - T)/R + Q over dt with Q held constant.
        const double tau_h = z.r_k_per_kw * z.c_kwh_per_k;
        const double decay = std::exp(-h / tau_h);
        double temp = z.temp_c;
        for (int t = 0; t < T; ++t) {
          within(zp.electric_kw[t], 0, z.max_electric_at(t), "HVAC power", t);
          double q_kw = z.gains_kw[t] + (z.mode == HvacMode::cooling ? -1.0 : 1.0) * z.cop[t] * zp.electric_kw[t];
          double t_eq = z.outdoor_temp_c[t] + z.r_k_per_kw * q_kw;
          temp = t_eq + (temp - t_eq) * decay;
          equal(zp.temp_c[t], temp, "thermal dynamics", t);
          temp = zp.temp_c[t];
          x[t] += zp.electric_kw[t];
          obj += h * z.discomfort_penalty_per_kh *
                 (std::max(0.0, z.comfort_min_c[t] - temp) + std::max(0.0, temp - z.comfort_max_c[t]));
        }
      }
      for (std::size_t i = 0; i < site.flexible.size(); ++i) {
        const auto& f = site.flexible[i];
        const auto& fp = sp.flexible[i];
        asset_ = f.id;
        if (!sized(fp.curtail_kw, T, "curtail_kw") || !sized(fp.defer_kw, T, "defer_kw") ||
            !sized(fp.recover_kw, T, "recover_kw") || !sized(fp.backlog_kwh, T, "backlog_kwh"))
          continue;
        const bool can_shift = f.shift_max_kwh > 0 && f.shift_max_kw > 0;
        double backlog = can_shift ? std::clamp(f.backlog_kwh, 0.0, f.shift_max_kwh) : 0.0;
        for (int t = 0; t < T; ++t) {
          double share = f.curtailable_share * f.power_kw[t];
          within(fp.curtail_kw[t], 0, avail(t) ? share : 0.0, "curtailment", t);
          double dmax = can_shift && avail(t) ? std::min(f.shift_max_kw, f.power_kw[t] - share) : 0.0;
          within(fp.defer_kw[t], 0, dmax, "deferral", t);
          within(fp.recover_kw[t], 0, can_shift && avail(t) ? f.shift_max_kw : 0.0, "recovery", t);
          backlog += h * (fp.defer_kw[t] - fp.recover_kw[t]);
          equal(fp.backlog_kwh[t], backlog, "backlog dynamics", t);
          within(fp.backlog_kwh[t], 0, can_shift ? f.shift_max_kwh : 0.0, "backlog range", t);
          backlog = fp.backlog_kwh[t];
          x[t] += f.power_kw[t] - fp.curtail_kw[t] - fp.defer_kw[t] + fp.recover_kw[t];
          obj += h * f.curtail_cost_per_kwh * fp.curtail_kw[t];
        }
        obj += f.backlog_penalty_per_kwh * backlog;
      }
      asset_.clear();
      for (int t = 0; t < T; ++t) {
        equal(sp.import_kw[t], x[t], "site power balance", t);
        double imp = std::max(x[t], 0.0), exp = std::max(-x[t], 0.0);
        double ci = g.carbon_kg_per_kwh.empty() ? 0.0 : g.carbon_kg_per_kwh[t];
        obj += h * (imp * (g.import_price[t] + g.carbon_price_per_kg * ci) - exp * g.export_price[t]);
        obj += h * site.limit_penalty_per_kwh *
               (std::max(0.0, imp - site.import_limit_kw) + std::max(0.0, exp - site.export_limit_kw));
        fleet[t] += x[t];
      }
    }
    site_.clear();
    if (sized(plan_.fleet_import_kw, T, "fleet_import_kw") && sized(plan_.shortfall_kw, T, "shortfall_kw")) {
      for (int t = 0; t < T; ++t) {
        equal(plan_.fleet_import_kw[t], fleet[t], "fleet total", t);
        std::optional<double> cap;
        if (!g.import_cap_kw.empty() && g.import_cap_kw[t]) cap = *g.import_cap_kw[t];
        if (!g.reduction_kw.empty() && g.reduction_kw[t]) {
          double c = g.baseline_kw[t] - *g.reduction_kw[t];
          cap = cap ? std::min(*cap, c) : c;
        }
        double need = cap ? std::max(0.0, fleet[t] - *cap) : 0.0;
        equal(plan_.shortfall_kw[t], need, "fleet shortfall", t);
        obj += h * g.shortfall_penalty_per_kwh * need;
      }
    }
    report_.objective = obj;
    double scale = std::max(1.0, std::abs(obj));
    if (std::abs(plan_.objective.total - obj) > tol_ * scale) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "objective %.9g reported, %.9g recomputed", plan_.objective.total, obj);
      fail(buf);
    }
    return report_;
  }

 private:
  void fail(const std::string& what, int t = -1) {
    report_.ok = false;
    if (report_.errors.size() >= 100) return;
    std::string where;
    if (!site_.empty()) where += "site '" + site_ + "' ";
    if (!asset_.empty()) where += "asset '" + asset_ + "' ";
    if (t >= 0) where += "interval " + std::to_string(t) + " ";
    report_.errors.push_back(where + what);
  }
  bool sized(const std::vector<double>& v, int T, const char* name) {
    if (static_cast<int>(v.size()) == T) return true;
    fail(std::string(name) + " has " + std::to_string(v.size()) + " values, expected " + std::to_string(T));
    return false;
  }
  void note(double err) { report_.max_error = std::max(report_.max_error, err); }
  void within(double v, double lo, double hi, const char* what, int t) {
    double err = std::max({lo - v, v - hi, 0.0});
    if (std::isnan(v)) err = INFINITY;
    note(err);
    if (err > tol_ * std::max(1.0, std::abs(hi))) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "%s %.9g outside [%.9g, %.9g]", what, v, lo, hi);
      fail(buf, t);
    }
  }
  void equal(double v, double want, const char* what, int t) {
    double err = std::abs(v - want);
    if (std::isnan(v)) err = INFINITY;
    note(err);
    if (err > tol_ * std::max(1.0, std::abs(want))) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "%s violated: %.9g in plan, %.9g expected", what, v, want);
      fail(buf, t);
    }
  }

  const Problem& p_;
  const Plan& plan_;
  double tol_;
  CheckReport report_;
  std::string site_, asset_;
};

}  // namespace

CheckReport check(const Problem& problem, const Plan& plan, double tolerance) {
  return Checker(problem, plan, tolerance).run();
}

}  // namespace vpp::optimizer
