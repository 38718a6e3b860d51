#pragma once
// One non-blocking libpq connection to PostgreSQL in pipeline mode, carrying many
// queries at once. After connecting it prepares every statement of the loader ("rt_<n>")
// and describes it; then queries run as prepared statements with text parameters, each
// followed by its own Sync so that a failing query aborts only itself. Results are
// matched to queries in FIFO order, as the protocol guarantees.
//
// Ownership: a Connection belongs to one io thread and is held by shared_ptr (its
// pending I/O keeps it alive). The socket belongs to libpq: Asio only waits on it and
// never closes it. After a failure the connection reconnects by itself, at once after a
// lost connection and with exponential back-off after a failed connect. Every query's
// callback runs exactly once, never inside query().

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/postgres/row_conversion.hpp"
#include "cache/source_loader.hpp"
#include "common/backoff.hpp"
#include "common/fault.hpp"
#include "common/result.hpp"
#include "common/units.hpp"
#include "config/config.hpp"

struct pg_conn;  // libpq's PGconn, opaque outside connection.cpp

namespace readthru::backend::postgres {

struct ConnectionOptions {
  std::string dsn;                      // a libpq connection string or URI
  std::string password;                 // secret, given to libpq apart; empty: the DSN's
  config::PostgresTlsConfig tls;        // postgres.ssl*: libpq keywords after the DSN
  Millis statement_timeout{1000};       // sent as the server's statement_timeout; 0: none
  Millis connect_timeout{2000};         // enforced by libpq (whole seconds) and by a timer
  std::vector<std::string> statements;  // prepared as rt_0, rt_1, ...
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;

  // How the connection tells its owner about changes. All run on the io thread, from
  // the connection's own handlers (never from query()).
  struct Hooks {
    // Preparing finished: the connection takes queries from now on.
    std::function<void(Connection&)> on_ready;
    // The connection broke (`connect_failed`: it never got ready). It reconnects by itself.
    std::function<void(Connection&, const std::string& reason, bool connect_failed)> on_down;
    // One statement prepared (its shape) or not (the database's reason).
    std::function<void(std::size_t statement, Result<cache::StatementShape>)> on_prepared;
    // A query left the pipeline: room for another.
    std::function<void(Connection&)> on_query_done;
  };

  Connection(boost::asio::io_context& io, std::shared_ptr<const ConnectionOptions> options,
             Hooks hooks);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts connecting; the hooks report how it goes.
  void start();

  // Sends one query. Only while ready(). `done` gets the rows, the database's error, or
  // kStatementTimeout once `deadline` passes (whether or not the answer comes later).
  void query(std::size_t statement, const std::vector<std::string>& params,
             cache::SourceLoader::RowsCallback done, Clock::time_point deadline);

  // Answers overdue queries with kStatementTimeout. If the statement at the head of the
  // pipeline has run longer than `stuck_after`, the server is not answering: the
  // connection is dropped (its other queries fail too) and reconnects.
  void checkDeadlines(Clock::time_point now, Millis stuck_after);

  // Drops the connection for good; waiting queries get `message`, or with `silent`
  // their callbacks are discarded (at shutdown, when nobody is left to answer).
  void close(const std::string& message, bool silent);

  bool ready() const { return state_ == State::kReady && !failing_; }
  std::size_t inflight() const { return queries_in_flight_; }
  // How many times this connection became ready.
  std::uint64_t readyCount() const { return ready_count_; }
  const std::string& lastError() const { return last_error_; }

 private:
  enum class State { kIdle, kConnecting, kPreparing, kReady, kBackoff, kClosed };

  // One command in the pipeline, or the Sync that ends a group of them.
  struct Step {
    enum class Kind : std::uint8_t { kPrepare, kDescribe, kQuery, kSync };
    Kind kind = Kind::kSync;
    bool answered = false;  // its first result was handled; later ones are ignored
    std::size_t statement = 0;
    cache::SourceLoader::RowsCallback done;  // kQuery; empty once answered
    Clock::time_point deadline{};
  };

  struct ConnDeleter {
    void operator()(pg_conn* conn) const;
  };

  // --- connecting (connection.cpp)
  void connect();
  bool watchSocket();
  void waitConnect(bool for_read);
  void pollConnect();
  void onConnected();
  void becomeReady();

  // --- the pipeline
  void push(Step step);
  void flush();
  void waitReadable();
  void scheduleInput();
  void processInput();
  bool drainResults();
  void popStep();

  // --- failure
  // Drops the session, fails its queries with `query_message` (default: "database
  // unreachable: <reason>"), tells the owner and schedules the reconnect.
  void fail(const std::string& reason, const std::string& query_message = {});
  void failSoon(const std::string& reason);
  void dropStream();

  boost::asio::io_context& io_;
  std::shared_ptr<const ConnectionOptions> options_;
  Hooks hooks_;
  std::unique_ptr<pg_conn, ConnDeleter> conn_;
  boost::asio::posix::stream_descriptor socket_;  // wraps PQsocket(); released, never closed
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer retry_timer_;
  State state_ = State::kIdle;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  bool input_posted_ = false;
  bool failing_ = false;            // failSoon() posted: take no more queries
  std::deque<Step> steps_;          // sent, waiting for their results, in order
  Clock::time_point head_since_{};  // when steps_.front() became the head
  std::size_t queries_in_flight_ = 0;
  // Per statement: empty if it prepared on this connection, else the database's reason.
  std::vector<std::optional<std::string>> prepare_errors_;
  Backoff backoff_;
  std::string last_error_;
  std::uint64_t ready_count_ = 0;
  std::uint64_t generation_ = 0;  // bumps on every (re)connect; stale handlers check it
  bool silenced_ = false;         // closed silently: answers already on their way are dropped
};

}  // namespace readthru::backend::postgres
