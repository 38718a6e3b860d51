#pragma once
// What readthru checks against the database before it serves (and before a reload swaps
// in new keyspaces): every keyspace's SQL, and the tables of the `invalidate:` rules. Plus the two
// CDC settings the checks and the Runtime both read.

#include <memory>
#include <string>
#include <vector>

#include "backend/postgres/replication_stream.hpp"
#include "cache/keyspace_rules.hpp"
#include "config/config.hpp"

namespace readthru::app {

// Checks every keyspace's SQL against the database: a typo or a missing column stops the
// start with the rule's name (logged). When the database cannot be reached within its
// connect timeout, readthru starts anyway (a cache must not need its database to start)
// and the pools check the rules when they connect. Returns false to stop.
bool checkRulesAtStart(const config::PostgresConfig& pg, cache::KeyspaceRules& rules);

// The same check for a reload (off the io threads; it blocks for up to the connect
// timeout and a second): `reached` false when the database did not answer, else the
// failures, each "<origin>: keyspace '<name>': <reason>". Logs nothing.
struct RulesCheck {
  bool reached = false;
  std::vector<std::string> failures;
};
RulesCheck checkRules(const config::PostgresConfig& pg, cache::KeyspaceRules& rules);

// The tables of the `invalidate:` rules, as the database sees them: a missing table or
// column, or a column the replica identity does not carry (deletes could not be mapped),
// stops the start, as a bad query does. An unreachable database is checked later, by the
// leader, which logs the same problems. Returns false to stop.
bool checkCdcAtStart(const config::Config& cfg, std::shared_ptr<const cache::KeyspaceRules> rules);

// True when the change stream is to be read: cdc.enabled and some keyspace has rules.
bool wantsCdc(const config::Config& cfg);

backend::postgres::ReplicationStream::Options streamOptions(const config::Config& cfg,
                                                            std::vector<std::string> tables);

}  // namespace readthru::app
