// Fleet physics and its control surface, on small hand-made fleets with hand-checkable numbers.
#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "sim/building_models.hpp"
#include "sim/fleet.hpp"
#include "sim/fleet_gen.hpp"
#include "sim/solar.hpp"

namespace vpp::sim {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = *parse_utc("2026-07-07T04:00:00Z");

Site make_site(std::string id, BuildingType type, std::vector<Asset> assets, double reserve_pct = 20) {
  Site s;
  s.id = std::move(id);
  s.type = type;
  s.limits.battery_reserve_pct = reserve_pct;
  s.assets = std::move(assets);
  return s;
}

SiteLoadModel flat_load(double kw) {
  SiteLoadModel m;
  m.base_peak_kw = kw;
  m.standby_fraction = 1.0;  // the same load whatever the occupancy
  m.noise_std = 0.0;
  return m;
}

BatterySpec battery(double kwh, double kw) {
  BatterySpec b;
  b.capacity_kwh = kwh;
  b.max_charge_kw = kw;
  b.max_discharge_kw = kw;
  b.soc_min_pct = 10;
  b.soc_max_pct = 90;
  b.self_discharge_pct_per_day = 0;
  return b;
}

// One fleet with its inputs and a clock of its own.
struct Rig {
  FleetModel fleet;
  std::vector<SkyTerms> sky{SkyTerms{}};
  StepInputs in;
  TimePoint t = kT0;

  explicit Rig(FleetModel f) : fleet(std::move(f)) {
    in.t_out_c = 30;
    in.sky = sky;
  }
  void step(int n = 1) {
    for (int i = 0; i < n; ++i) {
      in.t0_ms = to_unix_ms(t);
      in.sky = sky;
      fleet.step(in);
      t += fleet.step_length();
      ++in.step_index;
    }
  }
  CommandAck send(std::string site, std::string asset, SetpointKind kind, double value, Duration valid = 1h,
                  Duration after = 0s) {
    Command c;
    c.command_id = "c";
    c.site_id = std::move(site);
    c.asset_id = std::move(asset);
    c.kind = kind;
    c.value = value;
    c.issued = t + after;
    c.expires = t + after + valid;
    return fleet.apply(c, t + after);
  }
};

FleetModel build(std::vector<Site> sites, std::vector<SiteLoadModel> loads, FleetOptions o = {}) {
  auto f = FleetModel::build(std::move(sites), std::move(loads), o);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error());
  return std::move(*f);
}

FleetOptions instant() {
  FleetOptions o;
  o.battery_response_delay = 0s;
  o.pv_response_delay = 0s;
  o.hvac_response_delay = 0s;
  o.load_response_delay = 0s;
  o.pv_ramp_pct_per_s = 0;  // at once
  return o;
}

// ---------------------------------------------------------------- batteries

TEST(Battery, OneStepOfChargingIsHandCheckable) {
  auto o = instant();
  o.initial_soc_pct = 50;
  Rig rig(build({make_site("s", BuildingType::office, {{"b", "", battery(100, 50)}})}, {flat_load(0)}, o));
  ASSERT_EQ(rig.send("s", "b", SetpointKind::battery_p_kw, -50).status, AckStatus::accepted);
  rig.step();
  // 50 kW for one minute is 0.8333 kWh from the grid, 0.95 of it stored: 50 + 0.791667 kWh.
  EXPECT_NEAR(rig.fleet.battery_energy_kwh(0), 50.0 + 50.0 / 60.0 * 0.95, 1e-12);
  EXPECT_NEAR(rig.fleet.site_battery_kw()[0], -50.0, 1e-12);
  EXPECT_NEAR(rig.fleet.site_net_kw()[0], 50.0, 1e-12);  // charging is import
}

