// TLS with a certificate generated for the test (openssl CLI), and the OpenAPI document
// against the route table.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "adapters/http/json_writer.hpp"
#include "api_fixture.hpp"

namespace vpp::http::testing {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("vpp-http-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A self-signed certificate for localhost, valid for a day.
void make_certificate(const fs::path& dir) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=DNS:localhost -keyout '" + (dir / "key.pem").string() +
                          "' -out '" + (dir / "cert.pem").string() + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(ApiTls, ServesOverTlsAndRefusesUntrustedOrPlainClients) {
  TempDir dir;
  make_certificate(dir.path);
  ServerOptions o;
  o.tls = config::TlsFiles{"", (dir.path / "cert.pem").string(), (dir.path / "key.pem").string(), true};
  ServerHarness h(ApiOptions{.rate_limit_per_s = 1e6}, o);
  ASSERT_EQ(h.scheme, "https");

  // Trusting the generated certificate: works, with auth as over plain HTTP.
  ClientOptions trusted;
  trusted.url = h.url("localhost");
  trusted.ca_file = (dir.path / "cert.pem").string();
  auto c = h.client("view", trusted);
  auto r = c->request("GET", "/api/v1/fleet");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 200);
  auto c2 = h.client("", trusted);
  r = c2->request("GET", "/api/v1/fleet");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);

  // Not trusting it (system store only): the handshake fails, no request is made.
  ClientOptions untrusted;
  untrusted.url = h.url("localhost");
  untrusted.timeout = std::chrono::seconds(3);
  auto c3 = h.client("view", untrusted);
  EXPECT_FALSE(c3->request("GET", "/api/v1/fleet").ok());

  // Plain HTTP to the TLS port gets no HTTP answer.
  ClientOptions plain;
  plain.url = "http://127.0.0.1:" + std::to_string(h.server->port());
  plain.timeout = std::chrono::seconds(3);
  auto c4 = h.client("view", plain);
  auto p = c4->request("GET", "/api/v1/fleet");
  EXPECT_TRUE(!p.ok() || p->status != 200);
  EXPECT_GE(h.server->counters().tls_handshake_failures, 1u);
}

TEST(ApiTls, MissingCertificateFileIsAStartupErrorNamingTheFile) {
  boost::asio::io_context ioc;
  SimClock clock(t0());
  InMemoryBackend backend(clock);
  ApiService service(backend, clock, {});
  ServerOptions o;
  o.tls = config::TlsFiles{"", "/nonexistent/cert.pem", "/nonexistent/key.pem", true};
  try {
    HttpServer s(ioc, o, service);
    FAIL() << "expected a startup error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cert.pem"), std::string::npos) << e.what();
  }
}

// ------------------------------------------------------------------------------ OpenAPI

TEST(ApiOpenApi, EveryRouteIsDocumentedAndEveryDocumentedOperationIsRouted) {
  const auto doc = parse_json_value(ApiService::openapi_json());
  ASSERT_TRUE(doc.has_value());
  const auto& root = doc->struct_value().fields();
  EXPECT_EQ(root.at("openapi").string_value().substr(0, 4), "3.0.");
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, item] : root.at("paths").struct_value().fields()) {
    for (const auto& [method, op] : item.struct_value().fields()) {
      std::string m = method;
      for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      documented.insert({m, path});
    }
  }
  std::set<std::pair<std::string, std::string>> routed;
  for (const auto& r : ApiService::routes()) routed.insert({r.method, r.path});
  EXPECT_EQ(documented, routed);
  EXPECT_EQ(routed.size(), 18u);
}

void collect_refs(const google::protobuf::Value& v, std::set<std::string>& out) {
  if (v.kind_case() == google::protobuf::Value::kStructValue) {
    for (const auto& [k, x] : v.struct_value().fields()) {
      if (k == "$ref") out.insert(x.string_value());
      collect_refs(x, out);
    }
  } else if (v.kind_case() == google::protobuf::Value::kListValue) {
    for (const auto& x : v.list_value().values()) collect_refs(x, out);
  }
}

TEST(ApiOpenApi, EveryReferenceResolvesAndSchemasMatchTheMessages) {
  const auto doc = parse_json_value(ApiService::openapi_json());
  ASSERT_TRUE(doc.has_value());
  std::set<std::string> refs;
  collect_refs(*doc, refs);
  EXPECT_GT(refs.size(), 20u);
  const auto& components = doc->struct_value().fields().at("components").struct_value().fields();
  for (const auto& ref : refs) {
    ASSERT_EQ(ref.rfind("#/components/", 0), 0u) << ref;
    const auto rest = ref.substr(13);
    const auto slash = rest.find('/');
    const auto& section = components.at(rest.substr(0, slash)).struct_value().fields();
    EXPECT_TRUE(section.count(rest.substr(slash + 1))) << "dangling " << ref;
  }
  // The event schema is CurtailmentEvent's fields by their JSON names, closed to others.
  const auto& ev = components.at("schemas").struct_value().fields().at("vpp.v1.CurtailmentEvent").struct_value().fields();
  const auto& props = ev.at("properties").struct_value().fields();
  for (const char* f : {"eventId", "program", "start", "duration", "targetReductionKw", "importCapKw", "ramp", "priority", "siteIds"}) {
    EXPECT_TRUE(props.count(f)) << f;
  }
  EXPECT_EQ(props.size(), 9u);
  EXPECT_FALSE(ev.at("additionalProperties").bool_value());
  EXPECT_EQ(props.at("start").struct_value().fields().at("format").string_value(), "date-time");
}

TEST(ApiOpenApi, DocumentIsByteIdenticalAcrossBuildsOfIt) {
  // The document is assembled from protobuf maps; its text must not depend on their order.
  const auto doc = parse_json_value(ApiService::openapi_json());
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(write_json(*doc), ApiService::openapi_json());
}

}  // namespace
}  // namespace vpp::http::testing
