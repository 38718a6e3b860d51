#pragma once
// The slow log's pure parts: an entry as Redis keeps it, the argv cut as Redis cuts it,
// and the bounded ring of one io thread. No I/O, no clock, no locks (server/slow_log.hpp
// adds those).

#include <chrono>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace readthru::server {

// Redis 7.0's limits (slowlog.h SLOWLOG_ENTRY_MAX_ARGC, SLOWLOG_ENTRY_MAX_STRING).
inline constexpr std::size_t kSlowMaxArgs = 32;
inline constexpr std::size_t kSlowMaxArgBytes = 128;

// One SLOWLOG GET entry: id, timestamp, duration (µs), argv, client addr:port, name.
struct SlowEntry {
  std::uint64_t id = 0;
  std::int64_t unix_seconds = 0;
  std::uint64_t micros = 0;
  std::vector<std::string> argv;
  std::string peer;
  std::string name;
};

// argv as Redis's slowlogCreateEntry keeps it: at most 32 arguments, the 32nd replaced by
// "... (N more arguments)" when there were more; each argument past 128 bytes cut to 128
// followed by "... (N more bytes)". The copy is bounded (about 4 KiB) whatever the client
// sent.
std::vector<std::string> slowLogArgv(std::span<const std::string> args);

// Replaces with "(redacted)", as Redis 7.0 does, the arguments of `command` (its table
// name: "auth", "config|set") that carry a secret: AUTH's, HELLO's AUTH pair, MIGRATE's
// AUTH/AUTH2, ACL SETUSER's rules and CONFIG SET's requirepass/masterauth values. The slow
// log keeps requests for anyone with SLOWLOG to read, and logs them: passwords must not
// be among them.
void redactSecrets(std::string_view command, std::vector<std::string>& argv);

// The newest `max_len` entries of one io thread, newest first. max_len 0 keeps none.
class SlowRing {
 public:
  explicit SlowRing(std::size_t max_len = 128) : max_len_(max_len) {}

  void push(SlowEntry entry);
  // Drops the oldest entries past the new length.
  void setMaxLen(std::size_t max_len);
  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }
  // Newest first.
  const std::deque<SlowEntry>& entries() const { return entries_; }

 private:
  std::size_t max_len_;
  std::deque<SlowEntry> entries_;
};

// The newest `count` of several rings' entries, newest (highest id) first.
std::vector<SlowEntry> newestOf(std::span<const SlowRing* const> rings, std::size_t count);

}  // namespace readthru::server
