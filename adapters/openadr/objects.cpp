#include "adapters/openadr/objects.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <regex>

namespace vpp::openadr {
namespace {

// A schema walker: the first broken rule wins and is reported with its path.
class Check {
 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& path, const std::string& why) {
    if (error_.empty()) error_ = (path.empty() ? std::string() : path + ": ") + why;
  }

  // Returns the member if present and not null (nullable fields may be null).
  const Json* get(const Json& obj, const std::string& path, const char* key, bool required) {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (required) fail(join(path, key), "is required");
      return nullptr;
    }
    return &*it;
  }
  std::optional<std::string> str(const Json& obj, const std::string& path, const char* key, bool required,
                                 std::size_t min_len = 0, std::size_t max_len = std::numeric_limits<std::size_t>::max()) {
    const Json* v = get(obj, path, key, required);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      fail(join(path, key), std::string("must be a string, found ") + v->type_name());
      return std::nullopt;
    }
    auto s = v->get<std::string>();
    if (s.size() < min_len || s.size() > max_len) {
      fail(join(path, key), "length must be " + std::to_string(min_len) + ".." + std::to_string(max_len));
      return std::nullopt;
    }
    return s;
  }
  std::optional<std::string> object_id(const Json& obj, const std::string& path, const char* key, bool required) {
    auto s = str(obj, path, key, required);
    if (s && !valid_object_id(*s)) {
      fail(join(path, key), "must match ^[a-zA-Z0-9_-]*$ with 1..128 characters, found '" + *s + "'");
      return std::nullopt;
    }
    return s;
  }
  std::optional<TimePoint> time(const Json& obj, const std::string& path, const char* key, bool required,
                                bool* is_now = nullptr) {
    auto s = str(obj, path, key, required);
    if (!s) return std::nullopt;
    if (is_now && (s->rfind("0001-01-01", 0) == 0)) {
      *is_now = true;
      return TimePoint{};
    }
    auto t = parse_utc(*s);
    if (!t) fail(join(path, key), "must be an RFC 3339 date-time with a zone, found '" + *s + "'");
    return t;
  }
  std::optional<Duration> duration(const Json& obj, const std::string& path, const char* key) {
    auto s = str(obj, path, key, false);
    if (!s) return std::nullopt;
    auto d = parse_iso_duration(*s);
    if (!d) fail(join(path, key), "must be an ISO 8601 duration such as PT1H, found '" + *s + "'");
    return d;
  }
  std::optional<long long> integer(const Json& obj, const std::string& path, const char* key,
                                   std::optional<long long> min = std::nullopt) {
    const Json* v = get(obj, path, key, false);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) {
      fail(join(path, key), std::string("must be an integer, found ") + v->type_name());
      return std::nullopt;
    }
    const auto x = v->get<long long>();
    if (x < std::numeric_limits<std::int32_t>::min() || x > std::numeric_limits<std::int32_t>::max()) {
      fail(join(path, key), "must be a 32-bit integer");
      return std::nullopt;
    }
    if (min && x < *min) {
      fail(join(path, key), "must be >= " + std::to_string(*min));
      return std::nullopt;
    }
    return x;
  }
  std::optional<bool> boolean(const Json& obj, const std::string& path, const char* key) {
    const Json* v = get(obj, path, key, false);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      fail(join(path, key), std::string("must be a boolean, found ") + v->type_name());
      return std::nullopt;
    }
    return v->get<bool>();
  }
  // Calls `each(item, item_path)` for every element of an optional array.
  template <class F>
  void array(const Json& obj, const std::string& path, const char* key, bool required, F each) {
    const Json* v = get(obj, path, key, required);
    if (!v) return;
    if (!v->is_array()) {
      fail(join(path, key), std::string("must be an array, found ") + v->type_name());
      return;
    }
    for (std::size_t i = 0; i < v->size() && ok(); ++i) each((*v)[i], join(path, key) + "[" + std::to_string(i) + "]");
  }
  bool object(const Json& v, const std::string& path) {
    if (!v.is_object()) fail(path, std::string("must be an object, found ") + v.type_name());
    return ok();
  }

  static std::string join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }

 private:
  std::string error_;
};

