#pragma once
// One TCP connection to one Redis node, carrying many pipelined requests from many
// clients. Requests are written in the order send() is called (writes are batched: all
// requests queued in one turn of the event loop leave in one write) and replies are
// matched to them in FIFO order, as RESP guarantees.
//
// Ownership: a NodeConnection belongs to one io thread and is held by shared_ptr (its
// pending I/O keeps it alive). It connects lazily on the first send(), fails fast while
// a reconnect back-off runs, and reports every failure as an error reply to each waiting
// request, never as an exception.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "backend/redis/reply_reader.hpp"
#include "cache/backend.hpp"
#include "common/units.hpp"
#include "config/config.hpp"

namespace readthru::backend::redis {

struct NodeOptions {
  Millis connect_timeout{2000};
  Millis command_timeout{1000};
  std::string username;
  std::string password;
  bool readonly = false;  // a replica used for reads: send READONLY after connecting
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

  // Fails every request if the oldest one is older than the command timeout: replies on
  // a RESP connection cannot be skipped, so a stuck node loses the whole connection.
  void checkDeadline(Clock::time_point now);

  // Drops the connection; waiting requests get an error. With `silent`, their callbacks
  // are discarded instead (used at shutdown, when nobody is left to answer).
  void close(bool silent = false);

  // Called after the connection broke or failed to connect (e.g. to refresh topology).
  void onBroken(std::function<void()> fn) { on_broken_ = std::move(fn); }

  const config::Endpoint& endpoint() const { return endpoint_; }

 private:
  enum class State { kIdle, kConnecting, kReady, kBackoff };
  struct Pending {
    cache::ReplyCallback done;  // empty: internal reply (ASKING, AUTH, READONLY)
    Clock::time_point deadline;
  };

  void enqueue(std::span<const std::string> args, cache::ReplyCallback done);
  void connect();
  void onConnected();
  void scheduleFlush();
  void flush();
  void readMore();
  void fail(const std::string& reason, bool connect_failed, bool timeout = false);
  void dropStream();
  void failAll(const std::string& message);
  std::string describe(const std::string& what) const;

  boost::asio::io_context& io_;
  config::Endpoint endpoint_;
  NodeOptions options_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::resolver resolver_{io_};
  boost::asio::steady_timer connect_timer_;
  State state_ = State::kIdle;
  Clock::time_point backoff_until_{};
  Millis backoff_{0};
  std::string last_error_;
  std::string out_;      // encoded requests not yet handed to the socket
  std::string writing_;  // the batch being written
  bool writing_now_ = false;
  bool flush_posted_ = false;
  std::deque<Pending> pending_;  // sent or queued, waiting for their reply, in order
  std::size_t handshake_replies_ = 0;
  std::unique_ptr<ReplyReader> reader_;         // replaced on reconnect: a new stream, a new parser
  bool state_before_ready_was_broken_ = false;  // log "down" and "up" once each
  char read_buf_[16 * 1024];
  std::function<void()> on_broken_;
  std::uint64_t generation_ = 0;  // bumps on every (re)connect; stale handlers check it
};

}  // namespace readthru::backend::redis
