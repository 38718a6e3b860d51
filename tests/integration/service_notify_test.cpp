// What readthru tells systemd (app/service_state.hpp), read from a real notification
// socket: the test binds a unix datagram socket, passes it as NOTIFY_SOCKET to the readthru
// it starts, and checks the messages a service manager would act on, in order: READY=1 once
// the slot map is known, RELOADING=1 with MONOTONIC_USEC then READY=1 around each reload
// (applied or rejected), STOPPING=1 at SIGTERM, and WATCHDOG=1 when WATCHDOG_USEC is set.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "client.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t monotonicMicros() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

// The value of `name` in a notification ("READY=1\nSTATUS=..."), if it is assigned.
std::optional<std::string> field(const std::string& message, const std::string& name) {
  std::size_t at = 0;
  while (at < message.size()) {
    std::size_t end = message.find('\n', at);
    if (end == std::string::npos) end = message.size();
    const std::string line = message.substr(at, end - at);
    if (line.rfind(name + "=", 0) == 0) return line.substr(name.size() + 1);
    at = end + 1;
  }
  return std::nullopt;
}

// A service manager's end of NOTIFY_SOCKET: every datagram received, in order.
class NotifySocket {
 public:
  NotifySocket() {
    char tmpl[] = "/tmp/readthru-notify-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot bind " + path_);
    }
  }
  ~NotifySocket() {
    ::close(fd_);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<std::string>& messages() const { return messages_; }
  Clock::time_point receivedAt(std::size_t i) const { return received_at_[i]; }

  // Receives until a message (after the `from`-th) satisfies `match`, or `timeout` passes.
  // Returns its index.
  std::optional<std::size_t> waitFor(const std::function<bool(const std::string&)>& match,
                                     std::size_t from, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (std::size_t i = from;; ++i) {
      while (i >= messages_.size()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0 || !receive(left)) return std::nullopt;
      }
      if (match(messages_[i])) return i;
    }
  }
  // The first message from `from` on that assigns `name`=`value`.
  std::optional<std::size_t> waitForField(const std::string& name, const std::string& value,
                                          std::size_t from, std::chrono::milliseconds timeout) {
    return waitFor([&](const std::string& m) { return field(m, name) == value; }, from, timeout);
  }

 private:
  bool receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return false;
    messages_.emplace_back(buf, static_cast<std::size_t>(n));
    received_at_.push_back(Clock::now());
    return true;
  }

  std::string dir_;
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> messages_;
  std::vector<Clock::time_point> received_at_;
};

// Sets an environment variable for the readthru processes started while it lives (they
// inherit the test's environment), and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

constexpr auto kWait = std::chrono::seconds(20);

bool hasField(const std::vector<std::string>& messages, const std::string& name) {
  for (const std::string& m : messages) {
    if (field(m, name)) return true;
  }
  return false;
}

// RELOADING=1 (its MONOTONIC_USEC between `asked` and now) and then READY=1, from message
// `from` on. Returns the READY=1 message's index.
std::size_t expectReloadRoundTrip(NotifySocket& sock, std::size_t from, std::uint64_t asked) {
  const auto reloading = sock.waitForField("RELOADING", "1", from, kWait);
  if (!reloading) {
    ADD_FAILURE() << "no RELOADING=1";
    return from;
  }
  const std::string& msg = sock.messages()[*reloading];
  const auto usec = field(msg, "MONOTONIC_USEC");
  if (!usec) {
    ADD_FAILURE() << "RELOADING=1 without MONOTONIC_USEC: " << msg;
  } else {
    const std::uint64_t at = std::stoull(*usec);
    EXPECT_GE(at, asked) << msg;
    EXPECT_LE(at, monotonicMicros()) << msg;
  }
  const auto ready = sock.waitForField("READY", "1", *reloading + 1, kWait);
  if (!ready) {
    ADD_FAILURE() << "no READY=1 after RELOADING=1";
    return *reloading;
  }
  return *ready;
}

