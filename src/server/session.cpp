#include "server/session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "common/log.hpp"
#include "resp/writer.hpp"
#include "server/context.hpp"
#include "server/dispatcher.hpp"
#include "server/session_list.hpp"

namespace readthru::server {
namespace asio = boost::asio;

namespace {
// Replies a client may have outstanding before we stop reading its requests. It bounds what
// a client asks for before any reply is back, when the output backlog cannot pause it yet:
// at 16K, a client that never read was sent 64 MiB of 4 KiB GET replies (and dropped at
// output_limit) before it could be paused; a pipeline of 1,024 keeps redis-cli --pipe as
// fast (tests/fault/client_flood_test.cpp).
constexpr std::size_t kMaxQueuedReplies = 1024;

// The parser enforces listen.query_buffer_limit itself, as bytes arrive, and Redis's
// tighter limits while the client has not authenticated.
resp::ParserLimits parserLimits(const Limits& current, const ClientAuth& auth) {
  resp::ParserLimits limits;
  limits.max_request_bytes = current.query_buffer_limit.load(std::memory_order_relaxed);
  limits.unauthenticated = !auth.authenticated();
  return limits;
}
}  // namespace

Session::Session(tls::Stream stream, Dispatcher& dispatcher, ServerContext& ctx, ThreadStats& stats,
                 SessionList& sessions)
    : stream_(std::move(stream)),
      dispatcher_(dispatcher),
      ctx_(ctx),
      stats_(stats),
      sessions_(sessions),
      auth_(ctx.auth),
      parser_(parserLimits(ctx.limits, auth_)),
      idle_timer_(stream_.get_executor()) {
  info_.id = ctx_.next_client_id.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code ec;
  const auto peer = stream_.socket().remote_endpoint(ec);
  if (!ec) info_.peer = peer.address().to_string() + ":" + std::to_string(peer.port());
}

Session::~Session() {
  if (listed_) sessions_.remove(*this);
  ctx_.connected_clients.fetch_sub(1, std::memory_order_relaxed);
}

void Session::start() {
  sessions_.add(*this);
  listed_ = true;
  if (sessions_.draining()) {
    // Accepted just before the listener closed: nothing was read, so nothing is owed.
    shutdown();
    return;
  }
  boost::system::error_code ignored;
  stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  if (auto* tls = stream_.tls()) {
    handshake(*tls);
    return;
  }
  armIdleTimer();
  readMore();
}

// The idle timer is the handshake's deadline until it is done (idle_timeout may be off; a
// client that opens a connection and sends nothing must not hold it for ever). A client
// that does not speak TLS, or fails the client certificate check, is closed: a TLS alert
// is all it gets, no RESP error (it could not read one).
void Session::handshake(tls::Stream::TlsSocket& tls) {
  const Millis limit(ctx_.limits.tls_handshake_timeout_ms.load(std::memory_order_relaxed));
  handshaking_ = true;
  idle_timer_.expires_after(limit);
  idle_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    // handshaking_: the handshake may have won the race with a timer already due.
    if (ec || self->closed_ || !self->handshaking_) return;
    self->stats_.tls_handshake_timeouts.add();
    spdlog::debug("client {} closed: no TLS handshake within listen.tls.handshake_timeout",
                  self->info_.peer);
    self->shutdown();
  });
  tls.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](
                                                          boost::system::error_code ec) {
    self->handshaking_ = false;
    if (self->closed_) return;
    self->idle_timer_.cancel();
    if (ec) {
      self->stats_.tls_handshake_failures.add();
      spdlog::debug("client {} closed: TLS handshake failed: {}", self->info_.peer, ec.message());
      self->shutdown();
      return;
    }
    self->info_.last_active = std::chrono::steady_clock::now();
    self->armIdleTimer();
    self->readMore();
  });
}

void Session::drain() {
  if (closed_) return;
  // closing_ stops the parse loop and readMore(); flush() closes once the queue is empty
  // and the last reply written, at once when nothing is owed. A read still pending
  // completes into onRead, which then parses nothing.
  closing_ = true;
  flush();
}

// ---------------------------------------------------------------------------------------
// Reading and dispatching

