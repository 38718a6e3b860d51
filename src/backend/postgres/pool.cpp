#include "backend/postgres/pool.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "backend/postgres/connection.hpp"
#include "backend/postgres/database_breaker.hpp"
#include "common/log.hpp"

namespace readthru::backend::postgres {
namespace {

using metrics::Family;
using metrics::Kind;
constexpr Family kQueries{"readthru_pg_queries_total", Kind::kCounter,
                          "Statements sent to PostgreSQL.", "pg_queries"};
constexpr Family kErrors{"readthru_pg_query_errors_total", Kind::kCounter,
                         "Statements that failed.", "pg_query_errors"};
constexpr Family kTimeouts{"readthru_pg_timeouts_total", Kind::kCounter,
                           "Statements cancelled by statement_timeout.", "pg_timeouts"};
constexpr Family kQueueFull{"readthru_pg_queue_full_total", Kind::kCounter,
                            "Statements refused because the pool's wait was full.",
                            "pg_queue_full"};
constexpr Family kUnreachable{"readthru_pg_unreachable_total", Kind::kCounter,
                              "Statements failed because no session was up.", "pg_unreachable"};
constexpr Family kReconnects{"readthru_pg_reconnects_total", Kind::kCounter,
                             "Sessions opened again after one was lost.", "pg_reconnects"};
constexpr Family kConnectionsUp{"readthru_pg_connections_up", Kind::kGauge,
                                "Pool sessions connected now.", "pg_connections_up"};

}  // namespace

namespace asio = boost::asio;

namespace {

constexpr Millis kSweepInterval{50};
// How much longer than statement_timeout a query may take before the client gives up:
// the server's own timeout should always answer first.
constexpr Millis kDeadlineSlack{500};
constexpr const char* kStopped = "database unreachable: loader stopped";

}  // namespace

Pool::Pool(asio::io_context& io, const config::PostgresConfig& cfg, Share share,
           std::vector<std::string> statements, PreparedCallback on_prepared,
           std::shared_ptr<DatabaseBreaker> breaker)
    : io_(io),
      alive_(std::make_shared<char>(0)),
      statement_count_(statements.size()),
      max_inflight_(static_cast<std::size_t>(std::max(1, share.max_inflight))),
      max_waiting_(static_cast<std::size_t>(std::max(0, share.max_waiting))),
      breaker_(std::move(breaker)),
      deadline_(cfg.statement_timeout.count() > 0 ? cfg.statement_timeout + kDeadlineSlack
                                                  : Millis{0}),
      on_prepared_(std::move(on_prepared)),
      reported_(statements.size(), false),
      sweep_timer_(io) {
  auto options = std::make_shared<ConnectionOptions>();
  options->dsn = cfg.dsn;
  options->password = cfg.password;
  options->tls = cfg.tls;
  options->statement_timeout = cfg.statement_timeout;
  options->connect_timeout = cfg.connect_timeout;
  options->statements = std::move(statements);

  // The hooks hold a plain `this`: connections are closed in ~Pool, after which their
  // handlers see a new generation and never call a hook again.
  Connection::Hooks hooks;
  hooks.on_ready = [this](Connection& c) { onReady(c); };
  hooks.on_down = [this](Connection& c, const std::string& reason, bool connect_failed) {
    onDown(c, reason, connect_failed);
  };
  hooks.on_prepared = [this](std::size_t i, Result<cache::StatementShape> shape) {
    onPrepared(i, std::move(shape));
  };
  hooks.on_query_done = [this](Connection&) { dispatch(); };
  for (int i = 0; i < std::max(1, share.connections); ++i) {
    connections_.push_back(std::make_shared<Connection>(io, options, hooks));
  }
}

Pool::~Pool() { shutdown(/*silent=*/true); }

void Pool::start() {
  if (started_ || stopped_) return;
  started_ = true;
  // Copied: a connect that fails at once may run hooks (and callbacks) before we finish.
  const auto connections = connections_;
  const std::weak_ptr<char> alive = alive_;
  for (const auto& c : connections) {
    c->start();
    if (alive.expired()) return;
  }
  armSweep();
}

void Pool::stop() { shutdown(/*silent=*/false); }

void Pool::shutdown(bool silent) {
  if (stopped_) return;
  stopped_ = true;
  sweep_timer_.cancel();
  std::deque<Waiting> waiting;
  waiting.swap(queue_);
  const auto connections = connections_;
  const std::weak_ptr<char> alive = alive_;
  for (const auto& c : connections) {
    c->close(kStopped, silent);
    if (alive.expired()) return;
  }
  countConnectionsUp();
  if (silent) return;
  for (Waiting& w : waiting) {
    w.done(Error{kStopped, Fault::kLoaderStopped});
    if (alive.expired()) return;
  }
}

// ---------------------------------------------------------------------------------------
// Queries

void Pool::query(std::size_t statement, std::vector<std::string> params, RowsCallback done) {
  stats_.queries.add();
  if (statement >= statement_count_) {
    answerLater(std::move(done), Error{"no such statement"});
    return;
  }
  // Text parameters end at a NUL byte: the database would silently look up a shorter key.
  for (const std::string& p : params) {
    if (p.find('\0') != std::string::npos) {
      answerLater(std::move(done), Error{"invalid parameter: contains a NUL byte"});
      return;
    }
  }
  if (stopped_ || !started_) {
    answerLater(std::move(done),
                stopped_ ? Error{kStopped, Fault::kLoaderStopped}
                         : Error{"database unreachable: loader not started", Fault::kDatabaseDown});
    return;
  }
  if (down_) {
    stats_.unreachable.add();
    answerLater(std::move(done),
                Error{"database unreachable: " + last_error_, Fault::kDatabaseDown});
    return;
  }
  bool probe = false;
  if (!admit(done, probe)) return;
  const auto deadline = deadline_.count() > 0 ? Clock::now() + deadline_ : Clock::time_point::max();
  if (queue_.empty()) {
    if (Connection* c = pickConnection()) {
      c->query(statement, params, track(std::move(done), probe), deadline);
      return;
    }
  }
  if (queue_.size() >= max_waiting_) {
    stats_.queue_full.add();
    if (probe) breaker_->breaker().onProbe(true);  // not the database's fault: try the next
    answerLater(std::move(done), Error{"too many loads waiting", Fault::kLoadQueueFull});
    return;
  }
  queue_.push_back({statement, std::move(params), track(std::move(done), probe), deadline});
}

bool Pool::admit(RowsCallback& done, bool& probe) {
  if (!breaker_) return true;
  Breaker& b = breaker_->breaker();
  if (b.allows()) return true;
  // Open: the first query after the open time is the probe; the others fail at once.
  probe = b.takeProbe(Clock::now());
  if (probe) return true;
  b.countRejected();
  stats_.unreachable.add();
  answerLater(std::move(done),
              Error{"database unreachable: circuit breaker open", Fault::kDatabaseDown});
  return false;
}

// Counts the outcome and tells the breaker, unless the pool is gone by the time it
// arrives. Only a database that did not answer is a failure; its error replies are answers.
Pool::RowsCallback Pool::track(RowsCallback done, bool probe) {
  return [this, alive = std::weak_ptr<char>(alive_), probe,
          done = std::move(done)](Result<cache::RowSet> result) {
    if (!alive.expired()) {
      const Fault fault = result.ok() ? Fault::kNone : faultOf(result.error().code);
      if (!result.ok()) {
        stats_.errors.add();
        if (fault == Fault::kStatementTimeout) {
          stats_.timeouts.add();
        }
      }
      if (breaker_) {
        const bool failed = fault == Fault::kDatabaseDown || fault == Fault::kStatementTimeout;
        Breaker& b = breaker_->breaker();
        if (probe) {
          b.onProbe(!failed);
        } else if (failed) {
          b.onFailure();
        } else {
          b.onSuccess();
        }
      }
    }
    done(std::move(result));
  };
}

// query() never calls `done` before returning; answers known at once go through the loop.
void Pool::answerLater(RowsCallback done, Error error) {
  stats_.errors.add();
  asio::post(io_, [done = std::move(done), error = std::move(error)] { done(error); });
}

std::size_t Pool::inflight() const {
  std::size_t n = 0;
  for (const auto& c : connections_) n += c->inflight();
  return n;
}

Connection* Pool::pickConnection() const {
  if (inflight() >= max_inflight_) return nullptr;
  Connection* best = nullptr;
  for (const auto& c : connections_) {
    if (c->ready() && (best == nullptr || c->inflight() < best->inflight())) best = c.get();
  }
  return best;
}

// Moves waiting queries into pipelines while there is room. Connection::query() runs no
// callback, so nothing here can re-enter the pool.
void Pool::dispatch() {
  while (!queue_.empty() && !stopped_) {
    Connection* c = pickConnection();
    if (c == nullptr) return;
    Waiting w = std::move(queue_.front());
    queue_.pop_front();
    c->query(w.statement, w.params, std::move(w.done), w.deadline);
  }
}

// ---------------------------------------------------------------------------------------
// Connection events

void Pool::onReady(Connection& conn) {
  if (conn.readyCount() > 1) stats_.reconnects.add();
  countConnectionsUp();
  down_ = false;
  const auto now = Outage::Clock::now();
  if (outage_.succeeded(now) == Outage::Say::kBack) {
    spdlog::info("postgres reachable again after {} failed connect(s) in {} ms", outage_.failures(),
                 outage_.downFor(now).count());
  }
  dispatch();
}

void Pool::onDown(Connection& conn, const std::string& reason, bool connect_failed) {
  last_error_ = reason;
  countConnectionsUp();
  if (!connect_failed) {
    // Reconnects at once; its queries failed, so others may now fit on other connections.
    spdlog::debug("postgres connection lost: {}", reason);
    dispatch();
    return;
  }
  if (anyConnected()) return;
  const auto now = Outage::Clock::now();
  const Outage::Say say = outage_.failed(now);
  if (say == Outage::Say::kStillDown) {
    spdlog::warn("postgres still unreachable after {} failed connect(s) in {} s: {}",
                 outage_.failures(), outage_.downFor(now).count() / 1000, reason);
  }
  if (down_) return;
  down_ = true;
  if (say == Outage::Say::kDown) spdlog::warn("postgres unreachable: {}", reason);
  // A cache must not hold work behind a dead database: everything waiting fails now.
  std::deque<Waiting> waiting;
  waiting.swap(queue_);
  const std::weak_ptr<char> alive = alive_;
  for (Waiting& w : waiting) {
    stats_.unreachable.add();
    w.done(Error{"database unreachable: " + reason, Fault::kDatabaseDown});
    if (alive.expired()) return;
  }
}

void Pool::onPrepared(std::size_t statement, Result<cache::StatementShape> shape) {
  if (statement >= reported_.size() || reported_[statement]) return;
  reported_[statement] = true;
  if (on_prepared_) on_prepared_(statement, std::move(shape));
}

// ---------------------------------------------------------------------------------------
// Deadlines

void Pool::armSweep() {
  if (stopped_) return;
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait(
      [this, alive = std::weak_ptr<char>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired() || stopped_) return;
        sweep();
      });
}

