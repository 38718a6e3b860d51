#pragma once
// One client connection. Requests are parsed as bytes arrive and dispatched at once;
// replies leave in request order whatever order the backends answer in (a queue whose
// ready head is flushed, as Envoy's redis proxy does), and all replies ready after one
// read leave in one write.
//
// Flow control: reading pauses while too many replies are outstanding or too many reply
// bytes wait to be sent, so a client that pipelines without reading cannot grow our
// memory; a reply backlog past listen.output_limit closes the connection. A request still
// arriving whose parsed bytes pass listen.query_buffer_limit closes it too.
//
// Stopping: drain() ends reading and closes the connection after the last reply owed;
// close() closes it at once. Every session is in its io thread's SessionList while open.
//
// Transport: a plain TCP socket or TLS (listen.tls), the same code path either way
// (tls::Stream). With TLS nothing is read before the handshake, which has
// listen.tls.handshake_timeout; a failed or overdue handshake just closes the connection.

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "cache/backend.hpp"
#include "resp/request_parser.hpp"
#include "server/client_auth.hpp"
#include "server/slow_log.hpp"
#include "tls/stream.hpp"

namespace readthru::server {

class Dispatcher;
class SessionList;
struct ServerContext;
struct ThreadStats;

struct ClientInfo {
  std::uint64_t id = 0;
  std::string name;
  std::string lib_name;
  std::string lib_ver;
  std::string peer;  // "ip:port"
  std::chrono::steady_clock::time_point connected = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_active = connected;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tls::Stream stream, Dispatcher& dispatcher, ServerContext& ctx, ThreadStats& stats,
          SessionList& sessions);
  ~Session();

  // Joins the thread's SessionList and starts reading (or, when the list is draining,
  // closes at once).
  void start();

  // --- used by SessionList when readthru stops
  // Reads no more requests (bytes that still arrive are dropped unparsed); the requests
  // already read are answered, then the connection closes.
  void drain();
  // Closes the connection now; replies still owed are dropped.
  void close() { shutdown(); }
  // Requests read whose reply has not been written yet (unanswered, or held behind one).
  std::size_t repliesOwed() const { return queue_.size(); }
  // Reply bytes made but not yet written to the socket.
  std::size_t bytesUnsent() const { return out_.size() + writing_.size(); }

  // --- used by the dispatcher, in request order
  // Buffer for a reply that is ready now; append RESP to it before the next request.
  std::string& replyNow();
  // Reserves the next place in the reply order; the callback fills it later (once).
  cache::ReplyCallback replyLater();
  // The same, for a command sent on: its reply is counted by command (index in
  // command::allCommands()) and result, and timed; past log.slow_threshold, `sample` goes
  // to the slow log.
  cache::ReplyCallback replyLater(std::size_t command, SlowSample sample);
  // Close the connection once everything before it has been written (QUIT, protocol
  // errors).
  void closeAfterReplies() { closing_ = true; }

  ClientInfo& info() { return info_; }

  // --- authentication (dispatcher: AUTH, HELLO AUTH, RESET, the checks before a command)
  ClientAuth& auth() { return auth_; }
  // AUTH: on success also lifts the parser's limits for unauthenticated clients.
  bool login(std::string_view user, std::string_view password);
  // Before each command: follows a reload of the users (see ClientAuth); false when this
  // connection's user is gone.
  bool refreshAuth();
  // RESET: unauthenticated again when a password is required (parser limits too).
  void resetAuth();

 private:
  struct Slot {
    std::string bytes;
    bool ready = false;
    std::size_t counted = 0;  // bytes of this slot included in queued_bytes_
  };

  void handshake(tls::Stream::TlsSocket& tls);
  void readMore();
  void onRead(std::size_t n);
  void complete(std::uint64_t seq, const resp::Value& v);
  void drainReady();
  void scheduleFlush();
  void flush();
  bool overloaded() const;
  void countQueued(Slot& slot);
  bool backlogTooBig();
  void queryBufferFull();
  void armIdleTimer();
  void shutdown();
  void applyParserLimits();

  tls::Stream stream_;
  Dispatcher& dispatcher_;
  ServerContext& ctx_;
  ThreadStats& stats_;
  SessionList& sessions_;
  bool listed_ = false;  // in sessions_: from start() until the socket closes
  ClientInfo info_;
  ClientAuth auth_;  // before parser_: its limits depend on it
  resp::RequestParser parser_;
  std::vector<std::string> args_;
  char read_buf_[16 * 1024];

  std::string out_;               // replies ready to send, in order
  std::string writing_;           // the batch being written
  std::deque<Slot> queue_;        // replies behind the first unanswered one
  std::uint64_t head_seq_ = 0;    // sequence number of queue_.front()
  std::size_t queued_bytes_ = 0;  // reply bytes ready in queue_ behind an unanswered one
  bool writing_now_ = false;
  bool flush_posted_ = false;
  bool reading_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool handshaking_ = false;  // TLS: the idle timer is the handshake's deadline
  boost::asio::steady_timer idle_timer_;
};

}  // namespace readthru::server
