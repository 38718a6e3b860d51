#pragma once
// The reload (SIGHUP, READTHRU.RELOAD): the config file is read again and what changed is
// applied without dropping a client connection.
//
//   1. On a thread of its own (it may wait for the database): the file is read and
//      validated as at start, new keyspace rules are compiled and their SQL is checked
//      against the database. Any problem rejects the reload ("reload rejected: <file>:
//      <line>: ..." in the log, and as the command's error); nothing changes.
//   2. On io thread 0: each setting that changed but needs a restart is logged by name
//      and left as it is (config_diff.hpp has the table); limits, timeouts and the log
//      level change at once; new keyspace rules (and new database pools, when their SQL or
//      pool settings changed) are installed on every io thread (Runtime::installRules).
//      Requests under way finish under the rules they started with.
//   3. Once every thread has switched: one line says what changed, and the askers are
//      answered.
//
// The service manager hears RELOADING=1 at step 1 and READY=1 after step 3 or a rejection.
//
// One reload runs at a time; a request that arrives meanwhile waits for the next run,
// which starts as soon as this one ends (and so sees the file as it is then).

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache/keyspace_rules.hpp"
#include "config/config.hpp"
#include "config/config_diff.hpp"
#include "tls/context.hpp"

namespace readthru::app {

class Drain;
class Runtime;
class ServiceState;

class Reloader {
 public:
  // "" when the new config runs, or why it was rejected ("<file>:<line>: ...").
  using Done = std::function<void(const std::string& error)>;

  // `running` is the config readthru started with. Lives on io thread 0. `service` hears
  // when each reload starts and ends (RELOADING=1, READY=1).
  Reloader(Runtime& runtime, Drain& drain, ServiceState& service, config::Config running);
  // Waits for a reload still reading or checking the file.
  ~Reloader();
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // On io thread 0: reload now, or after the reload under way. `done` runs on thread 0.
  void request(Done done);

 private:
  // What step 1 produced.
  struct Prepared {
    config::Config next;
    config::ConfigDiff diff;
    std::shared_ptr<cache::KeyspaceRules> rules;  // set when the keyspaces changed
    // With listen.tls on before and after: its files read again, for new connections.
    std::shared_ptr<tls::Context> listen_tls;
  };
  struct Outcome {
    std::optional<Prepared> prepared;
    std::string error;  // when !prepared
  };

  void begin();
  static Outcome prepare(const config::Config& running);
  void apply(Prepared p);
  void finish(const std::string& error);
  static std::string summary(const config::ConfigDiff& d);

  Runtime& runtime_;
  Drain& drain_;
  ServiceState& service_;
  config::Config running_;
  std::vector<Done> current_;  // waiting for the reload under way
  std::vector<Done> next_;     // asked while it ran
  bool busy_ = false;
  std::thread worker_;  // step 1 of the last reload
};

}  // namespace readthru::app
