#pragma once
// The read-through service: GET, HGET, HGETALL and MGET of keys that match a keyspace
// rule, the DEL/UNLINK of such keys, and readthru's own invalidation commands. A hit is
// answered from Redis as it is; a miss goes to the FillCoordinator (single-flight, lease,
// batched load, store), and is answered in the same round trip; invalidations go to the
// Invalidator. This class is the read path: what a reply says, and what a read does when
// Redis cannot answer (on_cache_down, the gutter).
//
// Commands that do not read a managed key never come here. One ReadThrough per io thread,
// owned by that thread; the rules, the single-flight table and the gutter are shared. The
// rules and the loader come in generations (generation_slot.hpp): a reload installs new
// ones, and each request runs to its end under the generation it started with.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/backend.hpp"
#include "cache/fill_coordinator.hpp"
#include "cache/generation_slot.hpp"
#include "cache/gutter.hpp"
#include "cache/invalidator.hpp"
#include "cache/keyspace_rules.hpp"
#include "cache/load_batcher.hpp"
#include "cache/single_flight.hpp"
#include "cache/source_loader.hpp"
#include "common/units.hpp"

namespace readthru::cache {

class ReadThrough : public metrics::Source {
 public:
  struct Options {
    // How long a loader holds its lease; another instance takes over after that. Longer
    // than a load can take (statement_timeout plus the queue wait).
    Millis lease_time{3000};
    // Unique per process: lease tokens are "<instance>:<n>".
    std::string instance;
    // Where loads made while Redis is down are kept for a few seconds (shared by the
    // process; may be null: every read during an outage is then a load).
    Gutter* gutter = nullptr;
    int threads = 1;  // io threads: each takes its share of a keyspace's load limits
  };

  // `db` runs rules->statements().
  ReadThrough(boost::asio::io_context& io, std::shared_ptr<KeyspaceRules> rules,
              std::shared_ptr<SourceLoader> db, SingleFlight& flights, Backend& redis,
              Options options);

  // A reload: requests from now on use `rules`, loaded through `db` (which may be
  // loader(), when the statements did not change). On this thread.
  void install(std::shared_ptr<KeyspaceRules> rules, std::shared_ptr<SourceLoader> db) {
    slot_.install(std::move(rules), std::move(db));
  }
  // The current generation's loader (on this thread).
  const std::shared_ptr<SourceLoader>& loader() const { return slot_.current()->loader(); }
  // Stops every loader, current and retired, when readthru stops (on this thread).
  void stopLoaders() { slot_.stop(); }

  // Whether execute() should take this command: a GET/MGET of a key in a json, value or
  // rows keyspace, an HGET/HGETALL of a key in a hash keyspace, or a DEL/UNLINK that names
  // a managed key.
  bool owns(const command::CommandSpec& spec, const std::vector<std::string>& args) const;

  // Answers an owned command; `done` runs once on this thread.
  void execute(Command cmd, ReplyCallback done);

  // READTHRU.INVALIDATE KEY: unlinks `keys` and their state keys (lease or negative
  // marker), and keeps loads of them in flight in this process from storing their result.
  // `done` gets the number of keys removed, as UNLINK counts them. The UNLINK goes on the
  // connection of `client_id`, so it keeps its place in that client's pipeline.
  // Keys of a versioned keyspace are named as the application asks for them.
  void invalidateKeys(std::vector<std::string> keys, std::uint64_t client_id, ReplyCallback done,
                      InvalidationSource source = InvalidationSource::kCommand) {
    invalidator_.invalidateKeys(std::move(keys), client_id, std::move(done), source);
  }

  // READTHRU.INVALIDATE TAG: removes every key recorded under each tag (and the keys'
  // state keys), whatever their slots. `done` gets the number of keys removed, or the
  // first error from Redis (the tags not yet done may be partly done then).
  void invalidateTags(std::vector<std::string> tags, InvalidationSource source,
                      ReplyCallback done) {
    invalidator_.invalidateTags(std::move(tags), source, std::move(done));
  }