std::optional<ValuesMap> values_map(Check& c, const Json& j, const std::string& path) {
  if (!c.object(j, path)) return std::nullopt;
  ValuesMap m;
  m.type = c.str(j, path, "type", true, 1, 128).value_or("");
  const Json* v = c.get(j, path, "values", true);
  if (v && !v->is_array()) c.fail(Check::join(path, "values"), std::string("must be an array, found ") + v->type_name());
  if (!c.ok()) return std::nullopt;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const Json& x = (*v)[i];
    const std::string p = Check::join(path, "values") + "[" + std::to_string(i) + "]";
    if (x.is_number() || x.is_string() || x.is_boolean()) continue;
    if (x.is_object()) {  // a point {x, y}
      const auto px = x.find("x");
      const auto py = x.find("y");
      if (px == x.end() || py == x.end() || !px->is_number() || !py->is_number()) {
        c.fail(p, "an object value must be a point {x: number, y: number}");
        return std::nullopt;
      }
      continue;
    }
    c.fail(p, std::string("must be a number, string, boolean or point, found ") + x.type_name());
    return std::nullopt;
  }
  m.values = *v;
  return m;
}

std::vector<Target> targets(Check& c, const Json& obj, const std::string& path, SpecVersion v) {
  std::vector<Target> out;
  c.array(obj, path, "targets", false, [&](const Json& t, const std::string& p) {
    if (v == SpecVersion::v3_1_0) {
      if (!t.is_string()) {
        c.fail(p, std::string("must be a string (3.1.0 targets), found ") + t.type_name());
        return;
      }
      out.push_back({"", {t.get<std::string>()}});
      return;
    }
    auto m = values_map(c, t, p);
    if (!m) return;
    Target tg{m->type, {}};
    for (const auto& x : m->values) {
      if (!x.is_string()) {
        c.fail(p + ".values", "target values must be strings");
        return;
      }
      tg.values.push_back(x.get<std::string>());
    }
    out.push_back(std::move(tg));
  });
  return out;
}

std::optional<IntervalPeriod> interval_period(Check& c, const Json& obj, const std::string& path, const char* key,
                                              SpecVersion v) {
  const Json* p = c.get(obj, path, key, false);
  if (!p) return std::nullopt;
  const std::string pp = Check::join(path, key);
  if (!c.object(*p, pp)) return std::nullopt;
  IntervalPeriod ip;
  bool now = false;
  // 3.0.1 requires start; 3.1.0 makes it optional (absent: the event's or "now").
  auto start = c.time(*p, pp, "start", v == SpecVersion::v3_0_1, v == SpecVersion::v3_1_0 ? &now : nullptr);
  if (start) ip.start = *start;
  ip.start_now = now || (v == SpecVersion::v3_1_0 && !start);
  ip.duration = c.duration(*p, pp, "duration");
  ip.randomize_start = c.duration(*p, pp, "randomizeStart");
  if (ip.duration && *ip.duration < Duration::zero()) c.fail(pp + ".duration", "must not be negative");
  if (ip.randomize_start && *ip.randomize_start < Duration::zero()) c.fail(pp + ".randomizeStart", "must not be negative");
  if (!c.ok()) return std::nullopt;
  return ip;
}

std::optional<TimePoint> metadata(Check& c, const Json& j, const char* object_type) {
  c.object_id(j, "", "id", true);
  c.time(j, "", "createdDateTime", false);
  auto m = c.time(j, "", "modificationDateTime", false);
  if (auto t = c.str(j, "", "objectType", false); t && *t != object_type) {
    c.fail("objectType", std::string("must be ") + object_type + ", found '" + *t + "'");
  }
  return m;
}

}  // namespace

std::string_view to_string(SpecVersion v) { return v == SpecVersion::v3_0_1 ? "3.0.1" : "3.1.0"; }

std::optional<SpecVersion> parse_spec_version(std::string_view s) {
  if (s == "3.0.1") return SpecVersion::v3_0_1;
  if (s == "3.1.0") return SpecVersion::v3_1_0;
  return std::nullopt;
}

bool valid_object_id(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char ch) { return std::isalnum(ch) || ch == '_' || ch == '-'; });
}

