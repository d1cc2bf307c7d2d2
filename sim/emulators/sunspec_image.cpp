#include "sim/emulators/sunspec_image.hpp"

#include <algorithm>
#include <cmath>

namespace vpp::sim::emulators {

namespace ss = vpp::sunspec;

namespace {

// The smallest non-negative exponent that fits `max_abs` into `limit` raw units.
int fit_sf(double max_abs, double limit) {
  int sf = 0;
  while (max_abs / std::pow(10.0, sf) > limit && sf < 10) ++sf;
  return sf;
}

std::int64_t raw_of(double value, int sf) { return static_cast<std::int64_t>(std::llround(value / std::pow(10.0, sf))); }

std::vector<std::uint16_t> models_of(SunSpecRole role, SunSpecProfile profile) {
  if (profile == SunSpecProfile::legacy) {
    return role == SunSpecRole::pv ? std::vector<std::uint16_t>{1, 103, 120, 121, 122, 123}
                                   : std::vector<std::uint16_t>{1, 103, 120, 121, 124};
  }
  return role == SunSpecRole::pv ? std::vector<std::uint16_t>{1, 701, 702, 704}
                                 : std::vector<std::uint16_t>{1, 701, 702, 704, 713};
}

std::optional<std::uint64_t> uint_of(const ss::DecodedModel& dm, std::string_view point) {
  const auto* p = dm.find(point);
  if (!p) return std::nullopt;
  if (const auto* u = std::get_if<std::uint64_t>(&p->raw)) return *u;
  return std::nullopt;
}

}  // namespace

Result<SunSpecImage> SunSpecImage::build(const SunSpecDeviceSpec& spec) {
  if (!(spec.rated_kw > 0)) return Error{"SunSpec device " + spec.serial + ": rated_kw must be positive"};
  if (spec.role == SunSpecRole::battery && (!(spec.max_charge_kw > 0) || !(spec.capacity_kwh > 0))) {
    return Error{"SunSpec battery " + spec.serial + ": max_charge_kw and capacity_kwh must be positive"};
  }
  SunSpecImage img;
  img.spec_ = spec;
  const bool pv = spec.role == SunSpecRole::pv;
  const double p_max_w = 1000.0 * std::max(spec.rated_kw, spec.max_charge_kw) * 1.2;  // headroom for ramps
  const int sf_w16 = fit_sf(p_max_w, 32767);       // int16 powers
  const int sf_wu16 = fit_sf(p_max_w, 65534);      // uint16 ratings
  const int sf_wh = fit_sf(spec.capacity_kwh * 1000.0, 65534);
  using V = std::map<std::string, ss::RawValue>;
  auto i = [](std::int64_t v) { return ss::RawValue{v}; };
  auto u = [](std::uint64_t v) { return ss::RawValue{v}; };
  auto wu16 = [&](double kw) { return ss::RawValue{static_cast<std::uint64_t>(std::max<std::int64_t>(0, raw_of(kw * 1000.0, sf_wu16)))}; };
  std::vector<std::uint16_t> regs = {0x5375, 0x6E53};
  for (std::uint16_t id : models_of(spec.role, spec.profile)) {
    const ss::ModelDef* def = ss::find_model(id);
    if (!def) return Error{"SunSpec model " + std::to_string(id) + " is not in the project's tables"};
    V v;
    std::map<std::string, int> sfs;
    switch (id) {
      case 1:
        v = {{"Mn", std::string("vpp")},
             {"Md", std::string(pv ? "vppsim PV inverter" : "vppsim battery inverter")},
             {"Vr", std::string("1")},
             {"SN", spec.serial.substr(0, 32)},
             {"DA", u(static_cast<std::uint64_t>(spec.unit_id))}};
        break;
      case 103:
        sfs = {{"W_SF", sf_w16}, {"VA_SF", sf_w16}, {"VAr_SF", sf_w16}, {"WH_SF", 0}};
        v = {{"W", i(0)}, {"VA", i(0)}, {"VAr", i(0)}, {"WH", u(0)}, {"St", u(pv ? 2 : 8)}};
        break;
      case 120:
        sfs = {{"WRtg_SF", sf_wu16}, {"WHRtg_SF", sf_wh}, {"MaxChaRte_SF", sf_wu16}, {"MaxDisChaRte_SF", sf_wu16}};
        v = {{"DERTyp", u(pv ? 4 : 82)}, {"WRtg", wu16(spec.rated_kw)}};
        if (!pv) {
          v["WHRtg"] = u(static_cast<std::uint64_t>(raw_of(spec.capacity_kwh * 1000.0, sf_wh)));
          v["MaxChaRte"] = wu16(spec.max_charge_kw);
          v["MaxDisChaRte"] = wu16(spec.rated_kw);
        }
        break;
      case 121:
        sfs = {{"WMax_SF", sf_wu16}};
        v = {{"WMax", wu16(spec.rated_kw)}};
        break;
      case 122:
        sfs = {{"WAval_SF", sf_wu16}};
        v = {{"PVConn", u(1)}, {"WAval", u(0)}};
        break;
      case 123:
        sfs = {{"WMaxLimPct_SF", -1}};
        v = {{"WMaxLimPct", u(1000)}, {"WMaxLimPct_RvrtTms", u(0)}, {"WMaxLim_Ena", u(0)}};
        break;
      case 124:
        sfs = {{"WChaMax_SF", sf_wu16}, {"MinRsvPct_SF", -1}, {"ChaState_SF", -1}, {"InOutWRte_SF", -2}};
        v = {{"WChaMax", wu16(spec.max_charge_kw)},
             {"StorCtl_Mod", u(0)},
             {"MinRsvPct", u(static_cast<std::uint64_t>(raw_of(spec.reserve_pct, -1)))},
             {"OutWRte", i(0)},
             {"InWRte", i(0)},
             {"InOutWRte_RvrtTms", u(0)}};
        break;
      case 701:
        sfs = {{"W_SF", sf_w16}, {"VA_SF", sf_w16}, {"Var_SF", sf_w16}, {"TotWh_SF", 0}};
        v = {{"W", i(0)}, {"VA", i(0)}, {"Var", i(0)}, {"TotWhInj", u(0)}};
        break;
      case 702:
        sfs = {{"W_SF", sf_wu16}};
        v = {{"WMaxRtg", wu16(spec.rated_kw)}, {"WMax", wu16(spec.rated_kw)}};
        if (!pv) {
          v["WChaRteMaxRtg"] = wu16(spec.max_charge_kw);
          v["WDisChaRteMaxRtg"] = wu16(spec.rated_kw);
          v["WChaRteMax"] = wu16(spec.max_charge_kw);
          v["WDisChaRteMax"] = wu16(spec.rated_kw);
        }
        break;
      case 704:
        sfs = {{"WMaxLimPct_SF", -1}, {"WSet_SF", 0}, {"WSetPct_SF", -2}};
        v = {{"WMaxLimPctEna", u(0)}, {"WMaxLimPct", u(1000)}, {"WMaxLimPctRvrtTms", u(0)},
             {"WSetEna", u(0)},       {"WSetMod", u(1)},       {"WSet", i(0)},
             {"WSetPct", i(0)},       {"WSetRvrtTms", u(0)}};
        break;
      case 713:
        sfs = {{"WH_SF", sf_wh}, {"Pct_SF", -1}};
        v = {{"WHRtg", u(static_cast<std::uint64_t>(raw_of(spec.capacity_kwh * 1000.0, sf_wh)))}, {"WHAvail", u(0)}, {"SoC", u(0)}};
        break;
      default:
        break;
    }
    for (const auto& [name, e] : sfs) {
      v[name] = i(e);
      img.sf_[std::to_string(id) + "." + name] = e;
    }
    auto block = ss::encode_model(*def, v);
    if (!block) return Error{"SunSpec model " + std::to_string(id) + ": " + block.error()};
    const auto address = static_cast<std::uint16_t>(kBase + regs.size());
    img.placed_.push_back({id, def, address});
    img.models_.emplace_back(id, address);
    regs.insert(regs.end(), block->begin(), block->end());
  }
  regs.push_back(0xFFFF);
  regs.push_back(0);
  img.regs_ = std::move(regs);
  img.writable_.assign(img.regs_.size(), 0);
  for (const auto& p : img.placed_) {
    for (const auto& pt : p.def->group.points) {
      if (!pt.writable) continue;
      for (std::uint16_t k = 0; k < pt.size; ++k) img.writable_[p.address - kBase + pt.offset + k] = 1;
    }
  }
  return img;
}

const SunSpecImage::Placed* SunSpecImage::placed(std::uint16_t model) const {
  for (const auto& p : placed_) {
    if (p.model == model) return &p;
  }
  return nullptr;
}

const SunSpecImage::Placed* SunSpecImage::placed_at(std::uint16_t address) const {
  for (const auto& p : placed_) {
    const std::size_t len = std::size_t(regs_[p.address - kBase + 1]) + 2;
    if (address >= p.address && address < p.address + len) return &p;
  }
  return nullptr;
}

void SunSpecImage::set(std::uint16_t model, const char* point, std::optional<double> value) {
  const Placed* p = placed(model);
  if (!p) return;
  const ss::PointDef* pt = ss::find_point(p->def->group, point);
  if (!pt) return;
  if (!value || !std::isfinite(*value)) {
    set_raw(model, point, std::monostate{});
    return;
  }
  int sf = 0;
  if (!pt->sf_point.empty()) {
    const auto it = sf_.find(std::to_string(model) + "." + std::string(pt->sf_point));
    if (it == sf_.end()) return;  // the scale factor is not implemented: neither is the point
    sf = it->second;
  }
  auto raw = ss::scale_for_write(*pt, *value, sf);
  if (!raw) {
    // Beyond the point's range (a transient beyond the headroom): clamp rather than report
    // nonsense, as an inverter's measurement saturates.
    const bool is_signed = pt->type == ss::PointType::int16 || pt->type == ss::PointType::int32;
    const double hi = pt->type == ss::PointType::int16 ? 32767 : pt->type == ss::PointType::uint16 ? 65534 : 2147483647;
    const double lo = is_signed ? -hi : 0;
    raw = ss::scale_for_write(*pt, std::clamp(*value / std::pow(10.0, sf), lo, hi) * std::pow(10.0, sf), sf);
    if (!raw) return;
  }
  set_raw(model, point, *raw);
}

void SunSpecImage::set_raw(std::uint16_t model, const char* point, const ss::RawValue& raw) {
  const Placed* p = placed(model);
  if (!p) return;
  const ss::PointDef* pt = ss::find_point(p->def->group, point);
  if (!pt) return;
  auto regs = ss::encode_raw(*pt, raw);
  if (!regs) return;
  std::copy(regs->begin(), regs->end(), regs_.begin() + (p->address - kBase + pt->offset));
}

void SunSpecImage::update(const SunSpecMeasurements& m) {
  const double w = m.p_kw * 1000.0, var = m.q_kvar * 1000.0;
  const double va = std::hypot(w, var);
  const double wh = std::max(0.0, std::floor(m.energy_out_wh));
  for (std::uint16_t id : {std::uint16_t{103}, std::uint16_t{701}}) {
    if (!placed(id)) continue;
    set(id, "W", w);
    set(id, "VA", va);
    set(id, id == 103 ? "VAr" : "Var", var);
  }
  if (placed(103)) {
    set_raw(103, "WH", ss::RawValue{static_cast<std::uint64_t>(std::fmod(wh, 4294967295.0))});
    if (spec_.role == SunSpecRole::pv) set_raw(103, "St", ss::RawValue{std::uint64_t{w > 0.5 ? 4u : 2u}});
  }
  if (placed(701)) set_raw(701, "TotWhInj", ss::RawValue{static_cast<std::uint64_t>(wh)});
  if (placed(122)) set(122, "WAval", m.available_kw ? std::optional<double>(*m.available_kw * 1000.0) : std::nullopt);
  if (m.soc_pct) {
    if (placed(124)) set(124, "ChaState", *m.soc_pct);
    if (placed(713)) {
      set(713, "SoC", *m.soc_pct);
      set(713, "WHAvail", *m.soc_pct / 100.0 * spec_.capacity_kwh * 1000.0);
    }
  }
}

std::optional<SunSpecControl> SunSpecImage::control_of(std::uint16_t model) const {
  const Placed* p = placed(model);
  if (!p) return std::nullopt;
  const std::size_t off = p->address - kBase;
  const std::size_t len = std::size_t(regs_[off + 1]) + 2;
  auto dm = ss::decode_model(*p->def, std::span<const std::uint16_t>(regs_.data() + off, len));
  if (!dm) return std::nullopt;
  SunSpecControl c;
  c.model = model;
  auto seconds = [&](const char* point) { return Duration(std::chrono::seconds(uint_of(*dm, point).value_or(0))); };
  const bool pv = spec_.role == SunSpecRole::pv;
  if (model == 123 && pv) {
    c.kind = SunSpecControl::Kind::pv_limit_pct;
    c.enabled = uint_of(*dm, "WMaxLim_Ena").value_or(0) == 1;
    c.value = dm->value("WMaxLimPct").value_or(100);
    c.revert = seconds("WMaxLimPct_RvrtTms");
    return c;
  }
  if (model == 704 && pv) {
    c.kind = SunSpecControl::Kind::pv_limit_pct;
    c.enabled = uint_of(*dm, "WMaxLimPctEna").value_or(0) == 1;
    c.value = dm->value("WMaxLimPct").value_or(100);
    c.revert = seconds("WMaxLimPctRvrtTms");
    return c;
  }
  if (model == 704) {
    c.kind = SunSpecControl::Kind::battery_p_kw;
    c.enabled = uint_of(*dm, "WSetEna").value_or(0) == 1;
    if (uint_of(*dm, "WSetMod").value_or(1) == 1) {
      c.value = dm->value("WSet").value_or(0) / 1000.0;
    } else {
      // Percent of WMax for discharge, of the charge rating for charge.
      const double pct = dm->value("WSetPct").value_or(0);
      c.value = pct / 100.0 * (pct >= 0 ? spec_.rated_kw : spec_.max_charge_kw);
    }
    c.revert = seconds("WSetRvrtTms");
    return c;
  }
  if (model == 124) {
    c.kind = SunSpecControl::Kind::battery_p_kw;
    const auto mode = uint_of(*dm, "StorCtl_Mod").value_or(0);
    c.enabled = mode != 0;
    // Rates are % of WChaMax (the reference the adapter scales with); bit 1 discharges at
    // OutWRte, bit 0 charges at InWRte, both bits net the two (0 % each = hold).
    const double ref_kw = dm->value("WChaMax").value_or(0) / 1000.0;
    const double out = (mode & 2) ? dm->value("OutWRte").value_or(0) : 0.0;
    const double in = (mode & 1) ? dm->value("InWRte").value_or(0) : 0.0;
    c.value = (out - in) / 100.0 * ref_kw;
    c.revert = seconds("InOutWRte_RvrtTms");
    return c;
  }
  return std::nullopt;
}

int SunSpecImage::check_write(std::uint16_t address, std::span<const std::uint16_t> values, std::string& why) const {
  constexpr int kIllegalAddress = 2, kIllegalValue = 3;
  if (address < kBase || std::size_t(address - kBase) + values.size() > regs_.size()) {
    why = "outside the register map";
    return kIllegalAddress;
  }
  const std::size_t off = address - kBase;
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (!writable_[off + k]) {
      why = "register " + std::to_string(address + k) + " is read-only";
      return kIllegalAddress;
    }
  }
  const Placed* p = placed_at(address);
  if (!p || !placed_at(static_cast<std::uint16_t>(address + values.size() - 1)) ||
      placed_at(static_cast<std::uint16_t>(address + values.size() - 1))->address != p->address) {
    why = "a write may not span two models";
    return kIllegalAddress;
  }
  // Decode the block as it would be after the write and check the control points' values.
  SunSpecImage after = *this;
  std::copy(values.begin(), values.end(), after.regs_.begin() + off);
  const std::size_t base = p->address - kBase;
  auto dm = ss::decode_model(*p->def, std::span<const std::uint16_t>(after.regs_.data() + base, std::size_t(regs_[base + 1]) + 2));
  if (!dm) {
    why = dm.error();
    return kIllegalValue;
  }
  auto in_range = [&](const char* point, double lo, double hi) {
    const auto v = dm->value(point);
    if (v && (*v < lo - 1e-9 || *v > hi + 1e-9)) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s %g is outside %g..%g", point, *v, lo, hi);
      why = buf;
      return false;
    }
    return true;
  };
  auto enum_max = [&](const char* point, std::uint64_t max) {
    const auto v = uint_of(*dm, point);
    if (v && *v > max) {
      why = std::string(point) + " " + std::to_string(*v) + " is not a value this device accepts";
      return false;
    }
    return true;
  };
  bool ok = true;
  switch (p->model) {
    case 123:
      ok = in_range("WMaxLimPct", 0, 100) && enum_max("WMaxLim_Ena", 1);
      break;
    case 124:
      ok = in_range("OutWRte", 0, 100) && in_range("InWRte", 0, 100) && enum_max("StorCtl_Mod", 3);
      break;
    case 704:
      ok = in_range("WMaxLimPct", 0, 100) && enum_max("WMaxLimPctEna", 1) && enum_max("WSetEna", 1) &&
           enum_max("WSetMod", 1) && in_range("WSetPct", -100, 100) &&
           in_range("WSet", -1000.0 * spec_.max_charge_kw - 0.5, 1000.0 * spec_.rated_kw + 0.5);
      break;
    default:
      break;
  }
  return ok ? 0 : kIllegalValue;
}

std::optional<SunSpecControl> SunSpecImage::control_after_write(std::uint16_t address, std::uint16_t count) const {
  if (count == 0) return std::nullopt;
  const Placed* p = placed_at(address);
  if (!p) return std::nullopt;
  return control_of(p->model);
}

void SunSpecImage::revert(const SunSpecControl& c) {
  switch (c.model) {
    case 123: set_raw(123, "WMaxLim_Ena", ss::RawValue{std::uint64_t{0}}); break;
    case 124: set_raw(124, "StorCtl_Mod", ss::RawValue{std::uint64_t{0}}); break;
    case 704:
      set_raw(704, c.kind == SunSpecControl::Kind::pv_limit_pct ? "WMaxLimPctEna" : "WSetEna", ss::RawValue{std::uint64_t{0}});
      break;
    default: break;
  }
}

}  // namespace vpp::sim::emulators
