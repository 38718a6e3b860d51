#pragma once
// One TCP (or TLS: backend.tls) connection to one Redis node, carrying many pipelined requests from
// many clients. Requests are written in the order send() is called (writes are batched: all
// requests queued in one turn of the event loop leave in one write) and replies are
// matched to them in FIFO order, as RESP guarantees.
//
// Ownership: a NodeConnection belongs to one io thread and is held by shared_ptr (its
// pending I/O keeps it alive). It connects lazily on the first send(), fails fast while
// a reconnect back-off runs or the node's breaker is open, and reports every failure as a
// fault value (common/fault.hpp) to each request it concerns, never as an exception.
//
// Deadlines: a request that gets no reply within command_timeout fails alone
// (Fault::kTimeout); its place in the FIFO stays, and the late reply is discarded when it
// comes, so the requests around it are not touched. The connection itself is dropped only
// when the node stops making progress: no reply at all for node_timeout while requests
// are outstanding. connect_timeout covers the resolve, the TCP connect and the TLS
// handshake together.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "backend/redis/breaker.hpp"
#include "backend/redis/reply_reader.hpp"
#include "cache/backend.hpp"
#include "common/backoff.hpp"
#include "common/fault.hpp"
#include "common/outage.hpp"
#include "common/units.hpp"
#include "config/config.hpp"
#include "metrics/cells.hpp"
#include "tls/context.hpp"

namespace readthru::backend::redis {

// Counts shared by one router's connections (read by INFO from any thread).
struct alignas(64) ConnectionStats {
  metrics::Counter late_replies;  // replies that came after their request failed
  metrics::Counter stalls;        // connections dropped after node_timeout
  metrics::Counter queue_full;    // requests refused: too much queued
};

struct NodeOptions {
  Millis connect_timeout{2000};
  Millis command_timeout{1000};
  Millis node_timeout{5000};
  std::size_t max_queued_requests = 100000;  // sent or waiting, per connection
  std::size_t max_queued_bytes = 64 << 20;   // encoded but not yet written
  std::string username;
  std::string password;
  bool readonly = false;             // a replica used for reads: send READONLY after connecting
  std::shared_ptr<Breaker> breaker;  // the node's, shared by the process; may be null
  ConnectionStats* stats = nullptr;  // may be null
  std::shared_ptr<const tls::ClientTls> tls;  // backend.tls; null: plain TCP
};

class NodeConnection : public std::enable_shared_from_this<NodeConnection> {
 public:
  using Clock = std::chrono::steady_clock;

  NodeConnection(boost::asio::io_context& io, config::Endpoint endpoint, NodeOptions options);
  ~NodeConnection();

  // Queues one command. `done` runs once with the reply, or with an error value if the
  // node cannot be reached, the connection breaks or the reply is overdue.
  void send(std::span<const std::string> args, cache::ReplyCallback done);
  // ASKING followed by the command, back to back on this connection (the ASKING reply is
  // consumed here). Used for one request after an -ASK redirect.
  void sendAsking(std::span<const std::string> args, cache::ReplyCallback done);

  // Fails the requests whose command timeout passed (each alone), drops the connection if
  // the node made no progress for node_timeout, and closes the breaker's rate window.
  // Called every 100 ms by the router.
  void checkDeadline(Clock::time_point now);

  // When the node's breaker is open and its open time has passed, and no other
  // connection took the probe, sends PING and reports the outcome to the breaker.
  void probeIfDue(Clock::time_point now);

  // Drops the connection; waiting requests get an error. With `silent`, their callbacks
  // are discarded instead (used at shutdown, when nobody is left to answer).
  void close(bool silent = false);

  // Called after the connection broke or failed to connect (e.g. to refresh topology).
  void onBroken(std::function<void()> fn) { on_broken_ = std::move(fn); }

  const config::Endpoint& endpoint() const { return endpoint_; }

 private:
  enum class State { kIdle, kConnecting, kReady, kBackoff };
  struct Pending {
    cache::ReplyCallback done;  // empty: internal reply (ASKING), or failed already
    Clock::time_point deadline;
    bool expired = false;  // failed by its deadline; the reply is discarded when it comes
  };

  // Why send() cannot queue now, or nullopt.
  std::optional<resp::Value> refusal();
  void enqueue(std::span<const std::string> args, cache::ReplyCallback done);
  void startIfIdle();
  void onReply(resp::Value v);
  void expireOverdue(Clock::time_point now);
  void closeWindow(Clock::time_point now);
  void connect();
  void handshake(std::uint64_t gen);
  void onConnected();
  void scheduleFlush();
  void flush();
  void readMore();
  void fail(const std::string& reason, bool connect_failed);
  void dropStream();
  void failAll(Fault fault, const std::string& detail);
  resp::Value failure(Fault fault, const std::string& detail) const;
  void countFailure();

  boost::asio::io_context& io_;
  config::Endpoint endpoint_;
  NodeOptions options_;
  // A new one for each connection; handlers hold the one they run on (tls/stream.hpp).
  std::shared_ptr<tls::Stream> stream_;
  boost::asio::ip::tcp::resolver resolver_{io_};
  boost::asio::steady_timer connect_timer_;
  State state_ = State::kIdle;
  Clock::time_point backoff_until_{};
  Backoff backoff_;
  std::string last_error_;
  std::string out_;      // encoded requests not yet handed to the socket
  std::string writing_;  // the batch being written
  bool writing_now_ = false;
  bool flush_posted_ = false;
  std::deque<Pending> pending_;    // sent or queued, waiting for their reply, in order
  std::size_t settled_front_ = 0;  // leading entries of pending_ already failed or internal
  Clock::time_point progress_{};   // last reply, or when pending_ stopped being empty
  Clock::time_point window_start_{};
  std::uint32_t window_requests_ = 0;  // outcomes in this breaker rate window
  std::uint32_t window_failures_ = 0;
  std::size_t handshake_replies_ = 0;
  std::unique_ptr<ReplyReader> reader_;  // replaced on reconnect: a new stream, a new parser
  Outage unreachable_;  // a line when connects start failing, a reminder, one when one works
  char read_buf_[16 * 1024];
  std::function<void()> on_broken_;
  std::uint64_t generation_ = 0;  // bumps on every (re)connect; stale handlers check it
};

}  // namespace readthru::backend::redis
