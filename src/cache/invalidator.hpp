#pragma once
// Invalidation: keys, tags, whole keyspaces and globs. Every path removes a key together
// with its state key, so a load in flight (in any instance) loses its lease and cannot
// store what it read before the change (fill_script.hpp), and tells the FillCoordinator,
// so a load in this process does not store either. See docs/invalidation.md.
// One per io thread, owned by that thread's ReadThrough.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/backend.hpp"
#include "cache/fill_coordinator.hpp"
#include "cache/generation_slot.hpp"
#include "cache/keyspace_rules.hpp"
#include "common/units.hpp"

namespace readthru::cache {

// Who asked for an invalidation, for INFO.
enum class InvalidationSource : std::uint8_t { kCommand, kCdc, kStream };

class Invalidator : public metrics::Source {
 public:
  // `slot` gives the rules a command is matched with: the current generation's.
  Invalidator(const GenerationSlot& slot, Backend& redis, FillCoordinator& fills, Millis lease_time,
              std::string instance)
      : slot_(slot),
        redis_(redis),
        fills_(fills),
        lease_time_(lease_time),
        instance_(std::move(instance)) {}

  // See ReadThrough, which answers these commands through this class.
  void invalidateKeys(std::vector<std::string> keys, std::uint64_t client_id, ReplyCallback done,
                      InvalidationSource source);
  void invalidateTags(std::vector<std::string> tags, InvalidationSource source, ReplyCallback done);
  void invalidateKeyspace(const std::string& name, InvalidationSource source, ReplyCallback done);
  void invalidatePattern(std::string glob, InvalidationSource source, ReplyCallback done);

  void collect(metrics::Sink& sink) const override;

 private:
  struct Sweep;
  struct alignas(64) Stats {
    metrics::Counter invalidated_keys, key, tag, keyspace, pattern;
    metrics::Counter by_source[3];  // by InvalidationSource
  };

  // SCAN ... MATCH on every master (only the owning node when the glob has a literal hash
  // tag) and UNLINK what it finds, state keys first.
  void sweep(std::string what, std::string glob, std::string state_glob,
             std::optional<KeyPattern> only, ReplyCallback done);
  void sweepStep(const std::shared_ptr<Sweep>& sw);
  void sweepDone(const std::shared_ptr<Sweep>& sw);
  // UNLINKs data keys (on `affinity`'s connection) and state keys (on this thread's own);
  // `done` gets the data UNLINK's count once both answered, or the first error.
  void unlinkWithStates(std::vector<std::string> keys, std::vector<std::string> states,
                        std::uint64_t affinity, ReplyCallback done);
  // A tag's renamed-away set, emptied batch by batch (SSCAN).
  struct TagDrain {
    std::string set, gone;
    std::string cursor = "0";
    std::int64_t removed = 0;
    ReplyCallback done;
  };
  void tagStep(const std::shared_ptr<TagDrain>& drain);
  void tagBatchDone(const std::shared_ptr<TagDrain>& drain, resp::Value r);
  void restoreTag(const std::string& set, const std::string& gone);
  void counted(InvalidationSource source) { stats_.by_source[static_cast<int>(source)].add(); }

  const GenerationSlot& slot_;
  Backend& redis_;
  FillCoordinator& fills_;
  Millis lease_time_;
  std::string instance_;
  std::uint64_t next_token_ = 0;
  Stats stats_;
};

}  // namespace readthru::cache
