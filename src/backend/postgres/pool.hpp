#pragma once
// cache::SourceLoader on PostgreSQL: a pool of pipelined libpq connections.
//
// One Pool per io thread: it and its connections live on that thread's io_context, so
// nothing here locks or posts across threads (counters() alone may be read from any
// thread). A query goes to the least-loaded ready connection; at most `max_inflight`
// run at once, at most `max_waiting` more wait in a FIFO, and beyond that a query is
// refused. Every query has a client-side deadline (statement_timeout + 500ms) on top of
// the server's statement_timeout. While no connection can be made, or while the
// database's breaker (database_breaker.hpp) is open, the pool refuses queries at once
// instead of queueing them behind a dead database, and keeps reconnecting with jittered
// back-off. libpq stays inside this module: nothing here exposes its types.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/source_loader.hpp"
#include "common/fault.hpp"
#include "common/outage.hpp"
#include "common/result.hpp"
#include "common/units.hpp"
#include "config/config.hpp"

namespace readthru::backend::postgres {

class Connection;
class DatabaseBreaker;

class Pool : public cache::SourceLoader {
 public:
  using Clock = std::chrono::steady_clock;
  // What preparing statement number `statement` told the first connection that got that
  // far: its shape, or the database's reason it does not prepare.
  using PreparedCallback =
      std::function<void(std::size_t statement, Result<cache::StatementShape>)>;

  // This pool's share (per io thread) of the configured totals; connections and
  // max_inflight below 1 count as 1.
  struct Share {
    int connections = 1;
    int max_inflight = 1;
    int max_waiting = 1;
  };

  // `statements` are the SQL texts that query() numbers; `breaker` (may be null) is the
  // process's, shared with the other threads' pools. Nothing connects before start().
  Pool(boost::asio::io_context& io, const config::PostgresConfig& cfg, Share share,
       std::vector<std::string> statements, PreparedCallback on_prepared,
       std::shared_ptr<DatabaseBreaker> breaker = nullptr);
  // Drops every connection; callbacks still waiting are discarded, not called.
  ~Pool() override;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Connects every connection and starts the deadline sweep. Queries issued after
  // start() but before the first connection is ready wait for it (within their deadline);
  // before start() they are refused.
  void start();
  // Drops every connection for good; waiting and running queries are answered with
  // "database unreachable: loader stopped". Later queries get the same answer.
  void stop() override;

  // See cache::SourceLoader. Errors of its own: "too many loads waiting", "statement
  // timeout", "database unreachable: <reason>", "statement not prepared: <reason>",
  // "no such statement", "invalid parameter: ..."; otherwise the database's message.
  void query(std::size_t statement, std::vector<std::string> params, RowsCallback done) override;

  // pg_queries, pg_query_errors, pg_timeouts, pg_queue_full, pg_unreachable,
  // pg_reconnects, pg_connections_up (the breaker has its own). Safe to call from any thread.
  void collect(metrics::Sink& sink) const override;
  // True if at least one connection is ready for queries.
  bool anyConnected() const;

 private:
  // A query waiting for room in the pipeline.
  struct Waiting {
    std::size_t statement = 0;
    std::vector<std::string> params;
    RowsCallback done;  // already wrapped by track()
    Clock::time_point deadline;
  };

  // Written only on this thread; read by a scrape from any thread.
  struct alignas(64) Stats {
    metrics::Counter queries, errors, timeouts, queue_full, unreachable, reconnects;
    metrics::Gauge connections_up;
  };

  void onReady(Connection& conn);
  void onDown(Connection& conn, const std::string& reason, bool connect_failed);
  void onPrepared(std::size_t statement, Result<cache::StatementShape> shape);
  void dispatch();
  Connection* pickConnection() const;
  std::size_t inflight() const;
  RowsCallback track(RowsCallback done, bool probe);
  // Whether a query may go to the database now; false: it was answered (breaker open).
  bool admit(RowsCallback& done, bool& probe);
  void answerLater(RowsCallback done, Error error);
  void armSweep();
  void sweep();
  void shutdown(bool silent);
  void countConnectionsUp();

  boost::asio::io_context& io_;
  std::shared_ptr<char> alive_;  // handlers hold a weak_ptr: expired once the pool is gone
  std::size_t statement_count_;
  std::size_t max_inflight_;
  std::size_t max_waiting_;
  std::shared_ptr<DatabaseBreaker> breaker_;
  Millis deadline_;  // client-side limit per query, and per statement at a pipeline's head
  PreparedCallback on_prepared_;
  std::vector<bool> reported_;  // on_prepared_ ran for this statement
  std::vector<std::shared_ptr<Connection>> connections_;
  std::deque<Waiting> queue_;
  boost::asio::steady_timer sweep_timer_;
  bool started_ = false;
  bool stopped_ = false;
  bool down_ = false;  // no connection and the last connect failed: refuse queries
  Outage outage_;      // for the log: once when down, every 30 s, once when back
  std::string last_error_;
  Stats stats_;
};

}  // namespace readthru::backend::postgres
