#include "adapters/http/client.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "adapters/http/asio.hpp"

namespace vpp::http {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

struct HttpClient::Impl {
  ClientOptions options;
  bool https = false;
  std::string host;
  std::string port;
  net::io_context ioc;
  std::optional<net::ssl::context> tls;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return https ? beast::get_lowest_layer(*secure) : *plain; }
  bool connected() { return https ? secure.has_value() : plain.has_value(); }
  void reset() {
    beast::error_code ec;
    if (plain) plain->socket().close(ec);
    if (secure) beast::get_lowest_layer(*secure).socket().close(ec);
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  // Runs `op` (a coroutine) on the private io_context for at most the timeout.
  template <typename F>
  Result<bool> run(F op) {
    std::optional<std::string> error;
    bool done = false;
    net::co_spawn(ioc, op(), [&](std::exception_ptr e) {
      done = true;
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          error = x.what();
        }
      }
    });
    ioc.restart();
    ioc.run_for(options.timeout + std::chrono::milliseconds(500));
    if (!done) {
      reset();
      ioc.restart();
      ioc.run();  // let the cancelled operations finish
      return Error{"timeout after " + format_duration(options.timeout)};
    }
    if (error) return Error{*error};
    return true;
  }

  net::awaitable<void> connect() {
    tcp::resolver resolver(ioc);
    const auto endpoints = co_await resolver.async_resolve(host, port, net::use_awaitable);
    if (https) {
      secure.emplace(ioc, *tls);
      if (!SSL_set_tlsext_host_name(secure->native_handle(), host.c_str())) {
        throw std::runtime_error("TLS: cannot set SNI host name");
      }
      secure->set_verify_callback(net::ssl::host_name_verification(host));
      beast::get_lowest_layer(*secure).expires_after(options.timeout);
      co_await beast::get_lowest_layer(*secure).async_connect(endpoints, net::use_awaitable);
      co_await secure->async_handshake(net::ssl::stream_base::client, net::use_awaitable);
    } else {
      plain.emplace(ioc);
      plain->expires_after(options.timeout);
      co_await plain->async_connect(endpoints, net::use_awaitable);
    }
  }

  template <typename Stream>
  net::awaitable<void> exchange(Stream& s, bhttp::request<bhttp::string_body>& req, ClientResponse& out) {
    beast::get_lowest_layer(s).expires_after(options.timeout);
    co_await bhttp::async_write(s, req, net::use_awaitable);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256u << 20);
    co_await bhttp::async_read(s, buffer, parser, net::use_awaitable);
    auto res = parser.release();
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    for (const auto& f : res) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      out.headers[name] = std::string(f.value());
    }
    out.content_type = out.headers["content-type"];
    if (!res.keep_alive()) reset();
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::create(const ClientOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::string_view url = options.url;
  if (url.starts_with("https://")) {
    impl->https = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return Error{"url '" + options.url + "' must start with http:// or https://"};
  }
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find('/') != std::string_view::npos) return Error{"url '" + options.url + "' must not have a path"};
  std::string_view hostport = url;
  std::string_view port = impl->https ? "443" : "80";
  if (!hostport.empty() && hostport.front() == '[') {  // [::1]:8080
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) return Error{"url '" + options.url + "': unclosed ["};
    impl->host = std::string(hostport.substr(1, close - 1));
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return Error{"url '" + options.url + "': expected :port after ]"};
      port = hostport.substr(close + 2);
    }
  } else {
    const auto colon = hostport.rfind(':');
    impl->host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) port = hostport.substr(colon + 1);
  }
  int port_no = 0;
  const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), port_no);
  if (impl->host.empty() || ec != std::errc{} || p != port.data() + port.size() || port_no < 1 || port_no > 65535) {
    return Error{"url '" + options.url + "' needs a host and a port in 1-65535"};
  }
  impl->port = std::string(port);
  if (impl->https) {
    impl->tls.emplace(net::ssl::context::tls_client);
    beast::error_code e;
    if (options.insecure) {
      impl->tls->set_verify_mode(net::ssl::verify_none);
    } else {
      impl->tls->set_verify_mode(net::ssl::verify_peer);
      if (!options.ca_file.empty()) impl->tls->load_verify_file(options.ca_file, e);
      else impl->tls->set_default_verify_paths(e);
      if (e) return Error{"ca file '" + options.ca_file + "': " + e.message()};
    }
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<ClientResponse> HttpClient::request(const std::string& method, const std::string& target,
                                           const std::string& body, const std::map<std::string, std::string>& headers) {
  auto& im = *impl_;
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, im.host);
  req.set(bhttp::field::user_agent, "vppctl");
  if (!im.options.token.empty()) req.set(bhttp::field::authorization, "Bearer " + im.options.token);
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();

  ClientResponse out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = im.connected();
    auto r = im.run([&]() -> net::awaitable<void> {
      if (!im.connected()) co_await im.connect();
      if (im.https) co_await im.exchange(*im.secure, req, out);
      else co_await im.exchange(*im.plain, req, out);
    });
    if (r) return out;
    im.reset();
    // A kept-alive connection the server has closed meanwhile fails on first use: retry once
    // on a fresh one. A failure on a fresh connection is the answer.
    if (!reused) return Error{"request " + method + " " + target + " to " + im.options.url + " failed: " + r.error()};
  }
  return Error{"request " + method + " " + target + " failed twice"};
}

Result<ClientResponse> HttpClient::raw(const std::string& bytes) {
  auto& im = *impl_;
  im.reset();
  ClientResponse out;
  auto r = im.run([&]() -> net::awaitable<void> {
    co_await im.connect();
    auto& s = im.lowest();
    s.expires_after(im.options.timeout);
    if (im.https) co_await net::async_write(*im.secure, net::buffer(bytes), net::use_awaitable);
    else co_await net::async_write(*im.plain, net::buffer(bytes), net::use_awaitable);
    bhttp::response_parser<bhttp::string_body> parser;
    if (im.https) co_await bhttp::async_read(*im.secure, im.buffer, parser, net::use_awaitable);
    else co_await bhttp::async_read(*im.plain, im.buffer, parser, net::use_awaitable);
    auto res = parser.release();
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    out.content_type = std::string(res[bhttp::field::content_type]);
  });
  im.reset();
  if (!r) return Error{r.error()};
  return out;
}

}  // namespace vpp::http
