#include "sim/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

namespace vpp::sim {
namespace {

class Uncontrolled final : public Strategy {
 public:
  std::string_view name() const override { return "uncontrolled"; }
  void start(const StrategyContext&) override {}
  std::vector<Command> tick(TimePoint, std::span<const Telemetry>, std::span<const CommandAck>,
                            std::span<const GridSignal>) override {
    return {};
  }
};

// Rule parameters (E: values chosen for commercial buildings; each is a plain, visible rule).
constexpr auto kPrecoolLead = std::chrono::hours(2);
constexpr double kPrecoolDepthK = 2.0;
constexpr double kComfortMarginK = 0.3;
constexpr auto kRelease = std::chrono::hours(1);
constexpr double kSocMarginPct = 1.0;

class Rule final : public Strategy {
 public:
  std::string_view name() const override { return "rule"; }

  void start(const StrategyContext& ctx) override {
    ctx_ = ctx;
    for (std::size_t s = 0; s < ctx.sites.size(); ++s) {
      const Site& site = ctx.sites[s];
      for (const auto& a : site.assets) {
        const std::string key = site.id + '\x1f' + a.id;
        if (const auto* h = a.get<HvacZoneSpec>()) {
          zones_.push_back({s, a.id, h->default_setpoint_c, h->deadband_c, {}});
        } else if (const auto* b = a.get<BatterySpec>()) {
          battery_index_[key] = batteries_.size();
          batteries_.push_back({s, a.id, *b, std::nullopt, {}});
        } else if (const auto* l = a.get<FlexibleLoadSpec>()) {
          if (l->max_curtail_pct > 0) loads_.push_back({s, a.id, l->max_curtail_pct, {}});
        }
      }
    }
  }

  std::vector<Command> tick(TimePoint now, std::span<const Telemetry> telemetry, std::span<const CommandAck>,
                            std::span<const GridSignal> signals) override {
    for (const auto& g : signals) absorb(g);
    for (const auto& t : telemetry) {
      if (!t.soc_pct) continue;
      const auto it = battery_index_.find(t.site_id + '\x1f' + t.asset_id);
      if (it != battery_index_.end()) batteries_[it->second].soc_pct = *t.soc_pct;
    }
    std::vector<Command> out;
    const TimePoint expires = now + std::max<Duration>(3 * ctx_.control_period, std::chrono::minutes(3));

    for (auto& z : zones_) {
      const Site& site = ctx_.sites[z.site];
      const double band_top = site.limits.comfort_max_c - z.deadband_c / 2 - kComfortMarginK;
      const double band_bottom = site.limits.comfort_min_c + z.deadband_c / 2 + kComfortMarginK;
      const double raise = std::clamp(band_top - z.default_sp, 0.0, 5.0);
      std::optional<double> offset;
      if (active_event(site.id, now)) {
        offset = raise;
      } else if (const auto* next = next_event(site.id, now); next && next->start - now <= kPrecoolLead) {
        offset = std::clamp(std::max(band_bottom, z.default_sp - kPrecoolDepthK) - z.default_sp, -5.0, 0.0);
      } else if (const auto* last = last_event(site.id, now); last && now - last->end() < kRelease) {
        const double f = 1.0 - static_cast<double>((now - last->end()).count()) / static_cast<double>(Duration(kRelease).count());
        offset = raise * f;
      }
      if (offset) emit(out, z.sent, site.id, z.asset_id, SetpointKind::hvac_setpoint_offset_c, *offset, now, expires);
    }

    for (auto& b : batteries_) {
      if (!b.soc_pct) continue;  // nothing heard from it yet: leave it on its default
      const Site& site = ctx_.sites[b.site];
      const double reserve = std::max(site.limits.battery_reserve_pct, b.spec.soc_min_pct);
      std::optional<double> p;
      const auto* ev = active_event(site.id, now);
      const auto* next = next_event(site.id, now);
      // Energy above the reserve, and the time a discharge command may run if every later
      // command is lost: it never drains the battery below the reserve before it expires.
      const double usable_kwh = std::max(0.0, *b.soc_pct - reserve - kSocMarginPct) / 100.0 * b.spec.capacity_kwh *
                                b.spec.discharge_efficiency;
      const double valid_h = static_cast<double>((expires - now).count()) / 3.6e6;
      if (ev) {
        const double hours_left = static_cast<double>((ev->end() - now).count()) / 3.6e6;
        p = std::min(b.spec.max_discharge_kw, usable_kwh / std::max(hours_left, valid_h));
      } else if (price_is_day_min(now)) {
        p = *b.soc_pct < b.spec.soc_max_pct - kSocMarginPct ? -b.spec.max_charge_kw : 0.0;
      } else if (next && next->start - now < std::chrono::hours(24)) {
        p = 0.0;  // keep the charge for the event
      } else if (price_is_day_max(now)) {
        p = std::min(b.spec.max_discharge_kw, usable_kwh / valid_h);
      } else if (have_prices_) {
        p = 0.0;  // hold for the expensive hours
      }
      if (p) emit(out, b.sent, site.id, b.asset_id, SetpointKind::battery_p_kw, *p, now, expires);
    }

    for (auto& l : loads_) {
      const Site& site = ctx_.sites[l.site];
      if (active_event(site.id, now)) {
        emit(out, l.sent, site.id, l.asset_id, SetpointKind::load_curtail_pct, l.max_curtail_pct, now, expires);
      }
    }
    return out;
  }

