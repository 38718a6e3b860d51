#pragma once
// The miss side of read-through: one load per key across threads (single-flight) and
// across instances (the lease), the batched load, and the store.
//
//   single-flight (one load per key in this process, across io threads)
//   SET state lease NX PX GET | GET key     (one pipeline on the key's own slot)
//     value or negative marker: answer;  lease taken: load;  lease held elsewhere: poll
//   load (batched per keyspace) -> fill script: if state still holds our lease,
//     SET key value PX ttl and DEL state (no row: SET state "none" PX negative_ttl)
//   -> answer everyone waiting
//
// Every reader is answered by its own request_deadline at the latest. While Redis is down
// (redis_ok false) nothing is leased or stored: results go to the gutter. One per io
// thread, owned by that thread's ReadThrough; the rules and the single-flight table are
// shared. The keyspace rules and the batchers come with each fetch, in its Generation.
//
// The stale ladder's reloads (stale_ladder.hpp) are fills too: one that wins the lease
// loads although Redis holds the value, and stores the value with its meta key; one that
// does not leaves the value to the instance that did.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/backend.hpp"
#include "cache/generation.hpp"
#include "cache/gutter.hpp"
#include "cache/keyspace_rules.hpp"
#include "cache/load_batcher.hpp"
#include "cache/single_flight.hpp"
#include "cache/source_loader.hpp"
#include "cache/tag_recorder.hpp"
#include "common/units.hpp"

namespace readthru::cache {

class FillCoordinator : public metrics::Source {
 public:
  struct Options {
    // How long a loader holds its lease; another instance takes over after that.
    Millis lease_time{3000};
    // Unique per process and thread: lease tokens are "<instance>:<n>".
    std::string instance;
    Gutter* gutter = nullptr;  // may be null
  };

  FillCoordinator(boost::asio::io_context& io, SingleFlight& flights, Backend& redis,
                  Options options);

  // Joins or leads the load of `logical` (the key as the client named it) in keyspace `ks`
  // of generation `gen`, which the load keeps until it is done: it loads with that
  // generation's query and stores with its TTL, whatever a reload does meanwhile. `done`
  // gets the outcome on this thread, or the request_deadline error first. With `redis_ok`
  // false (Redis just failed) no lease is taken and nothing is stored: the database
  // answers alone.
  // kReload (the stale ladder): Redis holds a value that is to be replaced; with the lease
  // it is loaded even though Redis has it, without the lease (another instance reloads)
  // `done` gets what Redis holds.
  enum class Fetch : std::uint8_t { kMiss, kReload };
  void fetch(const GenerationPtr& gen, const Keyspace& ks, std::string logical, bool redis_ok,
             LoadedCallback done, Fetch kind = Fetch::kMiss);
  // A background reload (refresh ahead, stale while revalidate): nobody waits for it.
  void refresh(const GenerationPtr& gen, const Keyspace& ks, std::string logical);

  // Now as Unix time in ms: the stale ladder's clock, shared by every instance.
  static std::int64_t unixMillis();

  // An invalidated key (physical): a load of it in flight must not store, and the gutter's
  // copy goes.
  void forget(const std::string& key);

  void collect(metrics::Sink& sink) const override;

 private:
  struct Fill;
  // What is not counted per keyspace (the generation's KeyspaceStats has the rest).
  struct alignas(64) Stats {
    metrics::Counter lease_waits, lease_takeovers, store_errors, values_too_big, fills_cancelled,
        fills_rejected;
  };

  void start(SingleFlight::FlightPtr flight, const GenerationPtr& gen, const Keyspace& ks,
             std::string logical, std::string key, bool redis_ok, Fetch kind);
  LoadedCallback withDeadline(const GenerationPtr& gen, const Keyspace& ks,
                              const std::string& logical, LoadedCallback done);
  void leaseStep(const std::shared_ptr<Fill>& fill);
  void afterLease(const std::shared_ptr<Fill>& fill);
  void load(const std::shared_ptr<Fill>& fill);
  void store(const std::shared_ptr<Fill>& fill, LoadedPtr loaded);
  void release(const Fill& fill);
  void fillScript(const Fill& fill, std::vector<std::string> args, ReplyCallback done);
  Millis ttlWithJitter(const Keyspace& ks);

  boost::asio::io_context& io_;
  SingleFlight& flights_;
  Backend& redis_;
  Options options_;
  TagRecorder tags_;
  std::uint64_t next_token_ = 0;
  std::string script_sha_;  // the fill script's digest, once SCRIPT LOAD answered
  bool script_load_sent_ = false;
  Stats stats_;
};

}  // namespace readthru::cache
