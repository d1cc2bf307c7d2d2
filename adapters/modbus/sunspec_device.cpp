#include "adapters/modbus/sunspec_device.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vpp::adapters::modbus {

namespace ss = vpp::sunspec;

const ModelLocation* SunSpecMap::find(std::uint16_t id) const {
  for (const auto& m : models) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

namespace {

constexpr int kBases[] = {40000, 0, 50000};
constexpr std::size_t kMaxModels = 256;  // a chain longer than this is a broken device

IoStatus invalid(std::string m) { return {IoError::invalid, 0, std::move(m)}; }

}  // namespace

IoStatus discover(RegisterIo& io, int unit, std::optional<int> base, SunSpecMap& out) {
  std::vector<int> bases;
  if (base) {
    bases.push_back(*base);
  } else {
    bases.assign(std::begin(kBases), std::end(kBases));
  }
  IoStatus last;
  std::vector<std::uint16_t> r;
  for (int b : bases) {
    last = io.read(unit, static_cast<std::uint16_t>(b), 2, r);
    if (last.error == IoError::exception) continue;  // no map here (illegal data address)
    if (!last.ok()) return last;                     // timeouts and broken links are not "no map"
    if (r[0] != 0x5375 || r[1] != 0x6E53) {
      last = invalid("no SunS marker at " + std::to_string(b));
      continue;
    }
    out = SunSpecMap{static_cast<std::uint16_t>(b), {}};
    std::uint32_t addr = static_cast<std::uint32_t>(b) + 2;
    while (true) {
      if (addr + 2 > 0x10000) return invalid("model chain runs past register 65535");
      if (auto s = io.read(unit, static_cast<std::uint16_t>(addr), 2, r); !s.ok()) {
        // A device that ends its map without the end model answers "illegal address" here.
        if (s.error == IoError::exception && !out.models.empty()) return IoStatus::success();
        return s;
      }
      if (r[0] == 0xFFFF) return IoStatus::success();
      if (out.models.size() >= kMaxModels) return invalid("more than 256 models: broken chain");
      out.models.push_back({r[0], static_cast<std::uint16_t>(addr), r[1]});
      addr += 2u + r[1];
    }
  }
  if (last.ok() || last.error == IoError::exception) {
    last.error = IoError::exception;
    last.message = "no SunSpec map at " + std::string(base ? std::to_string(*base) : "40000, 0 or 50000") +
                   (last.message.empty() ? "" : " (" + last.message + ")");
  }
  return last;
}

IoStatus read_block(RegisterIo& io, int unit, const ModelLocation& m, std::vector<std::uint16_t>& regs) {
  const std::size_t total = std::size_t(m.length) + 2;
  regs.clear();
  regs.reserve(total);
  std::vector<std::uint16_t> chunk;
  for (std::size_t off = 0; off < total; off += 125) {
    const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(125, total - off));
    if (auto s = io.read(unit, static_cast<std::uint16_t>(m.address + off), n, chunk); !s.ok()) return s;
    regs.insert(regs.end(), chunk.begin(), chunk.end());
  }
  return IoStatus::success();
}

IoStatus read_models(RegisterIo& io, int unit, const SunSpecMap& map, std::vector<ScannedModel>& out,
                     const std::function<bool(std::uint16_t)>& want) {
  out.clear();
  std::vector<std::uint16_t> regs;
  for (const auto& m : map.models) {
    if (want && !want(m.id)) continue;
    ScannedModel sm{m, std::nullopt, ""};
    if (const auto* def = ss::find_model(m.id)) {
      if (auto s = read_block(io, unit, m, regs); !s.ok()) return s;
      auto d = ss::decode_model(*def, regs);
      if (d) {
        sm.decoded = std::move(d).value();
      } else {
        sm.error = d.error();
      }
    }
    out.push_back(std::move(sm));
  }
  return IoStatus::success();
}

namespace {

const ss::DecodedModel* model(const std::vector<ScannedModel>& ms, std::uint16_t id) {
  for (const auto& m : ms) {
    if (m.where.id == id && m.decoded) return &*m.decoded;
  }
  return nullptr;
}

std::optional<double> first(const std::vector<ScannedModel>& ms, std::initializer_list<std::pair<std::uint16_t, const char*>> points) {
  for (auto [id, name] : points) {
    if (const auto* m = model(ms, id)) {
      if (auto v = m->value(name)) return v;
    }
  }
  return std::nullopt;
}

std::optional<double> kilo(std::optional<double> w) {
  if (w) return *w / 1000.0;
  return std::nullopt;
}

}  // namespace

