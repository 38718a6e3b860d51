#pragma once
// A raw TCP connection for protocol tests that the blocking Client cannot express: writes
// that must not block forever when the server stops reading, and "read everything until the
// server closes" without parsing. Plus small readers of INFO fields and of a process's RSS.
// Header-only; every wait has a deadline.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "client.hpp"

namespace readthru::testing {

class RawConn {
 public:
  // Connects to 127.0.0.1:port. `recv_buffer` > 0 shrinks SO_RCVBUF (before connect, so the
  // window is small from the start) for tests that want the server's writes to back up.
  explicit RawConn(std::uint16_t port, int recv_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    if (recv_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &recv_buffer, sizeof recv_buffer);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw std::runtime_error("connect to port " + std::to_string(port) + ": " + why);
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~RawConn() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  enum class SendResult { kSent, kBlocked, kClosed };

  // Sends all of `bytes` unless the peer stops reading for `timeout` (kBlocked; part may
  // have been sent) or the connection breaks (kClosed).
  SendResult send(std::string_view bytes,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return SendResult::kClosed;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return SendResult::kBlocked;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
      if ((p.revents & (POLLERR | POLLHUP)) != 0) return SendResult::kClosed;
    }
    return SendResult::kSent;
  }

  struct Received {
    std::string bytes;
    bool closed = false;  // EOF or reset seen before the deadline
  };

  // Reads until the peer closes or `timeout` passes, keeping at most `keep` bytes.
  Received readUntilClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                           std::size_t keep = 1 << 20) {
    Received r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[64 * 1024];
    while (true) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        const std::size_t room = keep > r.bytes.size() ? keep - r.bytes.size() : 0;
        r.bytes.append(buf, std::min(room, static_cast<std::size_t>(n)));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        r.closed = true;
        return r;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return r;
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    }
  }

 private:
  int fd_ = -1;
};

// A numeric field of INFO <section> (e.g. "connected_clients"), or nullopt when missing.
inline std::optional<long long> infoField(Client& c, const std::string& section,
                                          const std::string& field) {
  const std::string text = show(c.call({"INFO", section}));
  const std::string key = field + ":";
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size()));
  }
  return std::nullopt;
}

// A memory figure of a process in KiB from /proc/PID/status: "VmRSS" (now) or "VmHWM"
// (the peak since it started); nullopt when the process is gone.
inline std::optional<long long> memoryKib(long long pid, const std::string& field = "VmHWM") {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return std::nullopt;
}

// An RSS bound of `kib` as a sanitizer build must read it: ASan parks freed memory in a
// quarantine (256 MB by default) and adds shadow memory and redzones, so RSS there says
// little about readthru's own use. It still catches growth without bound; the release
// build asserts the bound itself.
inline constexpr long long rssBoundKib(long long kib) {
#if defined(__SANITIZE_ADDRESS__)
  return kib * 4 + 256 * 1024;
#else
  return kib;
#endif
}

}  // namespace readthru::testing
