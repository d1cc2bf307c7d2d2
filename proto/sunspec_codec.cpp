#include "proto/sunspec_codec.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>

namespace vpp::sunspec {

std::string_view to_string(PointType t) {
  switch (t) {
    case PointType::int16: return "int16";
    case PointType::uint16: return "uint16";
    case PointType::acc16: return "acc16";
    case PointType::enum16: return "enum16";
    case PointType::bitfield16: return "bitfield16";
    case PointType::raw16: return "raw16";
    case PointType::sunssf: return "sunssf";
    case PointType::pad: return "pad";
    case PointType::count: return "count";
    case PointType::int32: return "int32";
    case PointType::uint32: return "uint32";
    case PointType::acc32: return "acc32";
    case PointType::enum32: return "enum32";
    case PointType::bitfield32: return "bitfield32";
    case PointType::float32: return "float32";
    case PointType::ipaddr: return "ipaddr";
    case PointType::int64: return "int64";
    case PointType::uint64: return "uint64";
    case PointType::acc64: return "acc64";
    case PointType::bitfield64: return "bitfield64";
    case PointType::float64: return "float64";
    case PointType::ipv6addr: return "ipv6addr";
    case PointType::eui48: return "eui48";
    case PointType::string_: return "string";
  }
  return "?";
}

const ModelDef* find_model(std::uint16_t id) {
  for (const auto& m : all_models()) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

const PointDef* find_point(const GroupDef& g, std::string_view name) {
  for (const auto& p : g.points) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace {

bool is_signed(PointType t) {
  return t == PointType::int16 || t == PointType::sunssf || t == PointType::int32 || t == PointType::int64;
}
bool is_float(PointType t) { return t == PointType::float32 || t == PointType::float64; }
bool is_text(PointType t) {
  return t == PointType::string_ || t == PointType::ipaddr || t == PointType::ipv6addr || t == PointType::eui48;
}

std::uint64_t read_be(std::span<const std::uint16_t> r) {
  std::uint64_t v = 0;
  for (auto w : r) v = (v << 16) | w;
  return v;
}

void write_be(std::uint64_t v, std::vector<std::uint16_t>& out, std::size_t n) {
  out.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) out[n - 1 - i] = static_cast<std::uint16_t>(v >> (16 * i));
}

// All-ones of the point's width: the sentinel of unsigned types.
std::uint64_t ones(std::size_t regs) { return regs >= 4 ? ~0ULL : ((1ULL << (16 * regs)) - 1); }

RawValue decode_raw(const PointDef& p, std::span<const std::uint16_t> r) {
  const std::uint64_t u = p.type == PointType::string_ || p.type == PointType::ipv6addr ? 0 : read_be(r);
  switch (p.type) {
    case PointType::int16:
    case PointType::sunssf:
      if (u == 0x8000) return {};
      return static_cast<std::int64_t>(static_cast<std::int16_t>(u));
    case PointType::int32:
      if (u == 0x80000000ULL) return {};
      return static_cast<std::int64_t>(static_cast<std::int32_t>(u));
    case PointType::int64:
      if (u == 0x8000000000000000ULL) return {};
      return static_cast<std::int64_t>(u);
    case PointType::uint16:
    case PointType::enum16:
    case PointType::bitfield16:
    case PointType::uint32:
    case PointType::enum32:
    case PointType::bitfield32:
    case PointType::uint64:
    case PointType::bitfield64:
      if (u == ones(p.size)) return {};
      return u;
    case PointType::acc16:
    case PointType::acc32:
    case PointType::acc64:
      if (u == 0) return {};
      return u;
    case PointType::raw16:
    case PointType::count:
      return u;
    case PointType::pad:
      return {};
    case PointType::float32: {
      const float f = std::bit_cast<float>(static_cast<std::uint32_t>(u));
      if (std::isnan(f)) return {};
      return static_cast<double>(f);
    }
    case PointType::float64: {
      const double d = std::bit_cast<double>(u);
      if (std::isnan(d)) return {};
      return d;
    }
    case PointType::ipaddr: {
      if (u == 0) return {};
      char buf[16];
      std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", unsigned(u >> 24 & 0xFF), unsigned(u >> 16 & 0xFF),
                    unsigned(u >> 8 & 0xFF), unsigned(u & 0xFF));
      return std::string(buf);
    }
    case PointType::ipv6addr: {
      bool any = false;
      std::string s;
      for (std::size_t i = 0; i < r.size(); ++i) {
        char buf[6];
        std::snprintf(buf, sizeof buf, "%s%04x", i ? ":" : "", unsigned(r[i]));
        s += buf;
        any = any || r[i] != 0;
      }
      if (!any) return {};
      return s;
    }
    case PointType::eui48: {
      // 4 registers: a reserved register, then the 48-bit address.
      const std::uint64_t mac = u & 0xFFFFFFFFFFFFULL;
      if (mac == 0xFFFFFFFFFFFFULL) return {};
      char buf[18];
      std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(mac >> 40 & 0xFF),
                    unsigned(mac >> 32 & 0xFF), unsigned(mac >> 24 & 0xFF), unsigned(mac >> 16 & 0xFF),
                    unsigned(mac >> 8 & 0xFF), unsigned(mac & 0xFF));
      return std::string(buf);
    }
    case PointType::string_: {
      std::string s;
      for (auto w : r) {
        for (int shift : {8, 0}) {
          const char c = static_cast<char>((w >> shift) & 0xFF);
          if (c == '\0') return s.empty() ? RawValue{} : RawValue{s};
          // Keep output printable ASCII: a device's garbage must not corrupt JSON or logs.
          s += (c >= 0x20 && c < 0x7F) ? c : '?';
        }
      }
      return s.empty() ? RawValue{} : RawValue{s};
    }
  }
  return {};
}

std::optional<double> numeric(const RawValue& v) {
  if (auto i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (auto u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
  if (auto d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

struct Scope {
  std::map<std::string_view, const RawValue*> by_name;
  const Scope* parent = nullptr;

  const RawValue* find(std::string_view n) const {
    for (const Scope* s = this; s; s = s->parent) {
      if (auto it = s->by_name.find(n); it != s->by_name.end()) return it->second;
    }
    return nullptr;
  }
};

struct Decoder {
  std::span<const std::uint16_t> regs;
  std::size_t block_end;  // L + 2
  DecodedModel& out;

  Result<bool> group(const GroupDef& g, std::size_t base, const std::string& prefix, const Scope* parent) {
    if (base + g.size > block_end) {
      return Error{"group '" + prefix + std::string(g.name) + "' at register " + std::to_string(base) +
                   " runs past the end of the model (" + std::to_string(block_end) + " registers)"};
    }
    std::vector<DecodedPoint> local;
    local.reserve(g.points.size());
    for (const auto& p : g.points) {
      DecodedPoint d;
      d.path = prefix + std::string(p.name);
      d.def = &p;
      d.address = static_cast<std::uint16_t>(base + p.offset);
      d.raw = decode_raw(p, regs.subspan(base + p.offset, p.size));
      local.push_back(std::move(d));
    }
    Scope scope;
    scope.parent = parent;
    for (const auto& d : local) scope.by_name.emplace(d.def->name, &d.raw);
    for (auto& d : local) {
      const PointDef& p = *d.def;
      if (!d.implemented() || is_text(p.type)) continue;
      const auto n = numeric(d.raw);
      if (!p.sf_point.empty()) {
        const RawValue* sfv = scope.find(p.sf_point);
        const auto* sf = sfv ? std::get_if<std::int64_t>(sfv) : nullptr;
        // The schema limits scale factors to -10..10; anything else is treated as not implemented
        // rather than producing absurd magnitudes.
        if (sf && *sf >= -10 && *sf <= 10) {
          d.sf = static_cast<int>(*sf);
          d.value = *n * std::pow(10.0, *d.sf);
        }
      } else if (p.has_sf_fixed) {
        d.sf = p.sf_fixed;
        d.value = *n * std::pow(10.0, p.sf_fixed);
      } else {
        d.value = n;
      }
    }
    for (const auto& d : local) {
      if (d.def->type != PointType::pad) out.points.push_back(d);
    }
    for (const auto& sub : g.groups) {
      const std::size_t start = base + sub.offset;
      std::size_t n = 1;
      if (sub.repeat == GroupRepeat::fill) {
        if (start > block_end || (block_end - start) % sub.size != 0) {
          return Error{"L = " + std::to_string(block_end - 2) + " does not hold a whole number of '" +
                       std::string(sub.name) + "' groups of " + std::to_string(sub.size) + " registers"};
        }
        n = (block_end - start) / sub.size;
      } else if (sub.repeat == GroupRepeat::by_point) {
        const RawValue* c = scope.find(sub.count_point);
        const auto* cu = c ? std::get_if<std::uint64_t>(c) : nullptr;
        n = cu ? static_cast<std::size_t>(*cu) : 0;
        if (start + n * sub.size > block_end) {
          return Error{std::string(sub.count_point) + " = " + std::to_string(n) + " '" + std::string(sub.name) +
                       "' groups do not fit in L = " + std::to_string(block_end - 2)};
        }
      }
      const std::string sub_path = prefix + std::string(sub.name);
      if (sub.repeat != GroupRepeat::once) out.repeats[sub_path] = n;
      for (std::size_t i = 0; i < n; ++i) {
        const std::string p =
            sub.repeat == GroupRepeat::once ? sub_path + "." : sub_path + "[" + std::to_string(i) + "].";
        if (auto r = group(sub, start + i * sub.size, p, &scope); !r) return r;
      }
    }
    return true;
  }
};

bool has_repeating(const GroupDef& g) {
  for (const auto& s : g.groups) {
    if (s.repeat != GroupRepeat::once) return true;
  }
  return false;
}

}  // namespace

const DecodedPoint* DecodedModel::find(std::string_view path) const {
  for (const auto& p : points) {
    if (p.path == path) return &p;
  }
  return nullptr;
}

std::optional<double> DecodedModel::value(std::string_view path) const {
  const auto* p = find(path);
  return p ? p->value : std::nullopt;
}

Result<DecodedModel> decode_model(const ModelDef& def, std::span<const std::uint16_t> regs) {
  const std::string what = "model " + std::to_string(def.id) + ": ";
  if (regs.size() < 2) return Error{what + "needs at least the ID and L registers"};
  if (regs[0] != def.id) return Error{what + "block starts with ID " + std::to_string(regs[0])};
  const std::size_t length = regs[1];
  if (length < def.fixed_length) {
    return Error{what + "L = " + std::to_string(length) + " is shorter than the model's " +
                 std::to_string(def.fixed_length) + " fixed registers"};
  }
  if (length > def.fixed_length && !has_repeating(def.group)) {
    // Longer than defined: a newer revision of the model may have appended points. Decode the
    // known part; the rest is ignored (SunSpec keeps models backwards compatible).
  }
  if (regs.size() < length + 2) {
    return Error{what + "L = " + std::to_string(length) + " but only " + std::to_string(regs.size()) +
                 " registers were given"};
  }
  DecodedModel out;
  out.def = &def;
  out.id = def.id;
  out.length = static_cast<std::uint16_t>(length);
  const std::size_t end = has_repeating(def.group) ? length + 2 : std::size_t(def.fixed_length) + 2;
  Decoder d{regs, end, out};
  if (auto r = d.group(def.group, 0, "", nullptr); !r) return Error{what + r.error()};
  return out;
}

std::vector<std::uint16_t> sentinel_registers(const PointDef& p) {
  std::vector<std::uint16_t> out(p.size, 0);
  switch (p.type) {
    case PointType::int16:
    case PointType::sunssf:
    case PointType::int32:
    case PointType::int64:
      out[0] = 0x8000;
      break;
    case PointType::uint16:
    case PointType::enum16:
    case PointType::bitfield16:
    case PointType::uint32:
    case PointType::enum32:
    case PointType::bitfield32:
    case PointType::uint64:
    case PointType::bitfield64:
    case PointType::eui48:
      for (auto& w : out) w = 0xFFFF;
      if (p.type == PointType::eui48) out[0] = 0;
      break;
    case PointType::float32:
      out[0] = 0x7FC0;
      break;
    case PointType::float64:
      out[0] = 0x7FF8;
      break;
    default:
      break;  // acc*, ipaddr, ipv6addr, pad, string, raw16, count: zeros
  }
  return out;
}

Result<std::vector<std::uint16_t>> encode_raw(const PointDef& p, const RawValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return sentinel_registers(p);
  const std::string what = "point " + std::string(p.name) + " (" + std::string(to_string(p.type)) + "): ";
  std::vector<std::uint16_t> out;
  if (p.type == PointType::string_) {
    const auto* s = std::get_if<std::string>(&v);
    if (!s) return Error{what + "needs a string"};
    if (s->size() > p.size * 2u) {
      return Error{what + "'" + *s + "' is longer than " + std::to_string(p.size * 2) + " characters"};
    }
    out.assign(p.size, 0);
    for (std::size_t i = 0; i < s->size(); ++i) {
      out[i / 2] |= static_cast<std::uint16_t>(static_cast<unsigned char>((*s)[i]) << (i % 2 ? 0 : 8));
    }
    return out;
  }
  if (p.type == PointType::ipaddr) {
    const auto* s = std::get_if<std::string>(&v);
    unsigned a, b, c, d;
    char tail;
    if (!s || std::sscanf(s->c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
        c > 255 || d > 255) {
      return Error{what + "needs a dotted IPv4 address"};
    }
    write_be((std::uint64_t(a) << 24) | (b << 16) | (c << 8) | d, out, 2);
    return out;
  }
  if (p.type == PointType::ipv6addr || p.type == PointType::eui48) {
    return Error{what + "encoding is not supported"};
  }
  if (is_float(p.type)) {
    const auto n = numeric(v);
    if (!n) return Error{what + "needs a number"};
    if (p.type == PointType::float32) {
      write_be(std::bit_cast<std::uint32_t>(static_cast<float>(*n)), out, 2);
    } else {
      write_be(std::bit_cast<std::uint64_t>(*n), out, 4);
    }
    return out;
  }
  if (std::holds_alternative<double>(v) || std::holds_alternative<std::string>(v)) {
    return Error{what + "needs an integer"};
  }
  const unsigned bits = 16u * p.size;
  if (is_signed(p.type)) {
    std::int64_t i;
    if (auto pi = std::get_if<std::int64_t>(&v)) {
      i = *pi;
    } else {
      const auto u = std::get<std::uint64_t>(v);
      if (u > std::uint64_t(std::numeric_limits<std::int64_t>::max())) return Error{what + "out of range"};
      i = static_cast<std::int64_t>(u);
    }
    if (bits < 64) {
      const std::int64_t lo = -(std::int64_t(1) << (bits - 1)), hi = (std::int64_t(1) << (bits - 1)) - 1;
      if (i < lo || i > hi) {
        return Error{what + std::to_string(i) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"};
      }
    }
    write_be(static_cast<std::uint64_t>(i), out, p.size);
    return out;
  }
  std::uint64_t u;
  if (auto pi = std::get_if<std::int64_t>(&v)) {
    if (*pi < 0) return Error{what + std::to_string(*pi) + " is negative"};
    u = static_cast<std::uint64_t>(*pi);
  } else {
    u = std::get<std::uint64_t>(v);
  }
  if (bits < 64 && u > ones(p.size)) {
    return Error{what + std::to_string(u) + " does not fit in " + std::to_string(bits) + " bits"};
  }
  write_be(u, out, p.size);
  return out;
}

Result<RawValue> scale_for_write(const PointDef& p, double value, int sf) {
  const std::string what = "point " + std::string(p.name) + ": ";
  if (!std::isfinite(value)) return Error{what + "value is not finite"};
  if (is_text(p.type) || p.type == PointType::pad) return Error{what + "is not numeric"};
  if (is_float(p.type)) return RawValue{value};
  const double scaled = std::round(value / std::pow(10.0, sf));
  RawValue raw;
  if (is_signed(p.type)) {
    if (std::abs(scaled) > 9.2e18) return Error{what + "value out of range"};
    raw = static_cast<std::int64_t>(scaled);
  } else {
    if (scaled < 0) return Error{what + "value " + std::to_string(value) + " is negative for an unsigned point"};
    if (scaled > 1.8e19) return Error{what + "value out of range"};
    raw = static_cast<std::uint64_t>(scaled);
  }
  auto regs = encode_raw(p, raw);
  if (!regs) return Error{regs.error() + " (value " + std::to_string(value) + " at scale factor " + std::to_string(sf) + ")"};
  if (*regs == sentinel_registers(p) && p.type != PointType::raw16 && p.type != PointType::count) {
    return Error{what + "value " + std::to_string(value) + " encodes to the not-implemented sentinel"};
  }
  return raw;
}

namespace {

struct Encoder {
  const std::map<std::string, RawValue>& values;
  std::map<std::string, bool> used;
  std::vector<std::uint16_t>& out;
  std::size_t repeats;
  const ModelDef& def;

  Result<bool> group(const GroupDef& g, std::size_t base, const std::string& prefix, bool top) {
    for (const auto& p : g.points) {
      const std::string path = prefix + std::string(p.name);
      RawValue v;
      if (top && p.name == "ID") {
        v = std::uint64_t(def.id);
      } else if (top && p.name == "L") {
        v = std::uint64_t(out.size() - 2);
      } else if (auto it = values.find(path); it != values.end()) {
        v = it->second;
        used[path] = true;
      } else {
        bool is_count = false;
        for (const auto& s : g.groups) is_count = is_count || (s.repeat == GroupRepeat::by_point && s.count_point == p.name);
        if (is_count) v = std::uint64_t(repeats);
      }
      auto regs = encode_raw(p, v);
      if (!regs) return Error{path + ": " + regs.error()};
      std::copy(regs->begin(), regs->end(), out.begin() + static_cast<std::ptrdiff_t>(base + p.offset));
    }
    for (const auto& sub : g.groups) {
      const std::size_t n = sub.repeat == GroupRepeat::once ? 1 : repeats;
      for (std::size_t i = 0; i < n; ++i) {
        const std::string p = sub.repeat == GroupRepeat::once ? prefix + std::string(sub.name) + "."
                                                              : prefix + std::string(sub.name) + "[" + std::to_string(i) + "].";
        if (auto r = group(sub, base + sub.offset + i * sub.size, p, false); !r) return r;
      }
    }
    return true;
  }
};

}  // namespace

Result<std::vector<std::uint16_t>> encode_model(const ModelDef& def, const std::map<std::string, RawValue>& values,
                                                std::size_t repeats) {
  std::size_t total = def.group.size;
  std::size_t repeating_groups = 0;
  for (const auto& s : def.group.groups) {
    if (s.repeat != GroupRepeat::once) {
      total += repeats * s.size;
      ++repeating_groups;
    }
  }
  if (repeats > 0 && repeating_groups == 0) {
    return Error{"model " + std::to_string(def.id) + " has no repeating group"};
  }
  if (total > 0xFFFF) return Error{"model " + std::to_string(def.id) + ": block too long"};
  std::vector<std::uint16_t> out(total, 0);
  Encoder e{values, {}, out, repeats, def};
  if (auto r = e.group(def.group, 0, "", true); !r) return Error{"model " + std::to_string(def.id) + ": " + r.error()};
  for (const auto& [path, _] : values) {
    if (!e.used.count(path)) return Error{"model " + std::to_string(def.id) + ": no point '" + path + "'"};
  }
  return out;
}

}  // namespace vpp::sunspec
