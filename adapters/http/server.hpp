#pragma once
// HTTP/1.1 server for the API (Boost.Beast over Asio, C++20 coroutines), plain or TLS.
//
// Threading: each connection runs on its own strand; every request is handed to the
// ApiService on one shared strand, so the service and the backend behind it are only ever
// called one request at a time, whatever number of threads run the io_context (the same
// assumption CppCon2018's shared_state makes with its implicit strand). Socket work of many
// connections still proceeds in parallel.
//
// Limits: request bodies above max_body_bytes get 413 and the connection is closed; an idle
// keep-alive connection is closed after idle_timeout; a request must arrive whole within
// request_timeout; at most max_connections at once (further ones are closed at accept).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "adapters/http/api_service.hpp"
#include "adapters/http/asio.hpp"
#include "config/config.hpp"

namespace vpp::http {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;                       // 0 = a free port (see HttpServer::port)
  std::optional<config::TlsFiles> tls;          // cert_file + key_file; ca_file => client certificates required
  std::size_t max_body_bytes = 1 << 20;
  Duration idle_timeout = std::chrono::seconds(60);
  Duration request_timeout = std::chrono::seconds(15);
  std::size_t max_connections = 1024;

  static ServerOptions from_config(const config::HttpConfig& c);
};

struct ServerCounters {
  std::uint64_t connections = 0;
  std::uint64_t tls_handshake_failures = 0;
  std::uint64_t too_large = 0;              // 413
  std::uint64_t malformed = 0;              // unparseable HTTP
  std::uint64_t rejected_connections = 0;   // over max_connections
};

class HttpServer {
 public:
  // Binds and starts accepting on `ioc`. Throws std::runtime_error when the address cannot be
  // bound or the TLS files cannot be loaded (a startup error names the file).
  HttpServer(boost::asio::io_context& ioc, ServerOptions options, ApiService& service);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;
  // Stops accepting and closes open connections. Safe from any thread.
  void stop();
  ServerCounters counters() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace vpp::http
