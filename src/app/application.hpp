#pragma once
// Builds readthru from a validated Config and runs it until it is stopped. The only module
// that sees all the others. The pieces, one job each:
//   startup_checks  the rules and CDC tables checked against the database before serving
//   runtime         builds and owns the io threads, backends, read-through and the server
//   signals         SIGINT/SIGTERM (stop) and SIGHUP (reload) on io thread 0
//   reloader        SIGHUP and READTHRU.RELOAD: the config read again, applied live
//   drain           the graceful stop: finish what was read, then exit
//   service_state   what the service manager (systemd) is told: ready, reloading, stopping

#include <optional>
#include <string>

#include "config/config.hpp"

namespace readthru::app {

class Application {
 public:
  explicit Application(config::Config cfg);

  // Runs until SIGINT or SIGTERM and the drain that follows. Returns the process exit
  // code: 0 after a drain (see drain.hpp), 1 when start-up fails (e.g. the port is taken)
  // or a second signal cut the drain short, 2 when the rules fail their checks.
  int run();

  // The checks that need no server: keyspace patterns, overlaps, $n against params. The
  // SQL itself is checked against the database at start. Returns the first problem.
  static std::optional<std::string> check(const config::Config& cfg);

 private:
  config::Config cfg_;
};

}  // namespace readthru::app