std::optional<Telemetry> telemetry_from(const std::vector<ScannedModel>& ms, const std::string& site_id,
                                        const std::string& asset_id, TimePoint time) {
  Telemetry t;
  t.site_id = site_id;
  t.asset_id = asset_id;
  t.time = time;
  t.p_kw = kilo(first(ms, {{103, "W"}, {102, "W"}, {101, "W"}, {701, "W"}}));
  t.q_kvar = kilo(first(ms, {{103, "VAr"}, {102, "VAr"}, {101, "VAr"}, {701, "Var"}}));
  t.available_kw = kilo(first(ms, {{122, "WAval"}}));
  t.soc_pct = first(ms, {{124, "ChaState"}, {713, "SoC"}, {802, "SoC"}});
  if (!t.p_kw && !t.q_kvar && !t.available_kw && !t.soc_pct) return std::nullopt;
  return t;
}

namespace {

// Plans writes of named points of one model block (every value is scaled and range-checked
// before anything is written, so a bad value never leaves a half-applied control), then writes
// them in order and reads them back.
class BlockWriter {
 public:
  BlockWriter(RegisterIo& io, int unit, const ModelLocation& loc, const ss::DecodedModel& dm)
      : io_(io), unit_(unit), loc_(loc), dm_(dm) {}

  // `value` in engineering units, scaled with the point's scale factor from the device.
  IoStatus set(const char* name, double value) {
    const ss::PointDef* p = ss::find_point(dm_.def->group, name);
    if (!p) return invalid(std::string("model ") + std::to_string(dm_.id) + " has no point " + name);
    int sf = 0;
    if (!p->sf_point.empty()) {
      const auto* sfp = dm_.find(p->sf_point);
      const auto* raw = sfp ? std::get_if<std::int64_t>(&sfp->raw) : nullptr;
      if (!raw) return invalid(std::string(name) + ": scale factor " + std::string(p->sf_point) + " is not implemented");
      sf = static_cast<int>(*raw);
    } else if (p->has_sf_fixed) {
      sf = p->sf_fixed;
    }
    auto raw = ss::scale_for_write(*p, value, sf);
    if (!raw) return invalid(raw.error());
    auto regs = ss::encode_raw(*p, *raw);
    if (!regs) return invalid(regs.error());
    written_.push_back({p, *regs});
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s=%g", detail_.empty() ? "" : ", ", name, value);
    detail_ += buf;
    return IoStatus::success();
  }

  bool has(const char* name) const { return ss::find_point(dm_.def->group, name) != nullptr; }

  IoStatus commit() {
    for (const auto& [p, regs] : written_) {
      if (auto s = io_.write(unit_, static_cast<std::uint16_t>(loc_.address + p->offset), regs); !s.ok()) return s;
    }
    return verify();
  }

  IoStatus verify() {
    std::vector<std::uint16_t> regs;
    if (auto s = read_block(io_, unit_, loc_, regs); !s.ok()) return s;
    for (const auto& [p, want] : written_) {
      if (p->offset + want.size() > regs.size() ||
          !std::equal(want.begin(), want.end(), regs.begin() + p->offset)) {
        return invalid("read-back of " + std::string(p->name) + " does not match what was written");
      }
    }
    return IoStatus::success();
  }

  std::string detail() const { return "model " + std::to_string(dm_.id) + ": " + detail_; }

 private:
  RegisterIo& io_;
  int unit_;
  ModelLocation loc_;
  const ss::DecodedModel& dm_;
  std::vector<std::pair<const ss::PointDef*, std::vector<std::uint16_t>>> written_;
  std::string detail_;
};

// Seconds until expiry for a reversion timer, clamped to [1, max]; nullopt without an expiry.
std::optional<double> revert_s(const Command& c, TimePoint now, double max) {
  if (c.expires == TimePoint{}) return std::nullopt;
  const double s = std::ceil(to_seconds(c.expires - now));
  return std::clamp(s, 1.0, max);
}

}  // namespace

