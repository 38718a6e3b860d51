#pragma once
// Tags (surrogate keys) on the fill side: a fill records its key in the set of each tag
// its keyspace declares, so that one READTHRU.INVALIDATE TAG finds every key carrying it,
// across slots. See docs/invalidation.md for why the order of these steps closes the race
// with loads. One per io thread, owned by that thread's FillCoordinator.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cache/backend.hpp"
#include "cache/keyspace_rules.hpp"
#include "cache/source_loader.hpp"
#include "common/units.hpp"

namespace readthru::cache {

class TagRecorder : public metrics::Source {
 public:
  TagRecorder(Backend& redis, Millis lease_time) : redis_(redis), lease_time_(lease_time) {}

  // Records `key` (physical) under the tags of `ks`: those from captures before the load
  // (`rows` null), those that need result columns after it. Then runs `next` with false
  // when Redis refused, or when a tag was invalidated after the load began: such a key must
  // be served but not stored, or it would survive its tag's invalidation.
  // `epoch` is the tag epoch read before the load (nullopt: not read, or unreadable).
  void record(const Keyspace& ks, const std::string& logical, const std::string& key,
              const RowSet* rows, std::optional<std::int64_t> epoch,
              std::function<void(bool)> next);

  void collect(metrics::Sink& sink) const override;

 private:
  struct alignas(64) Stats {
    metrics::Counter recorded, errors, raced;
  };

  Backend& redis_;
  Millis lease_time_;
  Stats stats_;
};

}  // namespace readthru::cache