TEST(Battery, EnergyBalanceClosesToRounding) {
  FleetOptions o;
  o.initial_soc_pct = 50;
  BatterySpec b = battery(200, 80);
  b.charge_efficiency = 0.96;
  b.discharge_efficiency = 0.92;
  b.self_discharge_pct_per_day = 3;
  b.ramp_kw_per_s = 4;
  Rig rig(build({make_site("s", BuildingType::office, {{"b", "", b}}, 0)}, {flat_load(25)}, o));
  const double e0 = rig.fleet.battery_energy_kwh(0);
  // A day of setpoints that ramp, hit both SoC limits and fall back to self-consumption.
  const double setpoints[] = {-80, -80, -80, 30, 80, 80, 80, 80, -20, 0, 55, -65};
  int i = 0;
  for (int minute = 0; minute < 24 * 60; ++minute) {
    if (minute % 97 == 0) {
      const double sp = setpoints[i++ % 12];
      EXPECT_EQ(rig.send("s", "b", SetpointKind::battery_p_kw, sp, 70min, 13s).status, AckStatus::accepted);
    }
    rig.step();
    // The BMS limits hold; only the standing loss may take the charge a little below the
    // minimum, and the battery then delivers nothing.
    const double soc = rig.fleet.battery_soc_pct(0);
    EXPECT_GE(soc, 9.9);
    EXPECT_LE(soc, 90.0 + 1e-9);
    if (soc < 10.0 - 1e-9) {
      EXPECT_LE(rig.fleet.battery_power_kw(0), 0.0);
    }
    EXPECT_LE(std::abs(rig.fleet.battery_power_kw(0)), 80.0 + 1e-9);
  }
  const auto l = rig.fleet.battery_ledger(0);
  EXPECT_GT(l.charged_ac_kwh, 100);
  EXPECT_GT(l.discharged_ac_kwh, 100);
  EXPECT_GT(l.self_discharge_kwh, 0.1);
  const double expected = e0 + l.charged_ac_kwh * 0.96 - l.discharged_ac_kwh / 0.92 - l.self_discharge_kwh;
  EXPECT_NEAR(rig.fleet.battery_energy_kwh(0), expected, 1e-9);
  // Conversion losses account for the difference between AC in and out.
  EXPECT_NEAR(l.conversion_loss_kwh, l.charged_ac_kwh * 0.04 + l.discharged_ac_kwh * (1 / 0.92 - 1), 1e-9);
}

TEST(Battery, RampAndResponseDelayShapeTheStepAverage) {
  FleetOptions o;
  o.battery_response_delay = 1s;
  BatterySpec b = battery(1000, 100);
  b.ramp_kw_per_s = 10;
  Rig rig(build({make_site("s", BuildingType::office, {{"b", "", b}})}, {flat_load(0)}, o));
  ASSERT_EQ(rig.send("s", "b", SetpointKind::battery_p_kw, 100).status, AckStatus::accepted);
  rig.step();
  // 1 s at 0, a 10 s ramp to 100 kW (mean 50), then 49 s at 100: (0 + 500 + 4900) / 60 = 90 kW.
  EXPECT_NEAR(rig.fleet.site_battery_kw()[0], 90.0, 1e-9);
  rig.step();
  EXPECT_NEAR(rig.fleet.site_battery_kw()[0], 100.0, 1e-9);
}

TEST(Battery, SelfConsumptionCoversTheLoadDownToTheReserveOnly) {
  auto o = instant();
  o.initial_soc_pct = 25;
  Rig rig(build({make_site("s", BuildingType::office, {{"b", "", battery(100, 50)}}, 20)}, {flat_load(30)}, o));
  rig.step();
  EXPECT_NEAR(rig.fleet.site_battery_kw()[0], 30.0, 1e-9);
  EXPECT_NEAR(rig.fleet.site_net_kw()[0], 0.0, 1e-9);
  // 5 kWh above the reserve at 30 kW / 0.95: gone within 10 minutes, then the grid takes over.
  rig.step(15);
  EXPECT_NEAR(rig.fleet.battery_soc_pct(0), 20.0, 1e-9);
  EXPECT_NEAR(rig.fleet.site_net_kw()[0], 30.0, 1e-9);
  EXPECT_EQ(rig.fleet.reserve_violations(), 0u);
  // A setpoint may take it below the reserve (down to the BMS minimum); that is counted once.
  ASSERT_EQ(rig.send("s", "b", SetpointKind::battery_p_kw, 50).status, AckStatus::accepted);
  rig.step(30);
  EXPECT_NEAR(rig.fleet.battery_soc_pct(0), 10.0, 1e-9);
  EXPECT_EQ(rig.fleet.reserve_violations(), 1u);
}