IoStatus apply_command(RegisterIo& io, int unit, const SunSpecMap& map, const Command& c, TimePoint now,
                       std::string& detail) {
  if (!std::isfinite(c.value)) return invalid("command value is not finite");
  if (c.expires != TimePoint{} && c.expires <= now) return invalid("command expired before it could be written");
  // The control models and the ratings are read fresh: scale factors may change (1xx models do
  // not mark them static) and the write must use the device's current ones.
  std::vector<ScannedModel> ms;
  if (auto s = read_models(io, unit, map, ms, [](std::uint16_t id) {
        return id == 120 || id == 121 || id == 123 || id == 124 || id == 702 || id == 704;
      });
      !s.ok()) {
    return s;
  }
  auto loc = [&](std::uint16_t id) { return map.find(id); };
  if (c.kind == SetpointKind::pv_limit_pct || c.kind == SetpointKind::pv_limit_kw) {
    double pct = c.value;
    if (c.kind == SetpointKind::pv_limit_kw) {
      const auto rating_w = first(ms, {{121, "WMax"}, {702, "WMax"}, {702, "WMaxRtg"}, {120, "WRtg"}});
      if (!rating_w || *rating_w <= 0) return invalid("no power rating (121 WMax, 702 WMax, 120 WRtg) to convert kW to %");
      pct = c.value * 1000.0 / *rating_w * 100.0;
    }
    pct = std::clamp(pct, 0.0, 100.0);
    if (const auto* dm = model(ms, 123)) {
      BlockWriter w(io, unit, *loc(123), *dm);
      if (auto s = w.set("WMaxLimPct", pct); !s.ok()) return s;
      if (auto r = revert_s(c, now, 65534)) {
        if (auto s = w.set("WMaxLimPct_RvrtTms", *r); !s.ok()) return s;
      }
      if (auto s = w.set("WMaxLim_Ena", 1); !s.ok()) return s;
      if (auto s = w.commit(); !s.ok()) return s;
      detail = w.detail();
      return IoStatus::success();
    }
    if (const auto* dm = model(ms, 704)) {
      BlockWriter w(io, unit, *loc(704), *dm);
      if (auto s = w.set("WMaxLimPct", pct); !s.ok()) return s;
      if (auto r = revert_s(c, now, 4294967294.0)) {
        if (auto s = w.set("WMaxLimPctRvrtTms", *r); !s.ok()) return s;
      }
      if (auto s = w.set("WMaxLimPctEna", 1); !s.ok()) return s;
      if (auto s = w.commit(); !s.ok()) return s;
      detail = w.detail();
      return IoStatus::success();
    }
    return invalid("device has neither model 123 nor 704 for a power limit");
  }
  if (c.kind == SetpointKind::battery_p_kw) {
    if (const auto* dm = model(ms, 704)) {
      BlockWriter w(io, unit, *loc(704), *dm);
      if (auto s = w.set("WSetMod", 1); !s.ok()) return s;  // WATTS
      if (auto s = w.set("WSet", c.value * 1000.0); !s.ok()) return s;
      if (auto r = revert_s(c, now, 4294967294.0)) {
        if (auto s = w.set("WSetRvrtTms", *r); !s.ok()) return s;
      }
      if (auto s = w.set("WSetEna", 1); !s.ok()) return s;
      if (auto s = w.commit(); !s.ok()) return s;
      detail = w.detail();
      return IoStatus::success();
    }
    if (const auto* dm = model(ms, 124)) {
      const auto ref_w = dm->value("WChaMax");
      if (!ref_w || *ref_w <= 0) return invalid("model 124 WChaMax is not set: no reference for the rate");
      const double pct = std::min(100.0, std::abs(c.value) * 1000.0 / *ref_w * 100.0);
      BlockWriter w(io, unit, *loc(124), *dm);
      const bool discharge = c.value > 0, charge = c.value < 0;
      if (auto s = w.set("OutWRte", discharge ? pct : 0.0); !s.ok()) return s;
      if (auto s = w.set("InWRte", charge ? pct : 0.0); !s.ok()) return s;
      if (auto r = revert_s(c, now, 65534)) {
        if (auto s = w.set("InOutWRte_RvrtTms", *r); !s.ok()) return s;
      }
      // Bit 0 CHARGE, bit 1 DISCHARGE; both with 0 % rates = hold.
      if (auto s = w.set("StorCtl_Mod", discharge ? 2 : charge ? 1 : 3); !s.ok()) return s;
      if (auto s = w.commit(); !s.ok()) return s;
      detail = w.detail();
      return IoStatus::success();
    }
    return invalid("device has neither model 704 nor 124 for a battery setpoint");
  }
  return invalid("command kind is not supported over SunSpec Modbus");
}

}  // namespace vpp::adapters::modbus
