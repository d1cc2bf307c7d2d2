// Price-coordinated decomposition of the fleet LP.
//
// Outer loop: a price lambda_t >= 0 (currency/kWh) on each interval's fleet ceiling decouples the
// sites. Each site then minimises its own cost plus lambda_t * dt_h * import_t; the sum of those
// minima minus dt_h * sum_t lambda_t * cap_t is the Lagrangian dual value, a lower bound on the
// fleet optimum (weak duality), and each site's answer is a plan that satisfies every site
// constraint, so its cost plus the shortfall penalty is an upper bound. Prices move by adaptive
// subgradient steps (one step size per interval, grown while the residual keeps its sign, halved
// when it flips) until the gap closes; the best plan found is returned.
//
// Site subproblem: per interval, PV curtailment, flexible-load shedding and the site's import/
// export tariff with soft limits fold into one convex piecewise-linear cost H_t(z) of the site's
// consumption z before PV and shedding (an infimal convolution: merge of slope-sorted segments).
// Each state chain (battery SoC, zone temperature, flexible-load backlog) is then a 1-D LP
//   min sum_t C_t(u_t) + pen_t(s_t+1),  s_t+1 = a_t s_t + b_t + u_t
// solved exactly by dynamic programming on convex piecewise-linear value functions: the value
// function is kept as a start point, its value there and its segments sorted by slope; an affine
// state map scales them, adding the control cost is a merge, and state penalties and hard bounds
// split and clip segments. Backtracking re-merges to split each optimal state into (state, control).
// Several chains on one site are coordinated by block-coordinate descent (each chain re-solved
// against the others' power) until the site cost stops falling.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>

#include "optimizer/solvers.hpp"
#include "optimizer/terms.hpp"

namespace vpp::optimizer {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Seg {
  double len;
  double slope;
};

// Segment of an interval cost H_t: tag -1 = net import, 0.. = PV asset, 1000+j = shedding of load j.
struct TSeg {
  double len;
  double slope;
  int prio;  // tie order: PV first (use free energy), then import, then shedding (costly)
  int tag;
};
constexpr int kNetTag = -1;
constexpr int kShedTag = 1000;

struct IntervalCost {
  double lo = 0, f = 0;
  int begin = 0, count = 0;
};

enum class ChainKind { battery, hvac, shift };
struct ChainRef {
  ChainKind kind;
  int index;
};

// One state chain's data for one DP solve.
struct Chain {
  double s0 = 0, hard_lo = -kInf, hard_hi = kInf;
  std::vector<double> a, b, kpos, kneg, pmin, pmax, soft_lo, soft_hi;
  double pen_lo = 0, pen_hi = 0;    // per unit of state below/above the soft bounds, per interval
  double extra_neg = 0;             // extra cost slope on p < 0 (battery cycling), per kW
  double term_lo = -kInf, term_lo_pen = 0;  // terminal: s_T >= term_lo, else penalty per unit
  double term_hi = kInf, term_hi_pen = 0;   // terminal: s_T <= term_hi, else penalty per unit
};

double chain_penalty(const Chain& c, const std::vector<double>& s, int T) {
  double v = 0;
  for (int t = 0; t < T; ++t) {
    v += c.pen_lo * std::max(0.0, c.soft_lo[t] - s[t]) + c.pen_hi * std::max(0.0, s[t] - c.soft_hi[t]);
  }
  v += c.term_lo_pen * std::max(0.0, c.term_lo - s[T - 1]) + c.term_hi_pen * std::max(0.0, s[T - 1] - c.term_hi);
  return v;
}

double u_of_p(const Chain& c, int t, double p) { return p >= 0 ? c.kpos[t] * p : c.kneg[t] * p; }
double p_of_u(const Chain& c, int t, double u) {
  // u and p have the sign of k on each side (k does not change sign across p = 0).
  bool positive_side = c.kpos[t] > 0 ? u >= 0 : u <= 0;
  double k = positive_side ? c.kpos[t] : c.kneg[t];
  if (k == 0) return 0;
  return std::clamp(u / k, c.pmin[t], c.pmax[t]);
}

// Per-thread scratch and the site algorithm.
class SiteSolver {
 public:
  // Solves one site at prices lam (currency/kWh, per interval). p holds the chains' power
  // (warm start in, result out, chain-major). Returns the site's Lagrangian value; x gets the net
  // import per interval.
  double solve(const Problem& pr, const SiteProblem& site, const std::vector<double>& lam, std::vector<double>& p,
               std::vector<double>& x) {
    setup(pr, site, lam);
    const int n = static_cast<int>(chains_.size());
    p.resize(static_cast<std::size_t>(n) * T_, 0.0);
    // Block-coordinate descent over the site's chains: a chain is re-solved only when another
    // chain's power changed after its last solve, so a single chain is solved once and sites
    // whose chains do not interact stop after one confirming solve.
    changed_at_.assign(n, 0);
    solved_at_.assign(n, -1);
    int counter = 0;
    for (int sweep = 0; sweep < kMaxRounds; ++sweep) {
      bool any = false;
      for (int c = 0; c < n; ++c) {
        bool stale = solved_at_[c] < 0;
        for (int o = 0; o < n && !stale; ++o) stale = o != c && changed_at_[o] > solved_at_[c];
        if (!stale) continue;
        double* pc = p.data() + static_cast<std::size_t>(c) * T_;
        old_.assign(pc, pc + T_);
        solve_chain(site, c, p);
        solved_at_[c] = ++counter;
        double diff = 0;
        for (int t = 0; t < T_; ++t) diff = std::max(diff, std::abs(pc[t] - old_[t]));
        if (diff > 1e-9) {
          changed_at_[c] = counter;
          any = true;
        }
      }
      if (!any) break;
    }
    const double best = site_value(site, p);
    x.resize(T_);
    for (int t = 0; t < T_; ++t) x[t] = allocate(site, t, z(site, p, t), nullptr, nullptr);
    return best;
  }

  // Cost of given chain powers at prices lam (net import into x): the same value solve() returns
  // for its own answer.
  double evaluate(const Problem& pr, const SiteProblem& site, const std::vector<double>& lam,
                  const std::vector<double>& p, std::vector<double>& x) {
    setup(pr, site, lam);
    x.resize(T_);
    for (int t = 0; t < T_; ++t) x[t] = allocate(site, t, z(site, p, t), nullptr, nullptr);
    return site_value(site, p);
  }