std::optional<Duration> parse_iso_duration(std::string_view s) {
  // The spec's pattern: ^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$
  static const std::regex re(R"(^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$)",
                             std::regex::ECMAScript);
  std::cmatch m;
  if (s.size() > 64 || !std::regex_match(s.data(), s.data() + s.size(), m, re)) return std::nullopt;
  if (s.back() == 'T') return std::nullopt;  // "PT" alone, or "P1DT" with nothing after T
  auto num = [&](int i) -> long long { return m[i].matched ? std::stoll(m[i].str()) : 0; };
  using namespace std::chrono;
  const long long limit = 10'000LL;  // years: keeps milliseconds far from overflow
  if (num(2) > limit || num(3) > limit * 12) return std::nullopt;
  Duration d = duration_cast<Duration>(days(365) * num(2) + days(30) * num(3));
  if (m[4].matched) d += duration_cast<Duration>((m[5].str() == "W" ? days(7) : days(1)) * num(4));
  d += duration_cast<Duration>(hours(num(6)) + minutes(num(7)));
  if (m[8].matched) {
    const double sec = std::stod(m[8].str());
    d += Duration(static_cast<long long>(std::llround(sec * 1000.0)));
  }
  return m[1].length() ? -d : d;
}

std::string format_iso_duration(Duration d) {
  using namespace std::chrono;
  std::string out = d < Duration::zero() ? "-P" : "P";
  auto ms = d < Duration::zero() ? -d.count() : d.count();
  const long long day_ms = 86'400'000;
  if (ms >= day_ms && ms % day_ms == 0) return out + std::to_string(ms / day_ms) + "D";
  if (ms >= day_ms) {
    out += std::to_string(ms / day_ms) + "D";
    ms %= day_ms;
  }
  out += "T";
  const long long h = ms / 3'600'000, mi = (ms / 60'000) % 60, s = (ms / 1000) % 60, rest = ms % 1000;
  if (h) out += std::to_string(h) + "H";
  if (mi) out += std::to_string(mi) + "M";
  if (s || rest || (!h && !mi)) {
    out += std::to_string(s);
    if (rest) {
      char buf[8];
      std::snprintf(buf, sizeof buf, ".%03lld", rest);
      std::string frac(buf);
      while (frac.back() == '0') frac.pop_back();
      out += frac;
    }
    out += "S";
  }
  return out;
}

std::string format_time(TimePoint t) { return format_utc(t); }

Result<Event> parse_event(const Json& j, SpecVersion v) {
  Check c;
  if (!c.object(j, "")) return Error{c.error()};
  Event e;
  e.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : "";
  e.modified = metadata(c, j, "EVENT");
  e.program_id = c.object_id(j, "", "programID", true).value_or("");
  e.name = c.str(j, "", "eventName", false).value_or("");
  if (auto p = c.integer(j, "", "priority", 0)) e.priority = static_cast<int>(*p);
  e.targets = targets(c, j, "", v);
  c.array(j, "", "payloadDescriptors", false, [&](const Json& d, const std::string& p) {
    if (!c.object(d, p)) return;
    PayloadDescriptor pd;
    pd.payload_type = c.str(d, p, "payloadType", true, 1, 128).value_or("");
    pd.units = c.str(d, p, "units", false).value_or("");
    pd.currency = c.str(d, p, "currency", false).value_or("");
    if (auto t = c.str(d, p, "objectType", false); t && *t != "EVENT_PAYLOAD_DESCRIPTOR") {
      c.fail(p + ".objectType", "must be EVENT_PAYLOAD_DESCRIPTOR, found '" + *t + "'");
    }
    e.payload_descriptors.push_back(std::move(pd));
  });
  c.array(j, "", "reportDescriptors", false, [&](const Json& d, const std::string& p) {
    if (!c.object(d, p)) return;
    ReportDescriptor rd;
    rd.payload_type = c.str(d, p, "payloadType", true, 1, 128).value_or("");
    rd.reading_type = c.str(d, p, "readingType", false).value_or("");
    rd.units = c.str(d, p, "units", false).value_or("");
    rd.targets = targets(c, d, p, v);
    rd.aggregate = c.boolean(d, p, "aggregate").value_or(false);
    rd.start_interval = static_cast<int>(c.integer(d, p, "startInterval").value_or(-1));
    rd.num_intervals = static_cast<int>(c.integer(d, p, "numIntervals").value_or(-1));
    rd.historical = c.boolean(d, p, "historical").value_or(true);
    rd.frequency = static_cast<int>(c.integer(d, p, "frequency").value_or(-1));
    rd.repeat = static_cast<int>(c.integer(d, p, "repeat").value_or(1));
    e.report_descriptors.push_back(std::move(rd));
  });
  e.period = interval_period(c, j, "", "intervalPeriod", v);
  if (v == SpecVersion::v3_1_0) {
    e.duration = c.duration(j, "", "duration");
  } else if (j.contains("duration")) {
    c.fail("duration", "is not a 3.0.1 event field");
  }
  c.array(j, "", "intervals", v == SpecVersion::v3_0_1, [&](const Json& iv, const std::string& p) {
    if (!c.object(iv, p)) return;
    Interval in;
    const Json* id = c.get(iv, p, "id", true);
    if (id && !id->is_number_integer()) c.fail(p + ".id", std::string("must be an integer, found ") + id->type_name());
    if (!c.ok()) return;
    in.id = static_cast<int>(id->get<long long>());
    in.period = interval_period(c, iv, p, "intervalPeriod", v);
    c.array(iv, p, "payloads", true, [&](const Json& pl, const std::string& pp) {
      if (auto m = values_map(c, pl, pp)) in.payloads.push_back(std::move(*m));
    });
    e.intervals.push_back(std::move(in));
  });
  if (!c.ok()) return Error{c.error()};
  std::vector<int> ids;
  for (const auto& in : e.intervals) ids.push_back(in.id);
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) return Error{"intervals: interval ids must be unique"};
  e.canonical = j.dump();
  return e;
}

