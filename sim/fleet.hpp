#pragma once
// The simulated fleet: every site's base load, flexible loads, HVAC zones, PV and batteries as
// structure-of-arrays physics, steppable on its own with step(inputs): no allocation, no clock,
// no I/O. Exogenous inputs (weather, schedules) come in through StepInputs, so the same model
// runs under the scenario runner's virtual clock, under a real-time loop behind device
// emulators, or from recorded inputs.
//
// Control surface: the messages real devices exchange. apply(Command) answers with the
// CommandAck a device would send (accepted, rejected with a reason, or expired); telemetry()
// produces the Telemetry a device would publish. A command holds until it expires, then the
// asset reverts to its own default: battery self-consumption, HVAC thermostat at its default
// setpoint, PV without a limit, flexible load uncurtailed. Commands beyond an asset's ratings
// are rejected and counted.
//
// Signs (proto/vpp.proto): site import positive, battery discharge positive, PV generation
// positive, loads positive. Powers are step averages in kW.
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "model/messages.hpp"
#include "model/result.hpp"
#include "model/site.hpp"
#include "sim/building_models.hpp"
#include "sim/solar.hpp"
#include "sim/weather.hpp"

namespace vpp::sim {

// Everything outside the fleet that one step depends on.
struct StepInputs {
  std::int64_t t0_ms = 0;          // step start, Unix ms
  std::uint64_t step_index = 0;    // absolute step number; keys the counter-based noise
  double t_out_c = 20;
  std::array<double, kPlantTypeCount> cop_ratio{1, 1};
  std::array<double, kPlantTypeCount> capacity_ratio{1, 1};
  std::array<double, kBuildingTypeCount> occupancy{};
  std::array<std::uint8_t, kBuildingTypeCount> hvac_scheduled{};
  std::span<const SkyTerms> sky;   // one per location
  // Recorded base loads, one per site (kW), for replays; empty = the occupancy schedule with
  // the fleet's own noise.
  std::span<const double> base_load_kw;
};

// Inputs for step k of a weather series (local time from the series' UTC offset). The step
// index for the noise is the series index plus `index_offset`.
void make_step_inputs(const WeatherSeries& w, std::size_t k, std::uint64_t index_offset, StepInputs& out);

// What a site needs beyond its enrolment to be simulated.
struct SiteLoadModel {
  double base_peak_kw = 0;        // non-HVAC, non-flexible electric load at full occupancy
  double standby_fraction = 0.25; // share of base_peak_kw drawn with nobody in
  double noise_std = 0.03;        // relative std of the AR(1) load noise
  double people_gain_kw = 0;      // occupants' sensible heat at full occupancy
  double solar_aperture_m2 = 0;   // effective solar aperture of the conditioned zones
  std::size_t location = 0;       // index into the weather's locations
};

struct FleetOptions {
  Duration step{std::chrono::seconds(60)};
  std::uint64_t seed = 1;
  ZoneModelKind zone_model = ZoneModelKind::r2c2;
  // Time between a command's arrival and the device acting on it. PV and battery act within
  // the step (their ramp starts at that instant); HVAC and flexible loads act from the
  // nearest step boundary.
  Duration pv_response_delay{std::chrono::seconds(1)};
  Duration battery_response_delay{std::chrono::seconds(1)};
  Duration hvac_response_delay{std::chrono::seconds(30)};
  Duration load_response_delay{std::chrono::seconds(5)};
  // Active-power-limit ramp of PV inverters, % of rating per second (E: inverters ramp a limit
  // change over seconds to tens of seconds; 10 %/s reaches any limit within 10 s).
  double pv_ramp_pct_per_s = 10;
  double initial_soc_pct = 50;
  Duration noise_correlation{std::chrono::minutes(15)};
  double albedo = 0.2;
  // Closed-loop time constant of the zone temperature controller while cooling is on (E: a
  // tuned VAV/chilled-water loop settles in 10-20 min).
  double hvac_control_time_constant_s = 600;
  // Largest setpoint offset a BMS accepts (E: typical demand-response setpoint reset range).
  double max_setpoint_offset_c = 5;
  // PV: PVWatts v5 default system losses (Dobos 2014, NREL/TP-6A20-62641) and nominal inverter
  // efficiency; cell temperature by the NOCT model with NOCT = 45 C.
  double pv_system_loss = 0.14;
  double inverter_efficiency = 0.96;
  double noct_c = 45;
};

struct FleetCounters {
  std::uint64_t commands_received = 0;
  std::uint64_t accepted = 0;
  std::uint64_t rejected_rating = 0;    // value beyond the asset's ratings
  std::uint64_t rejected_invalid = 0;   // unknown asset, wrong kind, not a finite number
  std::uint64_t expired_on_arrival = 0;
};

struct SiteRange {
  std::size_t begin = 0;
  std::size_t end = 0;
};

class FleetModel {
 public:
  static Result<FleetModel> build(std::vector<Site> sites, std::vector<SiteLoadModel> loads, const FleetOptions& opt);