  // Fills the site's plan from chain powers at prices lam (the prices pick PV/shedding ties).
  void fill_plan(const Problem& pr, const SiteProblem& site, const std::vector<double>& lam,
                 const std::vector<double>& p, SitePlan& sp) {
    setup(pr, site, lam);
    sp.id = site.id;
    sp.pv.resize(site.pv.size());
    sp.batteries.resize(site.batteries.size());
    sp.hvac.resize(site.hvac.size());
    sp.flexible.resize(site.flexible.size());
    for (std::size_t i = 0; i < site.pv.size(); ++i) {
      sp.pv[i].id = site.pv[i].id;
      sp.pv[i].limit_kw.assign(T_, 0.0);
    }
    for (std::size_t i = 0; i < site.flexible.size(); ++i) {
      auto& fp = sp.flexible[i];
      fp.id = site.flexible[i].id;
      fp.curtail_kw.assign(T_, 0.0);
      fp.defer_kw.assign(T_, 0.0);
      fp.recover_kw.assign(T_, 0.0);
      fp.backlog_kwh.assign(T_, terms::backlog_initial(site.flexible[i]));
    }
    std::vector<double> pv(site.pv.size()), shed(site.flexible.size());
    for (int t = 0; t < T_; ++t) {
      allocate(site, t, z(site, p, t), &pv, &shed);
      for (std::size_t i = 0; i < pv.size(); ++i) sp.pv[i].limit_kw[t] = pv[i];
      for (std::size_t i = 0; i < shed.size(); ++i) sp.flexible[i].curtail_kw[t] = shed[i];
    }
    std::vector<double> s;
    for (std::size_t c = 0; c < chains_.size(); ++c) {
      const ChainRef& ref = refs_[c];
      build_chain(site, static_cast<int>(c));
      const double* pc = p.data() + c * T_;
      trajectory(chain_, pc, s);
      if (ref.kind == ChainKind::battery) {
        auto& bp = sp.batteries[ref.index];
        bp.id = site.batteries[ref.index].id;
        bp.charge_kw.resize(T_);
        bp.discharge_kw.resize(T_);
        for (int t = 0; t < T_; ++t) {
          bp.charge_kw[t] = std::max(pc[t], 0.0);
          bp.discharge_kw[t] = std::max(-pc[t], 0.0);
        }
        bp.soc_kwh = s;
      } else if (ref.kind == ChainKind::hvac) {
        auto& hp = sp.hvac[ref.index];
        hp.id = site.hvac[ref.index].id;
        hp.electric_kw.assign(pc, pc + T_);
        hp.temp_c = s;
      } else {
        auto& fp = sp.flexible[ref.index];
        for (int t = 0; t < T_; ++t) {
          fp.recover_kw[t] = std::max(pc[t], 0.0);
          fp.defer_kw[t] = std::max(-pc[t], 0.0);
        }
        fp.backlog_kwh = s;
      }
    }
  }

 private:
  static constexpr int kMaxRounds = 6;

  void setup(const Problem& pr, const SiteProblem& site, const std::vector<double>& lam) {
    pr_ = &pr;
    T_ = pr.horizon.steps;
    h_ = pr.horizon.dt_h();
    refs_.clear();
    for (std::size_t i = 0; i < site.batteries.size(); ++i) refs_.push_back({ChainKind::battery, static_cast<int>(i)});
    for (std::size_t i = 0; i < site.hvac.size(); ++i) refs_.push_back({ChainKind::hvac, static_cast<int>(i)});
    for (std::size_t i = 0; i < site.flexible.size(); ++i)
      if (terms::shiftable(site.flexible[i])) refs_.push_back({ChainKind::shift, static_cast<int>(i)});
    chains_.assign(refs_.size(), 0);
    zbase_.resize(T_);
    for (int t = 0; t < T_; ++t) {
      double zb = site.base_load_kw[t];
      for (const auto& f : site.flexible) zb += f.power_kw[t];
      zbase_[t] = zb;
    }
    build_interval_costs(site, lam);
  }

  // H_t(z) = min over PV use w_i in [0, avail_i] and shedding c_j in [0, cmax_j] of
  //   phi_t(z - sum w - sum c) + sum kappa_j h c_j,
  // phi_t(x) = h (import cost + lam) x for x >= 0, h (export price + lam) x for x < 0, plus the
  // limit penalty beyond the site's import/export limits.
  void build_interval_costs(const SiteProblem& site, const std::vector<double>& lam) {
    const auto& g = pr_->signals;
    hsegs_.clear();
    hcost_.resize(T_);
    const double I = site.import_limit_kw, E = site.export_limit_kw, Ml = site.limit_penalty_per_kwh * h_;
    for (int t = 0; t < T_; ++t) {
      const bool avail = terms::available(site, t);
      double pe = (g.export_price[t] + lam[t]) * h_, pi = (terms::import_cost(g, t) + lam[t]) * h_;
      // Domain of x: wide enough for any combination of setpoints, and containing -E, 0 and I.
      double xlo = zbase_[t], xhi = zbase_[t];
      for (const auto& pv : site.pv) xlo -= terms::pv_available(pv, t);
      for (const auto& b : site.batteries) {
        xlo -= b.max_discharge_kw;
        xhi += b.max_charge_kw;
      }
      for (const auto& z : site.hvac) xhi += z.max_electric_kw;
      for (const auto& f : site.flexible) {
        xlo -= terms::curtail_max(f, t) + terms::defer_max(f, t);
        xhi += terms::recover_max(f);
      }
      double Lx = std::min({xlo, std::isfinite(E) ? -E : 0.0, 0.0}) - 1.0;
      double Ux = std::max({xhi, std::isfinite(I) ? I : 0.0, 0.0}) + 1.0;
      IntervalCost& ic = hcost_[t];
      ic.lo = Lx;
      ic.f = pe * Lx + (std::isfinite(E) ? Ml * std::max(0.0, -Lx - E) : 0.0);
      ic.begin = static_cast<int>(hsegs_.size());
      if (std::isfinite(E)) {
        hsegs_.push_back({-E - Lx, pe - Ml, 1, kNetTag});
        if (E > 0) hsegs_.push_back({E, pe, 1, kNetTag});
      } else {
        hsegs_.push_back({-Lx, pe, 1, kNetTag});
      }
      if (std::isfinite(I)) {
        if (I > 0) hsegs_.push_back({I, pi, 1, kNetTag});
        hsegs_.push_back({Ux - I, pi + Ml, 1, kNetTag});
      } else {
        hsegs_.push_back({Ux, pi, 1, kNetTag});
      }
      for (std::size_t i = 0; i < site.pv.size(); ++i) {
        double a = terms::pv_available(site.pv[i], t);
        if (a > 0) hsegs_.push_back({a, 0.0, 0, static_cast<int>(i)});
      }
      if (avail) {
        for (std::size_t j = 0; j < site.flexible.size(); ++j) {
          double cm = terms::curtail_max(site.flexible[j], t);
          if (cm > 0)
            hsegs_.push_back({cm, site.flexible[j].curtail_cost_per_kwh * h_, 2, kShedTag + static_cast<int>(j)});
        }
      }
      ic.count = static_cast<int>(hsegs_.size()) - ic.begin;
      std::sort(hsegs_.begin() + ic.begin, hsegs_.end(), [](const TSeg& l, const TSeg& r) {
        if (l.slope != r.slope) return l.slope < r.slope;
        if (l.prio != r.prio) return l.prio < r.prio;
        return l.tag < r.tag;
      });
    }
  }

