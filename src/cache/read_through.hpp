#pragma once
// The read-through service: GET, HGET, HGETALL and MGET of keys that match a keyspace
// rule. A hit is answered from Redis as it is; a miss is loaded from the database, stored
// with the keyspace's TTL and answered in the same round trip:
//
//   GET key -> nil
//   single-flight (one load per key in this process, across io threads)
//   SET state lease NX PX GET | GET key     (one pipeline on the key's own slot)
//     value or negative marker: answer;  lease taken: load;  lease held elsewhere: poll
//   load (batched per keyspace) -> fill script: if state still holds our lease,
//     SET key value PX ttl and DEL state (no row: SET state "none" PX negative_ttl)
//   -> answer everyone waiting
//
// Commands that do not read a managed key never come here. One ReadThrough per io thread,
// owned by that thread; the rules and the single-flight table are shared.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/backend.hpp"
#include "cache/gutter.hpp"
#include "cache/keyspace_rules.hpp"
#include "cache/load_batcher.hpp"
#include "cache/single_flight.hpp"
#include "cache/source_loader.hpp"
#include "common/units.hpp"

namespace readthru::cache {

// Who asked for an invalidation, for INFO.
enum class InvalidationSource : std::uint8_t { kCommand, kCdc, kStream };

class ReadThrough : public CounterSource {
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
  };

  ReadThrough(boost::asio::io_context& io, std::shared_ptr<KeyspaceRules> rules,
              SingleFlight& flights, Backend& redis, SourceLoader& db, Options options);

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
                      InvalidationSource source = InvalidationSource::kCommand);

  // READTHRU.INVALIDATE TAG: removes every key recorded under each tag (and the keys'
  // state keys), whatever their slots. `done` gets the number of keys removed, or the
  // first error from Redis (the tags not yet done may be partly done then).
  void invalidateTags(std::vector<std::string> tags, InvalidationSource source, ReplyCallback done);

  // READTHRU.INVALIDATE KEYSPACE / PATTERN: SCAN ... MATCH on every master (only the
  // owning node when the glob has a literal hash tag) and UNLINK what it finds, with the
  // state keys of the same glob. `done` gets the number of data keys removed. Progress
  // goes to the log.
  void invalidateKeyspace(const std::string& name, InvalidationSource source, ReplyCallback done);
  void invalidatePattern(std::string glob, InvalidationSource source, ReplyCallback done);

  // READTHRU.REFRESH: invalidates `key` and loads it again at once. `done` gets what GET
  // (HGETALL for a hash keyspace) would answer after the reload.
  void refresh(std::string key, std::uint64_t client_id, ReplyCallback done);

  // For INFO (any thread).
  std::vector<Counter> counters() const override;

 private:
  enum class Read : std::uint8_t { kGet, kHGet, kHGetAll };
  struct Fill;

  struct Stats {
    std::atomic<std::uint64_t> hits{0}, misses{0}, loads{0}, load_errors{0}, negative_hits{0},
        singleflight_joins{0}, lease_waits{0}, lease_takeovers{0}, store_errors{0},
        values_too_big{0}, disabled_errors{0}, invalidated_keys{0}, fills_cancelled{0},
        fills_rejected{0}, invalidations_key{0}, invalidations_tag{0}, invalidations_keyspace{0},
        invalidations_pattern{0}, refreshes{0}, tags_recorded{0}, tag_record_errors{0},
        tag_fills_raced{0}, cache_down_loads{0}, cache_down_errors{0}, gutter_served{0},
        fallbacks_served{0}, deadlines{0};
    std::atomic<std::uint64_t> by_source[3]{};  // by InvalidationSource
  };
  struct Sweep;

  // read_through.cpp: the read side.
  void readOne(Read kind, const Keyspace& ks, Command cmd, ReplyCallback done);
  void hgetMiss(const Keyspace& ks, std::string key, std::string field, ReplyCallback done);
  void mget(Command cmd, ReplyCallback done);
  static resp::Value reply(Read kind, const std::string& field, const Loaded& loaded);
  resp::Value disabled(const Keyspace& ks);
  bool readableWhileDown(const Keyspace& ks, const resp::Value& v);
  // While Redis is down: the gutter's copy of `key` (physical), counted, or null.
  LoadedPtr fromGutter(const std::string& key);

  // fill.cpp: the miss side. fetch() joins or leads the load of `key`; `done` gets the
  // outcome on this thread. With `redis_ok` false (Redis just failed) no lease is taken
  // and nothing is stored: the database answers alone.
  void fetch(const Keyspace& ks, std::string key, bool redis_ok, LoadedCallback done);
  LoadedCallback withDeadline(const Keyspace& ks, const std::string& logical, LoadedCallback done);
  void leaseStep(const std::shared_ptr<Fill>& fill);
  void afterLease(const std::shared_ptr<Fill>& fill);
  void load(const std::shared_ptr<Fill>& fill);
  void store(const std::shared_ptr<Fill>& fill, LoadedPtr loaded);
  void release(const Fill& fill);
  void fillScript(const Fill& fill, std::vector<std::string> args, ReplyCallback done);
  Millis ttlWithJitter(const Keyspace& ks);

  // tags.cpp: records `key` (physical) under the tags of `ks` (those from captures before
  // the load, `rows` null; those that need result columns after it), then runs `next`
  // with false when Redis refused: such a key must be served but not stored, or it
  // would survive its tag's invalidation.
  // `epoch` is the tag epoch read before the load (nullopt: not read, or unreadable).
  void recordTags(const Keyspace& ks, const std::string& logical, const std::string& key,
                  const RowSet* rows, std::optional<std::int64_t> epoch,
                  std::function<void(bool)> next);

  // invalidation.cpp
  // An invalidated key (physical): a load of it in flight must not store, and the gutter's
  // copy goes.
  void forget(const std::string& key);
  void sweep(std::string what, std::string glob, std::string state_glob, const KeyPattern* only,
             ReplyCallback done);
  // UNLINKs data keys (on `affinity`'s connection) and state keys (on this thread's own);
  // `done` gets the data UNLINK's count once both answered, or the first error.
  void unlinkWithStates(std::vector<std::string> keys, std::vector<std::string> states,
                        std::uint64_t affinity, ReplyCallback done);
  void restoreTag(const std::string& set, const std::string& gone);
  void sweepStep(const std::shared_ptr<Sweep>& sw);
  void sweepDone(const std::shared_ptr<Sweep>& sw);
  void counted(InvalidationSource source) { bump(stats_.by_source[static_cast<int>(source)]); }

  void bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
  LoadBatcher& batcher(const Keyspace& ks);

  boost::asio::io_context& io_;
  std::shared_ptr<KeyspaceRules> rules_;
  SingleFlight& flights_;
  Backend& redis_;
  SourceLoader& db_;
  Options options_;
  std::uint64_t next_token_ = 0;
  std::string script_sha_;  // the fill script's digest, once SCRIPT LOAD answered
  bool script_load_sent_ = false;
  std::unordered_map<const Keyspace*, std::unique_ptr<LoadBatcher>> batchers_;
  Stats stats_;
  const command::CommandSpec* get_;
  const command::CommandSpec* hget_;
  const command::CommandSpec* hgetall_;
  const command::CommandSpec* mget_;
  const command::CommandSpec* del_;
  const command::CommandSpec* unlink_;
};

}  // namespace readthru::cache
