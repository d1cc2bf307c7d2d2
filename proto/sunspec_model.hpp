#pragma once
// SunSpec information models as constexpr register tables. The tables are GENERATED at build
// time by proto/sunspec/gen_models.py from the official SunSpec JSON model files copied into
// proto/sunspec/models (Apache-2.0; see the README there), so they cannot drift from the
// standard. This header only declares the shapes.
//
// Addressing: a model block starts at its ID register. A top-level point's `offset` counts
// registers from the ID register (ID = 0, L = 1, first data point = 2). A point inside a group
// counts from the start of its group instance; GroupDef::offset is where the first instance
// starts inside its parent instance.
#include <cstdint>
#include <span>
#include <string_view>

namespace vpp::sunspec {

enum class PointType : std::uint8_t {
  int16, uint16, acc16, enum16, bitfield16, raw16, sunssf, pad, count,
  int32, uint32, acc32, enum32, bitfield32, float32, ipaddr,
  int64, uint64, acc64, bitfield64, float64, ipv6addr, eui48,
  string_,
};

std::string_view to_string(PointType t);

struct Symbol {
  std::string_view name;
  std::int64_t value;  // enum value, or bit number for bitfields
};

struct PointDef {
  std::string_view name;
  PointType type;
  std::uint16_t offset;      // registers, see the header comment
  std::uint16_t size;        // registers
  std::string_view units;    // as in the model file, e.g. "W", "Pct", "WH"; empty if none
  std::string_view sf_point; // name of the sunssf point that scales this one; empty if none
  std::int16_t sf_fixed;     // a constant scale factor, when has_sf_fixed
  bool has_sf_fixed;
  bool writable;             // access RW
  bool mandatory;            // mandatory M
  bool is_static;            // static S: may be cached per connection
  std::int32_t fixed_value;  // the "value" a model file pins (ID), else -1
  std::span<const Symbol> symbols;
};

enum class GroupRepeat : std::uint8_t {
  once,      // no count: occurs exactly once
  fill,      // count 0: repeats until the end of the model (the L register says how often)
  by_point,  // count names a point in the parent group that holds the repetition count
};

struct GroupDef {
  std::string_view name;
  std::uint16_t size;                 // registers of one instance (fixed part, sub-groups that
                                      // repeat contribute nothing)
  std::span<const PointDef> points;
  std::span<const GroupDef> groups;
  GroupRepeat repeat;
  std::string_view count_point;       // by_point only
  std::uint16_t offset;               // first instance, inside the parent instance
};

struct ModelDef {
  std::uint16_t id;
  std::string_view name;
  std::string_view label;
  std::uint16_t fixed_length;  // L of the model without repeating groups (ID and L excluded)
  GroupDef group;              // the top-level group: starts with ID and L
};

std::span<const ModelDef> all_models();
// nullptr when vpp has no definition for `id` (vendor models, models not copied in).
const ModelDef* find_model(std::uint16_t id);
// The point named `name` directly in `g` (not in sub-groups); nullptr if absent.
const PointDef* find_point(const GroupDef& g, std::string_view name);

}  // namespace vpp::sunspec