  // Advances every site (or the sites in `r`) by one step. Sites are independent, so ranges
  // may run on different threads; results do not depend on the partition.
  void step(const StepInputs& in) { step(in, SiteRange{0, sites_.size()}); }
  void step(const StepInputs& in, SiteRange r);
  // Contiguous ranges with about the same number of assets each.
  std::vector<SiteRange> partition(std::size_t parts) const;

  // A command arriving at `arrival`; the answer is the device's acknowledgement.
  CommandAck apply(const Command& cmd, TimePoint arrival);
  // Appends one Telemetry per asset (site order, then asset order), sampled at `t`.
  void telemetry(TimePoint t, std::vector<Telemetry>& out) const;

  // Sets every battery's state of charge (clamped to its limits and, from below, the site's
  // reserve) and clears the energy counters; used after the warm-up.
  void reset_batteries(double soc_pct);
  void reset_counters();

  const std::vector<Site>& sites() const { return sites_; }
  std::size_t site_count() const { return sites_.size(); }
  std::size_t asset_count() const;   // PV + batteries + HVAC zones + flexible loads + base loads
  Duration step_length() const { return step_; }
  const FleetCounters& counters() const { return counters_; }

  // Per site, averages over the last step (kW).
  std::span<const double> site_net_kw() const { return net_kw_; }
  std::span<const double> site_load_kw() const { return load_kw_; }  // base + flexible
  std::span<const double> site_base_kw() const { return base_kw_; }
  std::span<const double> site_hvac_kw() const { return hvac_kw_; }
  std::span<const double> site_pv_kw() const { return pv_kw_; }
  std::span<const double> site_battery_kw() const { return bat_kw_; }
  BuildingType site_type(std::size_t s) const { return static_cast<BuildingType>(type_[s]); }

  std::size_t zone_count() const { return z_site_.size(); }
  std::size_t zone_site(std::size_t z) const { return z_site_[z]; }
  double zone_temp_c(std::size_t z) const { return z_ta_[z]; }
  double zone_mass_temp_c(std::size_t z) const { return z_tm_[z]; }
  double zone_setpoint_c(std::size_t z) const { return z_sp_[z] + z_offset_[z]; }
  double zone_power_kw(std::size_t z) const { return z_p_[z]; }
  double zone_floor_area_m2(std::size_t z) const { return z_area_[z]; }
  const ZoneParams& zone_params_of(std::size_t z) const { return z_params_[z]; }
  void set_zone_state(std::size_t z, double air_c, double mass_c) {
    z_ta_[z] = air_c;
    z_tm_[z] = mass_c;
  }

  std::size_t battery_count() const { return b_site_.size(); }
  std::size_t battery_site(std::size_t b) const { return b_site_[b]; }
  double battery_energy_kwh(std::size_t b) const { return b_e_[b]; }
  double battery_capacity_kwh(std::size_t b) const { return b_cap_[b]; }
  double battery_soc_pct(std::size_t b) const { return 100.0 * b_e_[b] / b_cap_[b]; }
  double battery_power_kw(std::size_t b) const { return b_avg_[b]; }
  // Energy accounts since the last reset (kWh): AC in, AC out, conversion and standing losses.
  struct BatteryLedger {
    double charged_ac_kwh = 0, discharged_ac_kwh = 0, conversion_loss_kwh = 0, self_discharge_kwh = 0;
  };
  BatteryLedger battery_ledger(std::size_t b) const {
    return {b_in_[b], b_out_[b], b_conv_[b], b_sd_[b]};
  }
  // Times a battery's SoC fell more than 0.5 percentage points below its site's reserve.
  std::uint64_t reserve_violations() const;

