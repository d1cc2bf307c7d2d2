#pragma once
// Generic decoder and encoder for SunSpec model blocks, driven by the generated tables in
// sunspec_model.hpp. Pure: registers in, values out; no I/O (adapters/modbus does the reads,
// and sim/ can reuse the encoder to serve register images).
//
// Encoding rules (SunSpec Information Model Specification, as summarised in
// proto/sunspec/README.md): registers are big-endian, 32/64-bit values put the most
// significant register first, strings are ASCII two characters per register padded with NUL,
// float32 is IEEE-754 high word first. Each type has a "not implemented" sentinel (0x8000 for
// int16/sunssf, 0xFFFF for uint16/enum16/bitfield16, 0 for acc*, ipaddr, ipv6addr and pad, NaN
// for float32, all-NUL for strings, ...): a sentinel decodes to "no value" and is never scaled.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/result.hpp"
#include "proto/sunspec_model.hpp"

namespace vpp::sunspec {

// A point's value as stored, before scaling. monostate = not implemented (the sentinel).
// Signed types decode to int64_t, unsigned ones (incl. enum, bitfield, acc, count) to uint64_t,
// float32/float64 to double, string/ipaddr/ipv6addr/eui48 to std::string.
using RawValue = std::variant<std::monostate, std::int64_t, std::uint64_t, double, std::string>;

struct DecodedPoint {
  std::string path;              // "W"; in groups "module[0].DCA" (0-based), "PFWInj.PF"
  const PointDef* def = nullptr;
  std::uint16_t address = 0;     // registers from the model's ID register
  RawValue raw;
  std::optional<int> sf;         // the scale factor applied, if the point has one and it is implemented
  // Numeric value after scaling (raw x 10^sf). nullopt when the point is not implemented, is not
  // numeric, or its scale factor is not implemented. Enums and bitfields give their number.
  std::optional<double> value;

  bool implemented() const { return !std::holds_alternative<std::monostate>(raw); }
};

struct DecodedModel {
  const ModelDef* def = nullptr;
  std::uint16_t id = 0;
  std::uint16_t length = 0;      // the L register
  std::vector<DecodedPoint> points;  // register order; pad points are left out
  std::map<std::string, std::size_t> repeats;  // group path -> instances, for repeating groups

  const DecodedPoint* find(std::string_view path) const;
  std::optional<double> value(std::string_view path) const;
  // Number of instances of a top-level repeating group (0 when absent).
  std::size_t repeat_count(std::string_view group) const;
};

// `regs` holds the block from its ID register on, at least L + 2 registers. Fails, naming the
// problem, on an ID that is not def.id, an L shorter than the model's fixed part, too few
// registers, or repeating groups that do not fit L.
Result<DecodedModel> decode_model(const ModelDef& def, std::span<const std::uint16_t> regs);

// The registers that mean "not implemented" for a point.
std::vector<std::uint16_t> sentinel_registers(const PointDef& p);
// The registers for `v` (monostate gives the sentinel). Fails on a value of the wrong kind or out
// of the type's range, naming the point.
Result<std::vector<std::uint16_t>> encode_raw(const PointDef& p, const RawValue& v);
// For writes: raw = round(value / 10^sf), checked to be finite, to fit the point's type and not
// to collide with its sentinel.
Result<RawValue> scale_for_write(const PointDef& p, double value, int sf);

// Builds a whole model block (ID, L, every point) for register images and tests. `values` maps
// point paths (as in DecodedPoint::path) to raw values; a point not given gets its sentinel,
// except ID and L, which are computed. `repeats` is the number of instances of the top-level
// repeating group, if the model has one; a by_point count point is filled in automatically.
Result<std::vector<std::uint16_t>> encode_model(const ModelDef& def,
                                                const std::map<std::string, RawValue>& values,
                                                std::size_t repeats = 0);

}  // namespace vpp::sunspec
