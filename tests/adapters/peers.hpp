#pragma once
// Test harness for real peers on loopback: child processes with line-based stdin/stdout, a free
// port finder, and a mosquitto broker (plain, TLS, password) that each test starts and stops.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/loopback.hpp"

extern char** environ;

namespace vpp::test {

inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A child process with piped stdin and stdout (stderr inherited, so peer logs show in ctest).
class Process {
 public:
  explicit Process(std::vector<std::string> argv, const std::string& cwd = "") {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + argv[0]);
    }
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
    ::signal(SIGPIPE, SIG_IGN);
  }
  ~Process() { kill(SIGTERM); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void send(const std::string& line) {
    const std::string l = line + "\n";
    if (::write(in_, l.data(), l.size()) < 0) { /* the peer exited; reads will say so */ }
  }

  // The next stdout line, or nullopt on timeout or EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char b[4096];
      const auto n = ::read(out_, b, sizeof b);
      if (n <= 0) return std::nullopt;
      buf_.append(b, static_cast<std::size_t>(n));
    }
  }

  // Reads lines until one starts with `prefix`; returns it (nullopt on timeout).
  std::optional<std::string> expect(const std::string& prefix, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto l = read_line(left);
      if (!l) return std::nullopt;
      if (l->rfind(prefix, 0) == 0) return l;
    }
  }

  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int st = 0;
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      pid_ = -1;
    }
    if (in_ >= 0) ::close(in_);
    if (out_ >= 0) ::close(out_);
    in_ = out_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string buf_;
};

inline std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("vpp-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline int run(const std::string& cmd) { return std::system(cmd.c_str()); }

// mosquitto on 127.0.0.1:port; started and stopped by the test.
class Broker {
 public:
  struct Options {
    std::string cert_dir;       // TLS when set: ca.crt, server.crt, server.key inside
    std::string password_file;  // mosquitto_passwd file; anonymous otherwise
  };
  explicit Broker(std::filesystem::path dir, Options o = {}, int port = 0)
      : dir_(std::move(dir)), opts_(std::move(o)), port_(port ? port : free_port()) {
    start();
  }
  ~Broker() { stop(); }
  int port() const { return port_; }
  std::string url() const { return (opts_.cert_dir.empty() ? "tcp://127.0.0.1:" : "ssl://127.0.0.1:") + std::to_string(port_); }

  void start() {
    const auto conf = dir_ / "mosquitto.conf";
    std::ofstream f(conf);
    f << "listener " << port_ << " 127.0.0.1\n"
      << "persistence false\n"
      << "max_queued_messages 200000\n"
      << "log_dest stderr\nlog_type error\nlog_type warning\n";
    if (opts_.password_file.empty()) {
      f << "allow_anonymous true\n";
    } else {
      f << "allow_anonymous false\npassword_file " << opts_.password_file << "\n";
    }
    if (!opts_.cert_dir.empty()) {
      f << "cafile " << opts_.cert_dir << "/ca.crt\ncertfile " << opts_.cert_dir << "/server.crt\nkeyfile "
        << opts_.cert_dir << "/server.key\n";
    }
    f.close();
    proc_ = std::make_unique<Process>(std::vector<std::string>{"mosquitto", "-c", conf.string()});
    if (!wait_until([&] { return port_open(port_); }, std::chrono::seconds(10))) {
      throw std::runtime_error("mosquitto did not start on port " + std::to_string(port_));
    }
  }
  void stop() { proc_.reset(); }

 private:
  std::filesystem::path dir_;
  Options opts_;
  int port_;
  std::unique_ptr<Process> proc_;
};

// A CA and a server certificate for 127.0.0.1, made with openssl for this test run.
inline void make_certificates(const std::filesystem::path& dir) {
  const std::string d = dir.string();
  const std::string cmd =
      "cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=vpp-test-ca -keyout ca.key -out ca.crt"
      " >/dev/null 2>&1 && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr"
      " >/dev/null 2>&1 && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && openssl x509 -req -in server.csr"
      " -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.crt >/dev/null 2>&1";
  if (run(cmd) != 0) throw std::runtime_error("openssl failed");
}

inline const char* python() { return "/usr/bin/python3"; }
inline std::string peers_dir() { return std::string(VPP_SOURCE_DIR) + "/tests/adapters/peers"; }

}  // namespace vpp::test
