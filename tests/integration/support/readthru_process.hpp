#pragma once
// Starts a real readthru binary (the one this build produced) on a free loopback port
// with a config written for the test, and stops it with SIGTERM at the end. Every wait has
// a deadline: a readthru that does not start, or does not stop, is killed, never waited
// for without end.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace readthru::testing {

// The local stack's fixed addresses (scripts/stack).
inline constexpr const char* kClusterSeeds = R"(["127.0.0.1:7000", "127.0.0.1:7001"])";
inline constexpr std::uint16_t kClusterFirstPort = 7000;
inline constexpr std::uint16_t kStandalonePort = 6390;
inline constexpr std::uint16_t kStandaloneReplicaPort = 6391;
inline constexpr const char* kSentinels =
    R"(["127.0.0.1:26390", "127.0.0.1:26391", "127.0.0.1:26392"])";

class ReadthruProcess {
 public:
  // `backend_yaml` is the body of the `backend:` section, e.g.
  // "  mode: cluster\n  seeds: [...]\n". `listen_extra` adds keys to `listen:` (with no
  // drain_timeout among them, it is 3s: see stop()); `sections` adds top-level sections
  // (postgres:, keyspaces:). Returns once readthru answers PING (PONG, or NOAUTH with auth:;
  // with listen.tls, once its log says the TLS listener is up);
  // throws (with the end of its log) when it exits first or does not answer within 20 s, having
  // killed and reaped it.
  explicit ReadthruProcess(const std::string& backend_yaml, const std::string& listen_extra = "",
                           const std::string& sections = "");
  ~ReadthruProcess();
  ReadthruProcess(const ReadthruProcess&) = delete;
  ReadthruProcess& operator=(const ReadthruProcess&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& logPath() const { return log_; }
  const std::string& configPath() const { return config_; }
  // Writes its config file again as the constructor did (same port, same defaults), for
  // a reload (signal(SIGHUP) or READTHRU.RELOAD) to read.
  void rewriteConfig(const std::string& backend_yaml, const std::string& listen_extra = "",
                     const std::string& sections = "");
  // Writes `text` as its config file, as it is (a broken file for a reload to reject).
  void writeRawConfig(const std::string& text);
  // The log so far.
  std::string log() const;
  // Sends `sig` and returns at once (a stop whose drain the test watches).
  void signal(int sig);
  // Waits up to `timeout` for the process to exit and returns its waitpid status, or
  // nullopt when it is still running then. Once it has exited there is nothing to stop.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  // Sends SIGKILL (a crash) or SIGTERM and waits up to 10 s, then sends SIGKILL; returns
  // the status from waitpid (-1 when it could not be reaped).
  int stop(bool kill = false);
  // Stops with SIGTERM; returns "" when readthru exited with status 0 and its log holds no
  // sanitizer report, else what went wrong (with the report). The destructor runs this
  // check for a process still running and fails the current test on a problem, so a
  // sanitizer report from readthru itself never goes unseen. Needing SIGKILL is a problem.
  std::string stopAndCheck();

 private:
  pid_t pid_ = -1;
  bool stop_forced_ = false;  // SIGTERM was not enough
  std::uint16_t port_ = 0;
  std::string dir_;
  std::string config_;
  std::string log_;
};

// Runs readthru with this config until it exits on its own (a start-up failure), for at
// most `timeout`; returns its exit code (-1: still running, killed) and its log.
struct ExitResult {
  int code = -1;
  std::string log;
};
ExitResult runUntilExit(const std::string& config_yaml, std::chrono::milliseconds timeout);

// One entry of a `keyspaces:` list: name, pattern and query as given, then `body`, the
// rule's other keys, indented ("    params: [id]\n    ttl: 30s\n").
std::string keyspaceRule(const std::string& name, const std::string& pattern,
                         const std::string& query, const std::string& body);

// A cluster-mode backend section for the local stack.
std::string clusterBackend(const std::string& extra = "");

// Waits, polling, up to `timeout` for child `pid` to exit and reaps it: its waitpid status
// (-1 when it is not our child), or nullopt while it still runs.
std::optional<int> reapChild(pid_t pid, std::chrono::milliseconds timeout);

// Any TCP port on 127.0.0.1 free right now.
std::uint16_t freePort();

}  // namespace readthru::testing