  double h_value(int t, double zz) const {
    const IntervalCost& ic = hcost_[t];
    double pos = ic.lo, v = ic.f;
    for (int i = 0; i < ic.count; ++i) {
      const TSeg& s = hsegs_[ic.begin + i];
      double take = std::min(s.len, std::max(0.0, zz - pos));
      v += take * s.slope;
      pos += s.len;
      if (pos >= zz) break;
    }
    return v;
  }

  // Splits z into net import, PV use per asset and shedding per load; returns net import.
  double allocate(const SiteProblem& site, int t, double zz, std::vector<double>* pv, std::vector<double>* shed) const {
    const IntervalCost& ic = hcost_[t];
    if (pv) std::fill(pv->begin(), pv->end(), 0.0);
    if (shed) std::fill(shed->begin(), shed->end(), 0.0);
    double pos = ic.lo, x = ic.lo;
    for (int i = 0; i < ic.count && pos < zz; ++i) {
      const TSeg& s = hsegs_[ic.begin + i];
      double take = std::min(s.len, zz - pos);
      pos += take;
      if (s.tag == kNetTag) {
        x += take;
      } else if (s.tag >= kShedTag) {
        if (shed) (*shed)[s.tag - kShedTag] = take;
      } else if (pv) {
        (*pv)[s.tag] = take;
      }
    }
    (void)site;
    return x;
  }

  double z(const SiteProblem&, const std::vector<double>& p, int t) const {
    double zz = zbase_[t];
    for (std::size_t c = 0; c < chains_.size(); ++c) zz += p[c * T_ + t];
    return zz;
  }

  double site_value(const SiteProblem& site, const std::vector<double>& p) {
    double v = 0;
    for (int t = 0; t < T_; ++t) v += h_value(t, z(site, p, t));
    for (std::size_t c = 0; c < chains_.size(); ++c) {
      build_chain(site, static_cast<int>(c));
      trajectory(chain_, p.data() + c * T_, traj_);
      v += chain_penalty(chain_, traj_, T_) + chain_control_extra(chain_, p.data() + c * T_);
    }
    return v;
  }

  double chain_control_extra(const Chain& c, const double* pc) const {
    double v = 0;
    for (int t = 0; t < T_; ++t)
      if (pc[t] < 0) v += c.extra_neg * pc[t];
    return v;
  }

  void trajectory(const Chain& c, const double* pc, std::vector<double>& s) const {
    s.resize(T_);
    double cur = c.s0;
    for (int t = 0; t < T_; ++t) {
      cur = c.a[t] * cur + c.b[t] + u_of_p(c, t, pc[t]);
      // Hard bounds hold in exact arithmetic; this removes rounding only.
      cur = std::clamp(cur, c.hard_lo, c.hard_hi);
      s[t] = cur;
    }
  }

  void build_chain(const SiteProblem& site, int ci) {
    const ChainRef& ref = refs_[ci];
    Chain& c = chain_;
    c.a.resize(T_);
    c.b.assign(T_, 0.0);
    c.kpos.resize(T_);
    c.kneg.resize(T_);
    c.pmin.resize(T_);
    c.pmax.resize(T_);
    c.soft_lo.resize(T_);
    c.soft_hi.resize(T_);
    c.extra_neg = 0;
    c.term_lo = -kInf;
    c.term_lo_pen = 0;
    c.term_hi = kInf;
    c.term_hi_pen = 0;
    if (ref.kind == ChainKind::battery) {
      const auto& b = site.batteries[ref.index];
      double a = terms::battery_decay(b, h_);
      c.s0 = terms::battery_initial(b);
      c.hard_lo = 0;
      c.hard_hi = b.capacity_kwh;
      c.pen_lo = c.pen_hi = b.soc_penalty_per_kwh_h * h_;
      c.extra_neg = -b.cycle_cost_per_kwh * h_;
      if (b.terminal_soc_kwh) {
        c.term_lo = *b.terminal_soc_kwh;
        c.term_lo_pen = b.terminal_penalty_per_kwh;
      }
      for (int t = 0; t < T_; ++t) {
        bool av = terms::available(site, t);
        c.a[t] = a;
        c.kpos[t] = h_ * b.charge_efficiency;
        c.kneg[t] = h_ / b.discharge_efficiency;
        c.pmin[t] = av ? -b.max_discharge_kw : 0.0;
        c.pmax[t] = av ? b.max_charge_kw : 0.0;
        c.soft_lo[t] = terms::battery_soft_lo(b);
        c.soft_hi[t] = terms::battery_soft_hi(b);
      }
    } else if (ref.kind == ChainKind::hvac) {
      const auto& zn = site.hvac[ref.index];
      double a = terms::hvac_decay(zn, h_);
      c.s0 = zn.temp_c;
      c.hard_lo = -kInf;
      c.hard_hi = kInf;
      c.pen_lo = c.pen_hi = zn.discomfort_penalty_per_kh * h_;
      for (int t = 0; t < T_; ++t) {
        c.a[t] = a;
        c.b[t] = terms::hvac_drift(zn, a, t);
        c.kpos[t] = c.kneg[t] = terms::hvac_gain(zn, a, t);
        c.pmin[t] = 0;
        c.pmax[t] = zn.max_electric_at(t);
        c.soft_lo[t] = zn.comfort_min_c[t];
        c.soft_hi[t] = zn.comfort_max_c[t];
      }
    } else {
      const auto& f = site.flexible[ref.index];
      c.s0 = terms::backlog_initial(f);
      c.hard_lo = 0;
      c.hard_hi = f.shift_max_kwh;
      c.pen_lo = c.pen_hi = 0;
      c.term_hi = 0;
      c.term_hi_pen = f.backlog_penalty_per_kwh;
      for (int t = 0; t < T_; ++t) {
        bool av = terms::available(site, t);
        c.a[t] = 1;
        // p = recover - defer; the backlog grows by h per kW deferred.
        c.kpos[t] = c.kneg[t] = -h_;
        c.pmin[t] = av ? -terms::defer_max(f, t) : 0.0;
        c.pmax[t] = av ? terms::recover_max(f) : 0.0;
        c.soft_lo[t] = -kInf;
        c.soft_hi[t] = kInf;
      }
    }
  }

