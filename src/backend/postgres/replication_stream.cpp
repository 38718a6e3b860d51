#include "backend/postgres/replication_stream.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>

#include "backend/postgres/simple_connection.hpp"
#include "common/log.hpp"

namespace readthru::backend::postgres {
namespace asio = boost::asio;

namespace {

constexpr Millis kFirstBackoff{100};
constexpr Millis kMaxBackoff{5000};

}  // namespace

ReplicationStream::ReplicationStream(asio::io_context& io, Options options)
    : io_(io),
      options_(std::move(options)),
      alive_(std::make_shared<char>(0)),
      retry_timer_(io),
      status_timer_(io) {}

ReplicationStream::~ReplicationStream() { stop(); }

void ReplicationStream::start(TransactionCallback on_commit) {
  if (state_ != State::kIdle) return;
  on_commit_ = std::move(on_commit);
  connect();
}

// Connections are closed (their callbacks hold a plain `this` and never run after close),
// and every handler of ours holds a weak_ptr to alive_, which expires here.
void ReplicationStream::stop() {
  if (state_ == State::kStopped) return;
  state_ = State::kStopped;
  alive_.reset();
  closeSession();
  auto describers = std::move(describers_);
  describers_.clear();
  for (auto& d : describers) d->close();
  retry_timer_.cancel();
  ready_.clear();
  stats_.connected.set(0);
}

// ---------------------------------------------------------------------------------------
// Session set-up: connect, publication, slot, START_REPLICATION

void ReplicationStream::connect() {
  state_ = State::kConnecting;
  SimpleConnection::Options o;
  o.dsn = options_.dsn;
  o.password = options_.password;
  o.tls = options_.tls;
  o.replication = true;
  o.connect_timeout = options_.connect_timeout;
  session_ = std::make_shared<SimpleConnection>(
      io_, std::move(o), [this](const std::string& reason) { fail(reason); });
  if (paused_) session_->pauseReading();  // takes effect once it streams
  session_->connect([this] { setUp(); });
}

// One round trip: does the publication exist, and which of our tables exist and are not
// in it yet. pg_publication_tables also covers FOR ALL TABLES and TABLES IN SCHEMA.
void ReplicationStream::setUp() {
  auto pub = session_->literal(options_.publication);
  auto tables = session_->textArray(options_.tables);
  if (!pub || !tables) {
    fail("cannot quote the publication or table names");
    return;
  }
  const std::string sql =
      "SELECT 0 AS i, EXISTS (SELECT FROM pg_publication WHERE pubname = " + *pub +
      ")::text, NULL, NULL, NULL, NULL"
      " UNION ALL "
      "SELECT t.i, NULL, t.name, n.nspname, c.relname, EXISTS (SELECT FROM pg_publication_tables"
      " p WHERE p.pubname = " +
      *pub +
      " AND p.schemaname = n.nspname AND p.tablename = c.relname)::text"
      " FROM unnest(" +
      *tables +
      ") WITH ORDINALITY AS t(name, i)"
      " LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)"
      " LEFT JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1";
  session_->query(sql, [this](Result<SimpleConnection::Rows> rows) {
    if (!rows) {
      fail("looking up publication " + options_.publication + ": " + rows.error().message);
      return;
    }
    bool exists = false;
    std::vector<std::string> missing;  // quoted "schema"."name", not yet published
    for (const auto& row : *rows) {
      if (row.size() != 6) continue;
      if (row[0] == "0") {
        exists = row[1] == "true";
        continue;
      }
      if (!row[3]) {
        spdlog::warn("cdc: table {} does not exist; not published", row[2].value_or(""));
        continue;
      }
      if (row[5] == "true") continue;
      auto schema = session_->identifier(*row[3]);
      auto name = session_->identifier(row[4].value_or(""));
      if (!schema || !name) {
        fail("cannot quote table " + *row[3] + "." + row[4].value_or(""));
        return;
      }
      const std::string qualified = *schema + "." + *name;
      if (std::find(missing.begin(), missing.end(), qualified) == missing.end()) {
        missing.push_back(qualified);
      }
    }
    ensurePublication(std::move(missing), exists);
  });
}

void ReplicationStream::ensurePublication(std::vector<std::string> missing, bool exists) {
  if (exists && missing.empty()) {
    ensureSlot();
    return;
  }
  auto pub = session_->identifier(options_.publication);
  if (!pub) {
    fail("cannot quote the publication name");
    return;
  }
  std::string list;
  for (const std::string& t : missing) list += (list.empty() ? "" : ", ") + t;
  // An empty publication is valid: tables added later join it on a later connect.
  const std::string sql = exists         ? "ALTER PUBLICATION " + *pub + " ADD TABLE " + list
                          : list.empty() ? "CREATE PUBLICATION " + *pub
                                         : "CREATE PUBLICATION " + *pub + " FOR TABLE " + list;
  session_->query(sql, [this, exists](Result<SimpleConnection::Rows> done) {
    if (!done) {
      fail(std::string(exists ? "altering" : "creating") + " publication " + options_.publication +
           ": " + done.error().message);
      return;
    }
    spdlog::info("cdc: publication {} {}", options_.publication,
                 exists ? "extended with missing tables" : "created");
    ensureSlot();
  });
}

// Looks before creating; if creating fails, looks again, since another process may have
// made the slot meanwhile ("already exists" is fine, and the SQLSTATE is not needed).
void ReplicationStream::ensureSlot() {
  session_->query(slotLookupSql(), [this](Result<SimpleConnection::Rows> found) {
    if (!found) {
      fail("looking up slot " + options_.slot + ": " + found.error().message);
    } else if (!found->empty()) {
      startStreaming();
    } else {
      createSlot();
    }
  });
}

void ReplicationStream::createSlot() {
  auto slot = session_->identifier(options_.slot);
  if (!slot) {
    fail("cannot quote the slot name");
    return;
  }
  const std::string sql =
      "CREATE_REPLICATION_SLOT " + *slot + " LOGICAL pgoutput NOEXPORT_SNAPSHOT";
  session_->query(sql, [this](Result<SimpleConnection::Rows> created) {
    if (created) {
      spdlog::info("cdc: replication slot {} created", options_.slot);
      startStreaming();
      return;
    }
    session_->query(slotLookupSql(),
                    [this, error = created.error().message](Result<SimpleConnection::Rows> again) {
                      if (again && !again->empty()) {
                        startStreaming();
                      } else {
                        fail("creating slot " + options_.slot + ": " + error);
                      }
                    });
  });
}

// An unquotable name yields a query that finds nothing; creating it then fails properly.
std::string ReplicationStream::slotLookupSql() const {
  auto slot = session_->literal(options_.slot);
  return "SELECT plugin FROM pg_replication_slots WHERE slot_name = " + slot.value_or("NULL");
}

// 0/0: from the slot's confirmed position. publication_names is a list of identifiers in a
// string literal; the replication command grammar has no E'' strings, hence no backslash.
void ReplicationStream::startStreaming() {
  auto slot = session_->identifier(options_.slot);
  auto pub = session_->identifier(options_.publication);
  std::optional<std::string> pub_literal;
  if (pub && pub->find('\\') == std::string::npos) pub_literal = session_->literal(*pub);
  if (!slot || !pub_literal) {
    fail("cannot quote the slot or publication name for START_REPLICATION");
    return;
  }
  const std::string sql = "START_REPLICATION SLOT " + *slot +
                          " LOGICAL 0/0 (proto_version '1', publication_names " + *pub_literal +
                          ")";
  session_->startCopy(
      sql,
      [this] {
        state_ = State::kStreaming;
        backoff_ = Millis{0};
        const auto now = Outage::Clock::now();
        if (outage_.succeeded(now) == Outage::Say::kBack) {
          spdlog::info("cdc: slot {} back after {} failed attempt(s) in {} ms", options_.slot,
                       outage_.failures(), outage_.downFor(now).count());
        }
        if (ever_connected_) stats_.reconnects.add();
        ever_connected_ = true;
        stats_.connected.set(1);
        spdlog::info("cdc: streaming from slot {} (publication {})", options_.slot,
                     options_.publication);
        sendStatus();
        armStatusTimer();
      },
      [this](std::string_view bytes) { onCopyData(bytes); });
}

// ---------------------------------------------------------------------------------------
// Streaming

void ReplicationStream::onCopyData(std::string_view bytes) {
  auto message = decodeServerMessage(bytes);
  if (!message) {
    fail(message.error().message);
    return;
  }
  if (auto* k = std::get_if<PrimaryKeepalive>(&*message)) {
    noteWalEnd(k->wal_end);
    if (k->reply_requested) sendStatus();
    return;
  }
  const XLogData& x = std::get<XLogData>(*message);
  noteWalEnd(x.wal_end);
  auto done = assembler_.feed(x.data);
  if (!done) {
    fail(done.error().message);
    return;
  }
  if (*done) onTransaction(std::move(**done));
}

void ReplicationStream::noteWalEnd(cache::Lsn lsn) {
  idle_end_ = std::max(idle_end_, lsn);
  if (lsn > stats_.server_wal_end.load(std::memory_order_relaxed)) {
    stats_.server_wal_end.store(lsn, std::memory_order_relaxed);
  }
}

// A transaction without changes, or one the caller already confirmed (a redelivery after a
// reconnect), needs no delivery: only its position counts.
void ReplicationStream::onTransaction(cache::Transaction txn) {
  if (txn.changes.empty() || txn.end_lsn <= confirmed_) {
    idle_end_ = std::max(idle_end_, txn.end_lsn);
    return;
  }
  // A redelivery of a transaction still tracked from the last session is not tracked twice.
  if (unconfirmed_.empty() || txn.end_lsn > unconfirmed_.back().end_lsn) {
    unconfirmed_.push_back({txn.end_lsn, txn.commit_time_us});
    publishPosition();
  }
  ready_.push_back(std::move(txn));
  postDelivery();
}

// ---------------------------------------------------------------------------------------
// Failure

void ReplicationStream::fail(const std::string& reason) {
  if (state_ == State::kStopped) return;
  const bool was_streaming = state_ == State::kStreaming;
  closeSession();
  stats_.connected.set(0);
  const auto now = Outage::Clock::now();
  switch (outage_.failed(now)) {
    case Outage::Say::kDown:
      spdlog::warn("cdc: {} slot {}: {}; retrying",
                   was_streaming ? "lost stream from" : "cannot stream from", options_.slot,
                   reason);
      break;
    case Outage::Say::kStillDown:
      spdlog::warn("cdc: slot {} still unavailable after {} attempt(s) in {} s: {}", options_.slot,
                   outage_.failures(), outage_.downFor(now).count() / 1000, reason);
      break;
    default:
      spdlog::debug("cdc: slot {} still unavailable: {}", options_.slot, reason);
  }
  backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  state_ = State::kBackoff;
  retry_timer_.expires_after(backoff_);
  retry_timer_.async_wait(
      [this, alive = std::weak_ptr<char>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired() || state_ != State::kBackoff) return;
        connect();
      });
}

// Forgets the session. Transactions received but not yet handed out are dropped: the
// server sends them again. unconfirmed_ stays, so the position cannot pass them meanwhile.
void ReplicationStream::closeSession() {
  if (session_) {
    session_->close();
    session_.reset();
  }
  ++session_id_;
  status_timer_.cancel();
  assembler_.reset();
  ready_.clear();
  idle_end_ = 0;
}

}  // namespace readthru::backend::postgres
