#pragma once
// The register image of one emulated SunSpec device (a PV inverter or a battery inverter) and
// the meaning of writes to it. Pure: no sockets, no clock. The Modbus server
// (sunspec_server.hpp) serves the image and hands control changes to the emulator, which applies
// them to the simulated asset.
//
// Layout from 40000: "SunS", then the models of the device's profile (scenario.hpp
// SunSpecProfile), then the end model (0xFFFF, 0). Blocks are built with the project's generic
// encoder (proto/sunspec_codec.hpp) from the official model tables, so every point sits where
// the specification puts it; points the emulator does not model hold their "not implemented"
// sentinel.
//
// Scale factors are fixed per device when the image is built, chosen so that the device's
// ratings fit the 16-bit points with the finest resolution (a 300 kW inverter reports W in
// units of 10 W). Percentages use one decimal (SF -1), 124's rates two (SF -2).
//
// Writes are accepted only to points the model marks RW, and only with values the device can
// act on (a limit of 0..100 %, a battery power within the ratings, enums the model defines);
// anything else is refused with the Modbus exception a device would answer
// (2 ILLEGAL DATA ADDRESS, 3 ILLEGAL DATA VALUE).
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/result.hpp"
#include "model/time.hpp"
#include "proto/sunspec_codec.hpp"
#include "sim/scenario.hpp"

namespace vpp::sim::emulators {

enum class SunSpecRole { pv, battery };

struct SunSpecDeviceSpec {
  std::string serial;            // model 1 SN (at most 32 characters are kept)
  int unit_id = 1;               // model 1 DA
  SunSpecRole role = SunSpecRole::pv;
  SunSpecProfile profile = SunSpecProfile::legacy;
  double rated_kw = 0;           // PV: inverter AC rating; battery: max discharge
  double max_charge_kw = 0;      // battery
  double capacity_kwh = 0;       // battery
  double reserve_pct = 0;        // battery: the site's reserve (124 MinRsvPct)
};

// Live values, in vpp units and signs (PV generation and battery discharge positive).
struct SunSpecMeasurements {
  double p_kw = 0;
  double q_kvar = 0;
  std::optional<double> available_kw;   // PV
  std::optional<double> soc_pct;        // battery
  double energy_out_wh = 0;             // AC energy injected since start (acc counters)
};

// The control in force after a write, in vpp terms.
struct SunSpecControl {
  enum class Kind { pv_limit_pct, battery_p_kw } kind = Kind::pv_limit_pct;
  bool enabled = false;
  double value = 0;                     // % of WMax, or kW discharge positive
  Duration revert{0};                   // reversion timeout; 0 = none
  std::uint16_t model = 0;              // the control block written (123, 124 or 704)
};

class SunSpecImage {
 public:
  static constexpr std::uint16_t kBase = 40000;

  static Result<SunSpecImage> build(const SunSpecDeviceSpec& spec);
  SunSpecImage() = default;   // empty; build() makes a device's image

  const SunSpecDeviceSpec& spec() const { return spec_; }
  // Registers from kBase on; the Modbus server maps them directly.
  std::vector<std::uint16_t>& registers() { return regs_; }
  const std::vector<std::uint16_t>& registers() const { return regs_; }
  // Models in chain order with the address of their ID register.
  const std::vector<std::pair<std::uint16_t, std::uint16_t>>& models() const { return models_; }

  void update(const SunSpecMeasurements& m);

  // 0 when registers [address, address + values.size()) may be written with `values`, else the
  // Modbus exception code, with the reason in `why`.
  int check_write(std::uint16_t address, std::span<const std::uint16_t> values, std::string& why) const;
  // After a write to [address, address + count): the control the written block now asks for,
  // if the write touched a control block.
  std::optional<SunSpecControl> control_after_write(std::uint16_t address, std::uint16_t count) const;
  // The device's reversion timer ran out: the control block goes back to disabled.
  void revert(const SunSpecControl& c);

 private:
  struct Placed {
    std::uint16_t model = 0;
    const sunspec::ModelDef* def = nullptr;
    std::uint16_t address = 0;  // of the ID register
  };
  const Placed* placed(std::uint16_t model) const;
  const Placed* placed_at(std::uint16_t address) const;
  // Sets a top-level point from an engineering value with the point's scale factor.
  void set(std::uint16_t model, const char* point, std::optional<double> value);
  void set_raw(std::uint16_t model, const char* point, const sunspec::RawValue& raw);
  std::optional<SunSpecControl> control_of(std::uint16_t model) const;

  SunSpecDeviceSpec spec_;
  std::vector<std::uint16_t> regs_;
  std::vector<Placed> placed_;
  std::vector<std::pair<std::uint16_t, std::uint16_t>> models_;
  std::vector<std::uint8_t> writable_;   // per register
  std::map<std::string, int> sf_;        // "model.SF_point" -> exponent
};

}  // namespace vpp::sim::emulators