  // Control cost C_t(u) of chain c at interval t with the other chains' power fixed: the window
  // of H_t over p in [pmin, pmax] around z0, mapped through u = k p. Appends to cseg_.
  void control_cost(int t, double z0, double& lo_u, double& f_u) {
    const Chain& c = chain_;
    const IntervalCost& ic = hcost_[t];
    const double pmin = c.pmin[t], pmax = c.pmax[t];
    pieces_.clear();
    // Walk H_t to z0 + pmin, then collect pieces up to z0 + pmax, split at p = 0.
    double pos = ic.lo, val = ic.f;
    const double zs = z0 + pmin, ze = z0 + pmax;
    double v_start = 0;
    bool have_start = false;
    for (int i = 0; i < ic.count; ++i) {
      const TSeg& s = hsegs_[ic.begin + i];
      double a0 = pos, a1 = pos + s.len;
      if (!have_start && a1 >= zs) {
        v_start = val + (zs - a0) * s.slope;
        have_start = true;
      }
      double lo = std::max(a0, zs), hi = std::min(a1, ze);
      if (hi > lo) {
        if (lo < z0 && hi > z0) {
          pieces_.push_back({z0 - lo, s.slope});
          pieces_.push_back({hi - z0, s.slope});
          piece_neg_.push_back(true);
          piece_neg_.push_back(false);
        } else {
          pieces_.push_back({hi - lo, s.slope});
          piece_neg_.push_back(hi <= z0);
        }
      }
      val += s.len * s.slope;
      pos = a1;
      if (pos >= ze) break;
    }
    if (!have_start) v_start = val;  // z beyond the domain cannot happen; keep it finite anyway
    // Map pieces (ascending p) to u segments.
    const double kp = c.kpos[t], kn = c.kneg[t];
    const bool increasing = kp > 0;
    double psum_cost = v_start;  // psi(pmin) + extra(pmin)
    if (pmin < 0) psum_cost += c.extra_neg * pmin;
    std::size_t first = cseg_.size();
    double cost_total_delta = 0;
    for (std::size_t i = 0; i < pieces_.size(); ++i) {
      bool neg = piece_neg_[i];
      double k = neg ? kn : kp;
      double g = pieces_[i].slope + (neg ? c.extra_neg : 0.0);
      cost_total_delta += g * pieces_[i].len;
      if (k == 0) continue;
      cseg_.push_back({std::abs(k) * pieces_[i].len, g / k});
    }
    piece_neg_.clear();
    if (increasing) {
      lo_u = u_of_p(c, t, pmin);
      f_u = psum_cost;
    } else {
      lo_u = u_of_p(c, t, pmax);
      f_u = psum_cost + cost_total_delta;
      std::reverse(cseg_.begin() + first, cseg_.end());
    }
    // Convex in all but degenerate price cases (negative marginal prices make simultaneous
    // charge/discharge attractive); sorting then yields the convex rearrangement, as the LP's
    // relaxation does.
    if (!std::is_sorted(cseg_.begin() + first, cseg_.end(),
                        [](const Seg& l, const Seg& r) { return l.slope < r.slope; }))
      std::stable_sort(cseg_.begin() + first, cseg_.end(), [](const Seg& l, const Seg& r) { return l.slope < r.slope; });
  }

  // Solves chain ci against the others' power in p; writes its power back into p.
  void solve_chain(const SiteProblem& site, int ci, std::vector<double>& p) {
    build_chain(site, ci);
    const Chain& c = chain_;
    const int T = T_;
    vstore_.clear();
    cseg_.clear();
    voff_.resize(T + 1);
    vlo_.resize(T + 1);
    vf_.resize(T + 1);
    coff_.resize(T + 1);
    clo_.resize(T);
    cf_.resize(T);
    voff_[0] = 0;
    vlo_[0] = c.s0;
    vf_[0] = 0;
    for (int t = 0; t < T; ++t) {
      double z0 = zbase_[t];
      for (std::size_t o = 0; o < chains_.size(); ++o)
        if (static_cast<int>(o) != ci) z0 += p[o * T + t];
      coff_[t] = static_cast<int>(cseg_.size());
      control_cost(t, z0, clo_[t], cf_[t]);
      coff_[t + 1] = static_cast<int>(cseg_.size());
      // Merge affine(V_t) with C_t, streamed into the penalty pass below.
      const double a = c.a[t];
      const double inv_a = 1.0 / a;
      const int ve = static_cast<int>(vstore_.size());
      int mi = voff_[t], mj = coff_[t];
      const int je = coff_[t + 1];
      double lo = a * vlo_[t] + c.b[t] + clo_[t];
      double f = vf_[t] + cf_[t];
      // State penalties on s_t+1 and hard bounds.
      bp_.clear();
      double m0 = 0;  // penalty slope left of all breakpoints
      if (c.pen_lo > 0 && std::isfinite(c.soft_lo[t])) {
        m0 -= c.pen_lo;
        bp_.push_back({c.soft_lo[t], c.pen_lo});
      }
      if (c.pen_hi > 0 && std::isfinite(c.soft_hi[t])) bp_.push_back({c.soft_hi[t], c.pen_hi});
      if (t == T - 1) {
        if (c.term_lo_pen > 0 && std::isfinite(c.term_lo)) {
          m0 -= c.term_lo_pen;
          bp_.push_back({c.term_lo, c.term_lo_pen});
        }
        if (c.term_hi_pen > 0 && std::isfinite(c.term_hi)) bp_.push_back({c.term_hi, c.term_hi_pen});
      }
      std::sort(bp_.begin(), bp_.end(), [](const Seg& l, const Seg& r) { return l.len < r.len; });
      // Penalty value at lo.
      double pen_at_lo = 0;
      {
        pen_at_lo += c.pen_lo > 0 && std::isfinite(c.soft_lo[t]) ? c.pen_lo * std::max(0.0, c.soft_lo[t] - lo) : 0.0;
        pen_at_lo += c.pen_hi > 0 && std::isfinite(c.soft_hi[t]) ? c.pen_hi * std::max(0.0, lo - c.soft_hi[t]) : 0.0;
        if (t == T - 1) {
          pen_at_lo += c.term_lo_pen * (std::isfinite(c.term_lo) ? std::max(0.0, c.term_lo - lo) : 0.0);
          pen_at_lo += c.term_hi_pen * (std::isfinite(c.term_hi) ? std::max(0.0, lo - c.term_hi) : 0.0);
        }
      }
      f += pen_at_lo;
      // Walk, splitting at breakpoints; clip to [hard_lo, hard_hi].
      int out_begin = static_cast<int>(vstore_.size());
      double pos = lo;
      std::size_t k = 0;
      double extra = m0;
      while (k < bp_.size() && bp_[k].len <= pos) extra += bp_[k++].slope;
      double new_lo = std::max(lo, c.hard_lo);
      double new_f = f;
      bool started = lo >= c.hard_lo;
      auto emit = [&](double len, double slope) {
        if (len <= 0) return;
        if (!vstore_.empty() && static_cast<int>(vstore_.size()) > out_begin &&
            std::abs(vstore_.back().slope - slope) <= 1e-12 * (1.0 + std::abs(slope))) {
          vstore_.back().len += len;
        } else {
          vstore_.push_back({len, slope});
        }
      };
      while (mi < ve || mj < je) {
        Seg sgm;
        if (mj >= je || (mi < ve && vstore_[mi].slope * inv_a <= cseg_[mj].slope)) {
          sgm = {vstore_[mi].len * a, vstore_[mi].slope * inv_a};
          ++mi;
        } else {
          sgm = cseg_[mj++];
        }
        double rem = sgm.len;
        while (rem > 0) {
          const double end = pos + rem;
          // Cut exactly at the next breakpoint so that positions never drift past one.
          const double cut = (k < bp_.size() && bp_[k].len < end) ? bp_[k].len : end;
          const double piece = cut - pos;
          const double slope = sgm.slope + extra;
          // Clip: the part left of hard_lo only moves the start value.
          double a0 = pos;
          const double a1 = cut;
          if (a1 <= c.hard_lo) {
            new_f += slope * piece;
          } else {
            if (a0 < c.hard_lo) {
              new_f += slope * (c.hard_lo - a0);
              a0 = c.hard_lo;
            }
            started = true;
            double b1 = std::min(a1, c.hard_hi);
            if (b1 > a0) emit(b1 - a0, slope);
          }
          pos = cut;
          rem = end - cut;
          while (k < bp_.size() && bp_[k].len <= pos) extra += bp_[k++].slope;
          if (pos >= c.hard_hi) rem = 0;
        }
        if (pos >= c.hard_hi) break;
      }
      if (!started) {
        // The reachable range lies entirely below hard_lo (cannot happen for a state that starts
        // inside its hard range and may idle); keep a one-point domain at the top.
        new_lo = pos;
      }
      voff_[t + 1] = out_begin;
      vlo_[t + 1] = new_lo;
      vf_[t + 1] = new_f;
    }
    // Argmin of V_T: leftmost point where the slope turns non-negative.
    double s = vlo_[T];
    for (int i = voff_[T]; i < static_cast<int>(vstore_.size()); ++i) {
      if (vstore_[i].slope >= 0) break;
      s += vstore_[i].len;
    }
    // Backtrack.
    double* pc = p.data() + static_cast<std::size_t>(ci) * T;
    for (int t = T - 1; t >= 0; --t) {
      const double a = c.a[t];
      const double inv_a = 1.0 / a;
      const double lo_w = a * vlo_[t] + c.b[t];
      double d = s - (lo_w + clo_[t]);
      int i = voff_[t], j = coff_[t];
      const int ve = voff_[t + 1], je = coff_[t + 1];
      double used_v = 0, used_c = 0;
      while (d > 0 && (i < ve || j < je)) {
        bool take_v;
        if (i >= ve) take_v = false;
        else if (j >= je) take_v = true;
        else take_v = vstore_[i].slope * inv_a <= cseg_[j].slope;
        double len = take_v ? vstore_[i].len * a : cseg_[j].len;
        double take = std::min(len, d);
        if (take_v) {
          used_v += take;
          ++i;
        } else {
          used_c += take;
          ++j;
        }
        d -= take;
      }
      double u = clo_[t] + used_c;
      pc[t] = p_of_u(c, t, u);
      s = vlo_[t] + used_v / a;
    }
  }

