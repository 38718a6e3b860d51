#include "backend/redis/node_connection.hpp"

#include <hiredis/hiredis.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "common/log.hpp"

namespace readthru::backend::redis {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Encodes with hiredis's formatter, appending to `out`.
void appendEncoded(std::string& out, std::span<const std::string> args) {
  constexpr std::size_t kStackArgs = 16;
  const char* argv_stack[kStackArgs];
  std::size_t len_stack[kStackArgs];
  std::vector<const char*> argv_heap;
  std::vector<std::size_t> len_heap;
  const char** argv = argv_stack;
  std::size_t* lens = len_stack;
  if (args.size() > kStackArgs) {
    argv_heap.resize(args.size());
    len_heap.resize(args.size());
    argv = argv_heap.data();
    lens = len_heap.data();
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    argv[i] = args[i].data();
    lens[i] = args[i].size();
  }
  char* cmd = nullptr;
  const int n = redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv, lens);
  if (n < 0 || cmd == nullptr) throw std::bad_alloc();
  out.append(cmd, static_cast<std::size_t>(n));
  redisFreeCommand(cmd);
}

}  // namespace

NodeConnection::NodeConnection(asio::io_context& io, config::Endpoint endpoint, NodeOptions options)
    : io_(io),
      endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      connect_timer_(io),
      reader_(std::make_unique<ReplyReader>()) {}

NodeConnection::~NodeConnection() = default;

resp::Value NodeConnection::failure(Fault fault, const std::string& detail) const {
  return resp::Value::failure(fault, faultText(fault, "backend " + endpoint_.str(), detail));
}

std::optional<resp::Value> NodeConnection::refusal() {
  if (options_.breaker && !options_.breaker->allows()) {
    options_.breaker->countRejected();
    return failure(Fault::kBreakerOpen, last_error_);
  }
  if (state_ == State::kBackoff && Clock::now() < backoff_until_) {
    return failure(Fault::kUnreachable, last_error_);
  }
  // Bounded memory whatever the clients do: past these, fail fast instead of growing.
  if (pending_.size() >= options_.max_queued_requests || out_.size() >= options_.max_queued_bytes) {
    if (options_.stats) options_.stats->queue_full.add();
    return failure(Fault::kQueueFull, std::to_string(pending_.size()) + " requests");
  }
  return std::nullopt;
}

void NodeConnection::send(std::span<const std::string> args, cache::ReplyCallback done) {
  if (auto refused = refusal()) {
    done(std::move(*refused));
    return;
  }
  enqueue(args, std::move(done));
  startIfIdle();
}

void NodeConnection::sendAsking(std::span<const std::string> args, cache::ReplyCallback done) {
  static const std::string kAsking[] = {"ASKING"};
  if (auto refused = refusal()) {
    done(std::move(*refused));
    return;
  }
  enqueue(kAsking, nullptr);
  enqueue(args, std::move(done));
  startIfIdle();
}

void NodeConnection::startIfIdle() {
  if (state_ == State::kIdle || state_ == State::kBackoff) {
    connect();
  } else if (state_ == State::kReady) {
    scheduleFlush();
  }
}

void NodeConnection::enqueue(std::span<const std::string> args, cache::ReplyCallback done) {
  appendEncoded(out_, args);
  const auto now = Clock::now();
  // The node's progress is measured from the moment it has something to answer.
  if (pending_.empty()) progress_ = now;
  pending_.push_back({std::move(done), now + options_.command_timeout});
}

void NodeConnection::probeIfDue(Clock::time_point now) {
  if (!options_.breaker || !options_.breaker->takeProbe(now)) return;
  static const std::string kPing[] = {"PING"};
  // The probe skips the breaker and the back-off: it is how they end.
  enqueue(kPing, [breaker = options_.breaker](resp::Value v) { breaker->onProbe(!v.isFault()); });
  startIfIdle();
}

// ---------------------------------------------------------------------------------------
// Connecting

void NodeConnection::connect() {
  state_ = State::kConnecting;
  const std::uint64_t gen = ++generation_;
  auto self = shared_from_this();
  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait([self, gen](boost::system::error_code ec) {
    if (ec || gen != self->generation_ || self->state_ != State::kConnecting) return;
    self->fail(
        "connect timed out after " + std::to_string(self->options_.connect_timeout.count()) + "ms",
        /*connect_failed=*/true);
  });
  stream_ = options_.tls ? std::make_shared<tls::Stream>(tcp::socket(io_), options_.tls->context)
                         : std::make_shared<tls::Stream>(tcp::socket(io_));
  resolver_.async_resolve(
      endpoint_.host, std::to_string(endpoint_.port),
      [self, gen](boost::system::error_code ec, tcp::resolver::results_type results) {
        if (gen != self->generation_) return;
        if (ec) {
          self->fail(ec.message(), /*connect_failed=*/true);
          return;
        }
        asio::async_connect(self->stream_->socket(), results,
                            [self, gen, stream = self->stream_](boost::system::error_code ec,
                                                                const tcp::endpoint&) {
                              if (gen != self->generation_) return;
                              if (ec) {
                                self->fail(ec.message(), /*connect_failed=*/true);
                                return;
                              }
                              self->handshake(gen);
                            });
      });
}

