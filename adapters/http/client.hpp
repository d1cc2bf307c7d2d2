#pragma once
// A small synchronous HTTP/1.1 client for the API (vppctl, tests, the benchmark): one
// keep-alive connection, plain or TLS, every request bounded by a timeout.
#include <map>
#include <memory>
#include <string>

#include "model/result.hpp"
#include "model/time.hpp"

namespace vpp::http {

struct ClientOptions {
  std::string url = "http://127.0.0.1:8080";   // http:// or https://, host:port, no path
  std::string token;                            // bearer token, sent when non-empty
  std::string ca_file;                          // https: trust anchors (default: system store)
  bool insecure = false;                        // https: skip certificate verification (tests only)
  Duration timeout = std::chrono::seconds(10);  // per request, connect included
};

struct ClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers;   // lower-case names
};

class HttpClient {
 public:
  // Fails on a malformed URL or unreadable ca_file.
  static Result<std::unique_ptr<HttpClient>> create(const ClientOptions& options);
  ~HttpClient();

  // Sends one request (reconnecting once if the kept-alive connection was closed by the
  // server). Transport failures (refused, timeout, TLS) are errors; HTTP statuses are not.
  Result<ClientResponse> request(const std::string& method, const std::string& target, const std::string& body = "",
                                 const std::map<std::string, std::string>& headers = {});

  // Sends raw bytes and returns the first response (tests of the server's limits).
  Result<ClientResponse> raw(const std::string& bytes);

  struct Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpp::http
