#include "adapters/http/server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>

namespace vpp::http {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

ServerOptions ServerOptions::from_config(const config::HttpConfig& c) {
  ServerOptions o;
  o.bind_address = c.bind_address;
  o.port = c.port;
  o.tls = c.tls;
  o.max_body_bytes = c.max_body_bytes;
  return o;
}

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  State(net::io_context& ioc, ServerOptions o, ApiService& s)
      : ioc(ioc), options(std::move(o)), service(s), api_strand(net::make_strand(ioc)), acceptor(ioc) {}

  net::io_context& ioc;
  ServerOptions options;
  ApiService& service;
  net::strand<net::io_context::executor_type> api_strand;  // the one strand that calls `service`
  tcp::acceptor acceptor;
  std::optional<net::ssl::context> tls;
  std::atomic<bool> stopped{false};

  mutable std::mutex mu;               // guards the members below (touched from many strands)
  std::map<std::uint64_t, std::function<void()>> closers;
  std::uint64_t next_id = 1;
  ServerCounters counters;

  void count(std::uint64_t ServerCounters::*field) {
    std::lock_guard lock(mu);
    ++(counters.*field);
  }
};

namespace {

using State = HttpServer::State;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

Response to_beast(const ApiResponse& r, unsigned version, bool keep_alive) {
  Response out{static_cast<bhttp::status>(r.status), version};
  out.set(bhttp::field::server, "vppd");
  if (!r.content_type.empty()) out.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) out.set(k, v);
  out.body() = r.body;
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

ApiRequest to_api(const Request& req, const std::string& remote) {
  ApiRequest a;
  a.method = std::string(req.method_string());
  a.target = std::string(req.target());
  a.authorization = std::string(req[bhttp::field::authorization]);
  a.accept = std::string(req[bhttp::field::accept]);
  a.content_type = std::string(req[bhttp::field::content_type]);
  a.body = req.body();
  a.remote = remote;
  return a;
}

template <typename Stream>
tcp::socket& socket_of(Stream& s) {
  return beast::get_lowest_layer(s).socket();
}

// Reads and discards what the peer still sends (the rest of a refused body) so closing the
// socket does not reset the connection before the peer has read our response.
template <typename Stream>
net::awaitable<void> drain(Stream& stream) {
  beast::error_code ec;
  char buf[16384];
  std::size_t total = 0;
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  while (total < (64u << 20)) {
    const auto n = co_await stream.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    total += n;
  }
}

// A plain coroutine function rather than a capturing lambda: with g++ 12 a lambda coroutine's
// captures live in the closure, which co_spawn does not keep alive for the coroutine's life.
net::awaitable<ApiResponse> call_service(std::shared_ptr<State> st, ApiRequest api) {
  co_return st->service.handle(api);
}

template <typename Stream>
net::awaitable<void> serve(std::shared_ptr<State> st, Stream& stream, std::string remote) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(st->options.max_body_bytes);
    parser.header_limit(16 * 1024);
    // Idle wait for the next request's header, then the whole request within request_timeout.
    beast::get_lowest_layer(stream).expires_after(st->options.idle_timeout);
    co_await bhttp::async_read_header(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (!ec && !parser.is_done()) {
      beast::get_lowest_layer(stream).expires_after(st->options.request_timeout);
      co_await bhttp::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    }
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset) {
      co_return;
    }
    if (ec) {
      const bool too_large = ec == bhttp::error::body_limit;
      st->count(too_large ? &ServerCounters::too_large : &ServerCounters::malformed);
      const auto api = too_large ? ApiService::error(413, "request body exceeds " + std::to_string(st->options.max_body_bytes) + " bytes")
                                 : ApiService::error(400, "malformed HTTP request: " + ec.message());
      auto res = to_beast(api, 11, false);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
      co_await bhttp::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
      if (!ec) {
        beast::error_code ignored;
        socket_of(stream).shutdown(tcp::socket::shutdown_send, ignored);
        co_await drain(stream);
      }
      co_return;
    }
    Request req = parser.release();
    const bool keep_alive = req.keep_alive();
    ApiRequest api = to_api(req, remote);
    // Hop to the API strand for the call, and back to this connection's strand for the write.
    ApiResponse result = co_await net::co_spawn(st->api_strand, call_service(st, std::move(api)), net::use_awaitable);
    auto res = to_beast(result, req.version(), keep_alive);
    beast::get_lowest_layer(stream).expires_after(st->options.request_timeout);
    co_await bhttp::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
}