bool Session::overloaded() const {
  return queue_.size() >= kMaxQueuedReplies ||
         out_.size() + writing_.size() + queued_bytes_ >=
             ctx_.limits.output_limit.load(std::memory_order_relaxed) / 2;
}

void Session::readMore() {
  if (reading_ || closing_ || closed_ || overloaded()) return;
  reading_ = true;
  stream_.asyncReadSome(asio::buffer(read_buf_),
                        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                          self->reading_ = false;
                          if (tls::isEndOfStream(ec) && !self->closed_) {
                            // The client is done sending (nc, a half-close): answer
                            // what it asked, then close.
                            self->closing_ = true;
                            self->flush();
                            return;
                          }
                          if (ec || self->closed_) {
                            self->shutdown();
                            return;
                          }
                          self->onRead(n);
                        });
}

void Session::onRead(std::size_t n) {
  stats_.net_input_bytes.add(n);
  info_.last_active = std::chrono::steady_clock::now();
  std::string_view input(read_buf_, n);
  while (!input.empty() && !closing_ && !closed_) {
    std::size_t consumed = 0;
    const auto status = parser_.parse(input, consumed, args_);
    input.remove_prefix(consumed);
    if (status == resp::ParseStatus::kIncomplete) break;
    if (status == resp::ParseStatus::kTooBig) {
      queryBufferFull();
      break;
    }
    if (status == resp::ParseStatus::kError) {
      // As Redis: answer the protocol error, then close once it is written.
      stats_.protocol_errors.add();
      appendCountedError(stats_.errors, replyNow(), "ERR " + parser_.error());
      closing_ = true;
      break;
    }
    dispatcher_.dispatch(*this, args_);
    // A local reply behind an unanswered one waits in the queue: it is backlog too.
    if (!queue_.empty() && queue_.back().ready && queue_.back().counted == 0) {
      countQueued(queue_.back());
    }
  }
  drainReady();
  flush();
  readMore();
}

// A request still arriving holds more than listen.query_buffer_limit in the parser (one
// huge argument, say): as Redis's client-query-buffer-limit, the client is closed. Unlike
// Redis, it is told why first, after the replies it is owed; the parser's memory is
// released now, and the bytes that still arrive are dropped unparsed.
void Session::queryBufferFull() {
  stats_.query_buffer_limit_disconnects.add();
  spdlog::debug("client {} closed: a partial request passed listen.query_buffer_limit", info_.peer);
  appendCountedError(stats_.errors, replyNow(),
                     "ERR readthru: query buffer limit reached (listen.query_buffer_limit)");
  closing_ = true;
}

// ---------------------------------------------------------------------------------------
// Authentication

bool Session::login(std::string_view user, std::string_view password) {
  if (!auth_.login(user, password)) return false;
  applyParserLimits();
  return true;
}

bool Session::refreshAuth() {
  if (auth_.generation() == ctx_.auth.generation()) return true;
  const bool still = auth_.refresh(ctx_.auth);
  applyParserLimits();
  return still;
}

void Session::resetAuth() {
  auth_.reset();
  applyParserLimits();
}

// Called between two requests (the dispatcher runs inside the parse loop), so the new
// limits apply from the next request's header on.
void Session::applyParserLimits() {
  resp::ParserLimits limits = parser_.limits();
  limits.unauthenticated = !auth_.authenticated();
  parser_.setLimits(limits);
}

// ---------------------------------------------------------------------------------------
// Replies in order

std::string& Session::replyNow() {
  if (queue_.empty()) return out_;
  queue_.push_back({std::string(), true});
  return queue_.back().bytes;
}

cache::ReplyCallback Session::replyLater() {
  queue_.push_back({std::string(), false});
  const std::uint64_t seq = head_seq_ + queue_.size() - 1;
  return [self = shared_from_this(), seq](resp::Value v) { self->complete(seq, v); };
}

