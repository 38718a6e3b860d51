#include "backend/postgres/simple_connection.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "backend/postgres/row_conversion.hpp"
#include "backend/postgres/session.hpp"

namespace readthru::backend::postgres {
namespace asio = boost::asio;
using Posix = asio::posix::stream_descriptor;

namespace {

struct ResultDeleter {
  void operator()(PGresult* res) const { PQclear(res); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

struct FreeMem {
  void operator()(char* p) const { PQfreemem(p); }
};
using LibpqString = std::unique_ptr<char, FreeMem>;

// pgoutput sends values in text form made by the walsender's session, so it gets the same
// formats as the loader's sessions: a value changed in the database then reads the same as
// the value loaded from it.
Result<std::string> sessionSettings(const std::string& dsn, Millis statement_timeout) {
  std::string settings = kValueFormats;
  if (statement_timeout.count() > 0) {
    settings += " -c statement_timeout=" + std::to_string(statement_timeout.count());
  }
  return sessionOptions(dsn, settings);
}

SimpleConnection::Rows rowsOf(const PGresult* res) {
  SimpleConnection::Rows rows(static_cast<std::size_t>(PQntuples(res)));
  const int nfields = PQnfields(res);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const int ri = static_cast<int>(r);
    rows[r].reserve(static_cast<std::size_t>(nfields));
    for (int c = 0; c < nfields; ++c) {
      if (PQgetisnull(res, ri, c)) {
        rows[r].emplace_back(std::nullopt);
      } else {
        rows[r].emplace_back(
            std::string(PQgetvalue(res, ri, c), static_cast<std::size_t>(PQgetlength(res, ri, c))));
      }
    }
  }
  return rows;
}

}  // namespace

void SimpleConnection::ConnDeleter::operator()(pg_conn* conn) const { PQfinish(conn); }

SimpleConnection::SimpleConnection(asio::io_context& io, Options options,
                                   FailureCallback on_failure)
    : io_(io),
      options_(std::move(options)),
      on_failure_(std::move(on_failure)),
      socket_(io),
      connect_timer_(io) {}

SimpleConnection::~SimpleConnection() {
  // The descriptor belongs to libpq (PQfinish closes it); Asio must only forget it.
  if (socket_.is_open()) socket_.release();
}

// ---------------------------------------------------------------------------------------
// Connecting

void SimpleConnection::connect(std::function<void()> on_ready) {
  if (state_ != State::kIdle) return;
  on_ready_ = std::move(on_ready);
  state_ = State::kConnecting;
  auto session_options = sessionSettings(options_.dsn, options_.statement_timeout);
  if (!session_options) {
    fail(session_options.error().message);
    return;
  }
  const Millis timeout = std::max(options_.connect_timeout, Millis{1});
  const std::string timeout_s = std::to_string((timeout.count() + 999) / 1000);
  // Keywords after the DSN (the "dbname") override what it set; those before it are
  // defaults it may override. TCP keepalives and a user timeout find a stream whose peer
  // vanished without a word in about 30 s, where the server's keepalives may be rare.
  std::vector<const char*> keys = {"keepalives",       "keepalives_idle",  "keepalives_interval",
                                   "keepalives_count", "tcp_user_timeout", "dbname",
                                   "options",          "application_name", "connect_timeout",
                                   "client_encoding"};
  std::vector<const char*> values = {"1",
                                     "10",
                                     "5",
                                     "3",
                                     "30000",
                                     options_.dsn.c_str(),
                                     session_options->c_str(),
                                     "readthru-cdc",
                                     timeout_s.c_str(),
                                     "UTF8"};
  if (options_.replication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  // After "dbname", so that it wins over a password in the DSN; libpq never echoes it.
  if (!options_.password.empty()) {
    keys.push_back("password");
    values.push_back(options_.password.c_str());
  }
  appendTlsKeywords(options_.tls, keys, values);
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_.reset(PQconnectStartParams(keys.data(), values.data(), /*expand_dbname=*/1));
  if (!conn_ || PQstatus(conn_.get()) == CONNECTION_BAD) {
    fail(connError(conn_.get()));
    return;
  }
  PQsetNoticeProcessor(
      conn_.get(), [](void*, const char*) {}, nullptr);  // not to stderr

  connect_timer_.expires_after(timeout);
  connect_timer_.async_wait([self = shared_from_this(), timeout](boost::system::error_code ec) {
    if (ec || self->state_ != State::kConnecting) return;
    self->fail("connect timed out after " + std::to_string(timeout.count()) + "ms");
  });
  waitConnect(/*for_read=*/false);  // libpq: start as if PQconnectPoll said POLLING_WRITING
}

bool SimpleConnection::watchSocket() { return postgres::watchSocket(socket_, conn_.get()); }

void SimpleConnection::waitConnect(bool for_read) {
  if (!watchSocket()) {
    fail(connError(conn_.get()));
    return;
  }
  socket_.async_wait(for_read ? Posix::wait_read : Posix::wait_write,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       if (self->state_ != State::kConnecting) return;
                       if (ec) {
                         self->fail(ec.message());
                         return;
                       }
                       self->pollConnect();
                     });
}

void SimpleConnection::pollConnect() {
  switch (PQconnectPoll(conn_.get())) {
    case PGRES_POLLING_OK:
      break;
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
  connect_timer_.cancel();
  if (!watchSocket() || PQsetnonblocking(conn_.get(), 1) != 0) {
    fail(connError(conn_.get()));
    return;
  }
  state_ = State::kReady;
  waitReadable();
  auto self = shared_from_this();
  if (on_ready_) on_ready_();
  if (state_ == State::kReady) sendNext();
}

// ---------------------------------------------------------------------------------------
// Queries

void SimpleConnection::query(std::string sql, RowsCallback done) {
  queue_.push_back({std::move(sql), std::move(done), false});
  sendNext();
}

void SimpleConnection::startCopy(std::string sql, std::function<void()> on_started,
                                 DataCallback on_data) {
  on_copy_started_ = std::move(on_started);
  on_data_ = std::move(on_data);
  queue_.push_back({std::move(sql), nullptr, true});
  sendNext();
}

void SimpleConnection::sendNext() {
  if (busy_ || queue_.empty() || state_ != State::kReady) return;
  if (PQsendQuery(conn_.get(), queue_.front().sql.c_str()) != 1) {
    fail(connError(conn_.get()));
    return;
  }
  busy_ = true;
  outcome_.reset();
  flush();
}

bool SimpleConnection::sendCopyData(std::string_view bytes) {
  if (state_ != State::kCopying) return false;
  const int r = PQputCopyData(conn_.get(), bytes.data(), static_cast<int>(bytes.size()));
  if (r < 0) fail(connError(conn_.get()));
  if (r != 1) return false;
  flush();
  // libpq reads from the socket by itself when a send cannot finish; what it read that way
  // no longer wakes the read wait, so input is looked at once more on the next turn.
  asio::post(io_, [self = shared_from_this()] {
    if (self->state_ == State::kCopying) self->onReadable();
  });
  return true;
}

std::optional<std::string> SimpleConnection::literal(std::string_view text) const {
  if (!conn_) return std::nullopt;
  LibpqString quoted(PQescapeLiteral(conn_.get(), text.data(), text.size()));
  if (!quoted) return std::nullopt;
  return std::string(quoted.get());
}

std::optional<std::string> SimpleConnection::identifier(std::string_view text) const {
  if (!conn_) return std::nullopt;
  LibpqString quoted(PQescapeIdentifier(conn_.get(), text.data(), text.size()));
  if (!quoted) return std::nullopt;
  return std::string(quoted.get());
}

std::optional<std::string> SimpleConnection::textArray(
    const std::vector<std::string>& items) const {
  std::string sql = "ARRAY[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto quoted = literal(items[i]);
    if (!quoted) return std::nullopt;
    sql += (i == 0 ? "" : ", ") + *quoted;
  }
  return sql + "]::text[]";
}

// ---------------------------------------------------------------------------------------
// Input and output

// A read wait is always armed while connected, so that a server closing the session is
// noticed at once.
void SimpleConnection::waitReadable() {
  if (read_waiting_) return;
  read_waiting_ = true;
  socket_.async_wait(Posix::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    self->read_waiting_ = false;
    if (self->state_ != State::kReady && self->state_ != State::kCopying) return;
    if (ec) {
      self->fail(ec.message());
      return;
    }
    self->onReadable();
  });
}

void SimpleConnection::pauseReading() { reading_paused_ = true; }

void SimpleConnection::resumeReading() {
  if (!reading_paused_) return;
  reading_paused_ = false;
  asio::post(io_, [self = shared_from_this()] {
    if (self->state_ == State::kCopying) self->onReadable();
  });
}

void SimpleConnection::onReadable() {
  auto self = shared_from_this();
  if (reading_paused_ && state_ == State::kCopying) {
    // No read, and no read wait: the socket fills and the server waits. Only our output
    // (status messages) moves; resumeReading() starts reading again.
    flush();
    return;
  }
  // What is already buffered is handed out even if the read hit EOF.
  const bool input_ok = PQconsumeInput(conn_.get()) == 1;
  if (!drainResults()) return;
  if (state_ == State::kCopying && !drainCopy()) return;
  if (!input_ok || PQstatus(conn_.get()) == CONNECTION_BAD) {
    fail(connError(conn_.get()));
    return;
  }
  flush();
  waitReadable();
}

// A simple query yields one result per statement, then NULL. START_REPLICATION yields
// COPY BOTH and no NULL until the copy ends. Returns false once the session is gone.
bool SimpleConnection::drainResults() {
  PGconn* c = conn_.get();
  while (busy_ && state_ == State::kReady && PQisBusy(c) == 0) {
    ResultPtr res(PQgetResult(c));
    if (!res) {
      Pending done = std::move(queue_.front());
      queue_.pop_front();
      busy_ = false;
      Result<Rows> outcome = outcome_ ? std::move(*outcome_) : Result<Rows>(Rows{});
      outcome_.reset();
      if (done.copy) {  // the server refused to copy and said nothing
        fail(outcome.ok() ? "replication did not start" : outcome.error().message);
        return false;
      }
      if (done.done) done.done(std::move(outcome));
      if (state_ != State::kReady) return false;
      sendNext();
      continue;
    }
    const auto status = PQresultStatus(res.get());
    const bool copy = queue_.front().copy;
    if (status == PGRES_COPY_BOTH && copy) {
      queue_.pop_front();
      busy_ = false;
      state_ = State::kCopying;
      if (on_copy_started_) on_copy_started_();
      return state_ == State::kCopying;
    }
    if (status == PGRES_COPY_BOTH || status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
      fail("unexpected COPY from the server");
      return false;
    }
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
      if (!outcome_ || outcome_->ok()) outcome_ = rowsOf(res.get());
    } else if (!outcome_ || outcome_->ok()) {
      outcome_ = Error{resultError(res.get(), c)};  // the first error is the one that counts
    }
  }
  return state_ == State::kReady || state_ == State::kCopying;
}