  // READTHRU.INVALIDATE KEYSPACE / PATTERN: SCAN ... MATCH on every master (only the
  // owning node when the glob has a literal hash tag) and UNLINK what it finds, with the
  // state keys of the same glob. `done` gets the number of data keys removed. Progress
  // goes to the log.
  void invalidateKeyspace(const std::string& name, InvalidationSource source, ReplyCallback done) {
    invalidator_.invalidateKeyspace(name, source, std::move(done));
  }
  void invalidatePattern(std::string glob, InvalidationSource source, ReplyCallback done) {
    invalidator_.invalidatePattern(std::move(glob), source, std::move(done));
  }

  // Whether a keyspace of this name is configured.
  bool hasKeyspace(const std::string& name) const {
    return slot_.current()->keyspace(name) != nullptr;
  }
  // The keyspaces running now, in config order.
  std::vector<std::string> keyspaceNames() const {
    std::vector<std::string> names;
    for (const auto& ks : slot_.current()->rules().keyspaces()) names.push_back(ks->name());
    return names;
  }

  // READTHRU.REFRESH: invalidates `key` and loads it again at once. `done` gets what GET
  // (HGETALL for a hash keyspace) would answer after the reload.
  void refresh(std::string key, std::uint64_t client_id, ReplyCallback done);

  // Warm-up (cache/warmer.hpp): loads `key` of keyspace `name` as a miss would (the
  // lease, the keyspace's batch, the fill script, its TTL); a key Redis holds already is
  // left as it is. `done` gets the outcome on this thread.
  void warm(const std::string& name, std::string key, LoadedCallback done);
  // The state of keyspace `name` now, or nullopt when there is none.
  std::optional<Keyspace::State> keyspaceState(const std::string& name) const {
    const Keyspace* ks = slot_.current()->keyspace(name);
    if (ks == nullptr) return std::nullopt;
    return ks->state();
  }

  // Any thread: the read path's, the fills', the invalidations' and the loaders' metrics.
  void collect(metrics::Sink& sink) const override;

 private:
  enum class Read : std::uint8_t { kGet, kHGet, kHGetAll };

  // Per keyspace counts are in the generation's KeyspaceStats.
  struct alignas(64) Stats {
    metrics::Counter refreshes;
  };

  // One read of one managed key, as the client named it.
  struct Target {
    Read kind = Read::kGet;
    GenerationPtr gen;
    const Keyspace* ks = nullptr;
    std::string key;    // logical
    std::string field;  // HGET's
  };

  void readOne(Read kind, GenerationPtr gen, const Keyspace& ks, Command cmd, ReplyCallback done);
  static bool isHit(Read kind, const resp::Value& v);
  void afterRead(Target t, resp::Value v, ReplyCallback done);
  void readWithFreshness(Target t, Command cmd, ReplyCallback done);
  // The stale ladder's step for a value Redis holds (meta: its meta key's reply).
  void climb(Target t, resp::Value data, const resp::Value& meta, ReplyCallback done);
  void hgetMiss(GenerationPtr gen, const Keyspace& ks, std::string key, std::string field,
                ReplyCallback done);
  void mget(Command cmd, ReplyCallback done);
  static resp::Value reply(Read kind, const std::string& field, const Loaded& loaded);
  resp::Value disabled(KeyspaceStats& st, const Keyspace& ks);
  bool readableWhileDown(KeyspaceStats& st, const Keyspace& ks, const resp::Value& v);
  // While Redis is down: the gutter's copy of `key` (physical), counted, or null.
  LoadedPtr fromGutter(KeyspaceStats& st, const std::string& key);

  Backend& redis_;
  Gutter* gutter_;
  GenerationSlot slot_;  // before fills_ and invalidator_, which use it
  FillCoordinator fills_;
  Invalidator invalidator_;
  Stats stats_;
  const command::CommandSpec* get_;
  const command::CommandSpec* hget_;
  const command::CommandSpec* hgetall_;
  const command::CommandSpec* mget_;
  const command::CommandSpec* del_;
  const command::CommandSpec* unlink_;
};

}  // namespace readthru::cache
