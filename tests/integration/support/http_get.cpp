#include "http_get.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace readthru::testing {
namespace {

constexpr int kStepMillis = 10'000;

bool waitFor(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, kStepMillis) == 1;
}

}  // namespace

HttpReply httpRequest(std::uint16_t port, const std::string& method, const std::string& target) {
  HttpReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {0, {}, "socket failed"};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return {0, {}, "connect failed"};
  }
  const std::string req =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return {0, {}, "send failed"};
  }
  std::string all;
  char buf[16384];
  while (waitFor(fd, POLLIN)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const std::size_t split = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.1 ", 0) != 0 || split == std::string::npos) {
    return {0, all, "no HTTP reply"};
  }
  reply.status = std::stoi(all.substr(9, 3));
  reply.headers = all.substr(0, split);
  reply.body = all.substr(split + 4);
  return reply;
}

CommandResult runWithInput(const std::string& command, const std::string& input) {
  char path[] = "/tmp/readthru-input-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return {};
  ::close(fd);
  std::ofstream(path, std::ios::binary) << input;
  CommandResult r;
  FILE* p = ::popen((command + " < " + path + " 2>&1").c_str(), "r");
  if (p != nullptr) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ::unlink(path);
  return r;
}

}  // namespace readthru::testing