  std::size_t pv_count() const { return pv_site_.size(); }
  std::size_t pv_site(std::size_t p) const { return pv_site_[p]; }
  double pv_power_kw(std::size_t p) const { return pv_p_[p]; }
  double pv_available_kw(std::size_t p) const { return pv_avail_[p]; }
  double pv_limit_kw(std::size_t p) const { return pv_limit_[p]; }

  std::size_t flexible_count() const { return f_site_.size(); }
  double flexible_power_kw(std::size_t f) const { return f_p_[f]; }

 private:
  FleetModel() = default;
  struct AssetRef {
    AssetKind kind;
    std::size_t index;
  };
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  std::vector<Site> sites_;
  Duration step_{};
  double dt_s_ = 60;
  std::uint64_t seed_ = 1;
  FleetOptions opt_;
  FleetCounters counters_;
  std::map<std::string, AssetRef> by_id_;            // "site\x1f" + "asset"
  std::vector<std::vector<AssetRef>> site_assets_;   // in each site's asset order

  // Sites.
  std::vector<std::int32_t> type_;   // BuildingType index (not a char type: char stores alias everything)
  std::vector<std::uint64_t> site_key_;
  std::vector<double> base_peak_, standby_, noise_, people_kw_;
  std::vector<double> idle_kw_, active_kw_, noise_scale_;   // precomputed per site for the hot loop
  std::vector<double> base_kw_, load_kw_, gains_kw_, hvac_kw_, pv_kw_, bat_kw_, net_kw_;
  std::vector<double> zone_area_total_;
  std::vector<std::size_t> site_loc_;
  double noise_phi_ = 0, noise_innov_ = 0;

  // Flexible loads.
  std::vector<std::size_t> f_site_, f_off_;
  std::vector<double> f_rated_, f_idle_kw_, f_active_kw_, f_max_curtail_, f_curtail_, f_pending_, f_p_;
  std::vector<std::int64_t> f_eff_, f_expires_, f_pending_expires_;
  // Per controllable asset, the earliest time a pending command acts or the active one expires
  // (kNever when neither): one compare per step skips all command bookkeeping.
  std::vector<std::int64_t> f_next_;

  // HVAC zones.
  std::vector<std::size_t> z_site_, z_off_;
  std::vector<ZoneParams> z_params_;
  std::vector<ZoneDiscrete> z_d_;
  std::vector<std::int32_t> z_plant_, z_on_;
  std::vector<double> z_ta_, z_tm_, z_sp_, z_db_, z_area_, z_gain_share_, z_aperture_;
  std::vector<double> z_rated_kw_, z_cop_, z_inv_cop_, z_q_rated_, z_inv_bqa_;
  std::vector<double> z_offset_, z_offset_pending_, z_cap_, z_cap_pending_, z_p_;
  std::vector<std::int64_t> z_offset_eff_, z_offset_expires_, z_offset_pending_expires_;
  std::vector<std::int64_t> z_cap_eff_, z_cap_expires_, z_cap_pending_expires_, z_next_;
  double ctrl_k_ = 0;

  // PV.
  std::vector<std::size_t> pv_site_, pv_loc_, pv_off_;
  std::vector<PlaneCoefficients> pv_plane_;
  std::vector<double> pv_dc_, pv_ac_, pv_gamma_, pv_ramp_, pv_inv_ramp_;
  std::vector<double> pv_limit_, pv_limit_target_, pv_limit_pending_, pv_p_, pv_avail_;
  std::vector<std::int64_t> pv_eff_, pv_expires_, pv_pending_expires_, pv_next_;
  double noct_k_ = 0, pv_derate_ = 0;

  // Batteries.
  std::vector<std::size_t> b_site_, b_off_;
  std::vector<double> b_cap_, b_e_, b_emin_, b_emax_, b_ereserve_, b_pch_, b_pdis_, b_etac_, b_etad_, b_inv_etac_, b_inv_etad_;
  std::vector<double> b_sd_per_s_, b_ramp_, b_inv_ramp_, b_p_, b_avg_, b_setpoint_, b_pending_;
  std::vector<std::int32_t> b_mode_, b_below_;   // mode 0 = self-consumption, 1 = setpoint
  std::vector<std::int64_t> b_eff_, b_expires_, b_pending_expires_, b_next_;
  std::vector<std::uint64_t> b_violations_;
  std::vector<double> b_in_, b_out_, b_conv_, b_sd_;
};

}  // namespace vpp::sim
