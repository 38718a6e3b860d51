#include "readthru_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
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

namespace {

// Starts build's readthru on `config`, its output going to `log`.
pid_t spawn(const std::string& config, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(READTHRU_BINARY, READTHRU_BINARY, "--config", config.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

}  // namespace

std::string keyspaceRule(const std::string& name, const std::string& pattern,
                         const std::string& query, const std::string& body) {
  std::string out = "  - name: ";
  out.append(name).append("\n    pattern: \"").append(pattern);
  out.append("\"\n    query: \"").append(query).append("\"\n").append(body);
  return out;
}

std::string clusterBackend(const std::string& extra) {
  return std::string("  mode: cluster\n  seeds: ") + kClusterSeeds + "\n" + extra;
}

ReadthruProcess::ReadthruProcess(const std::string& backend_yaml, const std::string& listen_extra,
                                 const std::string& sections) {
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
        << backend_yaml << sections << "log:\n  level: info\n";
  }
  pid_ = spawn(config, log_);
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

ExitResult runUntilExit(const std::string& config_yaml, std::chrono::milliseconds timeout) {
  char tmpl[] = "/tmp/readthru-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  const std::string dir = tmpl;
  const std::string config = dir + "/readthru.yaml";
  const std::string log = dir + "/readthru.log";
  std::ofstream(config) << config_yaml;
  const pid_t pid = spawn(config, log);
  ExitResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (status != -1 && WIFEXITED(status)) result.code = WEXITSTATUS(status);
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  result.log = text.str();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return result;
}

int ReadthruProcess::stop(bool kill) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, kill ? SIGKILL : SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string ReadthruProcess::stopAndCheck() {
  const int status = stop();
  std::ifstream in(log_);
  std::stringstream log;
  log << in.rdbuf();
  const std::string text = log.str();
  std::string problems;
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    const auto at = text.find(marker);
    if (at != std::string::npos) problems += text.substr(at, 2000) + "\n";
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    problems += "readthru exit status " + std::to_string(status) + "\n";
  }
  return problems;
}

ReadthruProcess::~ReadthruProcess() {
  if (pid_ > 0) {
    const std::string problems = stopAndCheck();
    if (!problems.empty()) ADD_FAILURE() << "readthru (log " << log_ << "):\n" << problems;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace readthru::testing
