#pragma once
// A small scenario for the emulator tests: `sites` generated offices with PV and a battery each,
// one-second steps from local noon (PV producing), no warm-up, and the given serve: section.
#include <string>

namespace vpp::sim::emulators::fixture {

inline std::string scenario_text(int sites, const std::string& serve_section) {
  return R"(name: emu-test
seed: 3
start: "2026-07-07T12:00:00+08:00"
duration: 1h
step: 1s
warmup: 0s
utc_offset: "+08:00"
location: {latitude: 39.8, longitude: 116.47}
control:
  telemetry_period: 1s
weather:
  temperature:
    daily_cycle: {min_c: 26, max_c: 34}
  irradiance:
    model: clear_sky
fleet:
  sites: )" + std::to_string(sites) + R"(
  mix: {office: 1.0}
  pv: {penetration: 1.0}
  battery: {penetration: 1.0, reserve_pct: 20}
)" + serve_section;
}

}  // namespace vpp::sim::emulators::fixture