  const Problem* pr_ = nullptr;
  int T_ = 0;
  double h_ = 0;
  std::vector<ChainRef> refs_;
  std::vector<int> chains_;
  std::vector<double> zbase_;
  std::vector<TSeg> hsegs_;
  std::vector<IntervalCost> hcost_;
  Chain chain_;
  std::vector<double> traj_;
  std::vector<Seg> pieces_, cseg_, vstore_, bp_;
  std::vector<bool> piece_neg_;
  std::vector<int> changed_at_, solved_at_;
  std::vector<double> old_;
  std::vector<int> voff_, coff_;
  std::vector<double> vlo_, vf_, clo_, cf_;
};

// Runs fn(site_index, solver) for every active site on a fixed pool; results must go to
// per-site slots so that the outcome does not depend on the thread count or timing.
template <typename Fn>
void parallel_sites(std::size_t n, int threads, std::vector<SiteSolver>& solvers, Fn fn) {
  std::atomic<std::size_t> next{0};
  constexpr std::size_t kChunk = 32;
  auto work = [&](int w) {
    for (;;) {
      std::size_t b = next.fetch_add(kChunk);
      if (b >= n) return;
      std::size_t e = std::min(n, b + kChunk);
      for (std::size_t i = b; i < e; ++i) fn(i, solvers[w]);
    }
  };
  if (threads <= 1) {
    work(0);
    return;
  }
  std::vector<std::thread> pool;
  for (int w = 1; w < threads; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& th : pool) th.join();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Feasibility repair of the fleet coupling (and trim of overshoot, see below): in each interval
// still above its ceiling, take extra
// reduction from per-interval headroom in merit order (cheapest model cost per kW first) while it
// costs less than the shortfall penalty: shedding of flexible loads, and batteries that can give
// up charging or discharge more without any later SoC falling below its soft lower bound or the
// terminal target. Site imports are not pushed below zero, so export prices and limits never
// enter. Every change keeps every site constraint satisfied exactly.
void repair_shortfall(const Problem& problem, const std::vector<const SiteProblem*>& active, Plan& plan) {
  const int T = problem.horizon.steps;
  const double h = problem.horizon.dt_h();
  const auto& g = problem.signals;
  const double penalty = h * g.shortfall_penalty_per_kwh;
  struct Move {
    double cost;  // model cost per kW of reduction over the interval
    std::size_t site;
    int kind;     // 0 = shed, 1 = battery, 2 = deferral, 3 = HVAC (cost at the margin), 4 = re-timing
    int asset;
  };
  std::vector<Move> moves;
  // Re-timing a battery's discharge: discharge more at t, less at another interval u whose energy
  // is cheaper, keeping every SoC between them inside its soft band (the SoC after both is
  // unchanged). Prices that tie many intervals (a flat peak band) leave the price-coordinated
  // iterate with discharge in the wrong ones at no cost difference; this move fixes that.
  struct Retime {
    int u = -1;
    double max_kw = 0, cost = 0;
  };
  auto best_retime = [&](const SiteProblem& site, const SitePlan& sp, int j, int t) {
    const auto& b = site.batteries[j];
    const auto& bp = sp.batteries[j];
    Retime best;
    if (b.self_discharge_per_h > 0) return best;  // SoC shifts would decay; not worth the care
    const double lo = std::max(terms::battery_soft_lo(b), 0.0), hi = std::min(terms::battery_soft_hi(b), b.capacity_kwh);
    const double room_dis = b.max_discharge_kw - bp.discharge_kw[t];
    if (room_dis <= 1e-9 || bp.charge_kw[t] > 1e-9) return best;
    auto consider_u = [&](int u, double margin_kwh) {
      if (bp.discharge_kw[u] <= 1e-9 || margin_kwh <= 1e-9) return;
      double kw = std::min({room_dis, bp.discharge_kw[u], margin_kwh * b.discharge_efficiency / h});
      if (plan.fleet_cap_kw[u]) kw = std::min(kw, *plan.fleet_cap_kw[u] - plan.fleet_import_kw[u]);
      if (std::isfinite(site.import_limit_kw)) kw = std::min(kw, site.import_limit_kw - sp.import_kw[u]);
      if (kw <= 1e-9) return;
      double cost = h * terms::import_cost(g, u);
      if (best.u < 0 || cost < best.cost) best = {u, kw, cost};
    };
    double margin = kInf;  // later u: SoC in [t, u) falls by the moved energy
    for (int u = t + 1; u < T; ++u) {
      margin = std::min(margin, bp.soc_kwh[u - 1] - std::min(bp.soc_kwh[u - 1], lo));
      consider_u(u, margin);
    }
    margin = kInf;  // earlier u: SoC in [u, t) rises by it
    for (int u = t - 1; u >= 0; --u) {
      margin = std::min(margin, std::max(bp.soc_kwh[u], hi) - bp.soc_kwh[u]);
      consider_u(u, margin);
    }
    return best;
  };
  for (int t = 0; t < T; ++t) {
    if (!plan.fleet_cap_kw[t]) continue;
    double need = plan.fleet_import_kw[t] - *plan.fleet_cap_kw[t];
    const double saving = h * terms::import_cost(g, t);
    if (need < -1e-9) {
      // Overshoot: prices that made many sites shed at once can leave the fleet below its
      // ceiling; give back the shedding that costs more than the energy it saves, dearest first.
      moves.clear();
      for (std::size_t i = 0; i < active.size(); ++i)
        for (std::size_t j = 0; j < active[i]->flexible.size(); ++j) {
          double c = h * active[i]->flexible[j].curtail_cost_per_kwh - saving;
          if (c > 0 && plan.sites[i].flexible[j].curtail_kw[t] > 0) moves.push_back({-c, i, 0, static_cast<int>(j)});
        }
      std::stable_sort(moves.begin(), moves.end(), [](const Move& a, const Move& b) { return a.cost < b.cost; });
      double slack = -need;
      for (const Move& m : moves) {
        if (slack <= 1e-9) break;
        auto& fp = plan.sites[m.site].flexible[m.asset];
        double give = std::min(slack, fp.curtail_kw[t]);
        fp.curtail_kw[t] -= give;
        plan.sites[m.site].import_kw[t] += give;
        plan.fleet_import_kw[t] += give;
        slack -= give;
      }
      continue;
    }
    if (need <= 1e-9) continue;
    moves.clear();
    for (std::size_t i = 0; i < active.size(); ++i) {
      const SiteProblem& site = *active[i];
      if (!terms::available(site, t)) continue;
      for (std::size_t j = 0; j < site.flexible.size(); ++j)
        moves.push_back({h * site.flexible[j].curtail_cost_per_kwh - saving, i, 0, static_cast<int>(j)});
      for (std::size_t j = 0; j < site.batteries.size(); ++j)
        moves.push_back({h * site.batteries[j].cycle_cost_per_kwh - saving, i, 1, static_cast<int>(j)});
      for (std::size_t j = 0; j < site.flexible.size(); ++j)
        if (terms::shiftable(site.flexible[j]))
          moves.push_back({h * site.flexible[j].backlog_penalty_per_kwh - saving, i, 2, static_cast<int>(j)});
      for (std::size_t j = 0; j < site.hvac.size(); ++j) {
        // Marginal discomfort of one kW less now: the temperature rise decays by a per interval
        // and costs wherever the zone sits at or above its band.
        const auto& z = site.hvac[j];
        const auto& zp = plan.sites[i].hvac[j];
        const double a = terms::hvac_decay(z, h);
        double rise = std::abs(terms::hvac_gain(z, a, t)), marginal = 0;
        for (int k = t; k < T; ++k, rise *= a)
          if (zp.temp_c[k] >= z.comfort_max_c[k] - 1e-9) marginal += h * z.discomfort_penalty_per_kh * rise;
        if (z.mode == HvacMode::cooling) moves.push_back({marginal - saving, i, 3, static_cast<int>(j)});
      }
      for (std::size_t j = 0; j < site.batteries.size(); ++j) {
        Retime r = best_retime(site, plan.sites[i], static_cast<int>(j), t);
        if (r.u >= 0) moves.push_back({r.cost - saving, i, 4, static_cast<int>(j)});
      }
    }
    std::stable_sort(moves.begin(), moves.end(), [](const Move& a, const Move& b) { return a.cost < b.cost; });
    for (const Move& m : moves) {
      if (need <= 1e-9 || m.cost >= penalty) break;
      const SiteProblem& site = *active[m.site];
      SitePlan& sp = plan.sites[m.site];
      double room = std::max(0.0, sp.import_kw[t]);  // stay an importer
      if (room <= 0) continue;
      double take = 0;
      if (m.kind == 0) {
        const auto& f = site.flexible[m.asset];
        auto& fp = sp.flexible[m.asset];
        take = std::min({need, room, terms::curtail_max(f, t) - fp.curtail_kw[t]});
        if (take <= 0) continue;
        fp.curtail_kw[t] += take;
      } else if (m.kind == 2) {
        const auto& f = site.flexible[m.asset];
        auto& fp = sp.flexible[m.asset];
        double cap_left = kInf;
        for (int k = t; k < T; ++k) cap_left = std::min(cap_left, f.shift_max_kwh - fp.backlog_kwh[k]);
        take = std::min({need, room, terms::defer_max(f, t) - fp.defer_kw[t], std::max(0.0, cap_left) / h});
        // Deferring while recovering in the same interval is a no-op; only net new deferral counts.
        if (take <= 0) continue;
        fp.defer_kw[t] += take;
        for (int k = t; k < T; ++k) fp.backlog_kwh[k] += take * h;
      } else if (m.kind == 3) {
        const auto& z = site.hvac[m.asset];
        auto& zp = sp.hvac[m.asset];
        const double a = terms::hvac_decay(z, h);
        const double gain = std::abs(terms::hvac_gain(z, a, t));
        auto extra_cost = [&](double d) {
          double c = 0, rise = gain * d;
          for (int k = t; k < T; ++k, rise *= a) {
            double before = std::max(0.0, zp.temp_c[k] - z.comfort_max_c[k]) + std::max(0.0, z.comfort_min_c[k] - zp.temp_c[k]);
            double tk = zp.temp_c[k] + rise;
            double after = std::max(0.0, tk - z.comfort_max_c[k]) + std::max(0.0, z.comfort_min_c[k] - tk);
            c += h * z.discomfort_penalty_per_kh * (after - before);
          }
          return c;
        };
        double d = std::min({need, room, zp.electric_kw[t]});
        // Whole step if it pays, else smaller ones (the cost is convex in the step).
        while (d > 1e-6 && extra_cost(d) - d * saving >= d * penalty) d *= 0.25;
        if (d <= 1e-6) continue;
        take = d;
        zp.electric_kw[t] -= d;
        double rise = gain * d;
        for (int k = t; k < T; ++k, rise *= a) zp.temp_c[k] += rise;
      } else if (m.kind == 4) {
        Retime r = best_retime(site, sp, m.asset, t);
        if (r.u < 0 || r.cost - saving >= penalty) continue;
        const auto& b = site.batteries[m.asset];
        auto& bp = sp.batteries[m.asset];
        take = std::min({need, room, r.max_kw});
        if (take <= 0) continue;
        bp.discharge_kw[t] += take;
        bp.discharge_kw[r.u] -= take;
        const double e = take * h / b.discharge_efficiency;
        if (r.u > t)
          for (int k = t; k < r.u; ++k) bp.soc_kwh[k] -= e;
        else
          for (int k = r.u; k < t; ++k) bp.soc_kwh[k] += e;
        sp.import_kw[r.u] += take;
        plan.fleet_import_kw[r.u] += take;
      } else {
        const auto& b = site.batteries[m.asset];
        auto& bp = sp.batteries[m.asset];
        // Energy the battery can spare from interval t on: every later SoC stays above the soft
        // lower bound (or where it already is, if below) and the terminal target.
        double spare = kInf;
        for (int k = t; k < T; ++k) {
          double floor_k = std::min(bp.soc_kwh[k], std::max(terms::battery_soft_lo(b), 0.0));
          spare = std::min(spare, bp.soc_kwh[k] - floor_k);
        }
        if (b.terminal_soc_kwh) spare = std::min(spare, bp.soc_kwh[T - 1] - std::min(bp.soc_kwh[T - 1], *b.terminal_soc_kwh));
        if (spare <= 0) continue;
        // Give up charging first (each kW spares h * eta_c kWh), then discharge more (h / eta_d).
        double cut = std::min({need, room, bp.charge_kw[t], spare / (h * b.charge_efficiency)});
        double used = cut * h * b.charge_efficiency;
        double more = std::min({need - cut, room - cut, b.max_discharge_kw - bp.discharge_kw[t],
                                (spare - used) * b.discharge_efficiency / h});
        more = std::max(more, 0.0);
        used += more * h / b.discharge_efficiency;
        take = cut + more;
        if (take <= 0) continue;
        bp.charge_kw[t] -= cut;
        bp.discharge_kw[t] += more;
        const double a = terms::battery_decay(b, h);
        double d = used;
        for (int k = t; k < T; ++k) {
          bp.soc_kwh[k] = std::max(0.0, bp.soc_kwh[k] - d);
          d *= a;
        }
      }
      sp.import_kw[t] -= take;
      plan.fleet_import_kw[t] -= take;
      need -= take;
    }
  }
}

}  // namespace

Result<Plan> solve_decomposed(const Problem& problem, const DecomposedOptions& options) {
  if (auto v = validate(problem); !v) return Error{v.error()};
  auto t0 = std::chrono::steady_clock::now();
  const int T = problem.horizon.steps;
  const double h = problem.horizon.dt_h();
  const auto& g = problem.signals;
  std::vector<const SiteProblem*> active;
  Plan plan;
  for (const auto& s : problem.sites) {
    if (s.excluded) plan.excluded_sites.push_back(s.id);
    else active.push_back(&s);
  }
  const std::size_t n = active.size();
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<std::size_t>(threads, std::max<std::size_t>(1, n / 32 + 1)));
  std::vector<SiteSolver> solvers(threads);

