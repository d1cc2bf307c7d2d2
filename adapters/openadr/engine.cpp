#include "adapters/openadr/engine.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace vpp::openadr {
namespace {

constexpr int kPageLimit = 50;  // the spec's maximum `limit`
const Duration kTokenMargin = std::chrono::seconds(60);

std::string percent_encode(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", ch);
      out += buf;
    }
  }
  return out;
}

std::optional<std::string> query_param(const std::string& target, const std::string& name) {
  const auto q = target.find('?');
  if (q == std::string::npos) return std::nullopt;
  std::string_view qs = std::string_view(target).substr(q + 1);
  while (!qs.empty()) {
    const auto amp = qs.find('&');
    const auto part = qs.substr(0, amp);
    const auto eq = part.find('=');
    if (part.substr(0, eq) == name) {
      std::string v(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
      std::string out;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size() && std::isxdigit(static_cast<unsigned char>(v[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(v[i + 2]))) {
          out += static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          out += v[i] == '+' ? ' ' : v[i];
        }
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string sha256_hex(const std::string& s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  std::string out;
  char buf[3];
  for (unsigned char b : md) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

// A string member of a VTN object, or `fallback` when it is missing or not a string (nlohmann's
// value() throws on a member of another type; a VTN's garbage must never throw).
std::string str_of(const Json& o, const char* key, const std::string& fallback = "") {
  if (!o.is_object()) return fallback;
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : fallback;
}

Json opt_time(const std::optional<TimePoint>& t) { return t ? Json(format_time(*t)) : Json(nullptr); }

const char* step_name(int s) {
  static const char* kNames[] = {"token discovery", "token", "find ven", "create ven", "find resource", "create resource",
                                 "programs", "find subscription", "create subscription", "events", "send report",
                                 "check report"};
  return kNames[s];
}

}  // namespace

// ------------------------------------------------------------------------------- settings

Result<VenSettings> VenSettings::from_config(const config::OpenAdrConfig& c, Duration settlement_interval,
                                             const std::function<const char*(const char*)>& getenv) {
  VenSettings s;
  auto v = parse_spec_version(c.spec_version);
  if (!v) return Error{"openadr: unknown spec_version '" + c.spec_version + "'"};
  s.version = *v;
  s.vtn_url = c.vtn_url;
  while (!s.vtn_url.empty() && s.vtn_url.back() == '/') s.vtn_url.pop_back();
  s.token_url = c.token_url;
  s.client_id = c.client_id;
  s.scope = c.scope;
  if (!c.client_secret_file.empty()) {
    std::ifstream in(c.client_secret_file, std::ios::binary);
    if (!in) return Error{"openadr: cannot read client_secret_file '" + c.client_secret_file + "'"};
    std::ostringstream ss;
    ss << in.rdbuf();
    s.client_secret = ss.str();
    while (!s.client_secret.empty() && (s.client_secret.back() == '\n' || s.client_secret.back() == '\r')) {
      s.client_secret.pop_back();
    }
    if (s.client_secret.empty()) return Error{"openadr: client_secret_file '" + c.client_secret_file + "' is empty"};
  } else {
    const char* val = getenv ? getenv(c.client_secret_env.c_str()) : nullptr;
    if (!val || !*val) return Error{"openadr: environment variable " + c.client_secret_env + " (client_secret_env) is not set"};
    s.client_secret = val;
  }
  s.ven_name = c.ven_name;
  s.programs = c.programs;
  s.resources = c.resources;
  s.poll_interval = c.poll_interval;
  s.report_delay = c.report_delay;
  s.callback_url = c.callback_url;
  s.callback_token = sha256_hex("vpp-openadr-callback/" + c.ven_name + "/" + s.client_secret).substr(0, 32);
  s.emergency_import_cap_kw = c.emergency_import_cap_kw;
  s.settlement_interval = settlement_interval;
  return s;
}

// --------------------------------------------------------------------------------- engine

VenEngine::VenEngine(VenSettings settings, ReportSource& source, ReportQueue& queue)
    : s_(std::move(settings)), source_(source), queue_(queue) {
  while (!s_.vtn_url.empty() && s_.vtn_url.back() == '/') s_.vtn_url.pop_back();
  token_url_ = !s_.token_url.empty() ? s_.token_url : (s_.version == SpecVersion::v3_0_1 ? api("/auth/token") : "");
  mapping_.ven_name = s_.ven_name;
  for (const auto& r : s_.resources) mapping_.site_of_resource[r.name] = r.site_id;
  for (const auto& p : s_.programs) mapping_.simple_levels_kw[p.name] = p.simple_levels_kw;
  mapping_.emergency_import_cap_kw = s_.emergency_import_cap_kw;
  mapping_.open_ended_as = s_.open_ended_as;
  report_ctx_.version = s_.version;
  report_ctx_.ven_name = s_.ven_name;
  report_ctx_.site_of_resource = mapping_.site_of_resource;
  report_ctx_.settlement_interval = s_.settlement_interval;
}

std::string VenEngine::api(const std::string& path) const { return s_.vtn_url + path; }

HttpRequest VenEngine::make(Step step, const std::string& method, const std::string& url, std::string body, std::string key) {
  HttpRequest r;
  r.id = next_id_++;
  r.method = method;
  r.url = url;
  r.body = std::move(body);
  r.headers["Accept"] = "application/json";
  if (step != Step::token && step != Step::token_discovery) r.headers["Authorization"] = "Bearer " + token_;
  if (!r.body.empty() && step != Step::token) r.headers["Content-Type"] = "application/json";
  if (step == Step::programs || step == Step::events) {
    const auto it = etags_.find(url);
    if (it != etags_.end()) r.headers["If-None-Match"] = it->second.first;
  }
  in_flight_ = InFlight{r.id, step, url, std::move(key)};
  ++counters_.requests;
  return r;
}

std::string VenEngine::program_name_of(const std::string& program_id) const {
  for (const auto& [name, id] : program_ids_) {
    if (id == program_id) return name;
  }
  return {};
}

EngineOutput VenEngine::poll(TimePoint now) {
  EngineOutput out;
  // Deleted events are kept a day (late or duplicated copies are recognised), then forgotten.
  std::erase_if(events_, [&](const auto& kv) {
    return kv.second.deleted && kv.second.deleted_at && *kv.second.deleted_at + std::chrono::hours(24) < now;
  });
  generate_reports(now);
  if (!in_flight_ && now >= backoff_until_) {
    if (!cycle_ && now >= next_poll_) {
      cycle_ = true;
      programs_due_ = true;
      if (subscription_failed_) {
        subscription_failed_ = false;
        subscribed_ = false;
        subs_done_ = 0;
      }
      programs_skip_ = 0;
      programs_acc_ = Json::array();
    }
    if (auto r = next_request(now)) out.requests.push_back(std::move(*r));
  }
  out.signals = std::move(out_signals_);
  out.export_limits = std::move(out_limits_);
  out_signals_.clear();
  out_limits_.clear();
  counters_.signals += out.signals.size();
  return out;
}

std::optional<TimePoint> VenEngine::next_wake() const {
  if (in_flight_) return next_report_due_;  // the response wakes the engine; reports may fall due meanwhile
  std::optional<TimePoint> t;
  auto consider = [&](TimePoint x) {
    if (!t || x < *t) t = x;
  };
  if (failures_ > 0 || backoff_until_ > TimePoint{}) consider(backoff_until_);
  if (!cycle_) consider(next_poll_);
  if (!token_.empty()) consider(token_expires_ - kTokenMargin);
  if (queue_.next_pending()) consider(backoff_until_);
  if (cycle_) consider(backoff_until_);
  if (next_report_due_) consider(*next_report_due_);
  return t;
}

std::optional<HttpRequest> VenEngine::next_request(TimePoint now) {
  // 1. Token.
  if (token_.empty() || now >= token_expires_ - kTokenMargin) {
    if (token_url_.empty()) return make(Step::token_discovery, "GET", api("/auth/server"), "");
    std::string form = "grant_type=client_credentials&client_id=" + percent_encode(s_.client_id) +
                       "&client_secret=" + percent_encode(s_.client_secret);
    if (!s_.scope.empty()) form += "&scope=" + percent_encode(s_.scope);
    ++counters_.token_fetches;
    auto r = make(Step::token, "POST", token_url_, form);
    r.headers["Content-Type"] = "application/x-www-form-urlencoded";
    return r;
  }
  // 2. Registration.
  if (ven_id_.empty()) {
    if (create_ven_) {
      Json ven = {{"venName", s_.ven_name}};
      // 3.1.0's venRequest is oneOf VEN_VEN_REQUEST | BL_VEN_REQUEST, told apart by objectType.
      if (s_.version == SpecVersion::v3_1_0) ven["objectType"] = "VEN_VEN_REQUEST";
      return make(Step::create_ven, "POST", api("/vens"), ven.dump());
    }
    return make(Step::find_ven, "GET", api("/vens?venName=" + percent_encode(s_.ven_name)), "");
  }
  if (resources_done_ < s_.resources.size()) {
    const auto& res = s_.resources[resources_done_];
    const bool v31 = s_.version == SpecVersion::v3_1_0;
    if (create_resource_) {
      Json r = {{"resourceName", res.name}};
      if (v31) {  // 3.1.0's VenResourceRequest
        r["venID"] = ven_id_;
        r["objectType"] = "VEN_RESOURCE_REQUEST";
      }
      return make(Step::create_resource, "POST", api(v31 ? "/resources" : "/vens/" + ven_id_ + "/resources"), r.dump(),
                  res.name);
    }
    const std::string url = v31 ? api("/resources?venID=" + ven_id_ + "&resourceName=" + percent_encode(res.name))
                                : api("/vens/" + ven_id_ + "/resources?resourceName=" + percent_encode(res.name));
    return make(Step::find_resource, "GET", url, "", res.name);
  }
  // 3. Programs.
  if (programs_due_) {
    return make(Step::programs, "GET",
                api("/programs?skip=" + std::to_string(programs_skip_) + "&limit=" + std::to_string(kPageLimit)), "");
  }
  // 4. Subscriptions.
  if (programs_known_ && !s_.callback_url.empty() && !subscribed_) {
    std::vector<std::pair<std::string, std::string>> found(program_ids_.begin(), program_ids_.end());
    if (subs_done_ < found.size()) {
      const auto& [name, id] = found[subs_done_];
      if (create_sub_) {
        const bool v31 = s_.version == SpecVersion::v3_1_0;
        Json ops = v31 ? Json::array({"CREATE", "UPDATE", "DELETE"}) : Json::array({"POST", "PUT", "DELETE"});
        Json sub = {{"clientName", s_.ven_name},
                    {"programID", id},
                    {"objectOperations",
                     Json::array({{{"objects", Json::array({"EVENT", "PROGRAM"})},
                                   {"operations", ops},
                                   {"callbackUrl", s_.callback_url},
                                   {"bearerToken", s_.callback_token}}})}};
        return make(Step::create_subscription, "POST", api("/subscriptions"), sub.dump(), name);
      }
      return make(Step::find_subscription, "GET",
                  api("/subscriptions?programID=" + id + "&clientName=" + percent_encode(s_.ven_name)), "", name);
    }
    subscribed_ = true;
  }
  // 5. Events.
  while (cycle_ && !events_todo_.empty()) {
    const auto it = program_ids_.find(events_todo_.front());
    if (it == program_ids_.end()) {
      events_todo_.erase(events_todo_.begin());
      continue;
    }
    return make(Step::events, "GET",
                api("/events?programID=" + it->second + "&skip=" + std::to_string(events_skip_) +
                    "&limit=" + std::to_string(kPageLimit)),
                "", it->first);
  }
  if (cycle_) {
    cycle_ = false;
    next_poll_ = now + s_.poll_interval;
  }
  // 6. Reports.
  if (auto q = queue_.next_pending()) {
    if (q->uncertain) {
      std::string url = "/reports?eventID=" + q->event_id + "&clientName=" + percent_encode(s_.ven_name);
      if (s_.version == SpecVersion::v3_0_1 && !q->program_id.empty()) url += "&programID=" + q->program_id;
      return make(Step::check_report, "GET", api(url), "", q->key);
    }
    q->attempts += 1;
    queue_.update(*q);
    return make(Step::send_report, "POST", api("/reports"), q->body, q->key);
  }
  return std::nullopt;
}

void VenEngine::backoff(TimePoint now, const HttpResult& r, const std::string& what) {
  ++failures_;
  if (!unreachable_since_ && r.status == 0) unreachable_since_ = now;
  Duration d = s_.backoff_initial;
  for (int i = 1; i < failures_ && d < s_.backoff_max; ++i) d *= 2;
  d = std::min(d, s_.backoff_max);
  // Retry-After in seconds (429, 503), honoured up to the maximum backoff.
  const auto ra = r.headers.find("retry-after");
  if (ra != r.headers.end()) {
    try {
      const Duration asked = std::chrono::seconds(std::stoll(ra->second));
      if (asked > d) d = std::min(asked, s_.backoff_max);
    } catch (...) {
      // an HTTP-date or garbage: keep our own backoff
    }
  }
  backoff_until_ = now + d;
  last_error_ = what + (r.status == 0 ? ": " + r.error : ": HTTP " + std::to_string(r.status));
  last_error_at_ = now;
}

void VenEngine::on_response(std::uint64_t id, const HttpResult& r, TimePoint now) {
  if (!in_flight_ || in_flight_->id != id) return;  // stale
  const InFlight f = *in_flight_;
  in_flight_.reset();
  const std::string what = std::string(step_name(static_cast<int>(f.step))) + " " + f.url;
  if (r.status == 0) {
    ++counters_.transport_errors;
    if (f.step == Step::send_report) {
      // The request may have reached the VTN: ask before sending again.
      if (auto q = queue_.next_pending(); q && q->key == f.key) {
        q->uncertain = true;
        q->last_error = r.error;
        queue_.update(*q);
      }
    }
    backoff(now, r, what);
    return;
  }
  if (r.status >= 500 || r.status == 408 || r.status == 429) {
    ++counters_.server_errors;
    backoff(now, r, what);
    return;
  }
  if (r.status == 401 && f.step != Step::token) {
    ++counters_.unauthorized;
    token_.clear();
    if (!retried_401_) {
      retried_401_ = true;  // refresh once and retry at once
      last_error_ = what + ": HTTP 401, refreshing the token";
      last_error_at_ = now;
      return;
    }
    backoff(now, r, what);
    return;
  }
  // The VTN answered. A token alone does not end a run of failures: a VTN that hands out
  // tokens and then refuses them must still see the backoff grow.
  if (f.step != Step::token && f.step != Step::token_discovery) failures_ = 0;
  backoff_until_ = TimePoint{};
  unreachable_since_.reset();
  last_success_ = now;
  if (r.status != 401) retried_401_ = retried_401_ && f.step == Step::token;
  try {
    handle(f, r, now);
  } catch (const std::exception& e) {
    // Every field is checked before use; this is the last line so no VTN answer, however
    // broken, escapes into the driver's loop.
    reject(std::string(step_name(static_cast<int>(f.step))) + " " + f.url, std::string("unexpected content: ") + e.what(),
           "exc:" + r.body.substr(0, 256));
    HttpResult copy = r;
    backoff(now, copy, std::string(step_name(static_cast<int>(f.step))) + " " + f.url);
  }
}

std::optional<Json> VenEngine::json_array(const HttpResult& r, const std::string& what) {
  try {
    Json j = Json::parse(r.body);
    if (j.is_array()) return j;
  } catch (const Json::exception&) {
  }
  reject(what, "response is not a JSON array", "resp:" + what + ":" + r.body.substr(0, 256));
  return std::nullopt;
}

std::optional<Json> VenEngine::json_object(const HttpResult& r, const std::string& what) {
  try {
    Json j = Json::parse(r.body);
    if (j.is_object()) return j;
  } catch (const Json::exception&) {
  }
  reject(what, "response is not a JSON object", "resp:" + what + ":" + r.body.substr(0, 256));
  return std::nullopt;
}

void VenEngine::reject(const std::string& what, const std::string& why, const std::string& fingerprint) {
  if (rejected_fingerprints_.insert(fingerprint).second) ++counters_.invalid_objects;
  last_error_ = what + ": rejected: " + why;
}

void VenEngine::handle(const InFlight& f, const HttpResult& r, TimePoint now) {
  const std::string what = std::string(step_name(static_cast<int>(f.step))) + " " + f.url;
  const bool ok = r.status >= 200 && r.status < 300;
  auto fail = [&] {  // a 4xx where the step cannot go on: try again after a backoff
    HttpResult copy = r;
    std::string detail;
    try {
      const Json j = Json::parse(r.body);
      if (j.is_object()) {
        for (const char* k : {"title", "detail", "error", "error_description"}) {
          if (j.contains(k) && j[k].is_string()) detail += std::string(detail.empty() ? "" : "; ") + j[k].get<std::string>();
        }
      }
    } catch (const Json::exception&) {
    }
    backoff(now, copy, what);
    if (!detail.empty()) last_error_ += " (" + detail + ")";
  };
  switch (f.step) {
    case Step::token_discovery: {
      if (!ok) return fail();
      auto j = json_object(r, what);
      if (!j || !j->contains("tokenURL") || !(*j)["tokenURL"].is_string()) return fail();
      token_url_ = (*j)["tokenURL"].get<std::string>();
      return;
    }
    case Step::token: {
      if (!ok) {
        token_.clear();
        return fail();
      }
      auto j = json_object(r, what);
      if (!j || !j->contains("access_token") || !(*j)["access_token"].is_string() ||
          (*j)["access_token"].get<std::string>().empty()) {
        reject(what, "no access_token", "token:" + r.body.substr(0, 64));
        return fail();
      }
      if (j->contains("token_type") && (*j)["token_type"].is_string()) {
        std::string tt = (*j)["token_type"].get<std::string>();
        std::transform(tt.begin(), tt.end(), tt.begin(), [](unsigned char ch) { return std::tolower(ch); });
        if (tt != "bearer") {
          reject(what, "token_type is not Bearer", "token_type:" + tt);
          return fail();
        }
      }
      long long expires_s = 3600;  // RFC 6749 leaves expires_in optional; an hour is the common default
      if (j->contains("expires_in") && (*j)["expires_in"].is_number_integer()) expires_s = (*j)["expires_in"].get<long long>();
      token_ = (*j)["access_token"].get<std::string>();
      token_expires_ = now + std::chrono::seconds(std::max(expires_s, 120LL));
      return;
    }
    case Step::find_ven: {
      if (!ok) return fail();
      auto j = json_array(r, what);
      if (!j) return fail();
      for (const auto& v : *j) {
        if (v.is_object() && str_of(v, "venName") == s_.ven_name && v.contains("id") && v["id"].is_string() &&
            valid_object_id(v["id"].get<std::string>())) {
          ven_id_ = v["id"].get<std::string>();
          return;
        }
      }
      create_ven_ = true;
      return;
    }
    case Step::create_ven: {
      create_ven_ = false;
      if (r.status == 409) return;  // created meanwhile: find it
      if (!ok) return fail();
      auto j = json_object(r, what);
      if (!j || !j->contains("id") || !(*j)["id"].is_string() || !valid_object_id((*j)["id"].get<std::string>())) return fail();
      ven_id_ = (*j)["id"].get<std::string>();
      return;
    }
    case Step::find_resource: {
      if (!ok) return fail();
      auto j = json_array(r, what);
      if (!j) return fail();
      for (const auto& v : *j) {
        if (v.is_object() && str_of(v, "resourceName") == f.key && v.contains("id") && v["id"].is_string()) {
          resource_ids_[f.key] = v["id"].get<std::string>();
          ++resources_done_;
          return;
        }
      }
      create_resource_ = true;
      return;
    }
    case Step::create_resource: {
      create_resource_ = false;
      if (r.status == 409) return;
      if (!ok) return fail();
      auto j = json_object(r, what);
      if (!j || !j->contains("id") || !(*j)["id"].is_string()) return fail();
      resource_ids_[f.key] = (*j)["id"].get<std::string>();
      ++resources_done_;
      return;
    }
    case Step::programs:
    case Step::events: {
      std::string body;
      if (r.status == 304) {
        ++counters_.not_modified;
        const auto it = etags_.find(f.url);
        if (it == etags_.end()) return fail();
        body = it->second.second;
      } else if (ok) {
        body = r.body;
        const auto et = r.headers.find("etag");
        if (et != r.headers.end() && !et->second.empty()) {
          etags_[f.url] = {et->second, body};
        } else {
          etags_.erase(f.url);
        }
      } else {
        return fail();
      }
      HttpResult page = r;
      page.body = body;
      auto j = json_array(page, what);
      if (!j) {
        // A broken listing changes nothing (no deletions from half a listing); the cycle goes on.
        if (f.step == Step::programs) {
          programs_due_ = false;
          events_todo_.clear();
        } else {
          events_todo_.erase(events_todo_.begin());
          events_skip_ = 0;
          events_acc_ = Json::array();
        }
        return;
      }
      if (f.step == Step::programs) {
        for (auto& p : *j) programs_acc_.push_back(std::move(p));
        if (static_cast<int>(j->size()) >= kPageLimit) {
          programs_skip_ += kPageLimit;
          return;
        }
        std::map<std::string, std::string> ids;
        for (const auto& pj : programs_acc_) {
          auto p = parse_program(pj, s_.version);
          if (!p) {
            reject("program " + str_of(pj, "id", "?"), p.error(),
                   "prog:" + pj.dump());
            continue;
          }
          for (const auto& want : s_.programs) {
            if (want.name == p->name && !ids.count(p->name)) ids[p->name] = p->id;
          }
        }
        if (ids != program_ids_) {
          program_ids_ = std::move(ids);
          subscribed_ = false;
          subs_done_ = 0;
        }
        programs_known_ = true;
        programs_due_ = false;
        programs_acc_ = Json::array();
        events_todo_.clear();
        for (const auto& p : s_.programs) events_todo_.push_back(p.name);
        events_skip_ = 0;
        events_acc_ = Json::array();
        return;
      }
      for (auto& e : *j) events_acc_.push_back(std::move(e));
      if (static_cast<int>(j->size()) >= kPageLimit) {
        events_skip_ += kPageLimit;
        return;
      }
      const std::string name = f.key;
      apply_listing(name, program_ids_.count(name) ? program_ids_.at(name) : "", events_acc_, now);
      if (!events_todo_.empty()) events_todo_.erase(events_todo_.begin());
      events_skip_ = 0;
      events_acc_ = Json::array();
      return;
    }
    case Step::find_subscription: {
      if (!ok) return fail();
      auto j = json_array(r, what);
      if (!j) return fail();
      const auto pid = program_ids_.find(f.key);
      for (const auto& sub : *j) {
        if (!sub.is_object() || !sub.contains("objectOperations") || !sub["objectOperations"].is_array()) continue;
        // A VTN that ignores the query filters must not make another program's subscription ours.
        if (pid != program_ids_.end() && sub.contains("programID") && sub["programID"] != pid->second) continue;
        if (sub.contains("clientName") && sub["clientName"] != s_.ven_name) continue;
        for (const auto& op : sub["objectOperations"]) {
          if (str_of(op, "callbackUrl") == s_.callback_url) {
            ++subs_done_;
            return;
          }
        }
      }
      create_sub_ = true;
      return;
    }
    case Step::create_subscription: {
      create_sub_ = false;
      if (!ok) {
        // E.g. the VTN's echo check of the callback failed: polling goes on; try again next cycle.
        fail();
        subscribed_ = true;
        subscription_failed_ = true;
        return;
      }
      ++subs_done_;
      return;
    }
    case Step::send_report: {
      auto q = queue_.next_pending();
      if (!q || q->key != f.key) return;
      if (ok) {
        q->state = ReportState::sent;
        q->sent_at = now;
        q->uncertain = false;
        try {
          const Json j = Json::parse(r.body);
          if (j.is_object() && j.contains("id") && j["id"].is_string()) q->vtn_id = j["id"].get<std::string>();
        } catch (const Json::exception&) {
        }
        ++counters_.reports_sent;
      } else {
        // The VTN refused this report (400, 403, 404, 409): resending the same body cannot help.
        q->state = ReportState::rejected;
        q->last_error = "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
        ++counters_.reports_rejected;
        last_error_ = what + ": report " + q->key + " rejected with HTTP " + std::to_string(r.status);
        last_error_at_ = now;
      }
      queue_.update(*q);
      return;
    }
    case Step::check_report: {
      auto q = queue_.next_pending();
      if (!q || q->key != f.key) return;
      if (!ok) return fail();
      auto j = json_array(r, what);
      if (!j) return fail();
      q->uncertain = false;
      for (const auto& rep : *j) {
        if (str_of(rep, "reportName") == q->report_name) {
          q->state = ReportState::sent;
          q->sent_at = now;
          if (rep.contains("id") && rep["id"].is_string()) q->vtn_id = rep["id"].get<std::string>();
          ++counters_.reports_deduplicated;
          ++counters_.reports_sent;
          break;
        }
      }
      queue_.update(*q);
      return;
    }
  }
}

// --------------------------------------------------------------------------------- events

void VenEngine::apply_listing(const std::string& program_name, const std::string& program_id, const Json& items,
                              TimePoint now) {
  std::set<std::string> seen;
  for (const auto& item : items) {
    // An id is enough to know the event is still there, even if this version is rejected.
    if (item.is_object() && item.contains("id") && item["id"].is_string()) {
      const std::string id = item["id"].get<std::string>();
      seen.insert(id);
      // The same text as the version held: nothing to check or map again (most polls).
      const auto it = events_.find(id);
      if (it != events_.end() && !it->second.deleted && it->second.event.canonical == item.dump()) continue;
    }
    auto e = parse_event(item, s_.version);
    if (!e) {
      const std::string id = str_of(item, "id", "?");
      reject("event " + id, e.error(), "ev:" + item.dump());
      continue;
    }
    if (e->program_id != program_id) continue;  // a VTN that ignores the filter
    apply_event(*e, program_name, now, false);
  }
  for (auto& [id, k] : events_) {
    if (k.deleted || k.event.program_id != program_id || seen.count(id)) continue;
    apply_delete(id, std::nullopt, now);
  }
}

void VenEngine::apply_event(const Event& e, const std::string& program_name, TimePoint now, bool notified) {
  auto it = events_.find(e.id);
  if (it != events_.end()) {
    const Known& k = it->second;
    if (!k.deleted && k.event.canonical == e.canonical) {
      if (notified) ++counters_.duplicates;
      return;
    }
    const auto& before = k.event.modified;
    if (e.modified && before && *e.modified < *before) {
      ++counters_.out_of_order;
      return;
    }
    if (k.deleted && (!e.modified || (before && *e.modified <= *before))) {
      ++counters_.out_of_order;  // a late copy of an event already deleted
      return;
    }
  }
  auto mapped = map_event(e, program_name, mapping_, now);
  if (!mapped) {
    reject("event " + e.id, mapped.error(), "map:" + e.canonical);
    return;
  }
  const bool known = it != events_.end() && !it->second.deleted;
  if (!mapped->applies) {
    if (!known) ++counters_.not_for_us;
  }
  emit_diff(known ? &it->second.mapped : nullptr, mapped->applies ? &*mapped : nullptr, program_name, now);
  counters_.ignored_payloads += mapped->ignored.size();
  ++(known ? counters_.events_modified : counters_.events_new);
  Known k;
  k.event = e;
  k.program_name = program_name;
  k.mapped = std::move(*mapped);
  k.received = now;
  if (k.mapped.applies) {
    k.schedule = report_schedule(k.event, k.mapped.intervals, s_.report_delay);
    std::stable_sort(k.schedule.begin(), k.schedule.end(),
                     [](const ReportInstance& a, const ReportInstance& b) { return a.due < b.due; });
  }
  events_[e.id] = std::move(k);
  reports_dirty_ = true;
  emit_series(now);
}

void VenEngine::apply_delete(const std::string& event_id, std::optional<TimePoint> modified, TimePoint now) {
  auto it = events_.find(event_id);
  if (it == events_.end() || it->second.deleted) return;
  Known& k = it->second;
  if (modified && k.event.modified && *modified < *k.event.modified) {
    ++counters_.out_of_order;
    return;
  }
  emit_diff(k.mapped.applies ? &k.mapped : nullptr, nullptr, k.program_name, now);
  k.deleted = true;
  k.deleted_at = now;
  reports_dirty_ = true;
  if (modified) k.event.modified = modified;
  ++counters_.events_deleted;
  emit_series(now);
}

void VenEngine::emit_diff(const MappedEvent* before, const MappedEvent* after, const std::string& program_name,
                          TimePoint now) {
  const std::string source = "openadr:" + program_name;
  std::map<std::string, const CurtailmentEvent*> old_events;
  if (before) {
    for (const auto& c : before->curtailments) old_events[c.event_id] = &c;
  }
  if (after) {
    for (const auto& c : after->curtailments) {
      const auto it = old_events.find(c.event_id);
      const bool same = it != old_events.end() && *it->second == c;
      if (it != old_events.end()) old_events.erase(it);
      if (same || c.end() <= now) continue;  // nothing new, or over already
      out_signals_.push_back(GridSignal{now, source, c});
    }
  }
  for (const auto& [id, c] : old_events) {
    if (c->end() <= now) continue;
    out_signals_.push_back(GridSignal{now, source, CancelEvent{id}});
  }
  // Export limits: new or changed ones go out; one that went away ends now (the same limit with
  // its duration cut to now, or to zero if it had not started), so the shell restores the
  // site's enrolled limit.
  std::map<std::string, const ExportLimit*> old_limits;
  if (before) {
    for (const auto& l : before->export_limits) old_limits[l.id] = &l;
  }
  if (after) {
    for (const auto& l : after->export_limits) {
      const auto it = old_limits.find(l.id);
      const bool same = it != old_limits.end() && *it->second == l;
      if (it != old_limits.end()) old_limits.erase(it);
      if (!same && l.start + l.duration > now) out_limits_.push_back(l);
    }
  }
  for (const auto& [id, l0] : old_limits) {
    if (l0->start + l0->duration <= now) continue;
    ExportLimit l = *l0;
    l.duration = l.start < now ? now - l.start : Duration::zero();
    out_limits_.push_back(l);
  }
}

void VenEngine::emit_series(TimePoint now) {
  // The core keeps one price series and one carbon series: merge every live event's points.
  PriceSeries prices;
  CarbonSeries carbon;
  Duration price_step{}, carbon_step{};
  bool any_price = false, any_carbon = false;
  for (const auto& [id, k] : events_) {
    if (k.deleted || !k.mapped.applies) continue;
    const auto& m = k.mapped;
    if (!m.import_price.empty() || !m.export_price.empty()) {
      any_price = true;
      prices.import_price.insert(prices.import_price.end(), m.import_price.begin(), m.import_price.end());
      prices.export_price.insert(prices.export_price.end(), m.export_price.begin(), m.export_price.end());
      if (prices.currency.empty()) prices.currency = m.currency;
      price_step = price_step == Duration::zero() ? m.series_interval : std::min(price_step, m.series_interval);
    }
    if (!m.carbon_kg_per_kwh.empty()) {
      any_carbon = true;
      carbon.intensity_kg_per_kwh.insert(carbon.intensity_kg_per_kwh.end(), m.carbon_kg_per_kwh.begin(),
                                         m.carbon_kg_per_kwh.end());
      carbon_step = carbon_step == Duration::zero() ? m.series_interval : std::min(carbon_step, m.series_interval);
    }
  }
  auto by_start = [](const SeriesPoint& a, const SeriesPoint& b) { return a.start < b.start; };
  std::stable_sort(prices.import_price.begin(), prices.import_price.end(), by_start);
  std::stable_sort(prices.export_price.begin(), prices.export_price.end(), by_start);
  std::stable_sort(carbon.intensity_kg_per_kwh.begin(), carbon.intensity_kg_per_kwh.end(), by_start);
  prices.interval = price_step;
  carbon.interval = carbon_step;
  if (any_price && (!last_prices_ || !(*last_prices_ == prices))) {
    out_signals_.push_back(GridSignal{now, "openadr", prices});
    last_prices_ = prices;
  }
  if (any_carbon && (!last_carbon_ || !(*last_carbon_ == carbon))) {
    out_signals_.push_back(GridSignal{now, "openadr", carbon});
    last_carbon_ = carbon;
  }
}

// -------------------------------------------------------------------------------- reports

void VenEngine::generate_reports(TimePoint now) {
  // Nothing can fall due before the earliest pending instance unless the events changed.
  if (!reports_dirty_ && (!next_report_due_ || now < *next_report_due_)) return;
  reports_dirty_ = false;
  next_report_due_.reset();
  auto wake_at = [&](TimePoint t) {
    if (!next_report_due_ || t < *next_report_due_) next_report_due_ = t;
  };
  for (auto& [id, k] : events_) {
    if (k.deleted || !k.mapped.applies) continue;
    while (k.next_report < k.schedule.size()) {
      const auto& inst = k.schedule[k.next_report];
      if (queue_.contains(inst.key) || report_skipped_.count(inst.key)) {
        ++k.next_report;
        continue;
      }
      if (inst.due > now) {
        wake_at(inst.due);
        break;
      }
      const auto& rd = k.event.report_descriptors[inst.descriptor];
      if (!supported_report_type(rd.payload_type)) {
        report_skipped_.insert(inst.key);
        ++counters_.reports_unsupported;
        continue;
      }
      auto built = build_report(k.event, k.mapped, inst, report_ctx_, source_, now);
      if (built.missing > 0 && now < inst.due + s_.report_wait) {
        // The figures may still arrive (meter data late): look again a little later.
        wake_at(std::min(inst.due + s_.report_wait, now + s_.settlement_interval / 3));
        break;
      }
      if (built.values == 0) {
        report_skipped_.insert(inst.key);
        ++counters_.reports_empty;
        continue;
      }
      QueuedReport q;
      q.key = inst.key;
      q.event_id = k.event.id;
      q.program_id = k.event.program_id;
      q.report_name = built.body.value("reportName", std::string());
      q.body = built.body.dump();
      q.created = now;
      queue_.push(q);
      ++counters_.reports_queued;
    }
  }
}

// ------------------------------------------------------------------------------- callback

CallbackResponse VenEngine::on_callback(const CallbackRequest& req, TimePoint now) {
  try {
    return callback(req, now);
  } catch (const std::exception& e) {
    ++counters_.notifications_rejected;
    reject("notification", std::string("unexpected content: ") + e.what(), "exc:" + req.body.substr(0, 256));
    return CallbackResponse{400, "application/json", Json{{"title", "Bad Request"}, {"status", 400}, {"detail", e.what()}}.dump()};
  }
}

CallbackResponse VenEngine::callback(const CallbackRequest& req, TimePoint now) {
  CallbackResponse resp;
  auto problem = [&](int status, const std::string& detail) {
    resp.status = status;
    resp.content_type = "application/json";
    resp.body = Json{{"title", status == 401 ? "Unauthorized" : "Bad Request"}, {"status", status}, {"detail", detail}}.dump();
    return resp;
  };
  if (req.method == "GET") {
    // The VTN's check of the callback URL: answer the echo value as the body.
    auto echo = query_param(req.target, "echo");
    if (!echo) return problem(400, "GET on the callback needs ?echo=");
    resp.content_type = "text/plain";
    resp.body = *echo;
    return resp;
  }
  if (req.method != "POST") return problem(405, "callback accepts GET ?echo= and POST notifications");
  if (req.authorization != "Bearer " + s_.callback_token) {
    ++counters_.notifications_rejected;
    return problem(401, "missing or wrong bearer token");
  }
  Json n;
  try {
    n = Json::parse(req.body);
  } catch (const Json::exception& e) {
    ++counters_.notifications_rejected;
    reject("notification", "not JSON", "notif:" + req.body.substr(0, 256));
    return problem(400, std::string("notification is not JSON: ") + e.what());
  }
  if (!n.is_object() || !n.contains("objectType") || !n["objectType"].is_string() || !n.contains("operation") ||
      !n["operation"].is_string() || !n.contains("object") || !n["object"].is_object()) {
    ++counters_.notifications_rejected;
    reject("notification", "needs objectType, operation and object", "notif:" + n.dump());
    return problem(400, "notification needs objectType, operation and object");
  }
  ++counters_.notifications;
  const std::string type = n["objectType"].get<std::string>();
  const std::string op = n["operation"].get<std::string>();
  if (type == "PROGRAM") {
    next_poll_ = now;  // re-read programs (and events) at once
    return resp;
  }
  if (type != "EVENT") return resp;
  auto e = parse_event(n["object"], s_.version);
  if (!e) {
    ++counters_.notifications_rejected;
    reject("notified event", e.error(), "ev:" + n["object"].dump());
    return problem(400, "event: " + e.error());
  }
  const std::string program = program_name_of(e->program_id);
  if (program.empty()) return resp;  // not a followed program
  if (op == "DELETE") {
    apply_delete(e->id, e->modified, now);
  } else if (op == "POST" || op == "PUT" || op == "CREATE" || op == "UPDATE") {
    apply_event(*e, program, now, true);
  } else {
    ++counters_.notifications_rejected;
    return problem(400, "unknown operation '" + op + "'");
  }
  resp.body = "{}";
  return resp;
}

// --------------------------------------------------------------------------------- status

std::string_view VenEngine::connection_state() const {
  if (unreachable_since_) return "unreachable";
  if (failures_ > 0 || retried_401_) return "degraded";
  if (!programs_known_) return "connecting";
  return "online";
}

Json VenEngine::status(TimePoint now) const {
  Json st;
  const std::string state(connection_state());
  const auto qs = queue_.stats();
  st["spec_version"] = std::string(to_string(s_.version));
  st["vtn_url"] = s_.vtn_url;
  st["ven_name"] = s_.ven_name;
  st["ven_id"] = ven_id_.empty() ? Json(nullptr) : Json(ven_id_);
  st["now"] = format_time(now);
  st["connection"] = {{"state", state},
                      {"last_success", opt_time(last_success_)},
                      {"last_error", last_error_.empty() ? Json(nullptr) : Json(last_error_)},
                      {"last_error_at", opt_time(last_error_at_)},
                      {"consecutive_failures", failures_},
                      {"unreachable_since", opt_time(unreachable_since_)},
                      {"backoff_until", backoff_until_ > now ? Json(format_time(backoff_until_)) : Json(nullptr)},
                      {"next_poll", format_time(next_poll_)},
                      {"token_valid_until", token_.empty() ? Json(nullptr) : Json(format_time(token_expires_))},
                      {"webhook", s_.callback_url.empty() ? Json(nullptr) : Json(s_.callback_url)},
                      {"subscribed", !s_.callback_url.empty() && subscribed_ && subs_done_ >= program_ids_.size()}};
  Json programs = Json::array();
  for (const auto& p : s_.programs) {
    const auto it = program_ids_.find(p.name);
    programs.push_back({{"name", p.name}, {"id", it == program_ids_.end() ? Json(nullptr) : Json(it->second)},
                        {"found", it != program_ids_.end()}});
  }
  st["programs"] = std::move(programs);
  Json events = Json::array();
  for (const auto& [id, k] : events_) {
    std::optional<TimePoint> start, end;
    for (const auto& iv : k.mapped.intervals) {
      if (!start || iv.start < *start) start = iv.start;
      if (!end || iv.end() > *end) end = iv.end();
    }
    std::string es = k.deleted ? "deleted" : !k.mapped.applies ? "not_for_us"
                                          : (!start || now < *start) ? "scheduled"
                                          : (end && now >= *end)      ? "ended"
                                                                      : "active";
    std::set<std::string> types;
    for (const auto& iv : k.event.intervals) {
      for (const auto& pl : iv.payloads) types.insert(pl.type);
    }
    Json core = Json::array();
    for (const auto& c : k.mapped.curtailments) core.push_back(c.event_id);
    events.push_back({{"id", id},
                      {"program", k.program_name},
                      {"name", k.event.name},
                      {"priority", k.event.priority ? Json(*k.event.priority) : Json(nullptr)},
                      {"state", es},
                      {"start", opt_time(start)},
                      {"end", opt_time(end)},
                      {"payload_types", Json(std::vector<std::string>(types.begin(), types.end()))},
                      {"core_events", std::move(core)},
                      {"modified", opt_time(k.event.modified)}});
  }
  st["events"] = std::move(events);
  st["reports"] = {{"pending", qs.pending}, {"sent", qs.sent}, {"rejected", qs.rejected},
                   {"oldest_pending", opt_time(qs.oldest_pending)}};
  const auto& c = counters_;
  st["counters"] = {{"requests", c.requests},
                    {"transport_errors", c.transport_errors},
                    {"server_errors", c.server_errors},
                    {"unauthorized", c.unauthorized},
                    {"token_fetches", c.token_fetches},
                    {"not_modified", c.not_modified},
                    {"invalid_objects", c.invalid_objects},
                    {"duplicates", c.duplicates},
                    {"out_of_order", c.out_of_order},
                    {"events_new", c.events_new},
                    {"events_modified", c.events_modified},
                    {"events_deleted", c.events_deleted},
                    {"not_for_us", c.not_for_us},
                    {"ignored_payloads", c.ignored_payloads},
                    {"signals", c.signals},
                    {"reports_queued", c.reports_queued},
                    {"reports_sent", c.reports_sent},
                    {"reports_rejected", c.reports_rejected},
                    {"reports_deduplicated", c.reports_deduplicated},
                    {"reports_unsupported", c.reports_unsupported},
                    {"reports_empty", c.reports_empty},
                    {"notifications", c.notifications},
                    {"notifications_rejected", c.notifications_rejected}};
  return st;
}

}  // namespace vpp::openadr