// ---------------------------------------------------------------- PV

// Clear sky at Beijing solar noon on 7 July.
std::vector<SkyTerms> noon_sky(double linke = 3.8) {
  const TimePoint t = *parse_utc("2026-07-07T04:19:00Z");
  const auto sun = sun_position(t, 39.80, 116.47);
  const double i0 = extraterrestrial_normal_w_m2(day_of_year(t));
  const auto cs = clear_sky_ineichen(sun.zenith_deg, 32, linke, i0);
  return {sky_terms(sun, cs)};
}

PvSpec pv(double dc_kw, double ac_kw) {
  PvSpec p;
  p.dc_peak_kw = dc_kw;
  p.rated_kw = ac_kw;
  p.tilt_deg = 20;
  p.azimuth_deg = 180;
  p.temp_coeff_per_c = -0.004;
  return p;
}

TEST(Pv, ZeroAtNight) {
  Rig rig(build({make_site("s", BuildingType::office, {{"pv", "", pv(100, 90)}})}, {flat_load(10)}));
  rig.sky = {SkyTerms{}};  // sun below the horizon: no irradiance at all
  rig.step();
  EXPECT_EQ(rig.fleet.pv_power_kw(0), 0.0);
  EXPECT_EQ(rig.fleet.pv_available_kw(0), 0.0);
  EXPECT_EQ(rig.fleet.site_net_kw()[0], 10.0);
}

TEST(Pv, ClearSkyNoonOutputIsPlausibleForBeijingInJuly) {
  Rig rig(build({make_site("s", BuildingType::office, {{"pv", "", pv(100, 90)}})}, {flat_load(0)}));
  rig.sky = noon_sky();
  rig.in.t_out_c = 33;
  rig.step();
  const double poa = poa_w_m2(plane_coefficients(20, 180, 0.2), rig.sky[0]);
  // A 20 deg south-facing plane at a 17 deg noon zenith sees about the GHI.
  EXPECT_GT(poa, 900);
  EXPECT_LT(poa, 1050);
  // NOCT cell temperature 33 + 25/800 * POA, -0.4 %/K, 14 % system losses, 96 % inverter.
  const double t_cell = 33 + 25.0 / 800.0 * poa;
  const double expected = 100 * poa / 1000 * (1 - 0.004 * (t_cell - 25)) * 0.86 * 0.96;
  EXPECT_NEAR(rig.fleet.pv_power_kw(0), expected, 1e-9);
  // About 0.7 kW AC per kWp at a hot, clear noon.
  EXPECT_GT(rig.fleet.pv_power_kw(0), 62);
  EXPECT_LT(rig.fleet.pv_power_kw(0), 80);
  EXPECT_NEAR(rig.fleet.site_net_kw()[0], -expected, 1e-9);
}

TEST(Pv, InverterClipsAtItsAcRating) {
  Rig rig(build({make_site("s", BuildingType::office, {{"pv", "", pv(200, 100)}})}, {flat_load(0)}));
  rig.sky = noon_sky();
  rig.step();
  EXPECT_EQ(rig.fleet.pv_power_kw(0), 100.0);
}

TEST(Pv, FollowsALimitWithDelayAndRampAndRevertsWhenItExpires) {
  FleetOptions o;
  o.pv_response_delay = 1s;
  o.pv_ramp_pct_per_s = 10;  // 10 kW/s on a 100 kW inverter
  Rig rig(build({make_site("s", BuildingType::office, {{"pv", "", pv(200, 100)}})}, {flat_load(0)}, o));
  rig.sky = noon_sky();
  ASSERT_EQ(rig.send("s", "pv", SetpointKind::pv_limit_pct, 0, 3min, 10s).status, AckStatus::accepted);
  rig.step();
  // Arrives 10 s into the step, acts 1 s later: 11 s at 100 kW, a 10 s ramp to 0 (mean 50), then
  // 39 s at 0: (1100 + 500) / 60 = 26.667 kW.
  EXPECT_NEAR(rig.fleet.pv_power_kw(0), 1600.0 / 60.0, 1e-9);
  rig.step();
  EXPECT_EQ(rig.fleet.pv_power_kw(0), 0.0);
  rig.step(2);  // the command expires at the start of the fourth step...
  EXPECT_EQ(rig.fleet.pv_power_kw(0), 0.0);
  rig.step();   // ...and the limit ramps back up: (500 + 50 * 100) / 60.
  EXPECT_NEAR(rig.fleet.pv_power_kw(0), 5500.0 / 60.0, 1e-9);
  EXPECT_NEAR(rig.fleet.pv_limit_kw(0), 100.0, 1e-12);
}

