// ReplicationStream: handing transactions out, confirming positions, counters.

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>

#include "backend/postgres/replication_stream.hpp"
#include "backend/postgres/simple_connection.hpp"

namespace readthru::backend::postgres {
namespace asio = boost::asio;

namespace {

std::int64_t nowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Delivery

// One posted handler drains the queue in order, so transactions reach on_commit in commit
// order and never inside the handler that read them from the socket.
void ReplicationStream::postDelivery() {
  if (delivery_posted_) return;
  delivery_posted_ = true;
  asio::post(io_, [this, alive = std::weak_ptr<char>(alive_)] {
    if (alive.expired()) return;
    delivery_posted_ = false;
    deliver();
  });
}

void ReplicationStream::deliver() {
  const std::weak_ptr<char> alive = alive_;
  while (!ready_.empty() && !paused_) {
    cache::Transaction txn = std::move(ready_.front());
    ready_.pop_front();
    stats_.transactions.add();
    stats_.changes.add(txn.changes.size());
    // A copy: the callback may stop or destroy us, and with us on_commit_.
    TransactionCallback on_commit = on_commit_;
    if (on_commit) on_commit(std::move(txn));
    if (alive.expired()) return;
  }
}

void ReplicationStream::pause() {
  if (paused_ || state_ == State::kStopped) return;
  paused_ = true;
  if (session_) session_->pauseReading();
}

void ReplicationStream::resume() {
  if (!paused_ || state_ == State::kStopped) return;
  paused_ = false;
  if (session_) session_->resumeReading();
  postDelivery();
}

// ---------------------------------------------------------------------------------------
// Confirming

void ReplicationStream::confirm(cache::Lsn lsn) {
  if (state_ == State::kStopped) return;
  confirmed_ = std::max(confirmed_, lsn);
  while (!unconfirmed_.empty() && unconfirmed_.front().end_lsn <= confirmed_) {
    unconfirmed_.pop_front();
  }
  sendStatus();
}

// What the server may forget: what the caller confirmed, and the latest WAL end seen when
// nothing delivered waits for confirmation and no transaction is half received (everything
// before that end was then empty, unpublished or confirmed).
cache::Lsn ReplicationStream::reportablePosition() const {
  cache::Lsn position = std::max(reported_, confirmed_);
  if (unconfirmed_.empty() && ready_.empty() && !assembler_.inTransaction()) {
    position = std::max(position, idle_end_);
  }
  return position;
}

// Also updates the counters, so that they move even while no session is up.
void ReplicationStream::sendStatus() {
  reported_ = reportablePosition();
  publishPosition();
  if (state_ != State::kStreaming || !session_) return;
  StandbyStatus status;
  status.write = status.flush = status.apply = reported_;
  status.clock = pgMicrosFromUnix(nowUnixMicros());
  // A full send buffer refuses it; the next interval sends a newer one anyway.
  session_->sendCopyData(encodeStandbyStatus(status));
}

void ReplicationStream::armStatusTimer() {
  if (options_.status_interval.count() <= 0) return;
  status_timer_.expires_after(options_.status_interval);
  status_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_),
                            session = session_id_](boost::system::error_code ec) {
    if (ec || alive.expired() || session != session_id_) return;
    sendStatus();
    armStatusTimer();
  });
}

void ReplicationStream::publishPosition() {
  stats_.confirmed_lsn.store(reported_, std::memory_order_relaxed);
  stats_.oldest_unconfirmed_us.store(
      unconfirmed_.empty() ? 0 : std::max<std::int64_t>(1, unconfirmed_.front().commit_time_us),
      std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------
// Counters

void ReplicationStream::collect(metrics::Sink& sink) const {
  using metrics::Family;
  using metrics::Kind;
  static constexpr Family kConnected{"readthru_cdc_connected", Kind::kGauge,
                                     "1 while the replication session is up.", "cdc_connected"};
  static constexpr Family kTransactions{"readthru_cdc_transactions_total", Kind::kCounter,
                                        "Committed transactions received.", "cdc_transactions"};
  static constexpr Family kChanges{"readthru_cdc_changes_total", Kind::kCounter,
                                   "Row changes received.", "cdc_changes"};
  static constexpr Family kReconnects{"readthru_cdc_reconnects_total", Kind::kCounter,
                                      "Replication sessions opened again.", "cdc_reconnects"};
  static constexpr Family kConfirmed{"readthru_cdc_confirmed_lsn", Kind::kGauge,
                                     "The WAL position confirmed to PostgreSQL.",
                                     "cdc_confirmed_lsn"};
  static constexpr Family kLagBytes{"readthru_cdc_lag_bytes", Kind::kGauge,
                                    "WAL bytes received or sent by the server and not yet "
                                    "confirmed.",
                                    "cdc_lag_bytes"};
  static constexpr Family kLag{"readthru_cdc_lag_seconds",
                               Kind::kGauge,
                               "Age of the oldest commit not yet applied and confirmed.",
                               "cdc_lag_ms",
                               false,
                               1000};
  auto get = [](const auto& v) { return v.load(std::memory_order_relaxed); };
  const std::uint64_t confirmed = get(stats_.confirmed_lsn);
  const std::uint64_t wal_end = get(stats_.server_wal_end);
  const std::int64_t oldest = get(stats_.oldest_unconfirmed_us);
  const std::int64_t lag_us = oldest == 0 ? 0 : std::max<std::int64_t>(0, nowUnixMicros() - oldest);
  sink.add(kConnected, stats_.connected);
  sink.add(kTransactions, stats_.transactions);
  sink.add(kChanges, stats_.changes);
  sink.add(kReconnects, stats_.reconnects);
  sink.add(kConfirmed, static_cast<double>(confirmed));
  sink.add(kLagBytes, static_cast<double>(wal_end > confirmed ? wal_end - confirmed : 0));
  sink.add(kLag, static_cast<double>(lag_us) / 1e6);
}

}  // namespace readthru::backend::postgres
