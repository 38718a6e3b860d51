#pragma once
// The figures INFO sums from the backend nodes (keyspace_hits, used_memory, db0:keys...),
// so that tools built for Redis read the cache tier's totals through readthru. Fetched
// with one `INFO memory stats keyspace` per node and kept for a second: a dashboard that
// polls INFO costs the nodes one INFO per second per io thread at most, not one per call.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cache/backend.hpp"

namespace readthru::server {

// "key:value" lines of an INFO reply ("# Section" lines and blanks skipped).
std::map<std::string, std::string, std::less<>> parseInfoLines(std::string_view text);

struct BackendTotals {
  std::size_t nodes = 0;         // that answered
  std::size_t nodes_failed = 0;  // that did not (their figures are missing from the sums)
  // Masters only: replicas hold copies of the same keys and memory.
  std::uint64_t used_memory = 0, used_memory_peak = 0, used_memory_rss = 0, maxmemory = 0;
  std::string maxmemory_policy;  // the masters' policy, or "mixed"
  std::uint64_t expired_keys = 0, evicted_keys = 0;
  std::uint64_t keys = 0, expires = 0;
  std::uint64_t avg_ttl = 0;  // ms, weighted by each master's expires
  // Every node that answered: reads go to replicas too (backend.read_from_replicas).
  std::uint64_t keyspace_hits = 0, keyspace_misses = 0;
};

// Pure: the sums over the nodes' INFO replies.
BackendTotals sumBackendInfo(const std::vector<cache::NodeReply>& replies);

// One io thread's cached copy.
class BackendInfoCache {
 public:
  static constexpr std::chrono::milliseconds kFresh{1000};

  explicit BackendInfoCache(cache::Backend& backend) : backend_(backend) {}

  // `done` runs on this thread with totals at most kFresh old (at once when they are);
  // callers that arrive while a fetch is out wait for it rather than send their own.
  void get(std::function<void(const BackendTotals&)> done);

 private:
  cache::Backend& backend_;
  BackendTotals totals_;
  std::chrono::steady_clock::time_point fetched_{};
  bool have_ = false;
  std::vector<std::function<void(const BackendTotals&)>> waiting_;
};

}  // namespace readthru::server
