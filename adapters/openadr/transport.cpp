#include "adapters/openadr/transport.hpp"

#include <algorithm>

#include "adapters/http/client.hpp"

namespace vpp::openadr {

struct BeastTransport::Clients {
  std::map<std::string, std::unique_ptr<http::HttpClient>> by_origin;
};

std::optional<std::pair<std::string, std::string>> split_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return std::nullopt;
  const auto path = url.find_first_of("/?", scheme_end + 3);
  std::string origin = url.substr(0, path);
  std::string target = path == std::string::npos ? "/" : url.substr(path);
  if (target.front() == '?') target = "/" + target;
  if (origin.size() <= scheme_end + 3) return std::nullopt;
  return std::make_pair(origin, target);
}

BeastTransport::BeastTransport(TransportOptions options) : options_(std::move(options)), clients_(new Clients) {}
BeastTransport::~BeastTransport() = default;

HttpResult BeastTransport::send(const HttpRequest& r) {
  HttpResult out;
  auto parts = split_url(r.url);
  if (!parts) {
    out.error = "not an absolute http(s) URL: " + r.url;
    return out;
  }
  http::ClientOptions o;
  o.url = parts->first;
  o.ca_file = options_.ca_file;
  o.insecure = options_.insecure;
  o.timeout = options_.timeout;
  // HttpClient resends a request that fails on a kept-alive connection (the server may have
  // closed it meanwhile). That is right for GET but could deliver a POST twice when only the
  // answer was lost, so requests that change state get a connection of their own: a failure
  // is then reported, and the engine checks with the VTN before sending again.
  const bool idempotent = r.method == "GET" || r.method == "HEAD";
  std::unique_ptr<http::HttpClient> one_shot;
  http::HttpClient* client = nullptr;
  if (idempotent) {
    auto& kept = clients_->by_origin[parts->first];
    if (!kept) {
      auto c = http::HttpClient::create(o);
      if (!c) {
        clients_->by_origin.erase(parts->first);
        out.error = c.error();
        return out;
      }
      kept = std::move(*c);
    }
    client = kept.get();
  } else {
    auto c = http::HttpClient::create(o);
    if (!c) {
      out.error = c.error();
      return out;
    }
    one_shot = std::move(*c);
    client = one_shot.get();
  }
  auto res = client->request(r.method, parts->second, r.body, r.headers);
  if (!res) {
    out.error = res.error();
    return out;
  }
  out.status = res->status;
  out.body = std::move(res->body);
  out.headers = std::move(res->headers);
  return out;
}

}  // namespace vpp::openadr
