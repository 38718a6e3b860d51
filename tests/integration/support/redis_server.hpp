#pragma once
// A throwaway redis-server of the test's own on a free loopback port (no persistence), for
// fault tests that stall, stop or kill a node: the shared stack is never touched, so these
// tests need no lock on it. Stopped (SIGKILL if SIGTERM is not enough) by the destructor.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace readthru::testing {

// Runs `program args...` (found on PATH, or a path) as a child holding none of our
// descriptors beyond the standard three: a lock the test runner holds (flock on the stack)
// must never live on in a server, least of all one that daemonizes. Returns the child's
// pid; reapChild() waits for it.
pid_t spawnProgram(const std::string& program, const std::vector<std::string>& args);
pid_t spawnRedisServer(const std::vector<std::string>& args);

class RedisServer {
 public:
  // Starts it and waits (with a deadline) until it answers PING (NOAUTH counts, for a
  // `--requirepass` among `extra_args`); throws otherwise.
  explicit RedisServer(std::vector<std::string> extra_args = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // SIGSTOP / SIGCONT: the node hangs (sockets open, nothing answered) and comes back.
  void pause();
  void resume();
  // Kills it (SIGKILL) and waits for it; start() brings it back on the same port.
  void kill();
  void start();

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  bool paused_ = false;
  std::vector<std::string> extra_args_;
};

}  // namespace readthru::testing
