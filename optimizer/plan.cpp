#include "optimizer/plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "optimizer/terms.hpp"

namespace vpp::optimizer {
namespace {

// Violations below this are rounding, not news for a site manager.
constexpr double kReportEps = 1e-6;

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

}  // namespace

const char* to_string(ViolationKind k) {
  switch (k) {
    case ViolationKind::comfort_low: return "comfort_low";
    case ViolationKind::comfort_high: return "comfort_high";
    case ViolationKind::soc_below_reserve: return "soc_below_reserve";
    case ViolationKind::soc_above_max: return "soc_above_max";
    case ViolationKind::terminal_soc: return "terminal_soc";
    case ViolationKind::import_limit: return "import_limit";
    case ViolationKind::export_limit: return "export_limit";
    case ViolationKind::backlog_left: return "backlog_left";
    case ViolationKind::fleet_shortfall: return "fleet_shortfall";
  }
  return "?";
}

void finalize_plan(const Problem& problem, Plan& plan) {
  const int T = problem.horizon.steps;
  const double h = problem.horizon.dt_h();
  const auto& g = problem.signals;
  plan.horizon = problem.horizon;
  plan.fleet_cap_kw = fleet_cap_kw(problem);
  plan.fleet_import_kw.assign(T, 0.0);
  plan.shortfall_kw.assign(T, 0.0);
  if (plan.coordination_price_per_kwh.size() != static_cast<std::size_t>(T))
    plan.coordination_price_per_kwh.assign(T, 0.0);
  plan.violations.clear();
  ObjectiveBreakdown ob;
  auto add_violation = [&](ViolationKind kind, const std::string& site, const std::string& asset, int t,
                           double amount, std::string message) {
    plan.violations.push_back({kind, site, asset, t, amount, std::move(message)});
  };

  std::size_t k = 0;
  for (const auto& site : problem.sites) {
    if (site.excluded) continue;
    SitePlan& sp = plan.sites[k++];
    sp.import_kw.assign(T, 0.0);
    for (int t = 0; t < T; ++t) sp.import_kw[t] = site.base_load_kw[t];
    for (std::size_t i = 0; i < site.pv.size(); ++i)
      for (int t = 0; t < T; ++t) sp.import_kw[t] -= sp.pv[i].limit_kw[t];
    for (std::size_t i = 0; i < site.batteries.size(); ++i) {
      const auto& b = site.batteries[i];
      auto& bp = sp.batteries[i];
      bp.p_kw.resize(T);
      double lo = terms::battery_soft_lo(b), hi = terms::battery_soft_hi(b);
      for (int t = 0; t < T; ++t) {
        bp.p_kw[t] = bp.discharge_kw[t] - bp.charge_kw[t];
        sp.import_kw[t] -= bp.p_kw[t];
        ob.degradation_cost += h * b.cycle_cost_per_kwh * bp.discharge_kw[t];
        double below = lo - bp.soc_kwh[t], above = bp.soc_kwh[t] - hi;
        if (below > kReportEps) {
          ob.soc_penalty += h * b.soc_penalty_per_kwh_h * below;
          add_violation(ViolationKind::soc_below_reserve, site.id, b.id, t, below,
                        "site '" + site.id + "' battery '" + b.id + "': SoC " +
                            fmt("%.2f kWh below its reserve/minimum %.2f kWh at interval %.0f", below, lo, t));
        }
        if (above > kReportEps) {
          ob.soc_penalty += h * b.soc_penalty_per_kwh_h * above;
          add_violation(ViolationKind::soc_above_max, site.id, b.id, t, above,
                        "site '" + site.id + "' battery '" + b.id + "': SoC " +
                            fmt("%.2f kWh above its maximum %.2f kWh at interval %.0f", above, hi, t));
        }
      }
      if (b.terminal_soc_kwh) {
        double shortby = *b.terminal_soc_kwh - bp.soc_kwh[T - 1];
        if (shortby > kReportEps) {
          ob.soc_penalty += b.terminal_penalty_per_kwh * shortby;
          add_violation(ViolationKind::terminal_soc, site.id, b.id, T - 1, shortby,
                        "site '" + site.id + "' battery '" + b.id + "': terminal SoC " +
                            fmt("%.2f kWh short of its target %.2f kWh", shortby, *b.terminal_soc_kwh));
        }
      }
    }
    for (std::size_t i = 0; i < site.hvac.size(); ++i) {
      const auto& z = site.hvac[i];
      const auto& hp = sp.hvac[i];
      for (int t = 0; t < T; ++t) {
        sp.import_kw[t] += hp.electric_kw[t];
        double low = z.comfort_min_c[t] - hp.temp_c[t], high = hp.temp_c[t] - z.comfort_max_c[t];
        if (low > kReportEps) {
          ob.discomfort_penalty += h * z.discomfort_penalty_per_kh * low;
          add_violation(ViolationKind::comfort_low, site.id, z.id, t, low,
                        "site '" + site.id + "' zone '" + z.id + "': " +
                            fmt("%.2f K below the comfort band (min %.1f C) at interval %.0f", low,
                                z.comfort_min_c[t], t));
        }
        if (high > kReportEps) {
          ob.discomfort_penalty += h * z.discomfort_penalty_per_kh * high;
          add_violation(ViolationKind::comfort_high, site.id, z.id, t, high,
                        "site '" + site.id + "' zone '" + z.id + "': " +
                            fmt("%.2f K above the comfort band (max %.1f C) at interval %.0f", high,
                                z.comfort_max_c[t], t));
        }
      }
    }
    for (std::size_t i = 0; i < site.flexible.size(); ++i) {
      const auto& f = site.flexible[i];
      const auto& fp = sp.flexible[i];
      for (int t = 0; t < T; ++t) {
        sp.import_kw[t] += f.power_kw[t] - fp.curtail_kw[t] - fp.defer_kw[t] + fp.recover_kw[t];
        ob.curtailment_cost += h * f.curtail_cost_per_kwh * fp.curtail_kw[t];
      }
      double left = fp.backlog_kwh.empty() ? 0.0 : fp.backlog_kwh[T - 1];
      if (left > kReportEps) {
        ob.backlog_penalty += f.backlog_penalty_per_kwh * left;
        add_violation(ViolationKind::backlog_left, site.id, f.id, T - 1, left,
                      "site '" + site.id + "' load '" + f.id + "': " +
                          fmt("%.2f kWh of deferred energy not recovered by the end of the horizon", left));
      }
    }
    for (int t = 0; t < T; ++t) {
      double x = sp.import_kw[t];
      plan.fleet_import_kw[t] += x;
      double imp = std::max(x, 0.0), exp = std::max(-x, 0.0);
      ob.energy_cost += h * (g.import_price[t] * imp - g.export_price[t] * exp);
      ob.carbon_cost += h * g.carbon_price_per_kg * terms::carbon(g, t) * imp;
      double over_i = imp - site.import_limit_kw, over_e = exp - site.export_limit_kw;
      if (over_i > kReportEps) {
        ob.limit_penalty += h * site.limit_penalty_per_kwh * over_i;
        add_violation(ViolationKind::import_limit, site.id, "", t, over_i,
                      "site '" + site.id + "': import " +
                          fmt("%.2f kW above its limit %.2f kW at interval %.0f", over_i, site.import_limit_kw, t));
      }
      if (over_e > kReportEps) {
        ob.limit_penalty += h * site.limit_penalty_per_kwh * over_e;
        add_violation(ViolationKind::export_limit, site.id, "", t, over_e,
                      "site '" + site.id + "': export " +
                          fmt("%.2f kW above its limit %.2f kW at interval %.0f", over_e, site.export_limit_kw, t));
      }
    }
  }
  for (int t = 0; t < T; ++t) {
    if (!plan.fleet_cap_kw[t]) continue;
    double s = std::max(0.0, plan.fleet_import_kw[t] - *plan.fleet_cap_kw[t]);
    plan.shortfall_kw[t] = s;
    ob.shortfall_penalty += h * g.shortfall_penalty_per_kwh * s;
    if (s > kReportEps)
      add_violation(ViolationKind::fleet_shortfall, "", "", t, s,
                    fmt("fleet: import %.1f kW exceeds the event ceiling %.1f kW by %.1f kW at interval ",
                        plan.fleet_import_kw[t], *plan.fleet_cap_kw[t], s) +
                        std::to_string(t) + " (fleet flexibility exhausted at these prices)");
  }
  ob.total = ob.energy_cost + ob.carbon_cost + ob.curtailment_cost + ob.degradation_cost +
             ob.discomfort_penalty + ob.soc_penalty + ob.limit_penalty + ob.backlog_penalty +
             ob.shortfall_penalty;
  plan.objective = ob;
  plan.stats.primal_residual_kw = 0;
  for (int t = 0; t < T; ++t) plan.stats.primal_residual_kw = std::max(plan.stats.primal_residual_kw, plan.shortfall_kw[t]);
}

std::vector<std::string> diagnose(const Problem& problem) {
  std::vector<std::string> out;
  const int T = problem.horizon.steps;
  const double h = problem.horizon.dt_h();
  for (const auto& site : problem.sites) {
    if (site.excluded) continue;
    const std::string s = "site '" + site.id + "'";
    for (const auto& pv : site.pv)
      for (int t = 0; t < T; ++t)
        if (pv.forecast_kw[t] > pv.rated_kw + 1e-9) {
          out.push_back(s + " pv '" + pv.id + "': forecast " +
                        fmt("%.2f kW exceeds the rating %.2f kW at interval %.0f; limited to the rating",
                            pv.forecast_kw[t], pv.rated_kw, t));
          break;
        }
    for (const auto& b : site.batteries) {
      const std::string a = s + " battery '" + b.id + "'";
      if (b.soc_kwh < 0 || b.soc_kwh > b.capacity_kwh)
        out.push_back(a + fmt(": live SoC %.2f kWh outside [0, %.2f] kWh (telemetry error); clamped", b.soc_kwh,
                              b.capacity_kwh));
      if (b.reserve_kwh > b.capacity_kwh)
        out.push_back(a + fmt(": reserve %.2f kWh above capacity %.2f kWh; it cannot be met", b.reserve_kwh,
                              b.capacity_kwh));
      if (terms::battery_soft_lo(b) > b.soc_max_kwh)
        out.push_back(a + fmt(": reserve/minimum %.2f kWh above maximum %.2f kWh; one of them is violated",
                              terms::battery_soft_lo(b), b.soc_max_kwh));
      if (b.soc_kwh < terms::battery_soft_lo(b))
        out.push_back(a + fmt(": live SoC %.2f kWh below reserve/minimum %.2f kWh; the plan recharges it",
                              b.soc_kwh, terms::battery_soft_lo(b)));
      if (b.soc_kwh > b.soc_max_kwh)
        out.push_back(a + fmt(": live SoC %.2f kWh above maximum %.2f kWh; the plan discharges it", b.soc_kwh,
                              b.soc_max_kwh));
      if (b.terminal_soc_kwh) {
        double reach = std::min(b.capacity_kwh,
                                terms::battery_initial(b) + T * h * b.max_charge_kw * b.charge_efficiency);
        if (*b.terminal_soc_kwh > reach + 1e-9)
          out.push_back(a + fmt(": terminal SoC %.2f kWh unreachable (at most %.2f kWh); shortfall is penalised",
                                *b.terminal_soc_kwh, reach));
      }
    }
    for (const auto& z : site.hvac) {
      const std::string a = s + " zone '" + z.id + "'";
      const double decay = terms::hvac_decay(z, h);
      double temp = z.temp_c;
      bool told_band = false, told_hold = false;
      if (z.temp_c > z.comfort_max_c[0] || z.temp_c < z.comfort_min_c[0])
        out.push_back(a + fmt(": live temperature %.2f C outside the comfort band [%.1f, %.1f] C", z.temp_c,
                              z.comfort_min_c[0], z.comfort_max_c[0]));
      for (int t = 0; t < T; ++t) {
        if (!told_band && z.comfort_min_c[t] > z.comfort_max_c[t]) {
          out.push_back(a + fmt(": comfort band empty (min %.1f C > max %.1f C) at interval %.0f", z.comfort_min_c[t],
                                z.comfort_max_c[t], t));
          told_band = true;
        }
        // Full HVAC effort from the start: if even that leaves the band, the band is narrower than
        // the plant can hold.
        temp = decay * temp + terms::hvac_drift(z, decay, t) + terms::hvac_gain(z, decay, t) * z.max_electric_at(t);
        bool miss = z.mode == HvacMode::cooling ? temp > z.comfort_max_c[t] + 1e-9 : temp < z.comfort_min_c[t] - 1e-9;
        if (!told_hold && miss && z.max_electric_at(t) > 0 &&
            !(z.temp_c > z.comfort_max_c[0] || z.temp_c < z.comfort_min_c[0])) {
          out.push_back(a + fmt(": the comfort band cannot be held at interval %.0f: at full %.1f kW the zone "
                                "reaches %.2f C",
                                t, z.max_electric_kw, temp));
          told_hold = true;
        }
      }
    }
    for (const auto& f : site.flexible)
      if (f.backlog_kwh > f.shift_max_kwh)
        out.push_back(s + " load '" + f.id + "'" +
                      fmt(": live backlog %.2f kWh above its shift capacity %.2f kWh; clamped", f.backlog_kwh,
                          f.shift_max_kwh));
  }
  return out;
}

}  // namespace vpp::optimizer