// ---------------------------------------------------------------- HVAC zones

HvacZoneSpec zone(double r_k_per_kw, double c_kwh_per_k, double area_m2, double rated_kw = 100) {
  HvacZoneSpec h;
  h.rated_electric_kw = rated_kw;
  h.rated_cop = 3.5;
  h.floor_area_m2 = area_m2;
  h.thermal_resistance_k_per_kw = r_k_per_kw;
  h.thermal_capacitance_kwh_per_k = c_kwh_per_k;
  h.default_setpoint_c = 26;
  h.deadband_c = 1;
  return h;
}

TEST(Hvac, PlantOffOneNodeZoneRelaxesToOutdoorWithTimeConstantRC) {
  FleetOptions o;
  o.zone_model = ZoneModelKind::r1c1;
  // R C = 0.02 K/kW * 500 kWh/K = 10 h.
  Rig rig(build({make_site("s", BuildingType::office, {{"z", "", zone(0.02, 500, 5000)}})}, {flat_load(0)}, o));
  rig.fleet.set_zone_state(0, 30, 30);
  rig.in.t_out_c = 20;
  rig.in.hvac_scheduled = {};  // plant off
  for (int minute = 1; minute <= 24 * 60; ++minute) {
    rig.step();
    const double t_h = minute / 60.0;
    ASSERT_NEAR(rig.fleet.zone_temp_c(0), 20.0 + 10.0 * std::exp(-t_h / 10.0), 1e-9) << "minute " << minute;
  }
  EXPECT_EQ(rig.fleet.site_hvac_kw()[0], 0.0);
}

TEST(Hvac, PlantOffTwoNodeZoneMatchesAFineGrainedIntegrationOfItsOde) {
  // An office zone of 10 000 m2: R and C from its archetype.
  HvacZoneSpec h = zone(0.0906, 458.3, 10000);  // typical_zone_thermal(office, 10000 m2)
  Rig rig(build({make_site("s", BuildingType::office, {{"z", "", h}})}, {flat_load(0)}));
  const ZoneParams p = rig.fleet.zone_params_of(0);
  rig.fleet.set_zone_state(0, 31, 28);
  rig.in.t_out_c = 22;
  rig.in.hvac_scheduled = {};
  // Reference: classical RK4 at 1 s on Ca dTa/dt = Ho (To - Ta) + Hm (Tm - Ta), Cm dTm/dt = Hm (Ta - Tm).
  double ta = 31, tm = 28;
  auto f = [&](double a, double m, double& da, double& dm) {
    da = (p.h_out_kw_per_k * (22 - a) + p.h_mass_kw_per_k * (m - a)) / p.c_air_kj_per_k;
    dm = p.h_mass_kw_per_k * (a - m) / p.c_mass_kj_per_k;
  };
  for (int minute = 1; minute <= 12 * 60; ++minute) {
    for (int s = 0; s < 60; ++s) {
      double k1a, k1m, k2a, k2m, k3a, k3m, k4a, k4m;
      f(ta, tm, k1a, k1m);
      f(ta + 0.5 * k1a, tm + 0.5 * k1m, k2a, k2m);
      f(ta + 0.5 * k2a, tm + 0.5 * k2m, k3a, k3m);
      f(ta + k3a, tm + k3m, k4a, k4m);
      ta += (k1a + 2 * k2a + 2 * k3a + k4a) / 6;
      tm += (k1m + 2 * k2m + 2 * k3m + k4m) / 6;
    }
    rig.step();
    ASSERT_NEAR(rig.fleet.zone_temp_c(0), ta, 1e-6) << "minute " << minute;
    ASSERT_NEAR(rig.fleet.zone_mass_temp_c(0), tm, 1e-6) << "minute " << minute;
  }
  // The slow mode is the whole building's R C (the air-mass coupling is ~20x the envelope's);
  // the fast one, the air node's, is minutes.
  const auto tau = time_constants_s(p);
  EXPECT_NEAR(tau[0] / 3600.0, 0.0906 * 458.3, 0.05 * 0.0906 * 458.3);
  EXPECT_GT(tau[0], 24 * 3600.0);
  EXPECT_LT(tau[1], 30 * 60.0);
}

