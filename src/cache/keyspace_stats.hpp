#pragma once
// What one io thread counted for each keyspace, labelled by keyspace name in the metrics.
// Kept by name for the life of the thread, so a reload that keeps a keyspace keeps
// counting in the same cells (Prometheus counters never go down) and a removed one keeps
// its totals.
//
// at() on the owning thread (when a generation is built, never per request); collect()
// from any thread. The mutex guards the map, not the cells.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "metrics/cells.hpp"
#include "metrics/snapshot.hpp"

namespace readthru::cache {

struct alignas(64) KeyspaceStats {
  // The read path (ReadThrough).
  metrics::Counter hits, misses, disabled_errors, cache_down_loads, cache_down_errors,
      gutter_served, stale_served, refreshed_ahead, stale_if_error_served;
  // Fills (FillCoordinator).
  metrics::Counter loads, load_errors, negative_hits, coalesced, fallbacks_served, deadlines,
      background_refreshes;
  // SQL (LoadBatcher): executions by kind, and keys refused for a full wait.
  metrics::Counter batch_queries, single_queries, refused;
  // One key's load, from the batcher taking it to its rows.
  metrics::Histogram load_duration;
};

class KeyspaceStatsTable : public metrics::Source {
 public:
  KeyspaceStats& at(const std::string& keyspace);
  void collect(metrics::Sink& sink) const override;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<KeyspaceStats>> by_name_;
};

}  // namespace readthru::cache
