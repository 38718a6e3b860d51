#pragma once
// Builds readthru from a validated Config and runs it until it is stopped. The only module
// that sees all the others. The pieces, one job each:
//   startup_checks  the rules and CDC tables checked against the database before serving
//   runtime         builds and owns the io threads, backends, read-through and the server
//   signals         SIGINT/SIGTERM (stop) and SIGHUP (reload) on io thread 0

#include <optional>
#include <string>

#include "config/config.hpp"

namespace readthru::app {

class Application {
 public:
  explicit Application(config::Config cfg);

  // Runs until SIGINT or SIGTERM. Returns the process exit code (0 on a clean stop, 1
  // when start-up fails, e.g. the port is taken).
  int run();

  // The checks that need no server: keyspace patterns, overlaps, $n against params. The
  // SQL itself is checked against the database at start. Returns the first problem.
  static std::optional<std::string> check(const config::Config& cfg);

 private:
  config::Config cfg_;
};

}  // namespace readthru::app