 private:
  struct Sent {
    double value = 0;
    TimePoint expires{};
    bool valid = false;
  };
  struct Zone {
    std::size_t site;
    std::string asset_id;
    double default_sp, deadband_c;
    Sent sent;
  };
  struct Battery {
    std::size_t site;
    std::string asset_id;
    BatterySpec spec;
    std::optional<double> soc_pct;
    Sent sent;
  };
  struct Load {
    std::size_t site;
    std::string asset_id;
    double max_curtail_pct;
    Sent sent;
  };

  void absorb(const GridSignal& g) {
    if (const auto* ev = std::get_if<CurtailmentEvent>(&g.signal)) {
      events_[ev->event_id] = *ev;
    } else if (const auto* c = std::get_if<CancelEvent>(&g.signal)) {
      events_.erase(c->event_id);
    } else if (const auto* p = std::get_if<PriceSeries>(&g.signal)) {
      prices_ = *p;
      have_prices_ = !prices_.import_price.empty();
    }
  }

  static bool covers(const CurtailmentEvent& e, const std::string& site) {
    return e.site_ids.empty() || std::find(e.site_ids.begin(), e.site_ids.end(), site) != e.site_ids.end();
  }
  const CurtailmentEvent* active_event(const std::string& site, TimePoint now) const {
    for (const auto& [id, e] : events_) {
      if (covers(e, site) && now >= e.start && now < e.end()) return &e;
    }
    return nullptr;
  }
  const CurtailmentEvent* next_event(const std::string& site, TimePoint now) const {
    const CurtailmentEvent* best = nullptr;
    for (const auto& [id, e] : events_) {
      if (covers(e, site) && e.start > now && (!best || e.start < best->start)) best = &e;
    }
    return best;
  }
  const CurtailmentEvent* last_event(const std::string& site, TimePoint now) const {
    const CurtailmentEvent* best = nullptr;
    for (const auto& [id, e] : events_) {
      if (covers(e, site) && e.end() <= now && (!best || e.end() > best->end())) best = &e;
    }
    return best;
  }

  // Min and max import price over the local day of `now`.
  std::pair<double, double> day_range(TimePoint now) const {
    const std::int64_t off = static_cast<std::int64_t>(ctx_.utc_offset_minutes) * 60'000;
    const std::int64_t day_ms = 86'400'000;
    auto day_of = [&](TimePoint t) {
      const std::int64_t l = to_unix_ms(t) + off;
      return l >= 0 ? l / day_ms : (l - day_ms + 1) / day_ms;
    };
    const auto d = day_of(now);
    double lo = 1e300, hi = -1e300;
    for (const auto& p : prices_.import_price) {
      if (day_of(p.start) != d) continue;
      lo = std::min(lo, p.value);
      hi = std::max(hi, p.value);
    }
    return {lo, hi};
  }
  bool price_is_day_min(TimePoint now) const {
    if (!have_prices_) return false;
    const auto v = value_at(prices_.import_price, prices_.interval, now);
    const auto [lo, hi] = day_range(now);
    return v && hi > lo && *v <= lo + 1e-9;
  }
  bool price_is_day_max(TimePoint now) const {
    if (!have_prices_) return false;
    const auto v = value_at(prices_.import_price, prices_.interval, now);
    const auto [lo, hi] = day_range(now);
    return v && hi > lo && *v >= hi - 1e-9;
  }

  // Sends a command when the wanted value changes or the last one is about to expire.
  void emit(std::vector<Command>& out, Sent& sent, const std::string& site, const std::string& asset, SetpointKind kind,
            double value, TimePoint now, TimePoint expires) {
    const bool fresh = sent.valid && std::abs(sent.value - value) < 1e-6 && sent.expires - now > ctx_.control_period * 3 / 2;
    if (fresh) return;
    Command c;
    c.command_id = "rule-" + std::to_string(++next_id_);
    c.site_id = site;
    c.asset_id = asset;
    c.kind = kind;
    c.value = value;
    c.issued = now;
    c.expires = expires;
    c.reason = "rule";
    out.push_back(std::move(c));
    sent = {value, expires, true};
  }

  StrategyContext ctx_;
  std::vector<Zone> zones_;
  std::vector<Battery> batteries_;
  std::vector<Load> loads_;
  std::map<std::string, std::size_t> battery_index_;
  std::map<std::string, CurtailmentEvent> events_;
  PriceSeries prices_;
  bool have_prices_ = false;
  std::uint64_t next_id_ = 0;
};

}  // namespace

std::unique_ptr<Strategy> make_uncontrolled_strategy() { return std::make_unique<Uncontrolled>(); }
std::unique_ptr<Strategy> make_rule_strategy() { return std::make_unique<Rule>(); }

}  // namespace vpp::sim
