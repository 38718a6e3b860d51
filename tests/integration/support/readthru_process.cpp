#include "readthru_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "client.hpp"

namespace readthru::testing {

std::uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string clusterBackend(const std::string& extra) {
  return std::string("  mode: cluster\n  seeds: ") + kClusterSeeds + "\n" + extra;
}

ReadthruProcess::ReadthruProcess(const std::string& backend_yaml, const std::string& listen_extra) {
  char tmpl[] = "/tmp/readthru-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  log_ = dir_ + "/readthru.log";
  port_ = freePort();
  const std::string config = dir_ + "/readthru.yaml";
  {
    std::ofstream out(config);
    out << "listen:\n  address: 127.0.0.1\n  port: " << port_ << "\n"
        << listen_extra << "backend:\n"
        << backend_yaml << "log:\n  level: info\n";
  }
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(READTHRU_BINARY, READTHRU_BINARY, "--config", config.c_str(), nullptr);
    ::_exit(127);
  }
  // Ready when it answers PING.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      Client c(port_);
      if (show(c.call({"PING"})) == "PONG") return;
    } catch (const std::exception&) {
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("readthru exited at start; see " + log_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("readthru did not answer PING within 20s; see " + log_);
}

int ReadthruProcess::stop(bool kill) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, kill ? SIGKILL : SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

ReadthruProcess::~ReadthruProcess() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace readthru::testing
