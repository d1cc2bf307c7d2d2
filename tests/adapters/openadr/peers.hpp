#pragma once
// Real peers for the VEN's integration tests: the test VTN (test_vtn.py, Debian's python3) and
// Prism (@stoplight/prism-cli from node_modules, installed by scripts/install-deps) as an
// OpenAPI-validating proxy in front of it. Both run as child processes on loopback ports and
// are stopped by the destructor.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/http/client.hpp"
#include "tests/support/loopback.hpp"

namespace vpp::openadr::testing {

using vpp::test::free_port;
using vpp::test::port_open;

inline const std::string kPeerDir = std::string(VPP_SOURCE_DIR) + "/tests/adapters/openadr";

class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& log_file) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      FILE* f = std::fopen(log_file.c_str(), "w");
      if (f) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      std::_Exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);  // its process group: node may have children
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  bool running() const {
    int status = 0;
    return pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The test VTN: `api_port` serves OpenADR, `control_port` the tests' side door.
class TestVtn {
 public:
  TestVtn() {
    dir_ = std::filesystem::temp_directory_path() / ("vpp-vtn-" + std::to_string(::getpid()) + "-" + std::to_string(seq()++));
    std::filesystem::create_directories(dir_);
    const std::string port_file = (dir_ / "ports").string();
    child_ = std::make_unique<Child>(
        std::vector<std::string>{"/usr/bin/python3", kPeerDir + "/test_vtn.py", "--port-file", port_file},
        (dir_ / "vtn.log").string());
    for (int i = 0; i < 200 && !std::filesystem::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(port_file);
    in >> api_port >> control_port;
    if (control_port) {
      http::ClientOptions o;
      o.url = "http://127.0.0.1:" + std::to_string(control_port);
      auto c = http::HttpClient::create(o);
      if (c) control_ = std::move(c.value());
    }
  }
  ~TestVtn() {
    child_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ok() const { return api_port > 0 && control_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(api_port); }
  std::string log() const { return read_file((dir_ / "vtn.log").string()); }

  nlohmann::json control(const std::string& path, const nlohmann::json& body = nlohmann::json::object()) {
    auto r = control_->request(path == "/requests" || path == "/reports" || path == "/state" ? "GET" : "POST", path,
                               path == "/requests" || path == "/reports" || path == "/state" ? "" : body.dump());
    EXPECT_TRUE(r.ok()) << path << ": " << (r.ok() ? "" : r.error());
    if (!r.ok()) return nullptr;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return nlohmann::json::parse(r->body);
  }

  int api_port = 0;
  int control_port = 0;

 private:
  static int& seq() {
    static int s = 0;
    return s;
  }
  std::filesystem::path dir_;
  std::unique_ptr<Child> child_;
  std::unique_ptr<http::HttpClient> control_;
};

// Prism in proxy mode with --errors: a request that breaks the OpenAPI document is answered 422
// and never reaches the VTN; a response that breaks it is flagged. Every violation is logged.
class Prism {
 public:
  static std::string binary() { return kPeerDir + "/node_modules/@stoplight/prism-cli/dist/index.js"; }
  static bool available() {
    return std::filesystem::exists(binary()) && (std::filesystem::exists("/usr/bin/node") || std::filesystem::exists("/usr/local/bin/node"));
  }
  // `errors`: answer violations with errors (--errors); without it they are only logged.
  Prism(const std::string& spec, const std::string& upstream, bool errors = true) {
    port = free_port();
    log_file_ = std::filesystem::temp_directory_path() / ("vpp-prism-" + std::to_string(::getpid()) + "-" + std::to_string(port) + ".log");
    const std::string node = std::filesystem::exists("/usr/bin/node") ? "/usr/bin/node" : "/usr/local/bin/node";
    std::vector<std::string> argv{node, binary(), "proxy", kPeerDir + "/spec/" + spec, upstream};
    if (errors) argv.push_back("--errors");
    for (const char* a : {"-p", "PORT", "-h", "127.0.0.1"}) argv.push_back(std::string(a) == "PORT" ? std::to_string(port) : a);
    child_ = std::make_unique<Child>(argv, log_file_.string());
    for (int i = 0; i < 600 && !port_open(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~Prism() {
    child_.reset();
    std::error_code ec;
    std::filesystem::remove(log_file_, ec);
  }
  bool ok() const { return port_open(port); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string log() const { return read_file(log_file_.string()); }
  // Every line of Prism's log that reports a violation of the OpenAPI document.
  std::vector<std::string> violations() const {
    std::vector<std::string> out;
    std::istringstream in(log());
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("Violation") != std::string::npos || line.find("Request terminated with error") != std::string::npos ||
          line.find("UNPROCESSABLE") != std::string::npos) {
        out.push_back(line);
      }
    }
    return out;
  }
  int port = 0;

 private:
  std::filesystem::path log_file_;
  std::unique_ptr<Child> child_;
};

}  // namespace vpp::openadr::testing
