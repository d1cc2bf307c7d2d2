// The fleet LP in COIN-OR CLP: the reference solver.
//
// Per site s and interval t (all powers kW over dt_h hours):
//   imp, exp in [0, limit]; imp_over, exp_over >= 0 (soft site limits)
//   balance: imp + imp_over - exp - exp_over + sum pv + sum dis - sum ch - sum P_hvac
//            + sum (cur + def - rec) = base + sum flexible power
//   battery: soc_t+1 = a soc_t + h (eta_c ch - dis / eta_d), soc in [0, cap],
//            soc + lo_slack >= max(min, reserve), soc - hi_slack <= max, terminal soc + slack >= target
//   zone:    T_t+1 = a T_t + drift_t + gain_t P_t, T + under >= min_t, T - over <= max_t
//   backlog: B_t+1 = B_t + h (def - rec), B in [0, shift capacity], penalty on B_T
// Fleet, per interval with a ceiling: sum_s (imp + imp_over - exp - exp_over) - shortfall <= cap.
#include <coin/ClpInterior.hpp>
#include <coin/ClpSimplex.hpp>
#include <coin/CoinError.hpp>
#include <coin/CoinPackedMatrix.hpp>

#include <cassert>
#include <chrono>
#include <cmath>
#include <limits>

#include "optimizer/solvers.hpp"
#include "optimizer/terms.hpp"

namespace vpp::optimizer {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Lp {
  std::vector<double> col_lb, col_ub, obj, row_lb, row_ub;
  std::vector<int> ri, ci;
  std::vector<double> el;