// A steady office zone holding its setpoint: 30 W/m2 of internal gains, 33 C outside.
struct SteadyZone {
  Rig rig;
  double gains_kw;
  SteadyZone()
      : rig(build({make_site("s", BuildingType::office, {{"z", "", zone(0.0906, 458.3, 10000, 250)}})},
                  {flat_load(300)}, instant())),
        gains_kw(300) {
    rig.in.t_out_c = 33;
    rig.in.hvac_scheduled = {1, 1, 1, 1, 1};
    rig.in.cop_ratio = {0.8, 0.8};
    rig.step(4 * 24 * 60);  // four days: well past the slow transient near the setpoint
  }
};

TEST(Hvac, ElectricPowerIsThermalLoadOverCop) {
  SteadyZone z;
  EXPECT_NEAR(z.rig.fleet.zone_temp_c(0), 26.0, 1e-3);
  // In steady state the plant removes the gains plus what the envelope lets in.
  const double q_kw = z.gains_kw + (33.0 - z.rig.fleet.zone_temp_c(0)) / 0.0906;
  EXPECT_NEAR(z.rig.fleet.site_hvac_kw()[0], q_kw / (3.5 * 0.8), 0.01);
}

TEST(Hvac, PowerCapLimitsElectricPowerAndLetsTheZoneWarm) {
  SteadyZone z;
  ASSERT_EQ(z.rig.send("s", "z", SetpointKind::hvac_power_cap_kw, 60).status, AckStatus::accepted);
  double t_before = z.rig.fleet.zone_temp_c(0);
  for (int i = 0; i < 60; ++i) {
    z.rig.step();
    EXPECT_LE(z.rig.fleet.site_hvac_kw()[0], 60.0 + 1e-9);
  }
  EXPECT_GT(z.rig.fleet.zone_temp_c(0), t_before + 0.5);
}

TEST(Hvac, PreCoolingStoresCoolthThatShowsDuringAShed) {
  SteadyZone plain;
  SteadyZone precooled;
  // Two hours at a 2 K lower setpoint, then both plants off (cap 0) for two hours.
  ASSERT_EQ(precooled.rig.send("s", "z", SetpointKind::hvac_setpoint_offset_c, -2, 2h).status, AckStatus::accepted);
  double energy_plain = 0, energy_pre = 0;
  for (int i = 0; i < 120; ++i) {
    plain.rig.step();
    precooled.rig.step();
    energy_plain += plain.rig.fleet.site_hvac_kw()[0] / 60;
    energy_pre += precooled.rig.fleet.site_hvac_kw()[0] / 60;
  }
  EXPECT_GT(energy_pre, energy_plain + 50);  // pre-cooling costs energy first
  EXPECT_LT(precooled.rig.fleet.zone_temp_c(0), 24.5);
  for (auto* r : {&plain.rig, &precooled.rig}) {
    ASSERT_EQ(r->send("s", "z", SetpointKind::hvac_power_cap_kw, 0, 2h).status, AckStatus::accepted);
  }
  plain.rig.step(120);
  precooled.rig.step(120);
  // The pre-cooled mass keeps the air cooler through the whole shed.
  EXPECT_LT(precooled.rig.fleet.zone_temp_c(0), plain.rig.fleet.zone_temp_c(0) - 0.3);
  EXPECT_EQ(precooled.rig.fleet.site_hvac_kw()[0], 0.0);
}