Result<Program> parse_program(const Json& j, SpecVersion v) {
  Check c;
  if (!c.object(j, "")) return Error{c.error()};
  Program p;
  p.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : "";
  p.modified = metadata(c, j, "PROGRAM");
  p.name = c.str(j, "", "programName", true, 1, 128).value_or("");
  p.targets = targets(c, j, "", v);
  if (!c.ok()) return Error{c.error()};
  return p;
}

Result<std::vector<ResolvedInterval>> resolve_intervals(const Event& e, TimePoint now, Duration open_ended_as) {
  std::vector<ResolvedInterval> out;
  // P9999Y (3.1.0's infinity) and anything beyond a century are treated as open ended.
  const Duration infinite_from = std::chrono::duration_cast<Duration>(std::chrono::days(36500));
  std::optional<Duration> event_duration = e.period && e.period->duration ? e.period->duration : e.duration;
  std::optional<TimePoint> cursor;
  if (e.period) cursor = e.period->start_now ? now : e.period->start;
  for (std::size_t i = 0; i < e.intervals.size(); ++i) {
    const auto& in = e.intervals[i];
    ResolvedInterval r;
    r.id = in.id;
    r.index = i;
    r.interval = &in;
    std::optional<Duration> d = event_duration;
    if (in.period) {
      r.start = in.period->start_now ? (cursor ? *cursor : now) : in.period->start;
      if (in.period->duration) d = in.period->duration;
    } else if (cursor) {
      r.start = *cursor;
    } else {
      return Error{"intervals[" + std::to_string(i) + "]: no start (neither its own intervalPeriod nor the event's)"};
    }
    const auto rnd = in.period && in.period->randomize_start ? in.period->randomize_start
                                                               : (e.period ? e.period->randomize_start : std::nullopt);
    r.randomize = rnd.value_or(Duration::zero());
    if (!d || *d == Duration::zero() || *d >= infinite_from) {
      if (i + 1 != e.intervals.size()) {
        return Error{"intervals[" + std::to_string(i) + "]: open-ended (zero or missing duration) but not the last interval"};
      }
      r.open_ended = true;
      r.duration = open_ended_as;
    } else {
      r.duration = *d;
    }
    cursor = r.start + r.duration;
    out.push_back(r);
  }
  return out;
}

}  // namespace vpp::openadr