// TLS only: still under the connect timer. A certificate the node's name or CA does not
// match is a failed connect (backed off and logged once, as a refused one).
void NodeConnection::handshake(std::uint64_t gen) {
  tls::Stream::TlsSocket* tls = stream_->tls();
  if (tls == nullptr) {
    onConnected();
    return;
  }
  if (auto ec = tls::prepareClient(*tls, *options_.tls, endpoint_.host)) {
    fail("TLS set-up: " + ec.message(), /*connect_failed=*/true);
    return;
  }
  tls->async_handshake(
      asio::ssl::stream_base::client,
      [self = shared_from_this(), gen, stream = stream_](boost::system::error_code ec) {
        if (gen != self->generation_) return;
        if (ec) {
          self->fail("TLS handshake: " + ec.message(), /*connect_failed=*/true);
          return;
        }
        self->onConnected();
      });
}

void NodeConnection::onConnected() {
  connect_timer_.cancel();
  boost::system::error_code ignored;
  stream_->socket().set_option(tcp::no_delay(true), ignored);
  const auto now = Clock::now();
  if (unreachable_.succeeded(now) == Outage::Say::kBack) {
    spdlog::info("redis node {} reachable again after {} failed connect(s) in {} ms",
                 endpoint_.str(), unreachable_.failures(), unreachable_.downFor(now).count());
  }
  state_ = State::kReady;
  backoff_.reset();
  progress_ = Clock::now();

  // AUTH and READONLY go before anything queued while connecting.
  std::string handshake;
  std::deque<Pending> internal;
  const auto deadline = Clock::now() + options_.command_timeout;
  auto check = [endpoint = endpoint_.str()](const char* what) {
    return [endpoint, what](resp::Value v) {
      if (v.isError()) spdlog::error("redis node {}: {} failed: {}", endpoint, what, v.str);
    };
  };
  if (!options_.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!options_.username.empty()) auth.push_back(options_.username);
    auth.push_back(options_.password);
    appendEncoded(handshake, auth);
    internal.push_back({check("AUTH"), deadline});
  }
  if (options_.readonly) {
    static const std::string kReadonly[] = {"READONLY"};
    appendEncoded(handshake, kReadonly);
    internal.push_back({check("READONLY"), deadline});
  }
  out_.insert(0, handshake);
  pending_.insert(pending_.begin(), std::make_move_iterator(internal.begin()),
                  std::make_move_iterator(internal.end()));
  settled_front_ = 0;  // re-scanned from the start: the handshake has deadlines too
  readMore();
  flush();
}

// ---------------------------------------------------------------------------------------
// Writing: everything queued during one turn of the event loop leaves in one write.

void NodeConnection::scheduleFlush() {
  if (flush_posted_ || writing_now_) return;
  flush_posted_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
  });
}

void NodeConnection::flush() {
  if (state_ != State::kReady || writing_now_ || out_.empty()) return;
  writing_.swap(out_);
  writing_now_ = true;
  stream_->asyncWrite(asio::buffer(writing_),
                      [self = shared_from_this(), gen = generation_, stream = stream_](
                          boost::system::error_code ec, std::size_t) {
                        if (gen != self->generation_) return;
                        self->writing_now_ = false;
                        self->writing_.clear();
                        if (ec) {
                          self->fail(ec.message(), /*connect_failed=*/false);
                          return;
                        }
                        self->flush();
                      });
}

// ---------------------------------------------------------------------------------------
// Reading: replies are matched to requests in order.

void NodeConnection::readMore() {
  stream_->asyncReadSome(
      asio::buffer(read_buf_), [self = shared_from_this(), gen = generation_, stream = stream_](
                                   boost::system::error_code ec, std::size_t n) {
        if (gen != self->generation_) return;
        if (ec) {
          self->fail(tls::isEndOfStream(ec) ? "connection closed by the server" : ec.message(),
                     /*connect_failed=*/false);
          return;
        }
        self->reader_->feed(std::string_view(self->read_buf_, n));
        while (true) {
          auto reply = self->reader_->next();
          if (!reply.ok()) {
            self->fail(reply.error().message, /*connect_failed=*/false);
            return;
          }
          if (!reply->has_value()) break;
          if (self->pending_.empty()) {
            self->fail("reply without a request", /*connect_failed=*/false);
            return;
          }
          self->onReply(std::move(**reply));
          // A callback may have closed or reset this connection.
          if (gen != self->generation_) return;
        }
        self->readMore();
      });
}

