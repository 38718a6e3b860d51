#pragma once
// Pre-warming: a keyspace with `warm:` has its warm query run, and the keys it names
// loaded into the cache in batches, through the keyspace's own load path
// (ReadThrough::warm: the lease, the batch query, the fill script, the TTL). A key Redis
// holds already is left as it is (a warm-up fills holes, it does not reload). Paced by
// `rate`; progress goes to the log at the start, every 10 % or 5 s, and at the end.
//
// One warm-up of a keyspace at a time across all instances: the one holding the warm
// lease "readthru:warm:{<keyspace>}" (SET NX PX, renewed every third of its life while
// warming, released at the end). At start an instance that does not get the lease waits
// for the lease to go, then counts the keyspace as warm (the cache is shared), so that
// `ready_after_warm` holds for every instance.
//
// One per process, on io thread 0 with that thread's Backend and ReadThrough.

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "cache/backend.hpp"
#include "cache/keyspace_rules.hpp"
#include "cache/read_through.hpp"
#include "cache/source_loader.hpp"
#include "common/units.hpp"

namespace readthru::cache {

class Warmer : public metrics::Source {
 public:
  // Runs a warm query and calls `done` once on the warmer's thread, by its own deadline.
  using QueryRunner =
      std::function<void(const std::string& sql, std::function<void(Result<RowSet>)> done)>;
  struct Options {
    std::string instance;  // the lease holder's id, unique per process
    Millis lease{10000};
    // How long a warm-up waits for its keyspace's statements to be prepared.
    Millis ready_wait{30000};
    // How long an instance that did not get the lease at start waits for it to go.
    Millis other_wait{600000};
  };

  Warmer(boost::asio::io_context& io, Backend& redis, ReadThrough& read_through,
         QueryRunner run_query, Options options);
  ~Warmer() override;

  // At start: warms every keyspace of `rules` with warm.on_start, one after another's
  // lease step (they run side by side). On thread 0.
  void start(const std::shared_ptr<KeyspaceRules>& rules);
  // READTHRU.WARM <name>: `done` gets, once the warm-up has ended, a bulk summary ("warmed
  // 2000 keys of keyspace 'users' in 412 ms, 0 errors"), or an error at once: no such
  // keyspace, no `warm:` entry, already warming here or in another instance.
  void warm(const std::shared_ptr<KeyspaceRules>& rules, const std::string& name,
            ReplyCallback done);
  // Ends every warm-up (their leases are released); nothing runs afterwards.
  void stop();

  void collect(metrics::Sink& sink) const override;

 private:
  struct Job;
  struct alignas(64) KeyspaceCounts {
    metrics::Counter keys, errors, runs;
  };

  std::shared_ptr<Job> makeJob(const std::shared_ptr<KeyspaceRules>& rules, const Keyspace& ks,
                               bool at_start, ReplyCallback done);
  void takeLease(const std::shared_ptr<Job>& job);
  void waitForOther(const std::shared_ptr<Job>& job);
  void renew(const std::shared_ptr<Job>& job);
  void waitReady(const std::shared_ptr<Job>& job);
  void query(const std::shared_ptr<Job>& job);
  void nextBatch(const std::shared_ptr<Job>& job);
  void progress(Job& job, bool force);
  static Millis pauseBefore(const Job& job);
  void finish(const std::shared_ptr<Job>& job, std::string error);
  KeyspaceCounts& counts(const std::string& name);

  boost::asio::io_context& io_;
  Backend& redis_;
  ReadThrough& read_through_;
  QueryRunner run_query_;
  Options options_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<Job>> running_;  // by keyspace, thread 0 only
  std::set<std::string> pending_;  // ready_after_warm keyspaces not warm yet, thread 0 only
  metrics::Gauge in_progress_, pending_gauge_;
  mutable std::mutex counts_mutex_;  // a scrape reads the map from any thread
  std::map<std::string, std::unique_ptr<KeyspaceCounts>> counts_;
};

}  // namespace readthru::cache
