#pragma once
// What changed between the config readthru runs and a file read again for a reload, and
// what of that a reload can apply. Pure: two Configs in, names out.
//
// Every setting is in one table (config_diff.cpp) with how a change of it takes effect:
// at once (limits and timeouts read per connection or per request, log.level), with the
// next database pools (postgres.pool_size, ...), or only after a restart (what the
// listener, the io threads and the Redis connections were built with). Keyspaces are
// compared rule by rule, by name, without their file:line origins.

#include <string>
#include <vector>

#include "config/config.hpp"

namespace readthru::config {

struct ConfigDiff {
  // Keyspace names, in the order of the file they come from (removed: the running one).
  std::vector<std::string> added, removed, changed;
  // Settings other than keyspaces that change now ("log.level", "listen.idle_timeout").
  std::vector<std::string> applied;
  // Settings that changed in the file but need a restart; a reload leaves them as they are.
  std::vector<std::string> restart;
  // A setting the database pools are built with changed: the reload builds new pools.
  bool new_pools = false;

  bool keyspacesChanged() const { return !added.empty() || !removed.empty() || !changed.empty(); }
  bool empty() const { return !keyspacesChanged() && applied.empty() && restart.empty(); }
};

// Compares the running config with the one read for a reload.
//
// One case is a restart even though the keyspaces themselves reload: with cdc enabled, a
// change to the keyspaces' `invalidate:` rules is named "keyspaces.invalidate" in
// `restart`, because the change stream's publication and its table mapping are set up at
// start. The rest of such a keyspace's change applies.
ConfigDiff diff(const Config& running, const Config& next);

// `next` with every restart-only setting as `running` has it: the config readthru runs
// after a reload, and the one the next reload is compared with.
Config keepRestartOnly(const Config& running, Config next);

// "a, b" for log lines; "" for none.
std::string joinNames(const std::vector<std::string>& names);

}  // namespace readthru::config