  int col(double lb, double ub, double c) {
    col_lb.push_back(lb);
    col_ub.push_back(ub);
    obj.push_back(c);
    return static_cast<int>(obj.size()) - 1;
  }
  int row(double lb, double ub) {
    row_lb.push_back(lb);
    row_ub.push_back(ub);
    return static_cast<int>(row_lb.size()) - 1;
  }
  void at(int r, int c, double v) {
    ri.push_back(r);
    ci.push_back(c);
    el.push_back(v);
  }
};

// Column indices of one site's variables: first column of each block of T.
struct SiteCols {
  int imp, exp, imp_over, exp_over;
  std::vector<int> pv;
  struct Bat { int ch, dis, soc; };
  std::vector<Bat> bat;
  struct Zone { int p, temp; };
  std::vector<Zone> zone;
  struct Flex { int cur, def, rec, backlog; };  // def/rec/backlog = -1 when not shiftable
  std::vector<Flex> flex;
};

struct Built {
  Lp lp;
  std::vector<SiteCols> sites;   // problem order, excluded sites skipped
  std::vector<int> coupling_row;  // per interval, -1 where no ceiling
};

Built build(const Problem& p) {
  Built out;
  Lp& lp = out.lp;
  const int T = p.horizon.steps;
  const double h = p.horizon.dt_h();
  const auto& g = p.signals;
  std::vector<int> balance(T);
  for (const auto& site : p.sites) {
    if (site.excluded) continue;
    SiteCols sc;
    double I = site.import_limit_kw, E = site.export_limit_kw, Ml = site.limit_penalty_per_kwh;
    sc.imp = static_cast<int>(lp.obj.size());
    for (int t = 0; t < T; ++t) lp.col(0, I, h * terms::import_cost(g, t));
    sc.exp = static_cast<int>(lp.obj.size());
    for (int t = 0; t < T; ++t) lp.col(0, E, -h * g.export_price[t]);
    sc.imp_over = static_cast<int>(lp.obj.size());
    for (int t = 0; t < T; ++t) lp.col(0, std::isfinite(I) ? kInf : 0.0, h * (terms::import_cost(g, t) + Ml));
    sc.exp_over = static_cast<int>(lp.obj.size());
    for (int t = 0; t < T; ++t) lp.col(0, std::isfinite(E) ? kInf : 0.0, h * (Ml - g.export_price[t]));
    for (int t = 0; t < T; ++t) {
      double rhs = site.base_load_kw[t];
      for (const auto& f : site.flexible) rhs += f.power_kw[t];
      balance[t] = lp.row(rhs, rhs);
      lp.at(balance[t], sc.imp + t, 1);
      lp.at(balance[t], sc.exp + t, -1);
      lp.at(balance[t], sc.imp_over + t, 1);
      lp.at(balance[t], sc.exp_over + t, -1);
    }
    for (const auto& pv : site.pv) {
      int c0 = static_cast<int>(lp.obj.size());
      sc.pv.push_back(c0);
      for (int t = 0; t < T; ++t) {
        lp.col(0, terms::pv_available(pv, t), 0);
        lp.at(balance[t], c0 + t, 1);
      }
    }
    for (const auto& b : site.batteries) {
      SiteCols::Bat bc;
      const double a = terms::battery_decay(b, h);
      bc.ch = static_cast<int>(lp.obj.size());
      for (int t = 0; t < T; ++t) lp.col(0, terms::available(site, t) ? b.max_charge_kw : 0.0, 0);
      bc.dis = static_cast<int>(lp.obj.size());
      for (int t = 0; t < T; ++t)
        lp.col(0, terms::available(site, t) ? b.max_discharge_kw : 0.0, h * b.cycle_cost_per_kwh);
      bc.soc = static_cast<int>(lp.obj.size());
      for (int t = 0; t < T; ++t) lp.col(0, b.capacity_kwh, 0);
      const double lo = terms::battery_soft_lo(b), hi = terms::battery_soft_hi(b);
      for (int t = 0; t < T; ++t) {
        lp.at(balance[t], bc.ch + t, -1);
        lp.at(balance[t], bc.dis + t, 1);
        // soc_t+1 - a soc_t - h eta_c ch + h / eta_d dis = (t == 0 ? a soc_0 : 0)
        double rhs = t == 0 ? a * terms::battery_initial(b) : 0.0;
        int r = lp.row(rhs, rhs);
        lp.at(r, bc.soc + t, 1);
        if (t > 0) lp.at(r, bc.soc + t - 1, -a);
        lp.at(r, bc.ch + t, -h * b.charge_efficiency);
        lp.at(r, bc.dis + t, h / b.discharge_efficiency);
        int sl = lp.col(0, kInf, h * b.soc_penalty_per_kwh_h);
        r = lp.row(lo, kInf);
        lp.at(r, bc.soc + t, 1);
        lp.at(r, sl, 1);
        int sh = lp.col(0, kInf, h * b.soc_penalty_per_kwh_h);
        r = lp.row(-kInf, hi);
        lp.at(r, bc.soc + t, 1);
        lp.at(r, sh, -1);
      }
      if (b.terminal_soc_kwh) {
        int st = lp.col(0, kInf, b.terminal_penalty_per_kwh);
        int r = lp.row(*b.terminal_soc_kwh, kInf);
        lp.at(r, bc.soc + T - 1, 1);
        lp.at(r, st, 1);
      }
      sc.bat.push_back(bc);
    }
    for (const auto& z : site.hvac) {
      SiteCols::Zone zc;
      const double a = terms::hvac_decay(z, h);
      zc.p = static_cast<int>(lp.obj.size());
      for (int t = 0; t < T; ++t) lp.col(0, z.max_electric_at(t), 0);
      zc.temp = static_cast<int>(lp.obj.size());
      for (int t = 0; t < T; ++t) lp.col(-kInf, kInf, 0);
      for (int t = 0; t < T; ++t) {
        lp.at(balance[t], zc.p + t, -1);
        double rhs = terms::hvac_drift(z, a, t) + (t == 0 ? a * z.temp_c : 0.0);
        int r = lp.row(rhs, rhs);
        lp.at(r, zc.temp + t, 1);
        if (t > 0) lp.at(r, zc.temp + t - 1, -a);
        lp.at(r, zc.p + t, -terms::hvac_gain(z, a, t));
        int under = lp.col(0, kInf, h * z.discomfort_penalty_per_kh);
        r = lp.row(z.comfort_min_c[t], kInf);
        lp.at(r, zc.temp + t, 1);
        lp.at(r, under, 1);
        int over = lp.col(0, kInf, h * z.discomfort_penalty_per_kh);
        r = lp.row(-kInf, z.comfort_max_c[t]);
        lp.at(r, zc.temp + t, 1);
        lp.at(r, over, -1);
      }
      sc.zone.push_back(zc);
    }
    for (const auto& f : site.flexible) {
      SiteCols::Flex fc{-1, -1, -1, -1};
      fc.cur = static_cast<int>(lp.obj.size());
      for (int t = 0; t < T; ++t) {
        lp.col(0, terms::available(site, t) ? terms::curtail_max(f, t) : 0.0, h * f.curtail_cost_per_kwh);
        lp.at(balance[t], fc.cur + t, 1);
      }
      if (terms::shiftable(f)) {
        fc.def = static_cast<int>(lp.obj.size());
        for (int t = 0; t < T; ++t) lp.col(0, terms::available(site, t) ? terms::defer_max(f, t) : 0.0, 0);
        fc.rec = static_cast<int>(lp.obj.size());
        for (int t = 0; t < T; ++t) lp.col(0, terms::available(site, t) ? terms::recover_max(f) : 0.0, 0);
        fc.backlog = static_cast<int>(lp.obj.size());
        for (int t = 0; t < T; ++t) lp.col(0, f.shift_max_kwh, t == T - 1 ? f.backlog_penalty_per_kwh : 0.0);
        for (int t = 0; t < T; ++t) {
          lp.at(balance[t], fc.def + t, 1);
          lp.at(balance[t], fc.rec + t, -1);
          double rhs = t == 0 ? terms::backlog_initial(f) : 0.0;
          int r = lp.row(rhs, rhs);
          lp.at(r, fc.backlog + t, 1);
          if (t > 0) lp.at(r, fc.backlog + t - 1, -1);
          lp.at(r, fc.def + t, -h);
          lp.at(r, fc.rec + t, h);
        }
      }
      sc.flex.push_back(fc);
    }
    out.sites.push_back(std::move(sc));
  }
  auto caps = fleet_cap_kw(p);
  out.coupling_row.assign(T, -1);
  for (int t = 0; t < T; ++t) {
    if (!caps[t]) continue;
    int r = lp.row(-kInf, *caps[t]);
    out.coupling_row[t] = r;
    int sh = lp.col(0, kInf, h * g.shortfall_penalty_per_kwh);
    lp.at(r, sh, -1);
    for (const auto& sc : out.sites) {
      lp.at(r, sc.imp + t, 1);
      lp.at(r, sc.exp + t, -1);
      lp.at(r, sc.imp_over + t, 1);
      lp.at(r, sc.exp_over + t, -1);
    }
  }
  return out;
}

void load(ClpSimplex& model, const Lp& lp) {
  CoinPackedMatrix m(true, lp.ri.data(), lp.ci.data(), lp.el.data(), static_cast<CoinBigIndex>(lp.el.size()));
  // The triplet constructor sizes the matrix by the largest index seen; make it exact.
  m.setDimensions(static_cast<int>(lp.row_lb.size()), static_cast<int>(lp.obj.size()));
  // CLP takes COIN_DBL_MAX as infinity.
  auto fix = [](std::vector<double> v) {
    for (double& x : v) {
      if (x == kInf) x = COIN_DBL_MAX;
      if (x == -kInf) x = -COIN_DBL_MAX;
    }
    return v;
  };
  auto clb = fix(lp.col_lb), cub = fix(lp.col_ub), rlb = fix(lp.row_lb), rub = fix(lp.row_ub);
  model.loadProblem(m, clb.data(), cub.data(), lp.obj.data(), rlb.data(), rub.data());
}

// formatType 1: extra accuracy, so a reader solves the same numbers. CoinMpsIO throws on an
// unwritable path.
Result<bool> write_mps(ClpSimplex& model, const std::string& path) {
  try {
    if (model.writeMps(path.c_str(), 1, 2) == 0) return true;
  } catch (const CoinError& e) {
    return Error{"cannot write MPS file '" + path + "': " + e.message()};
  }
  return Error{"cannot write MPS file '" + path + "'"};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

LpSize lp_size(const Problem& p) {
  // Mirrors build(): the column and row blocks per site and asset, then the coupling.
  const std::size_t T = static_cast<std::size_t>(std::max(p.horizon.steps, 0));
  LpSize n;
  for (const auto& site : p.sites) {
    if (site.excluded) continue;
    n.variables += 4 * T + site.pv.size() * T;
    n.constraints += T;
    for (const auto& b : site.batteries) {
      n.variables += 5 * T + (b.terminal_soc_kwh ? 1 : 0);
      n.constraints += 3 * T + (b.terminal_soc_kwh ? 1 : 0);
    }
    n.variables += 4 * T * site.hvac.size();
    n.constraints += 3 * T * site.hvac.size();
    for (const auto& f : site.flexible) {
      n.variables += T + (terms::shiftable(f) ? 3 * T : 0);
      n.constraints += terms::shiftable(f) ? T : 0;
    }
  }
  for (const auto& c : fleet_cap_kw(p)) {
    n.variables += c ? 1 : 0;
    n.constraints += c ? 1 : 0;
  }
  return n;
}

Result<bool> export_mps(const Problem& problem, const std::string& path) {
  if (auto v = validate(problem); !v) return Error{v.error()};
  Built b = build(problem);
  ClpSimplex model;
  model.setLogLevel(0);
  load(model, b.lp);
  return write_mps(model, path);
}

Result<Plan> solve_clp(const Problem& problem, const ClpOptions& options) {
  if (auto v = validate(problem); !v) return Error{v.error()};
  auto t0 = std::chrono::steady_clock::now();
  Built b = build(problem);
  ClpSimplex model;
  model.setLogLevel(0);
  load(model, b.lp);
  Plan plan;
  plan.stats.build_s = seconds_since(t0);
  plan.stats.variables = b.lp.obj.size();
  plan.stats.constraints = b.lp.row_lb.size();
  assert(plan.stats.variables == lp_size(problem).variables && plan.stats.constraints == lp_size(problem).constraints);
  if (!options.export_mps.empty())
    if (auto w = write_mps(model, options.export_mps); !w) return Error{w.error()};
  if (options.max_seconds > 0) model.setMaximumSeconds(options.max_seconds);

  auto t1 = std::chrono::steady_clock::now();
  if (options.method == ClpMethod::barrier) {
    // Barrier, by default with crossover to a basic solution so duals and setpoints are
    // vertex-exact.
    model.barrier(options.crossover);
    plan.stats.solver = options.crossover ? "clp-barrier" : "clp-barrier-nocross";
  } else {
    model.dual();
    plan.stats.solver = "clp-dual";
  }
  plan.stats.solve_s = seconds_since(t1);
  plan.stats.iterations = model.numberIterations();
  int status = model.status();
  plan.stats.status = status == 0 ? "optimal" : status == 3 ? "time or iteration limit" : "solver status " + std::to_string(status);
  if (status != 0 && status != 3) {
    // The model has soft limits everywhere, so infeasibility means numerical trouble.
    return Error{"CLP failed: " + plan.stats.status};
  }

  const double* x = model.getColSolution();
  const double* y = model.getRowPrice();
  const int T = problem.horizon.steps;
  const double h = problem.horizon.dt_h();
  std::size_t k = 0;
  for (const auto& site : problem.sites) {
    if (site.excluded) {
      plan.excluded_sites.push_back(site.id);
      continue;
    }
    const SiteCols& sc = b.sites[k++];
    SitePlan sp;
    sp.id = site.id;
    auto take = [&](int c0, bool clip_nonneg = true) {
      std::vector<double> v(x + c0, x + c0 + T);
      // Simplex solutions sit on bounds up to ~1e-12; keep physical quantities non-negative.
      if (clip_nonneg)
        for (double& e : v) e = std::max(e, 0.0);
      return v;
    };
    for (std::size_t i = 0; i < site.pv.size(); ++i) sp.pv.push_back({site.pv[i].id, take(sc.pv[i])});
    for (std::size_t i = 0; i < site.batteries.size(); ++i) {
      BatteryPlan bp;
      bp.id = site.batteries[i].id;
      bp.charge_kw = take(sc.bat[i].ch);
      bp.discharge_kw = take(sc.bat[i].dis);
      bp.soc_kwh = take(sc.bat[i].soc);
      sp.batteries.push_back(std::move(bp));
    }
    for (std::size_t i = 0; i < site.hvac.size(); ++i)
      sp.hvac.push_back({site.hvac[i].id, take(sc.zone[i].p), take(sc.zone[i].temp, false)});
    for (std::size_t i = 0; i < site.flexible.size(); ++i) {
      FlexPlan fp;
      fp.id = site.flexible[i].id;
      fp.curtail_kw = take(sc.flex[i].cur);
      if (sc.flex[i].def >= 0) {
        fp.defer_kw = take(sc.flex[i].def);
        fp.recover_kw = take(sc.flex[i].rec);
        fp.backlog_kwh = take(sc.flex[i].backlog);
      } else {
        fp.defer_kw.assign(T, 0.0);
        fp.recover_kw.assign(T, 0.0);
        fp.backlog_kwh.assign(T, terms::backlog_initial(site.flexible[i]));
      }
      sp.flexible.push_back(std::move(fp));
    }
    plan.sites.push_back(std::move(sp));
  }
  plan.coordination_price_per_kwh.assign(T, 0.0);
  // Row duals are d(objective)/d(rhs): raising the ceiling by 1 kW lowers cost, so the dual is
  // <= 0; per kWh of the interval it is -dual / dt_h.
  for (int t = 0; t < T; ++t)
    if (b.coupling_row[t] >= 0) plan.coordination_price_per_kwh[t] = std::max(0.0, -y[b.coupling_row[t]] / h);
  plan.messages = diagnose(problem);
  finalize_plan(problem, plan);
  plan.stats.lower_bound = model.objectiveValue();
  plan.stats.duality_gap = 0;
  return plan;
}

}  // namespace vpp::optimizer
