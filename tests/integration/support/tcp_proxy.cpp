#include "tcp_proxy.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace readthru::testing {
namespace {

int connectTo(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct Pair {
  int client = -1;
  int server = -1;
  bool swallowed = false;  // lost bytes in kBlackhole: the stream can never be forwarded again
};

void closePair(Pair& p) {
  if (p.client >= 0) ::close(p.client);
  if (p.server >= 0) ::close(p.server);
  p.client = p.server = -1;
}

// The closes a mode implies, done once per round before any byte is read in it.
void closeForMode(std::vector<Pair>& pairs, TcpProxy::Mode mode) {
  for (Pair& p : pairs) {
    if (mode == TcpProxy::Mode::kClosed || (mode == TcpProxy::Mode::kForward && p.swallowed)) {
      closePair(p);
    }
  }
  std::erase_if(pairs, [](const Pair& p) { return p.client < 0; });
}

}  // namespace

TcpProxy::TcpProxy(std::uint16_t target_port) : target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_, 128) != 0) {
    ::close(listener_);
    throw std::runtime_error("tcp proxy: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_.store(true);
  thread_.join();
  ::close(listener_);
}

void TcpProxy::setMode(Mode mode) {
  std::unique_lock lock(mutex_);
  mode_ = mode;
  const std::uint64_t wanted = ++requested_;
  // One poll round is 20ms; only a write blocked on a peer that does not read takes longer.
  if (!applied_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return applied_ >= wanted; })) {
    throw std::runtime_error("tcp proxy: mode change not applied within 5s");
  }
}

void TcpProxy::run() {
  std::vector<Pair> pairs;
  char buf[64 * 1024];
  while (!stop_.load()) {
    Mode mode;
    std::uint64_t generation;
    {
      std::lock_guard lock(mutex_);
      mode = mode_;
      generation = requested_;
    }
    closeForMode(pairs, mode);
    {
      std::lock_guard lock(mutex_);
      applied_ = generation;
    }
    applied_cv_.notify_all();

    std::vector<pollfd> fds{{listener_, POLLIN, 0}};
    for (const Pair& p : pairs) {
      fds.push_back({p.client, POLLIN, 0});
      fds.push_back({p.server, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
    const std::size_t polled = pairs.size();  // a pair accepted below has no pollfd yet
    if (fds[0].revents & POLLIN) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client >= 0) {
        const int server = mode == Mode::kClosed ? -1 : connectTo(target_port_);
        if (server < 0) {
          ::close(client);
        } else {
          pairs.push_back({client, server});
        }
      }
    }
    for (std::size_t i = 0; i < polled; ++i) {
      for (int side = 0; side < 2; ++side) {
        const pollfd& f = fds[1 + 2 * i + side];
        if (f.revents == 0) continue;
        Pair& p = pairs[i];
        if (p.client < 0) break;
        const int from = side == 0 ? p.client : p.server;
        const int to = side == 0 ? p.server : p.client;
        const ssize_t n = ::read(from, buf, sizeof buf);
        if (n <= 0) {
          closePair(p);
          break;
        }
        if (mode == Mode::kBlackhole) {
          p.swallowed = true;
          continue;
        }
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = ::write(to, buf + off, static_cast<std::size_t>(n - off));
          if (w <= 0) break;
          off += w;
        }
      }
    }
    std::erase_if(pairs, [](const Pair& p) { return p.client < 0; });
  }
  for (Pair& p : pairs) closePair(p);
}

}  // namespace readthru::testing
