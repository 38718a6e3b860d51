#pragma once
// Keeps the cache in step with the database's change stream. Exactly one readthru
// instance reads the stream at a time: the one holding the leader lease in Redis
// ("readthru:cdc:leader:{<slot>}", SET NX PX, renewed every third of its life). The
// others keep trying, so a dead leader is replaced within one lease time. (PostgreSQL
// lets only one session use a slot in any case; the lease keeps the others from
// hammering it.)
//
// Committed transactions arrive in commit order. Their rows are mapped to keys, tags and
// keyspaces (ChangeMapper) and invalidated through ReadThrough; only once Redis has
// acknowledged every UNLINK is the position confirmed to the database. A crash between
// commit and invalidation therefore loses nothing: the next leader is sent the
// transaction again. Transactions waiting while one is applied are applied together.
//
// Bounded while Redis cannot acknowledge: each transaction waits as the keys, tags and
// keyspaces it invalidates. Once max_queued_transactions wait, or max_queued_bytes of
// their names, the change source is paused (it stops reading the stream; the database
// keeps the log, since nothing past the applied transactions is confirmed), and it
// resumes when the queue is down to half of both.
//
// Lives on one io thread, with that thread's ReadThrough and Backend.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "cache/backend.hpp"
#include "cache/change_mapper.hpp"
#include "cache/change_source.hpp"
#include "cache/read_through.hpp"
#include "common/outage.hpp"
#include "common/units.hpp"

namespace readthru::cache {

class CdcApplier : public metrics::Source {
 public:
  struct Options {
    std::string slot;      // names the leader key: one leader per slot
    std::string instance;  // this process, as the leader key's value
    Millis lease{5000};
    std::size_t max_queued_transactions = 10000;
    std::size_t max_queued_bytes = 16 << 20;  // names of keys, tags and keyspaces
  };
  // A new change source for each term as leader (stopped and dropped when it ends).
  using SourceFactory = std::function<std::unique_ptr<ChangeSource>()>;

  CdcApplier(boost::asio::io_context& io, Backend& redis, ReadThrough& read_through,
             std::shared_ptr<const KeyspaceRules> rules, SourceFactory make_source,
             Options options);
  ~CdcApplier() override;

  void start();
  void stop();

  // Its own counters and, while leading, the change source's (cdc_lag_*, cdc_confirmed_lsn).
  void collect(metrics::Sink& sink) const override;

 private:
  void tick();
  void lead();
  void describe(std::uint64_t term);
  void stepDown(const std::string& why);
  // A committed transaction, mapped, waiting to be applied.
  struct Queued {
    Lsn end_lsn = 0;
    Invalidations inv;
    std::size_t bytes = 0;
  };

  void onCommit(Transaction txn);
  void applyQueued();
  void dequeue(std::size_t n);
  void publishQueue();

  boost::asio::io_context& io_;
  Backend& redis_;
  ReadThrough& read_through_;
  ChangeMapper mapper_;
  SourceFactory make_source_;
  Options options_;
  std::string leader_key_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer retry_timer_;
  // Retries every second while Redis or the database is away: logged once when they start
  // failing, every 30 s while they do, and once when they work again.
  Outage describe_outage_, apply_outage_;
  bool stopped_ = false;
  bool leading_ = false;
  bool applying_ = false;
  std::uint64_t term_ = 0;  // completions of an earlier term are ignored
  std::chrono::steady_clock::time_point lease_until_{};
  // A leader that cannot stream (its own path to the database is down) lets go after a
  // few lease times, and waits before competing again, so another instance can try.
  std::chrono::steady_clock::time_point last_streaming_{};
  std::chrono::steady_clock::time_point compete_after_{};
  std::deque<Queued> queue_;
  std::size_t queued_bytes_ = 0;
  bool paused_ = false;              // the source is paused because the queue is full
  mutable std::mutex source_mutex_;  // collect() reads source_ from other threads
  std::unique_ptr<ChangeSource> source_;
  // Counters of the sources of earlier terms.
  metrics::Snapshot retired_;
  metrics::Gauge leader_, rule_problems_;
  metrics::Counter terms_, applied_, apply_errors_;
  // The queue as a scrape shows it (gauges), and how often it filled up.
  metrics::Gauge queued_gauge_, queued_bytes_gauge_, paused_gauge_;
  metrics::Counter pauses_;
};

}  // namespace readthru::cache