TEST(Hvac, AFastZoneIsCaughtAtTheUpperEdgeWhenItsSetpointIsRaised) {
  // A data hall: 1 kW/m2 of IT heat on 1000 m2, heavy mass, 5-minute steps. Uncooled, its air
  // warms several kelvin per step, so the thermostat must act on where the air is heading.
  auto o = instant();
  o.step = 5min;
  HvacZoneSpec h = zone(1.408, 72.2, 1000, 500);
  h.default_setpoint_c = 25;
  Rig rig(build({make_site("dc", BuildingType::data_centre, {{"z", "", h}})}, {flat_load(1000)}, o));
  rig.in.t_out_c = 33;
  rig.in.hvac_scheduled = {1, 1, 1, 1, 1};
  rig.step(12 * 24);  // a day to settle at 25 C
  ASSERT_NEAR(rig.fleet.zone_temp_c(0), 25.0, 0.01);
  // Raise the setpoint by 1 K: the air sits just below the new band, where a plain deadband
  // thermostat switches off for a whole step.
  ASSERT_EQ(rig.send("dc", "z", SetpointKind::hvac_setpoint_offset_c, 1.0, 2h).status, AckStatus::accepted);
  for (int i = 0; i < 24; ++i) {
    rig.step();
    EXPECT_LE(rig.fleet.zone_temp_c(0), 26.0 + 0.5 + 1e-9) << "step " << i;
    EXPECT_GT(rig.fleet.site_hvac_kw()[0], 0.0) << "step " << i;
  }
}

TEST(Hvac, SetpointOffsetExpiresBackToTheDefaultSetpoint) {
  SteadyZone z;
  ASSERT_EQ(z.rig.send("s", "z", SetpointKind::hvac_setpoint_offset_c, 1.5, 10min).status, AckStatus::accepted);
  z.rig.step();
  EXPECT_DOUBLE_EQ(z.rig.fleet.zone_setpoint_c(0), 27.5);
  z.rig.step(10);
  EXPECT_DOUBLE_EQ(z.rig.fleet.zone_setpoint_c(0), 26.0);
}

// ---------------------------------------------------------------- commands and telemetry

FleetModel full_site() {
  FlexibleLoadSpec l;
  l.rated_kw = 40;
  l.max_curtail_pct = 50;
  return build({make_site("s", BuildingType::office,
                          {{"meter", "", SiteMeterSpec{}},
                           {"pv", "", pv(100, 90)},
                           {"b", "", battery(100, 50)},
                           {"z", "", zone(0.0906, 458.3, 10000)},
                           {"flex", "", l}})},
               {flat_load(100)}, instant());
}

TEST(Commands, BeyondRatingsAreRefusedAndCounted) {
  Rig rig(full_site());
  const struct {
    const char* asset;
    SetpointKind kind;
    double value;
  } beyond[] = {
      {"b", SetpointKind::battery_p_kw, 50.5},         // discharge rating 50 kW
      {"b", SetpointKind::battery_p_kw, -60},          // charge rating 50 kW
      {"pv", SetpointKind::pv_limit_kw, 95},           // AC rating 90 kW
      {"pv", SetpointKind::pv_limit_pct, 120},
      {"pv", SetpointKind::pv_limit_pct, -1},
      {"z", SetpointKind::hvac_setpoint_offset_c, 6},  // +-5 K
      {"z", SetpointKind::hvac_power_cap_kw, 101},     // rated 100 kW
      {"flex", SetpointKind::load_curtail_pct, 80},    // max 50 %
  };
  for (const auto& c : beyond) {
    const auto ack = rig.send("s", c.asset, c.kind, c.value);
    EXPECT_EQ(ack.status, AckStatus::rejected) << c.asset << " " << c.value;
    EXPECT_NE(ack.detail.find("beyond the rating"), std::string::npos) << ack.detail;
  }
  EXPECT_EQ(rig.fleet.counters().rejected_rating, 8u);
  EXPECT_EQ(rig.send("s", "b", SetpointKind::battery_p_kw, 50.5).detail, "battery_p_kw 50.5 is beyond the rating -50..50 kW");
  // Within ratings is fine; refused commands changed nothing.
  EXPECT_EQ(rig.send("s", "b", SetpointKind::battery_p_kw, 50).status, AckStatus::accepted);
  EXPECT_EQ(rig.fleet.counters().accepted, 1u);
}

