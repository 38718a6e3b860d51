#include "backend/postgres/connection.hpp"

#include <libpq-fe.h>

#include <boost/asio/post.hpp>

#include "backend/postgres/row_conversion.hpp"
#include "backend/postgres/session.hpp"
#include "common/log.hpp"

namespace readthru::backend::postgres {
namespace asio = boost::asio;
using Posix = asio::posix::stream_descriptor;

namespace {

constexpr Millis kDefaultConnectTimeout{2000};

struct ResultDeleter {
  void operator()(PGresult* res) const { PQclear(res); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Read-only by default so that a rule cannot write; the value formats row_conversion
// parses.
Result<std::string> serverOptions(const ConnectionOptions& o) {
  return sessionOptions(
      o.dsn, "-c default_transaction_read_only=on -c statement_timeout=" +
                 std::to_string(std::max<std::int64_t>(0, o.statement_timeout.count())) + " " +
                 kValueFormats);
}

}  // namespace

void Connection::ConnDeleter::operator()(pg_conn* conn) const { PQfinish(conn); }

Connection::Connection(asio::io_context& io, std::shared_ptr<const ConnectionOptions> options,
                       Hooks hooks)
    : io_(io),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      socket_(io),
      connect_timer_(io),
      retry_timer_(io) {}

Connection::~Connection() {
  // The descriptor belongs to libpq (PQfinish closes it); Asio must only forget it.
  if (socket_.is_open()) socket_.release();
}

void Connection::start() {
  if (state_ == State::kIdle) connect();
}

// ---------------------------------------------------------------------------------------
// Connecting: PQconnectPoll driven by socket readiness, then prepare every statement.

void Connection::connect() {
  const std::uint64_t gen = ++generation_;
  state_ = State::kConnecting;
  auto self = shared_from_this();
  const Millis timeout =
      options_->connect_timeout.count() > 0 ? options_->connect_timeout : kDefaultConnectTimeout;
  auto options = serverOptions(*options_);
  if (!options) {
    failSoon(options.error().message);
    return;
  }
  const std::string timeout_s =
      std::to_string(std::max<std::int64_t>(1, (timeout.count() + 999) / 1000));
  // Later keywords override what the expanded DSN (the first "dbname") set: a password
  // given apart (postgres.password) and the ssl* settings come after it, so they win over
  // the DSN's.
  std::vector<const char*> keys = {"dbname", "options", "application_name", "connect_timeout",
                                   "client_encoding"};
  std::vector<const char*> values = {options_->dsn.c_str(), options->c_str(), "readthru",
                                     timeout_s.c_str(), "UTF8"};
  if (!options_->password.empty()) {
    keys.push_back("password");
    values.push_back(options_->password.c_str());
  }
  appendTlsKeywords(options_->tls, keys, values);
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_.reset(PQconnectStartParams(keys.data(), values.data(), /*expand_dbname=*/1));
  if (!conn_ || PQstatus(conn_.get()) == CONNECTION_BAD) {
    failSoon(connError(conn_.get()));
    return;
  }
  PQsetNoticeProcessor(
      conn_.get(), [](void*, const char*) {}, nullptr);  // not to stderr

  connect_timer_.expires_after(timeout);
  connect_timer_.async_wait([self, gen, timeout](boost::system::error_code ec) {
    if (ec || gen != self->generation_ || self->state_ != State::kConnecting) return;
    self->fail("connect timed out after " + std::to_string(timeout.count()) + "ms");
  });
  waitConnect(/*for_read=*/false);  // libpq: start as if PQconnectPoll said POLLING_WRITING
}

bool Connection::watchSocket() { return postgres::watchSocket(socket_, conn_.get()); }

void Connection::waitConnect(bool for_read) {
  if (!watchSocket()) {
    fail(connError(conn_.get()));
    return;
  }
  socket_.async_wait(for_read ? Posix::wait_read : Posix::wait_write,
                     [self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
                       if (gen != self->generation_) return;
                       if (ec) {
                         self->fail(ec.message());
                         return;
                       }
                       self->pollConnect();
                     });
}

void Connection::pollConnect() {
  switch (PQconnectPoll(conn_.get())) {
    case PGRES_POLLING_OK:
      onConnected();
      return;
    case PGRES_POLLING_READING:
      waitConnect(/*for_read=*/true);
      return;
    case PGRES_POLLING_WRITING:
      waitConnect(/*for_read=*/false);
      return;
    default:
      fail(connError(conn_.get()));
      return;
  }
}

void Connection::onConnected() {
  connect_timer_.cancel();
  PGconn* c = conn_.get();
  if (!watchSocket() || PQsetnonblocking(c, 1) != 0 || PQenterPipelineMode(c) != 1) {
    fail(connError(c));
    return;
  }
  state_ = State::kPreparing;
  // nparams 0: the server infers the parameter types; the Describe reports them.
  prepare_errors_.assign(options_->statements.size(), std::nullopt);
  for (std::size_t i = 0; i < options_->statements.size(); ++i) {
    const std::string name = "rt_" + std::to_string(i);
    if (PQsendPrepare(c, name.c_str(), options_->statements[i].c_str(), 0, nullptr) != 1 ||
        PQsendDescribePrepared(c, name.c_str()) != 1 || PQpipelineSync(c) != 1) {
      fail(connError(c));
      return;
    }
    push({Step::Kind::kPrepare, false, i, nullptr, {}});
    push({Step::Kind::kDescribe, false, i, nullptr, {}});
    push({Step::Kind::kSync, false, i, nullptr, {}});
  }
  waitReadable();
  if (steps_.empty()) {
    becomeReady();
  } else {
    flush();
  }
}

void Connection::becomeReady() {
  state_ = State::kReady;
  backoff_.reset();
  ++ready_count_;
  if (hooks_.on_ready) hooks_.on_ready(*this);
}

// ---------------------------------------------------------------------------------------
// The pipeline

void Connection::query(std::size_t statement, const std::vector<std::string>& params,
                       cache::SourceLoader::RowsCallback done, Clock::time_point deadline) {
  if (statement >= prepare_errors_.size() || prepare_errors_[statement]) {
    const std::string reason =
        statement < prepare_errors_.size() ? *prepare_errors_[statement] : "no such statement";
    asio::post(io_, [done = std::move(done), reason] {
      done(Error{"statement not prepared: " + reason, Fault::kNotPrepared});
    });
    return;
  }
  std::vector<const char*> values(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) values[i] = params[i].c_str();
  const std::string name = "rt_" + std::to_string(statement);
  PGconn* c = conn_.get();
  // The Sync after each query ends its implicit transaction: an error aborts only it.
  const bool sent = PQsendQueryPrepared(c, name.c_str(), static_cast<int>(values.size()),
                                        values.data(), nullptr, nullptr, /*resultFormat=*/0) == 1 &&
                    PQpipelineSync(c) == 1;
  push({Step::Kind::kQuery, false, statement, std::move(done), deadline});
  push({Step::Kind::kSync, false, statement, nullptr, {}});
  if (!sent) {
    failSoon(connError(c));
    return;
  }
  flush();
  scheduleInput();
}

void Connection::push(Step step) {
  if (steps_.empty()) head_since_ = Clock::now();
  if (step.kind == Step::Kind::kQuery) ++queries_in_flight_;
  steps_.push_back(std::move(step));
}

void Connection::popStep() {
  const bool was_query = steps_.front().kind == Step::Kind::kQuery;
  auto unanswered = std::move(steps_.front().done);  // only if the server sent no result
  steps_.pop_front();
  head_since_ = Clock::now();
  if (!was_query) return;
  --queries_in_flight_;
  const std::uint64_t gen = generation_;
  if (unanswered) unanswered(Error{"no result from the database", Fault::kDatabaseDown});
  if (gen == generation_ && hooks_.on_query_done) hooks_.on_query_done(*this);
}

// Hands libpq's buffered output to the socket; while the socket is full, waits for it to
// drain (reads keep going meanwhile, so a server blocked on sending cannot deadlock us).
void Connection::flush() {
  if (write_waiting_ || !conn_ || failing_) return;
  const int r = PQflush(conn_.get());
  if (r < 0) {
    failSoon(connError(conn_.get()));
    return;
  }
  if (r == 0) return;
  write_waiting_ = true;
  socket_.async_wait(Posix::wait_write,
                     [self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
                       if (gen != self->generation_) return;
                       self->write_waiting_ = false;
                       if (ec) {
                         self->fail(ec.message());
                         return;
                       }
                       self->processInput();  // flushes the rest, too
                     });
}

// A read wait is always armed while connected, busy or not, so that a server closing an
// idle session is noticed at once rather than by the next query.
void Connection::waitReadable() {
  if (read_waiting_) return;
  read_waiting_ = true;
  socket_.async_wait(Posix::wait_read,
                     [self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
                       if (gen != self->generation_) return;
                       self->read_waiting_ = false;
                       if (ec) {
                         self->fail(ec.message());
                         return;
                       }
                       self->processInput();
                     });
}

// libpq reads from the socket on its own whenever a send cannot finish (so that a server
// blocked on sending cannot deadlock it). What it read that way no longer wakes a read
// wait, so after sending, input is processed once more on the next turn of the loop.
void Connection::scheduleInput() {
  if (input_posted_) return;
  input_posted_ = true;
  asio::post(io_, [self = shared_from_this(), gen = generation_] {
    if (gen != self->generation_) return;
    self->input_posted_ = false;
    self->processInput();
  });
}

void Connection::processInput() {
  auto self = shared_from_this();
  // Results already buffered are handed out even if the read hit EOF.
  const bool input_ok = PQconsumeInput(conn_.get()) == 1;
  if (!drainResults()) return;
  if (!input_ok || PQstatus(conn_.get()) == CONNECTION_BAD) {
    fail(connError(conn_.get()));
    return;
  }
  flush();
  waitReadable();
}

// Each command yields its result(s) then a NULL; each Sync yields PGRES_PIPELINE_SYNC
// (no NULL). Returns false if the connection failed or was closed meanwhile.
bool Connection::drainResults() {
  const std::uint64_t gen = generation_;
  PGconn* c = conn_.get();
  while (!steps_.empty() && PQisBusy(c) == 0) {
    ResultPtr res(PQgetResult(c));
    Step& step = steps_.front();
    const bool is_sync = step.kind == Step::Kind::kSync;
    const auto status = res ? PQresultStatus(res.get()) : PGRES_COMMAND_OK;
    if (!res || status == PGRES_PIPELINE_SYNC) {
      if (is_sync != (res != nullptr)) {  // a NULL for a Sync, or a Sync for a command
        fail(PQstatus(c) == CONNECTION_BAD ? connError(c)
                                           : "results out of step with the pipeline");
        return false;
      }
      popStep();
      if (gen != generation_) return false;
      if (state_ == State::kPreparing && steps_.empty()) becomeReady();
      if (gen != generation_) return false;
      continue;
    }
    if (is_sync || status == PGRES_COPY_IN || status == PGRES_COPY_OUT ||
        status == PGRES_COPY_BOTH || (step.answered && PQstatus(c) == CONNECTION_BAD)) {
      fail(is_sync ? resultError(res.get(), c) : connError(c));
      return false;
    }
    if (step.answered) continue;  // a second result for one command: only the first counts
    step.answered = true;
    const std::size_t i = step.statement;
    if (step.kind == Step::Kind::kQuery) {
      auto done = std::move(step.done);
      step.done = nullptr;
      // Posted, not called: a callback that sends a new query (a batch retried key by key)
      // would otherwise reach libpq in the middle of this loop over the pipeline's results.
      // A silent close (the pool is going away) drops answers already posted.
      if (done) {
        asio::post(io_, [weak = weak_from_this(), done = std::move(done),
                         outcome = queryOutcome(res.get(), c)]() mutable {
          auto self = weak.lock();
          if (self && !self->silenced_) done(std::move(outcome));
        });
      }
    } else if (step.kind == Step::Kind::kPrepare && status != PGRES_COMMAND_OK) {
      prepare_errors_[i] = resultError(res.get(), c);
      if (hooks_.on_prepared) hooks_.on_prepared(i, Error{*prepare_errors_[i]});
    } else if (step.kind == Step::Kind::kDescribe && !prepare_errors_[i]) {
      // After a failed Prepare its Describe comes back PIPELINE_ABORTED: nothing to add.
      if (status == PGRES_COMMAND_OK) {
        if (hooks_.on_prepared) {
          hooks_.on_prepared(i, cache::StatementShape{PQnparams(res.get()), columnsOf(res.get())});
        }
      } else {
        prepare_errors_[i] = resultError(res.get(), c);
        if (hooks_.on_prepared) hooks_.on_prepared(i, Error{*prepare_errors_[i]});
      }
    }
    if (gen != generation_) return false;  // a callback closed or reset this connection
  }
  return gen == generation_;
}

// ---------------------------------------------------------------------------------------
// Deadlines and failure

void Connection::checkDeadlines(Clock::time_point now, Millis stuck_after) {
  auto self = shared_from_this();
  const std::uint64_t gen = generation_;
  // By index: a callback may append steps (a new query), which keeps indices valid.
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    Step& step = steps_[i];
    if (!step.done || step.deadline > now) continue;
    auto done = std::move(step.done);
    step.done = nullptr;
    done(Error{kStatementTimeout, Fault::kStatementTimeout});
    if (gen != generation_) return;
  }
  // The server answers in order, so a head that never finishes holds up every query
  // behind it; statement_timeout should have ended it long ago.
  const bool live = state_ == State::kReady || state_ == State::kPreparing;
  if (live && stuck_after.count() > 0 && !steps_.empty() && now - head_since_ > stuck_after) {
    const std::string reason = "no answer within " + std::to_string(stuck_after.count()) + "ms";
    spdlog::warn("postgres connection stuck ({}), reconnecting", reason);
    fail(reason, kStatementTimeout);
  }
}

void Connection::close(const std::string& message, bool silent) {
  auto self = shared_from_this();
  dropStream();
  state_ = State::kClosed;
  std::deque<Step> failed;
  failed.swap(steps_);
  queries_in_flight_ = 0;
  silenced_ = silenced_ || silent;
  if (silent) return;
  for (Step& step : failed) {
    if (step.done) step.done(Error{message, Fault::kLoaderStopped});
  }
}

// Used where a callback must not run yet (inside query()): the failure happens on the
// next turn of the event loop; until then the connection takes no new queries.
void Connection::failSoon(const std::string& reason) {
  if (failing_) return;
  failing_ = true;
  asio::post(io_, [self = shared_from_this(), gen = generation_, reason] {
    if (gen == self->generation_) self->fail(reason);
  });
}

void Connection::fail(const std::string& reason, const std::string& query_message) {
  if (state_ == State::kClosed) return;
  auto self = shared_from_this();
  const bool connect_failed = state_ == State::kConnecting || state_ == State::kPreparing;
  dropStream();
  last_error_ = reason;
  std::deque<Step> failed;
  failed.swap(steps_);
  queries_in_flight_ = 0;

  // A lost connection is retried at once; a failed connect backs off (common/backoff.hpp)
  // so a dead database costs one attempt per interval.
  if (!connect_failed) backoff_.reset();
  state_ = State::kBackoff;
  retry_timer_.expires_after(connect_failed ? backoff_.next() : Millis{0});
  retry_timer_.async_wait([self, gen = generation_](boost::system::error_code ec) {
    if (!ec && gen == self->generation_) self->connect();
  });

  if (hooks_.on_down) hooks_.on_down(*this, reason, connect_failed);
  // The only query_message is the statement timeout that made us drop the session.
  const Error error = query_message.empty()
                          ? Error{"database unreachable: " + reason, Fault::kDatabaseDown}
                          : Error{query_message, Fault::kStatementTimeout};
  for (Step& step : failed) {
    if (step.done) step.done(error);
  }
}

// Forgets the session and everything in flight on it; handlers still queued for it see
// a new generation and do nothing. Waiting queries are the caller's business.
void Connection::dropStream() {
  ++generation_;
  if (socket_.is_open()) socket_.release();  // before PQfinish closes the descriptor
  conn_.reset();
  read_waiting_ = false;
  write_waiting_ = false;
  input_posted_ = false;
  failing_ = false;
  connect_timer_.cancel();
  retry_timer_.cancel();
}

}  // namespace readthru::backend::postgres