  const auto cap = fleet_cap_kw(problem);
  bool coupled = false;
  for (const auto& c : cap) coupled = coupled || c.has_value();
  const double lam_max = g.shortfall_penalty_per_kwh;
  std::vector<double> lam(T, 0.0);
  if (options.initial_prices.size() == static_cast<std::size_t>(T))
    for (int t = 0; t < T; ++t) lam[t] = cap[t] ? std::clamp(options.initial_prices[t], 0.0, lam_max) : 0.0;

  // Step sizes: a price move of about a tenth of the mean import price per fleet flexibility kW.
  double flex_kw = 0, mean_price = 0;
  for (const auto* s : active) {
    for (const auto& b : s->batteries) flex_kw += std::max(b.max_charge_kw, b.max_discharge_kw);
    for (const auto& z : s->hvac) flex_kw += z.max_electric_kw;
    for (const auto& f : s->flexible) flex_kw += f.curtailable_share * *std::max_element(f.power_kw.begin(), f.power_kw.end()) + f.shift_max_kw;
  }
  for (int t = 0; t < T; ++t) mean_price += g.import_price[t] / T;
  std::vector<double> alpha(T, std::max(0.01, std::abs(mean_price)) / std::max(1.0, flex_kw));
  // Grow while the residual keeps its sign, shrink when it flips, but never below a tenth of the
  // start: bang-bang site responses flip the sign even far from the optimum, and a step that
  // collapses there freezes the prices (measured on random fleets: 1.2/0.5 without a floor left
  // 1.7 % of cost as shortfall; 1.1/0.8 with this floor 0.3 % before repair).
  constexpr double kGrow = 1.1, kShrink = 0.8;
  const double alpha_floor = alpha[0] * 0.1;
  std::vector<int> last_sign(T, 0);
  std::vector<double> prev_lam(T, 0.0), prev_X(T, 0.0);