void Pool::sweep() {
  const auto now = Clock::now();
  const std::weak_ptr<char> alive = alive_;
  // Every query waits the same time, so the queue is in deadline order.
  while (!queue_.empty() && queue_.front().deadline <= now) {
    Waiting w = std::move(queue_.front());
    queue_.pop_front();
    w.done(Error{kStatementTimeout, Fault::kStatementTimeout});
    if (alive.expired()) return;
  }
  const auto connections = connections_;
  for (const auto& c : connections) {
    c->checkDeadlines(now, deadline_);
    if (alive.expired()) return;
  }
  armSweep();
}

// ---------------------------------------------------------------------------------------
// Observability

void Pool::countConnectionsUp() {
  std::uint64_t up = 0;
  for (const auto& c : connections_) up += c->ready() ? 1 : 0;
  stats_.connections_up.set(up);
}

bool Pool::anyConnected() const {
  return std::any_of(connections_.begin(), connections_.end(),
                     [](const auto& c) { return c->ready(); });
}

void Pool::collect(metrics::Sink& sink) const {
  sink.add(kQueries, stats_.queries);
  sink.add(kErrors, stats_.errors);
  sink.add(kTimeouts, stats_.timeouts);
  sink.add(kQueueFull, stats_.queue_full);
  sink.add(kUnreachable, stats_.unreachable);
  sink.add(kReconnects, stats_.reconnects);
  sink.add(kConnectionsUp, stats_.connections_up);
}

}  // namespace readthru::backend::postgres
