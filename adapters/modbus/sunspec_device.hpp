#pragma once
// SunSpec over Modbus: discovery, model reads, telemetry mapping and control writes with
// read-back verification, on any RegisterIo. No threads here: ModbusAdapter schedules the calls.
//
// Discovery (SunSpec Information Model Specification; proto/sunspec/README.md): read 2 registers
// at 40000, then 0, then 50000 until one holds "SunS" (0x5375 0x6E53); then walk ID/L pairs
// from base+2 (the next model starts at addr + L + 2) until ID 0xFFFF. Blocks are read in chunks
// of at most 125 registers (the FC 3 limit).
//
// Mapping to vpp telemetry (units converted to kW, signs per proto/vpp.proto; inverter AC power
// is positive when injecting, which is generation for PV and discharge for a battery):
//   p_kw         101/102/103 W, else 701 W
//   q_kvar       101/102/103 VAr, else 701 Var
//   available_kw 122 WAval
//   soc_pct      124 ChaState, else 713 SoC, else 802 SoC
// Controls:
//   PV limit (pv_limit_pct, or pv_limit_kw / rating from 121 WMax, 702 WMax or 120 WRtg):
//     model 123: WMaxLimPct, WMaxLimPct_RvrtTms = seconds to expiry, WMaxLim_Ena = 1; else
//     model 704: WMaxLimPct, WMaxLimPctRvrtTms, WMaxLimPctEna = 1.
//   Battery power (battery_p_kw, discharge positive):
//     model 704: WSetMod = 1 (W), WSet = kW x 1000, WSetRvrtTms, WSetEna = 1 ("may be negative
//     for charging", as upstream says); else
//     model 124: StorCtl_Mod bit 1 + OutWRte (% of WChaMax) to discharge, bit 0 + InWRte to
//     charge, both bits with 0 % to hold; InOutWRte_RvrtTms. (Vendors differ on 124; see the
//     SunSpec README.)
//   The reversion timers make the device fall back on its own when the command expires, even if
//   vppd is gone. Every written point is read back and compared.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "adapters/modbus/register_io.hpp"
#include "model/asset.hpp"
#include "model/messages.hpp"
#include "proto/sunspec_codec.hpp"

namespace vpp::adapters::modbus {

struct ModelLocation {
  std::uint16_t id = 0;
  std::uint16_t address = 0;  // of the ID register
  std::uint16_t length = 0;   // L
};

struct SunSpecMap {
  std::uint16_t base = 0;
  std::vector<ModelLocation> models;  // in chain order
  const ModelLocation* find(std::uint16_t id) const;
};

IoStatus discover(RegisterIo& io, int unit, std::optional<int> base, SunSpecMap& out);
IoStatus read_block(RegisterIo& io, int unit, const ModelLocation& m, std::vector<std::uint16_t>& regs);

struct ScannedModel {
  ModelLocation where;
  std::optional<sunspec::DecodedModel> decoded;  // empty for models vpp has no definition of
  std::string error;                             // why a known model did not decode
};

// Reads and decodes the models of `map` that `want` selects (all when empty). A model that fails
// to decode is reported in its ScannedModel; an I/O failure stops and is returned.
IoStatus read_models(RegisterIo& io, int unit, const SunSpecMap& map, std::vector<ScannedModel>& out,
                     const std::function<bool(std::uint16_t)>& want = {});

// Telemetry from decoded models; nullopt when none of the mapped points is present.
std::optional<Telemetry> telemetry_from(const std::vector<ScannedModel>& models, const std::string& site_id,
                                        const std::string& asset_id, TimePoint time);

// Writes a command's control points and verifies them by reading back. On success `detail`
// says what was written; on failure the IoStatus says why (IoError::invalid with a message for
// an unsupported command, a value out of range, or a read-back mismatch).
IoStatus apply_command(RegisterIo& io, int unit, const SunSpecMap& map, const Command& c, TimePoint now,
                       std::string& detail);

}  // namespace vpp::adapters::modbus