TEST(Commands, InvalidOnesAreRejectedWithAReason) {
  Rig rig(full_site());
  EXPECT_EQ(rig.send("s", "nope", SetpointKind::battery_p_kw, 1).detail, "unknown asset 'nope' in site 's'");
  EXPECT_EQ(rig.send("x", "b", SetpointKind::battery_p_kw, 1).status, AckStatus::rejected);
  EXPECT_EQ(rig.send("s", "b", SetpointKind::pv_limit_kw, 1).detail, "a battery does not accept pv_limit_kw");
  EXPECT_EQ(rig.send("s", "meter", SetpointKind::battery_p_kw, 1).detail, "a site_meter accepts no commands");
  EXPECT_EQ(rig.send("s", "b", SetpointKind::battery_p_kw, std::nan("")).detail, "value is not a finite number");
  EXPECT_EQ(rig.fleet.counters().rejected_invalid, 5u);
  const auto late = rig.send("s", "b", SetpointKind::battery_p_kw, 1, 0s);
  EXPECT_EQ(late.status, AckStatus::expired);
  EXPECT_EQ(rig.fleet.counters().expired_on_arrival, 1u);
  EXPECT_EQ(rig.fleet.counters().rejected_rating, 0u);
}

TEST(Commands, ExpiryRevertsEveryAssetToItsDefault) {
  Rig rig(full_site());
  rig.sky = noon_sky();
  rig.step();
  const double free_pv = rig.fleet.pv_power_kw(0);
  ASSERT_GT(free_pv, 10);
  for (auto [asset, kind, value] : {std::tuple{"b", SetpointKind::battery_p_kw, -50.0},
                                    std::tuple{"pv", SetpointKind::pv_limit_kw, 5.0},
                                    std::tuple{"z", SetpointKind::hvac_setpoint_offset_c, 2.0},
                                    std::tuple{"flex", SetpointKind::load_curtail_pct, 50.0}}) {
    ASSERT_EQ(rig.send("s", asset, kind, value, 5min).status, AckStatus::accepted);
  }
  rig.step();
  EXPECT_NEAR(rig.fleet.site_battery_kw()[0], -50, 1e-9);
  EXPECT_NEAR(rig.fleet.pv_power_kw(0), 5, 1e-9);
  EXPECT_DOUBLE_EQ(rig.fleet.zone_setpoint_c(0), 28);
  EXPECT_NEAR(rig.fleet.flexible_power_kw(0), 20, 1e-9);  // 40 kW at 50 %
  rig.step(5);
  // Defaults: self-consumption (the site imports, so the battery discharges), no PV limit,
  // the default setpoint, no curtailment.
  EXPECT_GT(rig.fleet.site_battery_kw()[0], 0);
  EXPECT_NEAR(rig.fleet.pv_power_kw(0), free_pv, 0.05 * free_pv);
  EXPECT_DOUBLE_EQ(rig.fleet.zone_setpoint_c(0), 26);
  EXPECT_NEAR(rig.fleet.flexible_power_kw(0), 40, 1e-9);
}

TEST(Telemetry, OneMessagePerAssetInSiteOrderWithTheDevicesValues) {
  Rig rig(full_site());
  rig.step();
  std::vector<Telemetry> out;
  rig.fleet.telemetry(rig.t, out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].asset_id, "meter");
  EXPECT_NEAR(*out[0].p_kw, rig.fleet.site_net_kw()[0], 1e-12);
  EXPECT_EQ(out[2].asset_id, "b");
  EXPECT_NEAR(*out[2].soc_pct, rig.fleet.battery_soc_pct(0), 1e-12);
  EXPECT_EQ(out[3].asset_id, "z");
  EXPECT_DOUBLE_EQ(*out[3].setpoint_c, 26);
  EXPECT_TRUE(out[3].indoor_temp_c.has_value());
  for (const auto& m : out) {
    EXPECT_EQ(m.site_id, "s");
    EXPECT_EQ(m.time, rig.t);
    EXPECT_EQ(m.quality, Quality::good);
  }
}

