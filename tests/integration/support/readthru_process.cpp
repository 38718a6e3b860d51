#include "readthru_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

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

using Clock = std::chrono::steady_clock;

// How long readthru gets to answer PING after its start, and to exit after SIGTERM (and
// then after SIGKILL) before the test gives up on it.
constexpr auto kReadyDeadline = std::chrono::seconds(20);
constexpr auto kStopDeadline = std::chrono::seconds(10);

// Starts build's readthru on `config`, its output going to `log`. The child dies with the
// test process (PR_SET_PDEATHSIG), so a test killed by ctest's timeout or a crash leaves
// no readthru behind holding ports, leases or replication slots.
pid_t spawn(const std::string& config, const std::string& log) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(READTHRU_BINARY, READTHRU_BINARY, "--config", config.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

// Reaps `pid` once it has exited, polling until `deadline`: its waitpid status, or
// nullopt while it is still running.
std::optional<int> reap(pid_t pid, Clock::time_point deadline) {
  while (true) {
    int status = 0;
    const pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid) return status;
    if (got < 0) return -1;  // not our child any more (already reaped)
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// SIGKILL and reap, bounded: a child that survives even that is left to init. Returns the
// status, or -1.
int killAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);
  return reap(pid, Clock::now() + kStopDeadline).value_or(-1);
}

// The end of a log, for a failure message.
std::string logTail(const std::string& path, std::size_t max = 4000) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  std::string s = text.str();
  return s.size() > max ? "..." + s.substr(s.size() - max) : s;
}

}  // namespace

std::optional<int> reapChild(pid_t pid, std::chrono::milliseconds timeout) {
  return reap(pid, Clock::now() + timeout);
}

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
  config_ = dir_ + "/readthru.yaml";
  rewriteConfig(backend_yaml, listen_extra, sections);
  pid_ = spawn(config_, log_);
  // Ready when it answers PING (or says its TLS listener is up). One that does not is killed and
  // reaped before the test fails, so it holds nothing (ports, leases, slots) for the tests after
  // it.
  std::string failure;
  try {
    const auto deadline = Clock::now() + kReadyDeadline;
    while (Clock::now() < deadline) {
      try {
        Client c(port_);
        // With auth: configured it answers, but with NOAUTH: up all the same.
        const std::string pong = show(c.call({"PING"}));
        if (pong == "PONG" || pong.rfind("(error) NOAUTH", 0) == 0) return;
      } catch (const std::exception&) {
      }
      // A TLS listener cannot be asked PING in plain text: its start-up line says it is up.
      if (logTail(log_).find(":" + std::to_string(port_) + " (TLS only)") != std::string::npos) {
        return;
      }
      if (const auto status = reap(pid_, Clock::now())) {
        pid_ = -1;
        failure = "readthru exited at start (status " + std::to_string(*status) + ")";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (failure.empty()) failure = "readthru did not answer PING within 20s; killed";
  } catch (...) {
    if (pid_ > 0) killAndReap(std::exchange(pid_, -1));
    throw;
  }
  if (pid_ > 0) killAndReap(std::exchange(pid_, -1));
  // The destructor does not run for a constructor that throws: the log goes with the
  // message, and the directory with it.
  const std::string tail = logTail(log_);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
  throw std::runtime_error(failure + "; its log:\n" + tail);
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
  const std::optional<int> status = reap(pid, Clock::now() + timeout);
  if (!status) {
    killAndReap(pid);  // still running: code stays -1
  } else if (WIFEXITED(*status)) {
    result.code = WEXITSTATUS(*status);
  }
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  result.log = text.str();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return result;
}

void ReadthruProcess::rewriteConfig(const std::string& backend_yaml,
                                    const std::string& listen_extra, const std::string& sections) {
  std::ostringstream out;
  out << "listen:\n  address: 127.0.0.1\n  port: " << port_ << "\n";
  // stop() gives SIGTERM 10 s: a test that ends with a request stuck (a hung database)
  // must not spend them all draining it, at the default drain_timeout of 10 s.
  if (listen_extra.find("drain_timeout:") == std::string::npos) out << "  drain_timeout: 3s\n";
  out << listen_extra << "backend:\n" << backend_yaml << sections;
  if (sections.find("\nlog:") == std::string::npos && sections.rfind("log:", 0) != 0) {
    out << "log:\n  level: info\n";
  }
  writeRawConfig(out.str());
}

void ReadthruProcess::writeRawConfig(const std::string& text) {
  // Written aside and renamed into place: a reload never reads half a file.
  const std::string tmp = config_ + ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, config_);
}

std::string ReadthruProcess::log() const {
  std::stringstream text;
  text << std::ifstream(log_).rdbuf();
  return text.str();
}

void ReadthruProcess::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> ReadthruProcess::waitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto status = reap(pid_, Clock::now() + timeout);
  if (status) pid_ = -1;
  return status;
}

int ReadthruProcess::stop(bool kill) {
  if (pid_ <= 0) return -1;
  const pid_t pid = std::exchange(pid_, -1);
  ::kill(pid, kill ? SIGKILL : SIGTERM);
  if (const auto status = reap(pid, Clock::now() + kStopDeadline)) return *status;
  // A shutdown that hangs is a bug to report (stopAndCheck), not a test that hangs.
  stop_forced_ = true;
  return killAndReap(pid);
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
  if (stop_forced_) {
    problems += "readthru did not exit within 10s of SIGTERM; killed with SIGKILL\n";
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
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
