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

constexpr Millis kFirstBackoff{100};
constexpr Millis kMaxBackoff{2000};

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
      socket_(io),
      connect_timer_(io),
      reader_(std::make_unique<ReplyReader>()) {}

NodeConnection::~NodeConnection() = default;

std::string NodeConnection::describe(const std::string& what) const {
  return "ERR readthru: backend " + endpoint_.str() + " " + what;
}

void NodeConnection::send(std::span<const std::string> args, cache::ReplyCallback done) {
  if (state_ == State::kBackoff && Clock::now() < backoff_until_) {
    done(resp::Value::error(describe("is unreachable (" + last_error_ + ")")));
    return;
  }
  enqueue(args, std::move(done));
  if (state_ == State::kIdle || state_ == State::kBackoff) {
    connect();
  } else if (state_ == State::kReady) {
    scheduleFlush();
  }
}

void NodeConnection::sendAsking(std::span<const std::string> args, cache::ReplyCallback done) {
  static const std::string kAsking[] = {"ASKING"};
  if (state_ == State::kBackoff && Clock::now() < backoff_until_) {
    done(resp::Value::error(describe("is unreachable (" + last_error_ + ")")));
    return;
  }
  enqueue(kAsking, nullptr);
  send(args, std::move(done));
}

void NodeConnection::enqueue(std::span<const std::string> args, cache::ReplyCallback done) {
  appendEncoded(out_, args);
  pending_.push_back({std::move(done), Clock::now() + options_.command_timeout});
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
  resolver_.async_resolve(
      endpoint_.host, std::to_string(endpoint_.port),
      [self, gen](boost::system::error_code ec, tcp::resolver::results_type results) {
        if (gen != self->generation_) return;
        if (ec) {
          self->fail(ec.message(), /*connect_failed=*/true);
          return;
        }
        asio::async_connect(self->socket_, results,
                            [self, gen](boost::system::error_code ec, const tcp::endpoint&) {
                              if (gen != self->generation_) return;
                              if (ec) {
                                self->fail(ec.message(), /*connect_failed=*/true);
                                return;
                              }
                              self->onConnected();
                            });
      });
}

void NodeConnection::onConnected() {
  connect_timer_.cancel();
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  if (state_before_ready_was_broken_) {
    spdlog::info("redis node {} reachable again", endpoint_.str());
    state_before_ready_was_broken_ = false;
  }
  state_ = State::kReady;
  backoff_ = Millis{0};

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
  asio::async_write(
      socket_, asio::buffer(writing_),
      [self = shared_from_this(), gen = generation_](boost::system::error_code ec, std::size_t) {
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
  socket_.async_read_some(
      asio::buffer(read_buf_),
      [self = shared_from_this(), gen = generation_](boost::system::error_code ec, std::size_t n) {
        if (gen != self->generation_) return;
        if (ec) {
          self->fail(ec == asio::error::eof ? "connection closed by the server" : ec.message(),
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
          Pending p = std::move(self->pending_.front());
          self->pending_.pop_front();
          if (p.done) p.done(std::move(**reply));
          // A callback may have closed or reset this connection.
          if (gen != self->generation_) return;
        }
        self->readMore();
      });
}

// ---------------------------------------------------------------------------------------
// Failure

void NodeConnection::checkDeadline(Clock::time_point now) {
  if (state_ == State::kReady && !pending_.empty() && pending_.front().deadline < now) {
    fail("did not answer within " + std::to_string(options_.command_timeout.count()) + "ms",
         /*connect_failed=*/false, /*timeout=*/true);
  }
}

void NodeConnection::close(bool silent) {
  if (silent) pending_.clear();
  dropStream();
  state_ = State::kIdle;
  failAll(describe("connection closed"));
}

// Forgets the socket and everything in flight on it; handlers still queued for the old
// socket see a new generation and do nothing. Waiting requests are the caller's business.
void NodeConnection::dropStream() {
  ++generation_;
  boost::system::error_code ignored;
  socket_.close(ignored);
  connect_timer_.cancel();
  out_.clear();
  writing_.clear();
  writing_now_ = false;
  reader_ = std::make_unique<ReplyReader>();
}

void NodeConnection::fail(const std::string& reason, bool connect_failed, bool timeout) {
  dropStream();
  last_error_ = reason;

  std::string message;
  if (connect_failed) {
    // Back off so a dead node costs one failed connect per interval, not one per request.
    backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
    backoff_until_ = Clock::now() + backoff_;
    state_ = State::kBackoff;
    message = describe("is unreachable (" + reason + ")");
    if (!state_before_ready_was_broken_) {
      spdlog::warn("redis node {} unreachable: {}", endpoint_.str(), reason);
      state_before_ready_was_broken_ = true;
    }
  } else {
    state_ = State::kIdle;  // reconnect on the next request
    message = timeout ? describe(reason) : describe("connection lost (" + reason + ")");
    spdlog::warn("redis node {}: {}", endpoint_.str(),
                 timeout ? reason : "connection lost: " + reason);
  }
  failAll(message);
  if (on_broken_) on_broken_();
}

void NodeConnection::failAll(const std::string& message) {
  std::deque<Pending> failed;
  failed.swap(pending_);
  for (Pending& p : failed) {
    if (p.done) p.done(resp::Value::error(message));
  }
}

}  // namespace readthru::backend::redis
