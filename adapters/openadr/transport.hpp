#pragma once
// How the VEN's HTTP requests leave the process. The engine only describes requests; a
// Transport sends one and waits for its answer (blocking, bounded by a timeout), so the drivers
// decide where that wait happens (the caller's thread in SyncVenDriver, a worker thread in
// AsioVenDriver).
#include <map>
#include <memory>
#include <string>

#include "adapters/openadr/engine.hpp"

namespace vpp::openadr {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual HttpResult send(const HttpRequest& r) = 0;
};

struct TransportOptions {
  std::string ca_file;                        // https trust anchors (default: the system store)
  bool insecure = false;                      // https without verification (tests only)
  Duration timeout = std::chrono::seconds(10);  // per request, connect included
};

// Splits "https://host:port/base/path?q" into origin ("https://host:port") and target
// ("/base/path?q"). Nullopt for anything that is not an absolute http(s) URL.
std::optional<std::pair<std::string, std::string>> split_url(const std::string& url);

// Boost.Beast over Asio with OpenSSL, through the project's HTTP client (adapters/http/client.hpp):
// one kept-alive connection per origin (the VTN and, if elsewhere, its token server).
class BeastTransport final : public Transport {
 public:
  explicit BeastTransport(TransportOptions options);
  ~BeastTransport() override;
  HttpResult send(const HttpRequest& r) override;

 private:
  struct Clients;
  TransportOptions options_;
  std::unique_ptr<Clients> clients_;
};

}  // namespace vpp::openadr