cache::ReplyCallback Session::replyLater(std::size_t command, SlowSample sample) {
  queue_.push_back({std::string(), false});
  const std::uint64_t seq = head_seq_ + queue_.size() - 1;
  return [self = shared_from_this(), seq, command, sample = std::move(sample),
          start = std::chrono::steady_clock::now()](resp::Value v) mutable {
    ThreadStats& stats = self->stats_;
    const auto took = std::chrono::steady_clock::now() - start;
    stats.request_duration.observe(took);
    ThreadStats::CommandCounts& c = stats.by_command[command];
    (v.isError() ? c.error : c.ok).add();
    c.nanos.add(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()));
    if (self->ctx_.slow_log.slow(took)) {
      self->dispatcher_.slow(took, std::move(sample), self->info_);
    }
    self->complete(seq, v);
  };
}

void Session::complete(std::uint64_t seq, const resp::Value& v) {
  if (closed_) return;
  if (v.isError()) stats_.errors.count(v.str);
  if (seq == head_seq_) {
    // The oldest reply outstanding (the usual case): straight to the output, no slot copy.
    resp::appendValue(out_, v);
    queue_.pop_front();
    ++head_seq_;
    drainReady();
    scheduleFlush();
  } else {
    Slot& slot = queue_[seq - head_seq_];
    resp::appendValue(slot.bytes, v);
    slot.ready = true;
    // Waits behind a slower reply: it counts against output_limit like unsent bytes, or
    // one slow reply would let the thousands behind it pile up without bound.
    countQueued(slot);
    backlogTooBig();
  }
}

void Session::countQueued(Slot& slot) {
  slot.counted = slot.bytes.size();
  queued_bytes_ += slot.counted;
}

void Session::drainReady() {
  while (!queue_.empty() && queue_.front().ready) {
    std::string& bytes = queue_.front().bytes;
    if (out_.empty()) {
      out_.swap(bytes);
    } else {
      out_.append(bytes);
    }
    queued_bytes_ -= queue_.front().counted;
    queue_.pop_front();
    ++head_seq_;
  }
  backlogTooBig();
}

bool Session::backlogTooBig() {
  const std::size_t backlog = out_.size() + queued_bytes_;
  if (closed_ || backlog <= ctx_.limits.output_limit.load(std::memory_order_relaxed)) return false;
  // The client does not read its replies (or one slow reply holds back a flood of others):
  // drop it rather than hold unbounded memory.
  stats_.output_limit_disconnects.add();
  spdlog::debug("client {} closed: {} reply bytes unsent (listen.output_limit)", info_.peer,
                backlog);
  shutdown();
  return true;
}

// ---------------------------------------------------------------------------------------
// Writing: one write carries every reply that became ready in one turn of the loop.

void Session::scheduleFlush() {
  if (flush_posted_ || writing_now_ || closed_) return;
  flush_posted_ = true;
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
    self->readMore();
  });
}

void Session::flush() {
  if (writing_now_ || closed_) return;
  if (out_.empty()) {
    if (closing_ && queue_.empty()) shutdown();
    return;
  }
  writing_.swap(out_);
  writing_now_ = true;
  stream_.asyncWrite(asio::buffer(writing_),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                       self->writing_now_ = false;
                       self->stats_.net_output_bytes.add(n);
                       self->writing_.clear();
                       if (ec) {
                         self->shutdown();
                         return;
                       }
                       self->flush();
                       self->readMore();
                     });
}

// ---------------------------------------------------------------------------------------
// Closing

void Session::armIdleTimer() {
  const Millis idle(ctx_.limits.idle_timeout_ms.load(std::memory_order_relaxed));
  if (idle.count() == 0 || closed_) return;
  idle_timer_.expires_after(idle);
  idle_timer_.async_wait([self = shared_from_this(), idle](boost::system::error_code ec) {
    if (ec || self->closed_) return;
    const auto quiet = std::chrono::steady_clock::now() - self->info_.last_active;
    if (quiet >= idle && self->queue_.empty()) {
      self->shutdown();
    } else {
      self->armIdleTimer();
    }
  });
}

void Session::shutdown() {
  if (closed_) return;
  closed_ = true;
  idle_timer_.cancel();
  stream_.close();
  if (listed_) {
    listed_ = false;
    sessions_.remove(*this);  // last: a drain may learn here that its thread is done
  }
}

}  // namespace readthru::server