TEST(Fleet, ResultsDoNotDependOnHowSitesArePartitioned) {
  Scenario sc;
  sc.location = {39.8, 116.47, 32};
  FleetGenConfig g;
  g.sites = 60;
  g.mix = {0.4, 0.2, 0.15, 0.15, 0.1};
  g.pv_penetration = 0.7;
  g.battery_penetration = 0.5;
  g.flexible_penetration = 0.3;
  sc.fleet = g;
  const auto setup = make_fleet(sc, 5);
  Rig one(build(setup.sites, setup.loads));
  Rig three(build(setup.sites, setup.loads));
  one.sky = three.sky = noon_sky();
  one.in.sky = one.sky;
  three.in.sky = three.sky;
  one.in.hvac_scheduled = three.in.hvac_scheduled = {1, 1, 1, 1, 1};
  one.in.occupancy = three.in.occupancy = {0.9, 0.7, 0.75, 0.9, 1};
  const auto parts = three.fleet.partition(3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts.front().begin, 0u);
  EXPECT_EQ(parts.back().end, 60u);
  for (int k = 0; k < 120; ++k) {
    one.in.t0_ms = three.in.t0_ms = to_unix_ms(one.t);
    one.fleet.step(one.in);
    for (auto r : parts) three.fleet.step(three.in, r);
    one.t += 60s;
    ++one.in.step_index;
    ++three.in.step_index;
  }
  for (std::size_t s = 0; s < 60; ++s) EXPECT_EQ(one.fleet.site_net_kw()[s], three.fleet.site_net_kw()[s]);
}

TEST(Fleet, RecordedBaseLoadsReplayARunExactly) {
  // Record a run's exogenous inputs (here the base loads; the weather is already a series),
  // then replay them into a fleet whose own noise differs: the physics follows exactly.
  Scenario sc;
  sc.location = {39.8, 116.47, 32};
  FleetGenConfig g;
  g.sites = 20;
  g.mix = {0.4, 0.2, 0.15, 0.15, 0.1};
  g.pv_penetration = 0.5;
  g.battery_penetration = 0.5;
  sc.fleet = g;
  const auto setup = make_fleet(sc, 5);
  FleetOptions a_opt, b_opt;
  a_opt.seed = 1;
  b_opt.seed = 2;
  Rig a(build(setup.sites, setup.loads, a_opt));
  Rig b(build(setup.sites, setup.loads, b_opt));
  for (auto* r : {&a, &b}) {
    r->sky = noon_sky();
    r->in.hvac_scheduled = {1, 1, 1, 1, 1};
    r->in.occupancy = {0.9, 0.7, 0.75, 0.9, 1};
  }
  std::vector<double> recorded;
  int differs_without_replay = 0;
  for (int k = 0; k < 180; ++k) {
    a.step();
    recorded.assign(a.fleet.site_base_kw().begin(), a.fleet.site_base_kw().end());
    b.in.base_load_kw = recorded;
    b.step();
    for (std::size_t s = 0; s < 20; ++s) ASSERT_EQ(a.fleet.site_net_kw()[s], b.fleet.site_net_kw()[s]) << k << " " << s;
  }
  // Without the recording the two seeds draw different loads.
  b.in.base_load_kw = {};
  a.step();
  b.step();
  for (std::size_t s = 0; s < 20; ++s) differs_without_replay += a.fleet.site_base_kw()[s] != b.fleet.site_base_kw()[s];
  EXPECT_GT(differs_without_replay, 10);
}

TEST(Fleet, BuildRefusesWhatItCannotSimulate) {
  EvChargerSpec ev;
  ev.max_charge_kw = 22;
  auto r = FleetModel::build({make_site("s", BuildingType::office, {{"ev", "", ev}})}, {flat_load(1)}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "site 's' asset 'ev': EV chargers are not simulated yet");
  auto d = FleetModel::build({make_site("s", BuildingType::office, {{"b", "", battery(10, 5)}, {"b", "", battery(10, 5)}})},
                             {flat_load(1)}, {});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error(), "site 's' asset 'b': duplicate asset id");
  EXPECT_FALSE(FleetModel::build({make_site("s", BuildingType::office, {})}, {}, {}).ok());
}

}  // namespace
}  // namespace vpp::sim