// Matches one reply to the oldest request. A request that already failed by its deadline
// keeps its place until its reply comes, and the reply is dropped here.
void NodeConnection::onReply(resp::Value v) {
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  if (settled_front_ > 0) --settled_front_;
  progress_ = Clock::now();
  if (options_.breaker) options_.breaker->onSuccess();
  ++window_requests_;
  if (p.expired) {
    if (options_.stats) options_.stats->late_replies.add();
    return;
  }
  if (p.done) p.done(std::move(v));
}

// ---------------------------------------------------------------------------------------
// Failure

void NodeConnection::checkDeadline(Clock::time_point now) {
  closeWindow(now);
  if (pending_.empty()) return;
  if (state_ == State::kReady && now - progress_ > options_.node_timeout) {
    // Not one reply for node_timeout with requests outstanding: the node (or the path to
    // it) is stuck, and everything behind the stuck reply would wait for ever.
    if (options_.stats) options_.stats->stalls.add();
    fail("no reply for " + std::to_string(options_.node_timeout.count()) + "ms",
         /*connect_failed=*/false);
    return;
  }
  expireOverdue(now);
}

// Deadlines grow along pending_ (one timeout for all, in send order), so the scan stops at
// the first request still in time; settled_front_ skips the ones failed by earlier scans.
void NodeConnection::expireOverdue(Clock::time_point now) {
  std::size_t i = settled_front_;
  for (; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    if (!p.done || p.expired) continue;
    if (p.deadline >= now) break;
    p.expired = true;
    auto done = std::move(p.done);
    p.done = nullptr;
    countFailure();
    const std::uint64_t gen = generation_;
    done(failure(Fault::kTimeout,
                 "no reply within " + std::to_string(options_.command_timeout.count()) + "ms"));
    if (gen != generation_) return;  // the callback reset this connection
  }
  settled_front_ = i;
}

void NodeConnection::countFailure() {
  ++window_requests_;
  ++window_failures_;
  if (options_.breaker) options_.breaker->onFailure();
}

// The breaker's rate rule, judged on this connection's outcomes in each window.
void NodeConnection::closeWindow(Clock::time_point now) {
  if (!options_.breaker) return;
  const BreakerOptions& b = options_.breaker->options();
  if (now - window_start_ < b.window) return;
  if (b.failure_rate > 0 && window_requests_ >= static_cast<std::uint32_t>(b.min_requests) &&
      window_failures_ >= b.failure_rate * window_requests_) {
    options_.breaker->trip("failure rate");
  }
  window_start_ = now;
  window_requests_ = 0;
  window_failures_ = 0;
}

void NodeConnection::close(bool silent) {
  if (silent) pending_.clear();
  dropStream();
  state_ = State::kIdle;
  failAll(Fault::kShuttingDown, "connection closed");
}

// Forgets the socket and everything in flight on it; handlers still queued for the old
// socket see a new generation and do nothing. Waiting requests are the caller's business.
void NodeConnection::dropStream() {
  ++generation_;
  if (stream_) stream_->close();
  connect_timer_.cancel();
  out_.clear();
  writing_.clear();
  writing_now_ = false;
  reader_ = std::make_unique<ReplyReader>();
}

void NodeConnection::fail(const std::string& reason, bool connect_failed) {
  dropStream();
  last_error_ = reason;
  countFailure();  // one event, however many requests it fails

  if (connect_failed) {
    // Back off so a dead node costs one failed connect per interval, not one per request;
    // the jitter keeps the threads (and instances) from reconnecting in step.
    const auto now = Clock::now();
    backoff_until_ = now + backoff_.next();
    state_ = State::kBackoff;
    switch (unreachable_.failed(now)) {
      case Outage::Say::kDown:
        spdlog::warn("redis node {} unreachable: {}", endpoint_.str(), reason);
        break;
      case Outage::Say::kStillDown:
        spdlog::warn("redis node {} still unreachable after {} connect(s) in {} s: {}",
                     endpoint_.str(), unreachable_.failures(),
                     unreachable_.downFor(now).count() / 1000, reason);
        break;
      default:
        spdlog::debug("redis node {} unreachable: {}", endpoint_.str(), reason);
    }
    failAll(Fault::kUnreachable, reason);
  } else {
    state_ = State::kIdle;  // reconnect on the next request
    spdlog::warn("redis node {}: connection lost: {}", endpoint_.str(), reason);
    failAll(Fault::kConnectionLost, reason);
  }
  if (on_broken_) on_broken_();
}

void NodeConnection::failAll(Fault fault, const std::string& detail) {
  std::deque<Pending> failed;
  failed.swap(pending_);
  settled_front_ = 0;
  const resp::Value v = failure(fault, detail);
  for (Pending& p : failed) {
    if (p.done) p.done(v);
  }
}

}  // namespace readthru::backend::redis
