#pragma once
// cache::ChangeSource on PostgreSQL logical replication with the pgoutput plugin.
//
// One ReplicationStream lives on one io_context. start() connects in replication=database
// mode, makes sure the publication (for Options::tables) and the logical slot exist, and
// streams from the slot's confirmed position. Committed transactions with at least one
// change are posted to `on_commit` in commit order.
//
// Confirmation: confirm(lsn) is sent to the server at once (write = flush = apply), and
// again every status_interval and whenever a keepalive asks. While every delivered
// transaction is confirmed and none is half received, the server's latest WAL end is
// confirmed too, so an idle slot or one that only sees unpublished tables does not hold WAL
// for ever. The position never passes a delivered transaction that is not confirmed.
//
// Failures: any failure (connect, setup, a broken or ended stream, a malformed message, the
// slot being active in another process) drops the session, logs one line when the state
// changes, and reconnects with back-off (100ms doubling to 5s). The server then sends again
// every transaction after the slot's confirmed position, so transactions delivered but not
// confirmed before the failure are delivered again; transactions whose end the caller has
// confirmed meanwhile are skipped.
//
// Lifetime: everything (start, confirm, describeTables, stop, the destructor) runs on the io
// thread; collect() alone may be read from anywhere. stop() and the destructor end
// everything, pending describeTables included; no callback runs afterwards. libpq stays
// inside this module.
//
// The database user needs the REPLICATION attribute, CREATE on the database (for the
// publication) and ownership of the tables (to publish them), unless the publication is
// made beforehand.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "backend/postgres/pgoutput.hpp"
#include "cache/change_source.hpp"
#include "common/outage.hpp"
#include "common/units.hpp"
#include "config/config.hpp"

namespace readthru::backend::postgres {

class SimpleConnection;

class ReplicationStream : public cache::ChangeSource {
 public:
  struct Options {
    std::string dsn;                // libpq conninfo; replication=database is added
    std::string password;           // secret; empty: the DSN's
    config::PostgresTlsConfig tls;  // postgres.ssl*
    std::string slot;               // logical replication slot (pgoutput), made if missing
    std::string publication;        // made if missing; missing tables are added to it
    // "name" or "schema.name", resolved by the server. One that does not exist is skipped
    // with a warning, and added on a later connect once it does.
    std::vector<std::string> tables;
    Millis status_interval{1000};  // how often the position is reported when idle
    Millis connect_timeout{2000};
  };

  ReplicationStream(boost::asio::io_context& io, Options options);
  // Same as stop().
  ~ReplicationStream() override;
  ReplicationStream(const ReplicationStream&) = delete;
  ReplicationStream& operator=(const ReplicationStream&) = delete;

  // On its own short-lived (non-replication) connection. Tables that do not exist come
  // back with exists=false and the name as given. REPLICA IDENTITY DEFAULT reports the
  // primary key columns, USING INDEX the index's columns, FULL sets identity_full (and no
  // identity columns), NOTHING none. Errors: "database unreachable: <reason>", or the
  // database's message (e.g. a name that is not valid SQL).
  void describeTables(std::vector<std::string> tables, TablesCallback done) override;
  void start(TransactionCallback on_commit) override;
  void confirm(cache::Lsn lsn) override;
  // While paused the session keeps sending its status (the server would otherwise end it
  // after wal_sender_timeout), but reads nothing: a server that closes the session is
  // noticed when a status send fails, or on resume().
  void pause() override;
  void resume() override;
  void stop() override;

  // cdc_connected, cdc_transactions, cdc_changes, cdc_reconnects, cdc_confirmed_lsn,
  // cdc_lag_bytes, cdc_lag_ms. Safe from any thread.
  void collect(metrics::Sink& sink) const override;
  bool streaming() const override { return state_ == State::kStreaming; }

 private:
  enum class State { kIdle, kConnecting, kStreaming, kBackoff, kStopped };

  // A transaction handed to on_commit (or about to be) and not yet confirmed.
  struct Unconfirmed {
    cache::Lsn end_lsn = 0;
    std::int64_t commit_time_us = 0;
  };

  // Read from any thread; written only on the io thread.
  struct alignas(64) Stats {
    metrics::Gauge connected;
    metrics::Counter transactions, changes, reconnects;
    // Positions and times the lag gauges are computed from when collected.
    std::atomic<std::uint64_t> confirmed_lsn{0};
    std::atomic<std::uint64_t> server_wal_end{0};
    std::atomic<std::int64_t> oldest_unconfirmed_us{0};  // Unix µs; 0: none
  };

  // --- session (replication_stream.cpp)
  void connect();
  void setUp();
  void ensurePublication(std::vector<std::string> missing, bool exists);
  void ensureSlot();
  void createSlot();
  std::string slotLookupSql() const;
  void startStreaming();
  void onCopyData(std::string_view bytes);
  void noteWalEnd(cache::Lsn lsn);
  void onTransaction(cache::Transaction txn);
  void fail(const std::string& reason);
  void closeSession();

  // --- position and delivery (replication_stream_position.cpp)
  cache::Lsn reportablePosition() const;
  void sendStatus();
  void armStatusTimer();
  void postDelivery();
  void deliver();
  void publishPosition();

  boost::asio::io_context& io_;
  Options options_;
  std::shared_ptr<char> alive_;  // handlers hold a weak_ptr: expired once we are gone
  TransactionCallback on_commit_;
  std::shared_ptr<SimpleConnection> session_;
  std::vector<std::shared_ptr<SimpleConnection>> describers_;  // describeTables in flight
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer status_timer_;
  State state_ = State::kIdle;
  Millis backoff_{0};
  bool ever_connected_ = false;
  Outage outage_;  // the stream's: logged when it starts, every 30 s, and when it ends
  std::uint64_t session_id_ = 0;

  TransactionAssembler assembler_;
  std::deque<cache::Transaction> ready_;  // committed, waiting for the posted delivery
  bool delivery_posted_ = false;
  bool paused_ = false;                  // pause(): nothing delivered, nothing read
  std::deque<Unconfirmed> unconfirmed_;  // in commit order
  cache::Lsn confirmed_ = 0;             // the caller's confirm(), highest so far
  cache::Lsn idle_end_ = 0;              // this session's latest WAL end or empty commit
  cache::Lsn reported_ = 0;              // last flush position sent

  Stats stats_;
};

}  // namespace readthru::backend::postgres