  std::vector<std::vector<double>> p(n), x(n), best_p, avg_p(n), avg_x(n);
  std::vector<double> value(n), avg_value(n);
  std::vector<double> best_lam = lam;
  double best_primal = kInf, best_bound = -kInf;
  // Primal recovery: the running average of the site plans (each site-feasible, so the average
  // is too) mixes the bang-bang responses that pure price coordination oscillates between.
  // Averaging restarts at iterations 4, 8, 16, ... so that early, poor prices are forgotten.
  int avg_count = 0, next_restart = 4;
  auto primal_of = [&](const std::vector<double>& site_cost, const std::vector<std::vector<double>>& xs) {
    std::vector<double> X(T, 0.0);
    double v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      v += site_cost[i];
      for (int t = 0; t < T; ++t) X[t] += xs[i][t];
    }
    for (int t = 0; t < T; ++t)
      if (cap[t]) v += h * g.shortfall_penalty_per_kwh * std::max(0.0, X[t] - *cap[t]);
    return v;
  };
  // Candidate plans are built from an iterate (or the running average), repaired, and the cheapest
  // kept. The repair is what makes an early iterate good: at 10,000 sites the plan at zero prices
  // plus merit-order repair is often already within the tolerance of the bound.
  auto build_plan = [&](const std::vector<std::vector<double>>& ps, const std::vector<double>& prices, Plan& out) {
    out.sites.resize(n);
    parallel_sites(n, threads, solvers, [&](std::size_t i, SiteSolver& sv) {
      sv.fill_plan(problem, *active[i], prices, ps[i], out.sites[i]);
    });
    out.coordination_price_per_kwh = prices;
    finalize_plan(problem, out);
    if (coupled) {
      repair_shortfall(problem, active, out);
      finalize_plan(problem, out);
    }
  };
  Plan best_plan, candidate;
  bool have_plan = false, best_p_unrepaired_pending = false;
  auto consider = [&](const std::vector<std::vector<double>>& ps, const std::vector<double>& prices) {
    build_plan(ps, prices, candidate);
    if (!have_plan || candidate.objective.total < best_plan.objective.total) {
      std::swap(best_plan, candidate);
      have_plan = true;
    }
  };
  int iter = 0;
  plan.stats.build_s = seconds_since(t0);
  auto t1 = std::chrono::steady_clock::now();
  for (; iter < std::max(1, options.max_iterations); ++iter) {
    parallel_sites(n, threads, solvers, [&](std::size_t i, SiteSolver& sv) {
      value[i] = sv.solve(problem, *active[i], lam, p[i], x[i]);
    });
    // Deterministic reductions in site order.
    std::vector<double> X(T, 0.0);
    double lagrangian = 0;
    for (std::size_t i = 0; i < n; ++i) {
      lagrangian += value[i];
      for (int t = 0; t < T; ++t) X[t] += x[i][t];
    }
    double primal = lagrangian;
    for (int t = 0; t < T; ++t) {
      primal -= h * lam[t] * X[t];
      if (!cap[t]) continue;
      lagrangian -= h * lam[t] * *cap[t];
      primal += h * g.shortfall_penalty_per_kwh * std::max(0.0, X[t] - *cap[t]);
    }
    best_bound = std::max(best_bound, lagrangian);
    if (primal < best_primal) {
      best_primal = primal;
      best_p = p;
      best_lam = lam;
      best_p_unrepaired_pending = true;
    }
    if (coupled) {
      if (iter == next_restart) {
        avg_count = 0;
        next_restart *= 2;
      }
      ++avg_count;
      const double w = 1.0 / avg_count;
      for (std::size_t i = 0; i < n; ++i) {
        if (avg_count == 1) avg_p[i] = p[i];
        else
          for (std::size_t k = 0; k < p[i].size(); ++k) avg_p[i][k] += w * (p[i][k] - avg_p[i][k]);
      }
      if (avg_count > 1) {
        parallel_sites(n, threads, solvers, [&](std::size_t i, SiteSolver& sv) {
          // Shedding and PV use are re-decided at the current prices; the cost is then counted
          // at true prices (the price term removed).
          avg_value[i] = sv.evaluate(problem, *active[i], lam, avg_p[i], avg_x[i]);
          for (int t = 0; t < T; ++t) avg_value[i] -= h * lam[t] * avg_x[i][t];
        });
        double pa = primal_of(avg_value, avg_x);
        if (pa < best_primal) {
          best_primal = pa;
          best_p = avg_p;
          best_lam = lam;
          best_p_unrepaired_pending = true;
        }
      }
    }
    const bool last = iter + 1 >= std::max(1, options.max_iterations);
    if (coupled && (iter < 4 || (iter & (iter - 1)) == 0 || last)) {
      // Checkpoints at iterations 0-4, 8, 16, ...: repaired plans from the iterate and the average.
      // best_p is then either this iterate or the average, both just considered, or an older one.
      const bool best_is_current = best_lam == lam;
      consider(p, lam);
      if (avg_count > 1) consider(avg_p, lam);
      if (best_is_current) best_p_unrepaired_pending = false;
      if (best_p_unrepaired_pending) {
        consider(best_p, best_lam);
        best_p_unrepaired_pending = false;
      }
    }
    double gap = (best_primal - best_bound) / std::max(1.0, std::abs(best_primal));
    if (have_plan) gap = std::min(gap, (best_plan.objective.total - best_bound) / std::max(1.0, std::abs(best_plan.objective.total)));
    if (options.trace) {
      double res = 0;
      for (int t = 0; t < T; ++t)
        if (cap[t]) res = std::max(res, X[t] - *cap[t]);
      std::fprintf(stderr, "iter %d bound %.2f primal %.2f best %.2f repaired %.2f gap %.6f residual %.1f kW (%.3f s)\n",
                   iter, lagrangian, primal, best_primal, have_plan ? best_plan.objective.total : NAN, gap, res,
                   seconds_since(t1));
    }
    if (!coupled) {
      consider(p, lam);
      best_p_unrepaired_pending = false;
    }
    if (!coupled || gap <= options.gap_tolerance) {
      ++iter;
      break;
    }
    // Adaptive projected subgradient step per interval. While the residual keeps its sign, the
    // step may also follow the secant of the fleet's measured response (kW per currency/kWh): a
    // damped Newton step on the aggregate, which reaches the right price level in a few rounds
    // where growing a fixed step takes tens.
    for (int t = 0; t < T; ++t) {
      if (!cap[t]) continue;
      double r = X[t] - *cap[t];
      int sign = r > options.residual_tolerance_kw ? 1 : (r < -options.residual_tolerance_kw && lam[t] > 0 ? -1 : 0);
      if (sign != 0 && sign == last_sign[t]) alpha[t] *= kGrow;
      else if (sign != 0 && sign == -last_sign[t]) alpha[t] = std::max(alpha[t] * kShrink, alpha_floor);
      double step = alpha[t] * r;
      if (iter > 0 && sign != 0 && sign == last_sign[t]) {
        double dl = lam[t] - prev_lam[t], dx = X[t] - prev_X[t];
        if (std::abs(dl) > 1e-12 && dx * dl < 0) {
          double secant = 0.8 * r * dl / -dx;  // lambda change to close 80 % of the residual
          if (std::abs(secant) > std::abs(step)) step = std::clamp(secant, -4 * std::abs(step) - 1e-3, 4 * std::abs(step) + 1e-3);
        }
      }
      if (sign != 0) last_sign[t] = sign;
      prev_lam[t] = lam[t];
      prev_X[t] = X[t];
      lam[t] = std::clamp(lam[t] + step, 0.0, lam_max);
    }
  }
  plan.stats.iterations = iter;
  if (!have_plan || best_p_unrepaired_pending) consider(best_p, best_lam);
  // best_plan is finalized; carry over what solve_decomposed set on plan itself.
  best_plan.excluded_sites = std::move(plan.excluded_sites);
  best_plan.stats = plan.stats;
  plan = std::move(best_plan);
  plan.messages = diagnose(problem);
  plan.stats.solver = "decomposed";
  plan.stats.solve_s = seconds_since(t1);
  plan.stats.lower_bound = best_bound;
  plan.stats.duality_gap = (plan.objective.total - best_bound) / std::max(1.0, std::abs(plan.objective.total));
  plan.stats.status = plan.stats.duality_gap <= options.gap_tolerance ? "converged" : "iteration limit";
  // The size of the LP it solves (the same LP as solve_clp), for comparison.
  const LpSize size = lp_size(problem);
  plan.stats.variables = size.variables;
  plan.stats.constraints = size.constraints;
  return plan;
}

}  // namespace vpp::optimizer