bool SimpleConnection::drainCopy() {
  PGconn* c = conn_.get();
  for (;;) {
    if (reading_paused_) return true;  // the rest stays in libpq's buffer until resumed
    char* raw = nullptr;
    const int n = PQgetCopyData(c, &raw, /*async=*/1);
    LibpqString buf(raw);
    if (n == 0) return true;
    if (n > 0) {
      if (on_data_) on_data_(std::string_view(raw, static_cast<std::size_t>(n)));
      if (state_ != State::kCopying) return false;
      continue;
    }
    // -1: the server ended the copy; its final result says why. -2: libpq failed.
    std::string reason = connError(c);
    if (n == -1) {
      ResultPtr res(PQgetResult(c));
      reason = res && PQresultStatus(res.get()) != PGRES_COMMAND_OK
                   ? "replication stream ended: " + resultError(res.get(), c)
                   : "replication stream ended by the server";
    }
    fail(reason);
    return false;
  }
}

// Hands libpq's buffered output to the socket; while the socket is full, waits for room.
void SimpleConnection::flush() {
  if (write_waiting_ || !conn_) return;
  const int r = PQflush(conn_.get());
  if (r < 0) {
    fail(connError(conn_.get()));
    return;
  }
  if (r == 0) return;
  write_waiting_ = true;
  socket_.async_wait(Posix::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
    self->write_waiting_ = false;
    if (self->state_ != State::kReady && self->state_ != State::kCopying) return;
    if (ec) {
      self->fail(ec.message());
      return;
    }
    self->onReadable();  // flushes the rest, too
  });
}

// ---------------------------------------------------------------------------------------
// Failure and close

// Drops the session at once; the owner hears about it on the next turn of the loop, so
// that a failure inside one of its calls never calls back into it.
void SimpleConnection::fail(const std::string& reason) {
  if (state_ == State::kClosed || state_ == State::kFailed) return;
  auto on_failure = std::move(on_failure_);
  close();
  state_ = State::kFailed;  // close() by the owner before the post runs silences it
  asio::post(io_, [self = shared_from_this(), on_failure = std::move(on_failure), reason] {
    if (self->state_ != State::kFailed) return;
    self->state_ = State::kClosed;
    if (on_failure) on_failure(reason);
  });
}

void SimpleConnection::close() {
  // The callbacks stay until destruction: close() may run inside one of them.
  state_ = State::kClosed;
  queue_.clear();
  busy_ = false;
  connect_timer_.cancel();
  if (socket_.is_open()) socket_.release();  // before PQfinish closes the descriptor
  conn_.reset();
}

}  // namespace readthru::backend::postgres
