#pragma once
// Loopback ports for the tests and benchmarks that start servers of their own (mosquitto, vppd,
// Modbus and HTTP peers, Prism).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>

namespace vpp::test {

// A free loopback port below Linux's ephemeral range (32768-60999). A port from that range can
// be taken by a client's own connect: a client that keeps reconnecting to a server that is down
// may be given the server's port as its source port and connect to itself (TCP simultaneous
// open), so the restarted server cannot bind and the client waits for an answer from itself.
inline int free_port() {
  static std::atomic<int> seq{0};
  const int base = 20000 + static_cast<int>((::getpid() * 7919 + seq++ * 104729) % 12000);
  for (int i = 0; i < 12000; ++i) {
    const int port = 20000 + (base - 20000 + i * 7) % 12700;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return port;
  }
  throw std::runtime_error("no free loopback port in 20000-32699");
}

// True when something accepts connections on the loopback port.
inline bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace vpp::test