net::awaitable<void> session(std::shared_ptr<State> st, tcp::socket socket) {
  const std::uint64_t id = [&] {
    std::lock_guard lock(st->mu);
    return st->next_id++;
  }();
  beast::error_code ec;
  std::string remote;
  {
    const auto ep = socket.remote_endpoint(ec);
    remote = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  // The closer posted by stop() runs on this connection's strand, as does the end of this
  // coroutine; `alive` tells it whether the stream still exists.
  auto alive = std::make_shared<bool>(true);
  try {
    if (st->tls) {
      beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *st->tls);
      {
        std::lock_guard lock(st->mu);
        auto ex = stream.get_executor();
        st->closers[id] = [ex, &stream, alive] {
          net::post(ex, [&stream, alive] {
            if (*alive) beast::get_lowest_layer(stream).cancel();
          });
        };
      }
      beast::get_lowest_layer(stream).expires_after(st->options.request_timeout);
      co_await stream.async_handshake(net::ssl::stream_base::server, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        st->count(&ServerCounters::tls_handshake_failures);
        spdlog::debug("http: TLS handshake with {} failed: {}", remote, ec.message());
      } else {
        co_await serve(st, stream, remote);
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
        co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
      }
      *alive = false;
    } else {
      beast::tcp_stream stream(std::move(socket));
      {
        std::lock_guard lock(st->mu);
        auto ex = stream.get_executor();
        st->closers[id] = [ex, &stream, alive] {
          net::post(ex, [&stream, alive] {
            if (*alive) stream.cancel();
          });
        };
      }
      co_await serve(st, stream, remote);
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      *alive = false;
    }
  } catch (const std::exception& e) {
    // No exception escapes a handler (DESIGN.md); a failing connection is dropped and logged.
    spdlog::warn("http: connection {} dropped: {}", remote, e.what());
  }
  *alive = false;
  std::lock_guard lock(st->mu);
  st->closers.erase(id);
}

net::awaitable<void> accept_loop(std::shared_ptr<State> st) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket(net::make_strand(st->ioc));
    co_await st->acceptor.async_accept(socket, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (st->stopped || ec == net::error::operation_aborted) co_return;
      spdlog::warn("http: accept failed: {}", ec.message());
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    std::size_t open = 0;
    {
      std::lock_guard lock(st->mu);
      open = st->closers.size();
      ++st->counters.connections;
    }
    if (open >= st->options.max_connections) {
      st->count(&ServerCounters::rejected_connections);
      socket.close(ec);
      continue;
    }
    auto ex = socket.get_executor();
    net::co_spawn(ex, session(st, std::move(socket)), net::detached);
  }
}

}  // namespace

HttpServer::HttpServer(net::io_context& ioc, ServerOptions options, ApiService& service)
    : state_(std::make_shared<State>(ioc, std::move(options), service)) {
  auto& st = *state_;
  if (st.options.tls) {
    const auto& t = *st.options.tls;
    if (t.cert_file.empty() || t.key_file.empty()) throw std::runtime_error("http.tls needs cert_file and key_file");
    st.tls.emplace(net::ssl::context::tls_server);
    st.tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 |
                        net::ssl::context::single_dh_use);
    beast::error_code ec;
    st.tls->use_certificate_chain_file(t.cert_file, ec);
    if (ec) throw std::runtime_error("http.tls.cert_file '" + t.cert_file + "': " + ec.message());
    st.tls->use_private_key_file(t.key_file, net::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("http.tls.key_file '" + t.key_file + "': " + ec.message());
    if (!t.ca_file.empty() && t.verify_peer) {
      st.tls->load_verify_file(t.ca_file, ec);
      if (ec) throw std::runtime_error("http.tls.ca_file '" + t.ca_file + "': " + ec.message());
      st.tls->set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
    }
  }
  beast::error_code ec;
  const auto addr = net::ip::make_address(st.options.bind_address, ec);
  if (ec) throw std::runtime_error("http.bind '" + st.options.bind_address + "' is not an IP address");
  const tcp::endpoint ep(addr, st.options.port);
  st.acceptor.open(ep.protocol(), ec);
  if (!ec) st.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) st.acceptor.bind(ep, ec);
  if (!ec) st.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("http: cannot listen on " + st.options.bind_address + ":" +
                             std::to_string(st.options.port) + ": " + ec.message());
  }
  net::co_spawn(st.acceptor.get_executor(), accept_loop(state_), net::detached);
}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const {
  beast::error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

void HttpServer::stop() {
  if (state_->stopped.exchange(true)) return;
  auto st = state_;
  net::post(st->acceptor.get_executor(), [st] {
    beast::error_code ec;
    st->acceptor.close(ec);
  });
  std::lock_guard lock(st->mu);
  for (auto& [id, close] : st->closers) close();
}

ServerCounters HttpServer::counters() const {
  std::lock_guard lock(state_->mu);
  return state_->counters;
}

}  // namespace vpp::http