TEST(ServiceNotify, ReadyReloadingAndStoppingArriveInOrder) {
  NotifySocket sock;
  ScopedEnv env("NOTIFY_SOCKET", sock.path());
  ReadthruProcess rt(clusterBackend());

  // Ready once the slot map is known: the stack's cluster has 3 masters and 3 replicas.
  const auto ready = sock.waitForField("READY", "1", 0, kWait);
  ASSERT_TRUE(ready) << rt.log();
  EXPECT_EQ(field(sock.messages()[*ready], "STATUS"),
            "serving: 0 keyspace(s), slot map of 6 node(s)");
  for (std::size_t i = 0; i < *ready; ++i) {
    EXPECT_FALSE(field(sock.messages()[i], "RELOADING")) << "before READY=1: " << i;
  }

  // SIGHUP with the same file: applied ("nothing changed").
  std::uint64_t asked = monotonicMicros();
  rt.signal(SIGHUP);
  std::size_t at = expectReloadRoundTrip(sock, *ready + 1, asked);
  EXPECT_EQ(field(sock.messages()[at], "STATUS"), "serving: 0 keyspace(s), slot map of 6 node(s)");

  // READTHRU.RELOAD of a broken file: rejected, and READY=1 all the same, saying so.
  const std::string good = [&] {
    std::ifstream in(rt.configPath());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }();
  rt.writeRawConfig("listen: [broken\n");
  asked = monotonicMicros();
  Client client(rt.port());
  EXPECT_NE(show(client.call({"READTHRU.RELOAD"})), "OK");
  at = expectReloadRoundTrip(sock, at + 1, asked);
  const auto status = field(sock.messages()[at], "STATUS");
  ASSERT_TRUE(status) << sock.messages()[at];
  EXPECT_NE(status->find("reload rejected, the previous config runs"), std::string::npos)
      << *status;
  rt.writeRawConfig(good);

  rt.signal(SIGTERM);
  EXPECT_TRUE(sock.waitForField("STOPPING", "1", at + 1, kWait)) << rt.log();
  const auto exited = rt.waitExit(std::chrono::seconds(10));
  ASSERT_TRUE(exited);
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0) << *exited;
  // No watchdog was asked for, so none was sent.
  EXPECT_FALSE(hasField(sock.messages(), "WATCHDOG"));
}

TEST(ServiceNotify, WatchdogIsPettedAtHalfItsTimeout) {
  NotifySocket sock;
  ScopedEnv env("NOTIFY_SOCKET", sock.path());
  ScopedEnv usec("WATCHDOG_USEC", "400000");
  // WATCHDOG_PID unset: the watchdog is the readthru child's (sd_watchdog_enabled(3)).
  ASSERT_EQ(std::getenv("WATCHDOG_PID"), nullptr);
  ReadthruProcess rt(clusterBackend());

  // The contract a manager relies on: each pet comes before the timeout (400 ms) runs out.
  // Sent every 200 ms, the typical gap is well inside it; the median is checked, so one
  // late tick on a loaded machine is not a failure, while petting at the full timeout is.
  std::size_t from = 0;
  std::vector<Clock::time_point> pets;
  while (pets.size() < 7) {
    const auto pet = sock.waitForField("WATCHDOG", "1", from, std::chrono::seconds(5));
    ASSERT_TRUE(pet) << "WATCHDOG=1 number " << pets.size() + 1 << " did not arrive; log:\n"
                     << rt.log();
    pets.push_back(sock.receivedAt(*pet));
    from = *pet + 1;
  }
  std::vector<std::chrono::milliseconds> gaps;
  for (std::size_t i = 1; i < pets.size(); ++i) {
    gaps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(pets[i] - pets[i - 1]));
  }
  std::sort(gaps.begin(), gaps.end());
  EXPECT_LT(gaps[gaps.size() / 2], std::chrono::milliseconds(400));
  EXPECT_TRUE(sock.waitForField("READY", "1", 0, kWait));
}

}  // namespace
}  // namespace readthru::testing
