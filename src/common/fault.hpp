#pragma once
// Failures of readthru's own, as codes: a node that cannot be reached, a reply that did
// not come in time, a breaker that is open, a database that is down. They are distinct
// from an error *reply* that Redis or PostgreSQL sent (those keep the server's own text).
// Breakers, counters, fail-open and the stale ladder decide on these codes; no code
// decides anything by reading a message.
//
// A fault travels as a std::error_code of faultCategory() (in resp::Value::fault and in
// Error::code); its client-visible text is composed once, where the fault is raised, by
// faultText(), and only ever carried from there.

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace readthru {

enum class Fault : int {
  kNone = 0,
  // Redis transport: the request did not get a reply from the node.
  kUnreachable = 1,     // no connection: connect failed, or reconnect back-off running
  kConnectionLost = 2,  // the connection broke while the request was on it
  kTimeout = 3,         // no reply within backend.command_timeout
  kBreakerOpen = 4,     // the node's circuit breaker is open: failed without trying
  kQueueFull = 5,       // too many requests or bytes queued on the node's connection
  kNoNode = 6,          // no node serves the slot, or no topology yet
  kShuttingDown = 7,    // the backend is stopping
  // A request as a whole.
  kDeadline = 20,  // the request's end-to-end deadline passed
  // The database (SourceLoader).
  kDatabaseDown = 40,      // no session to the database
  kStatementTimeout = 41,  // the statement (or its wait for a session) took too long
  kLoadQueueFull = 42,     // too many loads waiting
  kNotPrepared = 43,       // the statement could not be prepared on the session
  kLoaderStopped = 44,     // the loader is stopping
};

const std::error_category& faultCategory();

inline std::error_code make_error_code(Fault f) { return {static_cast<int>(f), faultCategory()}; }

// The fault a code holds, or Fault::kNone for a code of another category (or none).
Fault faultOf(const std::error_code& code);

// A short stable name ("timeout", "breaker_open"), for counters and logs.
std::string_view faultName(Fault f);

// Redis could not answer: the cases where a read of a managed key may fail open to the
// database.
bool isCacheDown(Fault f);
// The database could not answer (as opposed to rejecting the statement): retrying the keys
// of a failed batch one by one would fail the same way.
bool isDatabaseDown(Fault f);

// The text a client sees for a fault: "ERR readthru: <subject> <what happened>[ (<detail>)]",
// e.g. "ERR readthru: backend 127.0.0.1:7000 timed out (after 1000ms)". kNoNode starts
// with Redis's CLUSTERDOWN instead, and its subject says it all ("no node serves slot 9").
std::string faultText(Fault f, std::string_view subject, std::string_view detail = {});

}  // namespace readthru

template <>
struct std::is_error_code_enum<readthru::Fault> : std::true_type {};
