#pragma once
// Batching of one keyspace's loads on one io thread. Misses that arrive together (one
// MGET, a pipeline, concurrent clients) become one execution of the keyspace's
// batch_query with all ids passed as one array ($1), when the rule has one; otherwise each
// key is its own query (still pipelined on the database connection).
//
// "Together" is counted, not timed: every fill announces itself with expect() before its
// lease round trip to Redis, and the batch leaves when no announced fill is still on its
// way (or after kMaxWait, or at kMaxBatch ids), so an MGET of 100 cold keys spread over
// three Redis nodes is still one SQL execution, and a lone miss waits for nothing.
//
// A keyspace may bound its share of the database (max_loads_in_flight): while that many
// of its executions run, new keys wait here (and join the next batch, which grows instead
// of the number of statements), at most max_loads_waiting of them; past that a key fails
// at once with Fault::kLoadQueueFull.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "cache/keyspace_rules.hpp"
#include "cache/keyspace_stats.hpp"
#include "cache/source_loader.hpp"

namespace readthru::cache {

class LoadBatcher {
 public:
  static constexpr std::size_t kMaxBatch = 1000;
  static constexpr std::chrono::milliseconds kMaxWait{2};

  // This thread's share of the keyspace's limits; in_flight 0: no limit of its own.
  struct Limits {
    std::size_t in_flight;
    std::size_t waiting;
  };

  LoadBatcher(boost::asio::io_context& io, const Keyspace& keyspace, SourceLoader& db,
              KeyspaceStats& stats, Limits limits = {0, 0});

  // A fill of this keyspace may call add() soon.
  void expect() { ++expected_; }
  // ...it will not, after all (the value was found, or another instance loads it).
  void unexpect();
  // Loads the rows of one key (`params` bound to the keyspace's query); replaces one
  // expect(). `done` gets only this key's rows, on this thread.
  void add(std::vector<std::string> params, SourceLoader::RowsCallback done);

 private:
  struct Item {
    std::vector<std::string> params;
    SourceLoader::RowsCallback done;
  };

  void maybeFlush();
  void flush();
  void runBatch(std::vector<Item> items);
  void runSingle(Item item);
  void retrySingly(std::vector<Item> items, SourceLoader::RowsCallback free_place);
  bool full() const;
  bool atLimit() const { return limits_.in_flight > 0 && running_ >= limits_.in_flight; }
  // Wraps the completion of one execution: it frees its place, then waiting keys may go.
  SourceLoader::RowsCallback finishing(SourceLoader::RowsCallback done);

  boost::asio::io_context& io_;
  const Keyspace& keyspace_;
  SourceLoader& db_;
  Limits limits_;
  std::size_t running_ = 0;  // executions in flight (a batch, with its retries, is one)
  boost::asio::steady_timer timer_;
  std::vector<Item> items_;
  std::size_t expected_ = 0;
  bool flush_posted_ = false;
  bool timer_armed_ = false;
  // SQL executions by kind, refusals and load times; outlives the batcher (a reload
  // replaces batchers, not the keyspace's counts).
  KeyspaceStats& stats_;
};

// PostgreSQL's text form of an array of text: {"a","b\"c"}. Exposed for tests.
std::string textArrayLiteral(const std::vector<std::string>& values);

// Hands each of `ids` its rows from a batch result, by the `key_column` value (integer
// columns compare by value, so the key "042" gets the row of 42; other types compare as
// text). `drop_key_column` leaves that column out (format value). Exposed for tests.
Result<std::vector<RowSet>> splitBatch(const RowSet& rs, const std::string& key_column,
                                       bool drop_key_column, const std::vector<std::string>& ids);

}  // namespace readthru::cache
