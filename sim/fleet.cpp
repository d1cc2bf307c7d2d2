#include "sim/fleet.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/rng.hpp"

namespace vpp::sim {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kHourMs = 3'600'000;

// Moves `p` toward `target` at `rate` per second (rate <= 0: at once), starting `s0` seconds
// into a step of `dt` seconds and holding `p` before that. Returns the step average and leaves
// `p` at its end-of-step value. `inv_rate` and `inv_dt` are the reciprocals (no divisions here:
// a battery in self-consumption takes this path every step).
inline double ramp_average(double& p, double target, double rate, double inv_rate, double s0, double dt, double inv_dt) {
  const double p0 = p;
  if (p0 == target) return p0;
  const double active = dt - s0;
  if (rate <= 0) {
    p = target;
    return (p0 * s0 + target * active) * inv_dt;
  }
  const double t_ramp = std::abs(target - p0) * inv_rate;
  if (t_ramp <= active) {
    p = target;
    return (p0 * s0 + 0.5 * (p0 + target) * t_ramp + target * (active - t_ramp)) * inv_dt;
  }
  const double p1 = p0 + (target > p0 ? rate : -rate) * active;
  p = p1;
  return (p0 * s0 + 0.5 * (p0 + p1) * active) * inv_dt;
}

std::string_view kind_name(SetpointKind k) {
  switch (k) {
    case SetpointKind::unspecified: return "unspecified";
    case SetpointKind::pv_limit_kw: return "pv_limit_kw";
    case SetpointKind::pv_limit_pct: return "pv_limit_pct";
    case SetpointKind::battery_p_kw: return "battery_p_kw";
    case SetpointKind::hvac_setpoint_offset_c: return "hvac_setpoint_offset_c";
    case SetpointKind::hvac_power_cap_kw: return "hvac_power_cap_kw";
    case SetpointKind::load_curtail_pct: return "load_curtail_pct";
    case SetpointKind::ev_current_limit_a: return "ev_current_limit_a";
    case SetpointKind::ev_p_kw: return "ev_p_kw";
  }
  return "?";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool within(double v, double lo, double hi) {
  const double tol = 1e-9 * std::max({1.0, std::abs(lo), std::abs(hi)});
  return v >= lo - tol && v <= hi + tol;
}

}  // namespace

void make_step_inputs(const WeatherSeries& w, std::size_t k, std::uint64_t index_offset, StepInputs& in) {
  const TimePoint t0 = w.time(k);
  in.t0_ms = to_unix_ms(t0);
  in.step_index = k + index_offset;
  in.t_out_c = w.outdoor_temp_c(k);
  const double wb = w.wet_bulb_c(k);
  for (int p = 0; p < kPlantTypeCount; ++p) {
    in.cop_ratio[p] = cop_ratio(static_cast<PlantType>(p), in.t_out_c, wb);
    in.capacity_ratio[p] = capacity_ratio(static_cast<PlantType>(p), in.t_out_c);
  }
  // Schedules are read at mid-step local time.
  const std::int64_t local_ms = in.t0_ms + w.step().count() / 2 + static_cast<std::int64_t>(w.utc_offset_minutes()) * 60'000;
  const std::int64_t day = local_ms >= 0 ? local_ms / kDayMs : (local_ms - kDayMs + 1) / kDayMs;
  const int hour = static_cast<int>((local_ms - day * kDayMs) / kHourMs);
  const int iso_weekday = static_cast<int>(((day + 3) % 7 + 7) % 7) + 1;  // 1970-01-01 was a Thursday
  for (int t = 0; t < kBuildingTypeCount; ++t) {
    in.occupancy[t] = occupancy(static_cast<BuildingType>(t), hour, iso_weekday);
    in.hvac_scheduled[t] = hvac_scheduled(static_cast<BuildingType>(t), hour, iso_weekday) ? 1 : 0;
  }
  in.sky = w.sky(k);
}

Result<FleetModel> FleetModel::build(std::vector<Site> sites, std::vector<SiteLoadModel> loads, const FleetOptions& opt) {
  if (loads.size() != sites.size()) {
    return Error{"fleet: " + std::to_string(sites.size()) + " sites but " + std::to_string(loads.size()) + " load models"};
  }
  if (opt.step.count() <= 0) return Error{"fleet: the step must be positive"};
  FleetModel f;
  f.opt_ = opt;
  f.step_ = opt.step;
  f.dt_s_ = to_seconds(opt.step);
  f.seed_ = opt.seed;
  f.noise_phi_ = std::exp(-f.dt_s_ / std::max(1.0, to_seconds(opt.noise_correlation)));
  f.noise_innov_ = std::sqrt(1.0 - f.noise_phi_ * f.noise_phi_);
  f.ctrl_k_ = 1.0 - std::exp(-f.dt_s_ / std::max(1.0, opt.hvac_control_time_constant_s));
  f.noct_k_ = (opt.noct_c - 20.0) / 800.0;
  f.pv_derate_ = 1.0 - opt.pv_system_loss;
  const std::size_t n = sites.size();
  f.site_assets_.resize(n);
  for (std::size_t s = 0; s < n; ++s) {
    const Site& site = sites[s];
    const SiteLoadModel& lm = loads[s];
    auto where = [&](const Asset& a) { return "site '" + site.id + "' asset '" + a.id + "'"; };
    if (!(lm.base_peak_kw >= 0) || !(lm.standby_fraction >= 0 && lm.standby_fraction <= 1) || !(lm.noise_std >= 0) ||
        !(lm.people_gain_kw >= 0) || !(lm.solar_aperture_m2 >= 0)) {
      return Error{"site '" + site.id + "': load model values must be finite and non-negative (standby 0..1)"};
    }
    f.type_.push_back(type_index(site.type));
    // The start of this site's noise stream (SplitMix64 keyed by seed and site).
    f.site_key_.push_back(splitmix64(opt.seed ^ splitmix64(static_cast<std::uint64_t>(s) + 0x5EED)));
    f.base_peak_.push_back(lm.base_peak_kw);
    f.standby_.push_back(lm.standby_fraction);
    f.idle_kw_.push_back(lm.base_peak_kw * lm.standby_fraction);
    f.active_kw_.push_back(lm.base_peak_kw * (1.0 - lm.standby_fraction));
    f.noise_scale_.push_back(f.noise_innov_ * lm.noise_std);
    f.noise_.push_back(0.0);
    f.people_kw_.push_back(lm.people_gain_kw);
    f.site_loc_.push_back(lm.location);
    f.pv_off_.push_back(f.pv_site_.size());
    f.b_off_.push_back(f.b_site_.size());
    f.z_off_.push_back(f.z_site_.size());
    f.f_off_.push_back(f.f_site_.size());
    double area_total = 0;
    for (const auto& a : site.assets) {
      if (const auto* h = a.get<HvacZoneSpec>()) area_total += h->floor_area_m2;
    }
    f.zone_area_total_.push_back(area_total);
    for (std::size_t i = 0; i < site.assets.size(); ++i) {
      const Asset& a = site.assets[i];
      AssetRef ref{a.kind(), 0};
      if (const auto* pv = a.get<PvSpec>()) {
        if (!(pv->rated_kw > 0) || !(pv->dc_peak_kw > 0)) return Error{where(a) + ": PV ratings must be > 0"};
        ref.index = f.pv_site_.size();
        f.pv_site_.push_back(s);
        f.pv_loc_.push_back(lm.location);
        f.pv_plane_.push_back(plane_coefficients(pv->tilt_deg, pv->azimuth_deg, opt.albedo));
        f.pv_dc_.push_back(pv->dc_peak_kw);
        f.pv_ac_.push_back(pv->rated_kw);
        f.pv_gamma_.push_back(pv->temp_coeff_per_c);
        f.pv_ramp_.push_back(opt.pv_ramp_pct_per_s / 100.0 * pv->rated_kw);
        f.pv_inv_ramp_.push_back(f.pv_ramp_.back() > 0 ? 1.0 / f.pv_ramp_.back() : 0.0);
        f.pv_limit_.push_back(pv->rated_kw);
        f.pv_limit_target_.push_back(pv->rated_kw);
        f.pv_limit_pending_.push_back(pv->rated_kw);
        f.pv_p_.push_back(0);
        f.pv_avail_.push_back(0);
        f.pv_eff_.push_back(kNever);
        f.pv_expires_.push_back(kNever);
        f.pv_pending_expires_.push_back(kNever);
        f.pv_next_.push_back(kNever);
      } else if (const auto* b = a.get<BatterySpec>()) {
        if (!(b->capacity_kwh > 0) || !(b->max_charge_kw > 0) || !(b->max_discharge_kw > 0) ||
            !(b->charge_efficiency > 0 && b->charge_efficiency <= 1) ||
            !(b->discharge_efficiency > 0 && b->discharge_efficiency <= 1) || !(b->soc_min_pct < b->soc_max_pct)) {
          return Error{where(a) + ": battery ratings out of range"};
        }
        ref.index = f.b_site_.size();
        f.b_site_.push_back(s);
        f.b_cap_.push_back(b->capacity_kwh);
        f.b_emin_.push_back(b->soc_min_pct / 100.0 * b->capacity_kwh);
        f.b_emax_.push_back(b->soc_max_pct / 100.0 * b->capacity_kwh);
        f.b_ereserve_.push_back(site.limits.battery_reserve_pct / 100.0 * b->capacity_kwh);
        f.b_e_.push_back(0);
        f.b_pch_.push_back(b->max_charge_kw);
        f.b_pdis_.push_back(b->max_discharge_kw);
        f.b_etac_.push_back(b->charge_efficiency);
        f.b_etad_.push_back(b->discharge_efficiency);
        f.b_inv_etac_.push_back(1.0 / b->charge_efficiency);
        f.b_inv_etad_.push_back(1.0 / b->discharge_efficiency);
        f.b_sd_per_s_.push_back(b->self_discharge_pct_per_day / 100.0 / 86400.0);
        f.b_ramp_.push_back(b->ramp_kw_per_s);
        f.b_inv_ramp_.push_back(b->ramp_kw_per_s > 0 ? 1.0 / b->ramp_kw_per_s : 0.0);
        f.b_p_.push_back(0);
        f.b_avg_.push_back(0);
        f.b_setpoint_.push_back(0);
        f.b_pending_.push_back(0);
        f.b_mode_.push_back(0);
        f.b_below_.push_back(0);
        f.b_eff_.push_back(kNever);
        f.b_expires_.push_back(kNever);
        f.b_pending_expires_.push_back(kNever);
        f.b_next_.push_back(kNever);
        f.b_violations_.push_back(0);
        f.b_in_.push_back(0);
        f.b_out_.push_back(0);
        f.b_conv_.push_back(0);
        f.b_sd_.push_back(0);
      } else if (const auto* h = a.get<HvacZoneSpec>()) {
        if (!(h->floor_area_m2 > 0) || !(h->thermal_resistance_k_per_kw > 0) ||
            !(h->thermal_capacitance_kwh_per_k > 0) || !(h->rated_electric_kw > 0) || !(h->rated_cop > 0)) {
          return Error{where(a) + ": HVAC zone needs positive floor area, R, C, rating and COP"};
        }
        ref.index = f.z_site_.size();
        const ZoneParams zp = zone_params(*h, site.type, opt.zone_model);
        f.z_site_.push_back(s);
        f.z_params_.push_back(zp);
        f.z_d_.push_back(discretise(zp, f.dt_s_));
        f.z_inv_bqa_.push_back(1.0 / f.z_d_.back().b_qa_air);
        f.z_plant_.push_back(static_cast<std::int32_t>(sim_defaults(site.type).plant));
        f.z_on_.push_back(0);
        f.z_ta_.push_back(h->default_setpoint_c + 1.0);
        f.z_tm_.push_back(h->default_setpoint_c + 1.0);
        f.z_sp_.push_back(h->default_setpoint_c);
        f.z_db_.push_back(h->deadband_c);
        f.z_area_.push_back(h->floor_area_m2);
        const double share = h->floor_area_m2 / area_total;
        f.z_gain_share_.push_back(share);
        f.z_aperture_.push_back(lm.solar_aperture_m2 * share);
        f.z_rated_kw_.push_back(h->rated_electric_kw);
        f.z_cop_.push_back(h->rated_cop);
        f.z_inv_cop_.push_back(1.0 / h->rated_cop);
        f.z_q_rated_.push_back(h->rated_electric_kw * h->rated_cop);
        f.z_offset_.push_back(0);
        f.z_offset_pending_.push_back(0);
        f.z_cap_.push_back(std::numeric_limits<double>::infinity());
        f.z_cap_pending_.push_back(0);
        f.z_p_.push_back(0);
        f.z_offset_eff_.push_back(kNever);
        f.z_offset_expires_.push_back(kNever);
        f.z_offset_pending_expires_.push_back(kNever);
        f.z_cap_eff_.push_back(kNever);
        f.z_cap_expires_.push_back(kNever);
        f.z_cap_pending_expires_.push_back(kNever);
        f.z_next_.push_back(kNever);
      } else if (const auto* l = a.get<FlexibleLoadSpec>()) {
        if (!(l->rated_kw > 0)) return Error{where(a) + ": flexible load rating must be > 0"};
        ref.index = f.f_site_.size();
        f.f_site_.push_back(s);
        f.f_rated_.push_back(l->rated_kw);
        f.f_idle_kw_.push_back(l->rated_kw * lm.standby_fraction);
        f.f_active_kw_.push_back(l->rated_kw * (1.0 - lm.standby_fraction));
        f.f_max_curtail_.push_back(l->max_curtail_pct);
        f.f_curtail_.push_back(0);
        f.f_pending_.push_back(0);
        f.f_p_.push_back(0);
        f.f_eff_.push_back(kNever);
        f.f_expires_.push_back(kNever);
        f.f_pending_expires_.push_back(kNever);
        f.f_next_.push_back(kNever);
      } else if (a.get<EvChargerSpec>()) {
        return Error{where(a) + ": EV chargers are not simulated yet"};
      }
      if (!f.by_id_.emplace(site.id + '\x1f' + a.id, ref).second) {
        return Error{where(a) + ": duplicate asset id"};
      }
      f.site_assets_[s].push_back(ref);
    }
  }
  f.pv_off_.push_back(f.pv_site_.size());
  f.b_off_.push_back(f.b_site_.size());
  f.z_off_.push_back(f.z_site_.size());
  f.f_off_.push_back(f.f_site_.size());
  for (auto* v : {&f.base_kw_, &f.load_kw_, &f.gains_kw_, &f.hvac_kw_, &f.pv_kw_, &f.bat_kw_, &f.net_kw_}) v->assign(n, 0.0);
  f.sites_ = std::move(sites);
  f.reset_batteries(opt.initial_soc_pct);
  return f;
}

std::size_t FleetModel::asset_count() const {
  return pv_site_.size() + b_site_.size() + z_site_.size() + f_site_.size() + sites_.size();
}

std::vector<SiteRange> FleetModel::partition(std::size_t parts) const {
  parts = std::max<std::size_t>(1, std::min(parts, std::max<std::size_t>(1, sites_.size())));
  auto weight = [&](std::size_t s) {
    return 1 + (pv_off_[s + 1] - pv_off_[s]) + (b_off_[s + 1] - b_off_[s]) + (z_off_[s + 1] - z_off_[s]) +
           (f_off_[s + 1] - f_off_[s]);
  };
  std::size_t total = 0;
  for (std::size_t s = 0; s < sites_.size(); ++s) total += weight(s);
  std::vector<SiteRange> out;
  std::size_t begin = 0, acc = 0;
  for (std::size_t s = 0; s < sites_.size(); ++s) {
    acc += weight(s);
    if (out.size() + 1 < parts && acc * parts >= total * (out.size() + 1)) {
      out.push_back({begin, s + 1});
      begin = s + 1;
    }
  }
  out.push_back({begin, sites_.size()});
  return out;
}

void FleetModel::reset_batteries(double soc_pct) {
  for (std::size_t b = 0; b < b_site_.size(); ++b) {
    const double floor = std::max(b_emin_[b], b_ereserve_[b]);
    b_e_[b] = std::clamp(soc_pct / 100.0 * b_cap_[b], std::min(floor, b_emax_[b]), b_emax_[b]);
    b_p_[b] = 0;
    b_avg_[b] = 0;
    b_below_[b] = 0;
  }
  reset_counters();
}

void FleetModel::reset_counters() {
  counters_ = {};
  std::fill(b_violations_.begin(), b_violations_.end(), 0);
  std::fill(b_in_.begin(), b_in_.end(), 0.0);
  std::fill(b_out_.begin(), b_out_.end(), 0.0);
  std::fill(b_conv_.begin(), b_conv_.end(), 0.0);
  std::fill(b_sd_.begin(), b_sd_.end(), 0.0);
}

std::uint64_t FleetModel::reserve_violations() const {
  std::uint64_t n = 0;
  for (auto v : b_violations_) n += v;
  return n;
}

void FleetModel::step(const StepInputs& in, SiteRange r) {
  // Hot loop. Every array is read through a local __restrict pointer: the arrays never overlap,
  // and without this the compiler reloads each vector's data pointer after every store.
  const double dt = dt_s_;
  const double dt_h = dt / 3600.0;
  const double inv_dt_h = 1.0 / dt_h;
  const double inv_dt = 1.0 / dt;
  const std::int64_t t0 = in.t0_ms;
  const std::int64_t t_end = t0 + step_.count();
  const std::int64_t t_half = t0 + step_.count() / 2;
  const std::int32_t* __restrict type = type_.data();

  // 1. Base loads: occupancy schedule times the site's peak, with AR(1) noise keyed by
  //    (seed, site, step) so that every run and every partition draws the same numbers.
  {
    const double* __restrict idle_kw = idle_kw_.data();
    const double* __restrict active_kw = active_kw_.data();
    const double* __restrict noise_scale = noise_scale_.data();
    const double* __restrict people = people_kw_.data();
    const std::uint64_t* __restrict key = site_key_.data();
    double* __restrict noise = noise_.data();
    double* __restrict base_kw = base_kw_.data();
    double* __restrict load_kw = load_kw_.data();
    double* __restrict gains = gains_kw_.data();
    double* __restrict hvac_kw = hvac_kw_.data();
    double* __restrict pv_kw = pv_kw_.data();
    double* __restrict bat_kw = bat_kw_.data();
    // SplitMix64's own stream: output k of the stream that starts at the site's key.
    const std::uint64_t offset = in.step_index * 0x9E3779B97F4A7C15ull;
    const double* recorded = in.base_load_kw.empty() ? nullptr : in.base_load_kw.data();
    for (std::size_t s = r.begin; s < r.end; ++s) {
      const double occ = in.occupancy[static_cast<std::size_t>(type[s])];
      const double xi = approx_normal(splitmix64(key[s] + offset));
      const double n = noise_phi_ * noise[s] + noise_scale[s] * xi;
      noise[s] = n;
      const double kw = recorded ? recorded[s] : std::max(0.0, (idle_kw[s] + active_kw[s] * occ) * (1.0 + n));
      base_kw[s] = kw;
      load_kw[s] = kw;
      // Every electric kW inside the building ends up as heat; people add their sensible heat.
      gains[s] = kw + people[s] * occ;
      hvac_kw[s] = 0;
      pv_kw[s] = 0;
      bat_kw[s] = 0;
    }
  }

  // 2. Flexible loads follow the site's occupancy, less any curtailment.
  {
    const std::size_t* __restrict site = f_site_.data();
    const double* __restrict idle = f_idle_kw_.data();
    const double* __restrict active = f_active_kw_.data();
    double* __restrict curtail = f_curtail_.data();
    double* __restrict p_out = f_p_.data();
    double* __restrict load_kw = load_kw_.data();
    double* __restrict gains = gains_kw_.data();
    for (std::size_t f = f_off_[r.begin]; f < f_off_[r.end]; ++f) {
      if (f_next_[f] < t_end) {  // a command takes effect or expires around this step
        if (f_eff_[f] <= t_half) {
          curtail[f] = f_pending_[f];
          f_expires_[f] = f_pending_expires_[f];
          f_eff_[f] = kNever;
        }
        if (t0 >= f_expires_[f]) {
          curtail[f] = 0;
          f_expires_[f] = kNever;
        }
        f_next_[f] = std::min(f_eff_[f], f_expires_[f]);
      }
      const std::size_t s = site[f];
      const double occ = in.occupancy[static_cast<std::size_t>(type[s])];
      const double p = (idle[f] + active[f] * occ) * (1.0 - curtail[f] * 0.01);
      p_out[f] = p;
      load_kw[s] += p;
      gains[s] += p;
    }
  }

  // 3. HVAC zones: thermal network stepped exactly; thermostat with deadband enabling a
  //    modulating plant that pulls the air toward the setpoint with the loop's time constant.
  {
    const std::size_t* __restrict site = z_site_.data();
    const std::size_t* __restrict loc = site_loc_.data();
    const ZoneDiscrete* __restrict dz = z_d_.data();
    const std::int32_t* __restrict plant = z_plant_.data();
    const double* __restrict gains_kw = gains_kw_.data();
    const double* __restrict share = z_gain_share_.data();
    const double* __restrict aperture = z_aperture_.data();
    const double* __restrict setpoint = z_sp_.data();
    const double* __restrict deadband = z_db_.data();
    const double* __restrict cop_rated = z_cop_.data();
    const double* __restrict inv_cop_rated = z_inv_cop_.data();
    const double* __restrict q_rated = z_q_rated_.data();
    const double* __restrict inv_bqa = z_inv_bqa_.data();
    double* __restrict ta_arr = z_ta_.data();
    double* __restrict tm_arr = z_tm_.data();
    double* __restrict offset = z_offset_.data();
    double* __restrict cap = z_cap_.data();
    double* __restrict p_out = z_p_.data();
    std::int32_t* __restrict on_arr = z_on_.data();
    double* __restrict hvac_kw = hvac_kw_.data();
    const double inv_cop_ratio[kPlantTypeCount] = {1.0 / in.cop_ratio[0], 1.0 / in.cop_ratio[1]};
    const double t_out = in.t_out_c;
    for (std::size_t z = z_off_[r.begin]; z < z_off_[r.end]; ++z) {
      if (z_next_[z] < t_end) {  // a command takes effect or expires around this step
        if (z_offset_eff_[z] <= t_half) {
          offset[z] = z_offset_pending_[z];
          z_offset_expires_[z] = z_offset_pending_expires_[z];
          z_offset_eff_[z] = kNever;
        }
        if (t0 >= z_offset_expires_[z]) {
          offset[z] = 0;
          z_offset_expires_[z] = kNever;
        }
        if (z_cap_eff_[z] <= t_half) {
          cap[z] = z_cap_pending_[z];
          z_cap_expires_[z] = z_cap_pending_expires_[z];
          z_cap_eff_[z] = kNever;
        }
        if (t0 >= z_cap_expires_[z]) {
          cap[z] = std::numeric_limits<double>::infinity();
          z_cap_expires_[z] = kNever;
        }
        z_next_[z] = std::min({z_offset_eff_[z], z_offset_expires_[z], z_cap_eff_[z], z_cap_expires_[z]});
      }
      const std::size_t s = site[z];
      const ZoneDiscrete& d = dz[z];
      const double ta = ta_arr[z], tm = tm_arr[z];
      // ISO 13790 C.2: half of the internal gains are convective (air node), half radiative
      // (mass); solar gains land on the room surfaces (mass).
      const double gains = gains_kw[s] * share[z];
      const double solar = aperture[z] * in.sky[loc[s]].ghi * 0.001;
      const double qa = 0.5 * gains, qm = 0.5 * gains + solar;
      const double ta_free = d.a11 * ta + d.a12 * tm + d.b_out_air * t_out + d.b_qa_air * qa + d.b_qm_air * qm;
      const double tm_free = d.a21 * ta + d.a22 * tm + d.b_out_mass * t_out + d.b_qa_mass * qa + d.b_qm_mass * qm;
      const double sp = setpoint[z] + offset[z];
      const double half_db = 0.5 * deadband[z];
      // The thermostat looks at where the air would end the step without cooling, so a zone that
      // heats quickly (a data hall) is caught at the upper edge, not a step later above it.
      // Switching off below the band is checked first, so a setpoint raised while the air sits
      // low cannot leave a fast zone uncooled for a whole step.
      std::int32_t on = on_arr[z];
      bool just_on = false;
      if (!in.hvac_scheduled[static_cast<std::size_t>(type[s])]) {
        on = 0;
      } else {
        if (on && ta < sp - half_db) on = 0;
        if (!on && ta_free > sp + half_db) {
          on = 1;
          just_on = true;
        }
      }
      on_arr[z] = on;
      double q = 0, p = 0;
      if (on) {
        const int pt = plant[z];
        const double cop = cop_rated[z] * in.cop_ratio[static_cast<std::size_t>(pt)];
        const double q_max = std::min(q_rated[z] * in.capacity_ratio[static_cast<std::size_t>(pt)], cap[z] * cop);
        // Switching on: hold the upper edge; running: pull toward the setpoint.
        const double target = just_on ? sp + half_db : ta + (sp - ta) * ctrl_k_;
        q = std::clamp((ta_free - target) * inv_bqa[z], 0.0, std::max(0.0, q_max));
        p = q * inv_cop_rated[z] * inv_cop_ratio[pt];
      }
      ta_arr[z] = ta_free - d.b_qa_air * q;
      tm_arr[z] = tm_free - d.b_qa_mass * q;
      p_out[z] = p;
      hvac_kw[s] += p;
    }
  }

  // 4. PV: POA from the location's sky terms, NOCT cell temperature, system losses, inverter
  //    efficiency and clipping, then the (ramped) active-power limit.
  {
    const std::size_t* __restrict site = pv_site_.data();
    const std::size_t* __restrict loc = pv_loc_.data();
    const PlaneCoefficients* __restrict plane = pv_plane_.data();
    const double* __restrict dc_kw = pv_dc_.data();
    const double* __restrict ac_kw = pv_ac_.data();
    const double* __restrict gamma = pv_gamma_.data();
    const double* __restrict ramp = pv_ramp_.data();
    const double* __restrict inv_ramp = pv_inv_ramp_.data();
    double* __restrict limit = pv_limit_.data();
    double* __restrict target = pv_limit_target_.data();
    double* __restrict p_out = pv_p_.data();
    double* __restrict avail_out = pv_avail_.data();
    double* __restrict pv_kw = pv_kw_.data();
    const double dc_factor = 0.001 * pv_derate_ * opt_.inverter_efficiency;
    const double t_out = in.t_out_c;
    for (std::size_t p = pv_off_[r.begin]; p < pv_off_[r.end]; ++p) {
      const double poa = poa_w_m2(plane[p], in.sky[loc[p]]);
      const double t_cell = t_out + noct_k_ * poa;
      const double p_ac = dc_kw[p] * poa * (1.0 + gamma[p] * (t_cell - 25.0)) * dc_factor;
      const double avail = std::clamp(p_ac, 0.0, ac_kw[p]);
      double s0 = 0;
      if (pv_next_[p] < t_end) {  // a command takes effect or expires around this step
        if (pv_eff_[p] < t_end) {
          s0 = static_cast<double>(std::max<std::int64_t>(0, pv_eff_[p] - t0)) * 0.001;
          target[p] = pv_limit_pending_[p];
          pv_expires_[p] = pv_pending_expires_[p];
          pv_eff_[p] = kNever;
        }
        if (t0 >= pv_expires_[p]) {
          target[p] = ac_kw[p];
          pv_expires_[p] = kNever;
        }
        pv_next_[p] = std::min(pv_eff_[p], pv_expires_[p]);
      }
      const double limit_avg = ramp_average(limit[p], target[p], ramp[p], inv_ramp[p], s0, dt, inv_dt);
      const double out = std::min(avail, limit_avg);
      p_out[p] = out;
      avail_out[p] = avail;
      pv_kw[site[p]] += out;
    }
  }

  // 5. Batteries: self-consumption by default (cover the site's import down to its reserve,
  //    store its export), or follow a setpoint down to the BMS limit.
  {
    const std::size_t* __restrict site = b_site_.data();
    const double* __restrict load_kw = load_kw_.data();
    const double* __restrict hvac_kw = hvac_kw_.data();
    const double* __restrict pv_kw = pv_kw_.data();
    double* __restrict bat_kw = bat_kw_.data();
    double* __restrict e_arr = b_e_.data();
    double* __restrict p_arr = b_p_.data();
    double* __restrict avg_arr = b_avg_.data();
    std::int32_t* __restrict mode = b_mode_.data();
    for (std::size_t b = b_off_[r.begin]; b < b_off_[r.end]; ++b) {
      const std::size_t s = site[b];
      double s0 = 0;
      if (b_next_[b] < t_end) {  // a command takes effect or expires around this step
        if (b_eff_[b] < t_end) {
          s0 = static_cast<double>(std::max<std::int64_t>(0, b_eff_[b] - t0)) * 0.001;
          mode[b] = 1;
          b_setpoint_[b] = b_pending_[b];
          b_expires_[b] = b_pending_expires_[b];
          b_eff_[b] = kNever;
        }
        if (t0 >= b_expires_[b]) {
          mode[b] = 0;
          b_expires_[b] = kNever;
        }
        b_next_[b] = std::min(b_eff_[b], b_expires_[b]);
      }
      double desired, floor;
      const double ceiling = b_emax_[b];
      if (mode[b] == 0) {
        // Earlier batteries of the same site have already taken their share (bat_kw).
        const double residual = load_kw[s] + hvac_kw[s] - pv_kw[s] - bat_kw[s];
        desired = std::clamp(residual, -b_pch_[b], b_pdis_[b]);
        floor = std::max(b_emin_[b], b_ereserve_[b]);
        s0 = 0;
      } else {
        desired = b_setpoint_[b];
        floor = b_emin_[b];
      }
      double avg = ramp_average(p_arr[b], desired, b_ramp_[b], b_inv_ramp_[b], s0, dt, inv_dt);
      double e = e_arr[b];
      const double sd = e * b_sd_per_s_[b] * dt;  // standing loss over the step
      e -= sd;
      if (avg > 0) {
        const double max_avg = std::max(0.0, e - floor) * b_etad_[b] * inv_dt_h;
        if (avg > max_avg) {
          avg = max_avg;
          p_arr[b] = std::min(p_arr[b], max_avg);
        }
      } else if (avg < 0) {
        const double max_in = std::max(0.0, ceiling - e) * b_inv_etac_[b] * inv_dt_h;
        if (-avg > max_in) {
          avg = -max_in;
          p_arr[b] = std::max(p_arr[b], -max_in);
        }
      }
      if (avg >= 0) {
        const double out = avg * dt_h;
        const double drawn = out * b_inv_etad_[b];
        e -= drawn;
        b_out_[b] += out;
        b_conv_[b] += drawn - out;
      } else {
        const double in_ac = -avg * dt_h;
        e += in_ac * b_etac_[b];
        b_in_[b] += in_ac;
        b_conv_[b] += in_ac * (1.0 - b_etac_[b]);
      }
      b_sd_[b] += sd;
      e_arr[b] = e;
      avg_arr[b] = avg;
      bat_kw[s] += avg;
      // Reserve: a violation is each fall of more than 0.5 percentage points below it.
      const std::int32_t below = e < b_ereserve_[b] - 0.005 * b_cap_[b] ? 1 : 0;
      b_violations_[b] += static_cast<std::uint64_t>(below & (1 - b_below_[b]));
      b_below_[b] = below;
    }
  }

  // 6. Site meters.
  {
    const double* __restrict load_kw = load_kw_.data();
    const double* __restrict hvac_kw = hvac_kw_.data();
    const double* __restrict pv_kw = pv_kw_.data();
    const double* __restrict bat_kw = bat_kw_.data();
    double* __restrict net = net_kw_.data();
    for (std::size_t s = r.begin; s < r.end; ++s) net[s] = load_kw[s] + hvac_kw[s] - pv_kw[s] - bat_kw[s];
  }
}

CommandAck FleetModel::apply(const Command& cmd, TimePoint arrival) {
  ++counters_.commands_received;
  CommandAck ack;
  ack.command_id = cmd.command_id;
  ack.site_id = cmd.site_id;
  ack.asset_id = cmd.asset_id;
  ack.status = AckStatus::rejected;
  ack.time = arrival;
  auto invalid = [&](std::string why) {
    ++counters_.rejected_invalid;
    ack.detail = std::move(why);
    return ack;
  };
  auto beyond = [&](double lo, double hi, const char* unit) {
    ++counters_.rejected_rating;
    ack.detail = std::string(kind_name(cmd.kind)) + " " + num(cmd.value) + " is beyond the rating " + num(lo) + ".." +
                 num(hi) + " " + unit;
    return ack;
  };
  const auto it = by_id_.find(cmd.site_id + '\x1f' + cmd.asset_id);
  if (it == by_id_.end()) return invalid("unknown asset '" + cmd.asset_id + "' in site '" + cmd.site_id + "'");
  if (!std::isfinite(cmd.value)) return invalid("value is not a finite number");
  if (cmd.expires <= arrival) {
    ++counters_.expired_on_arrival;
    ack.status = AckStatus::expired;
    ack.detail = "expired at " + format_utc(cmd.expires) + ", before it arrived";
    return ack;
  }
  const AssetRef ref = it->second;
  const std::int64_t arr = to_unix_ms(arrival);
  const std::int64_t exp = to_unix_ms(cmd.expires);
  auto wrong_kind = [&] {
    return invalid("a " + std::string(to_string(ref.kind)) + " does not accept " + std::string(kind_name(cmd.kind)));
  };
  switch (ref.kind) {
    case AssetKind::pv: {
      const std::size_t p = ref.index;
      double limit;
      if (cmd.kind == SetpointKind::pv_limit_kw) {
        if (!within(cmd.value, 0, pv_ac_[p])) return beyond(0, pv_ac_[p], "kW");
        limit = std::clamp(cmd.value, 0.0, pv_ac_[p]);
      } else if (cmd.kind == SetpointKind::pv_limit_pct) {
        if (!within(cmd.value, 0, 100)) return beyond(0, 100, "%");
        limit = std::clamp(cmd.value, 0.0, 100.0) / 100.0 * pv_ac_[p];
      } else {
        return wrong_kind();
      }
      pv_limit_pending_[p] = limit;
      pv_eff_[p] = arr + opt_.pv_response_delay.count();
      pv_pending_expires_[p] = exp;
      pv_next_[p] = std::min(pv_next_[p], pv_eff_[p]);
      break;
    }
    case AssetKind::battery: {
      const std::size_t b = ref.index;
      if (cmd.kind != SetpointKind::battery_p_kw) return wrong_kind();
      if (!within(cmd.value, -b_pch_[b], b_pdis_[b])) return beyond(-b_pch_[b], b_pdis_[b], "kW");
      b_pending_[b] = std::clamp(cmd.value, -b_pch_[b], b_pdis_[b]);
      b_eff_[b] = arr + opt_.battery_response_delay.count();
      b_pending_expires_[b] = exp;
      b_next_[b] = std::min(b_next_[b], b_eff_[b]);
      break;
    }
    case AssetKind::hvac_zone: {
      const std::size_t z = ref.index;
      if (cmd.kind == SetpointKind::hvac_setpoint_offset_c) {
        const double m = opt_.max_setpoint_offset_c;
        if (!within(cmd.value, -m, m)) return beyond(-m, m, "K");
        z_offset_pending_[z] = std::clamp(cmd.value, -m, m);
        z_offset_eff_[z] = arr + opt_.hvac_response_delay.count();
        z_offset_pending_expires_[z] = exp;
        z_next_[z] = std::min(z_next_[z], z_offset_eff_[z]);
      } else if (cmd.kind == SetpointKind::hvac_power_cap_kw) {
        if (!within(cmd.value, 0, z_rated_kw_[z])) return beyond(0, z_rated_kw_[z], "kW");
        z_cap_pending_[z] = std::clamp(cmd.value, 0.0, z_rated_kw_[z]);
        z_cap_eff_[z] = arr + opt_.hvac_response_delay.count();
        z_cap_pending_expires_[z] = exp;
        z_next_[z] = std::min(z_next_[z], z_cap_eff_[z]);
      } else {
        return wrong_kind();
      }
      break;
    }
    case AssetKind::flexible_load: {
      const std::size_t f = ref.index;
      if (cmd.kind != SetpointKind::load_curtail_pct) return wrong_kind();
      if (!within(cmd.value, 0, f_max_curtail_[f])) return beyond(0, f_max_curtail_[f], "%");
      f_pending_[f] = std::clamp(cmd.value, 0.0, f_max_curtail_[f]);
      f_eff_[f] = arr + opt_.load_response_delay.count();
      f_pending_expires_[f] = exp;
      f_next_[f] = std::min(f_next_[f], f_eff_[f]);
      break;
    }
    case AssetKind::site_meter:
    case AssetKind::ev_charger:
      return invalid("a " + std::string(to_string(ref.kind)) + " accepts no commands");
  }
  ++counters_.accepted;
  ack.status = AckStatus::accepted;
  return ack;
}

void FleetModel::telemetry(TimePoint t, std::vector<Telemetry>& out) const {
  for (std::size_t s = 0; s < sites_.size(); ++s) {
    const Site& site = sites_[s];
    for (std::size_t i = 0; i < site.assets.size(); ++i) {
      const AssetRef ref = site_assets_[s][i];
      Telemetry m;
      m.site_id = site.id;
      m.asset_id = site.assets[i].id;
      m.time = t;
      m.quality = Quality::good;
      switch (ref.kind) {
        case AssetKind::pv:
          m.p_kw = pv_p_[ref.index];
          m.available_kw = pv_avail_[ref.index];
          break;
        case AssetKind::battery: {
          const std::size_t b = ref.index;
          m.p_kw = b_avg_[b];
          m.soc_pct = 100.0 * b_e_[b] / b_cap_[b];
          m.energy_kwh = b_e_[b];
          break;
        }
        case AssetKind::hvac_zone:
          m.p_kw = z_p_[ref.index];
          m.indoor_temp_c = z_ta_[ref.index];
          m.setpoint_c = z_sp_[ref.index] + z_offset_[ref.index];
          break;
        case AssetKind::flexible_load:
          m.p_kw = f_p_[ref.index];
          break;
        case AssetKind::site_meter:
          m.p_kw = net_kw_[s];
          break;
        case AssetKind::ev_charger:
          break;
      }
      out.push_back(std::move(m));
    }
  }
}

}  // namespace vpp::sim
