#include "backend/redis/sentinel_watch.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <iterator>

#include "backend/redis/breaker.hpp"
#include "backend/redis/sentinel_messages.hpp"
#include "common/log.hpp"
#include "resp/writer.hpp"

namespace readthru::backend::redis {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::size_t kChannels = std::size(kMasterEventChannels);

}  // namespace

SentinelWatch::SentinelWatch(asio::io_context& io, Options options, SwitchCallback on_switch,
                             std::function<void()> on_subscribed)
    : io_(io),
      options_(std::move(options)),
      on_switch_(std::move(on_switch)),
      on_subscribed_(std::move(on_subscribed)),
      resolver_(io),
      timer_(io) {}

SentinelWatch::~SentinelWatch() { stop(); }

void SentinelWatch::start() {
  if (!stopped_ || options_.sentinels.empty()) return;
  stopped_ = false;
  alive_ = std::make_shared<char>(0);
  connect();
}

void SentinelWatch::stop() {
  stopped_ = true;
  subscribed_ = false;
  alive_.reset();
  ++generation_;
  if (stream_) stream_->close();
  resolver_.cancel();
  timer_.cancel();
}

// ---------------------------------------------------------------------------------------
// Connecting and subscribing

void SentinelWatch::connect() {
  const config::Endpoint& sentinel = options_.sentinels[next_ % options_.sentinels.size()];
  const std::uint64_t gen = ++generation_;
  std::weak_ptr<char> alive = alive_;
  timer_.expires_after(options_.connect_timeout);
  timer_.async_wait([this, alive, gen](boost::system::error_code ec) {
    if (ec || alive.expired() || gen != generation_) return;
    fail("connect timed out");
  });
  stream_ = options_.tls ? std::make_shared<tls::Stream>(tcp::socket(io_), options_.tls->context)
                         : std::make_shared<tls::Stream>(tcp::socket(io_));
  resolver_.async_resolve(
      sentinel.host, std::to_string(sentinel.port),
      [this, alive, gen](boost::system::error_code ec, tcp::resolver::results_type results) {
        if (alive.expired() || gen != generation_) return;
        if (ec) {
          fail(ec.message());
          return;
        }
        asio::async_connect(stream_->socket(), results,
                            [this, alive, gen, stream = stream_](boost::system::error_code ec,
                                                                 const tcp::endpoint&) {
                              if (alive.expired() || gen != generation_) return;
                              if (ec) {
                                fail(ec.message());
                                return;
                              }
                              handshake(gen);
                            });
      });
}

// TLS only, still under the connect deadline.
void SentinelWatch::handshake(std::uint64_t gen) {
  tls::Stream::TlsSocket* tls = stream_->tls();
  if (tls == nullptr) {
    onConnected();
    return;
  }
  const config::Endpoint& sentinel = options_.sentinels[next_ % options_.sentinels.size()];
  if (auto ec = tls::prepareClient(*tls, *options_.tls, sentinel.host)) {
    fail("TLS set-up: " + ec.message());
    return;
  }
  tls->async_handshake(asio::ssl::stream_base::client,
                       [this, alive = std::weak_ptr<char>(alive_), gen,
                        stream = stream_](boost::system::error_code ec) {
                         if (alive.expired() || gen != generation_) return;
                         if (ec) {
                           fail("TLS handshake: " + ec.message());
                           return;
                         }
                         onConnected();
                       });
}

void SentinelWatch::onConnected() {
  timer_.cancel();
  boost::system::error_code ignored;
  stream_->socket().set_option(tcp::no_delay(true), ignored);
  reader_ = std::make_unique<ReplyReader>();
  heard_ = Clock::now();
  std::vector<std::string> subscribe{"SUBSCRIBE"};
  for (const auto& c : kMasterEventChannels) subscribe.emplace_back(c.channel);
  confirmed_ = 0;
  auth_pending_ = !options_.password.empty();
  if (auth_pending_) {
    std::vector<std::string> auth{"AUTH"};
    if (!options_.username.empty()) auth.push_back(options_.username);
    auth.push_back(options_.password);
    resp::appendCommand(out_, auth);
  }
  write(subscribe);
  readMore();
  heartbeat();
}

// ---------------------------------------------------------------------------------------
// Reading

void SentinelWatch::readMore() {
  stream_->asyncReadSome(
      asio::buffer(read_buf_), [this, alive = std::weak_ptr<char>(alive_), gen = generation_,
                                stream = stream_](boost::system::error_code ec, std::size_t n) {
        if (alive.expired() || gen != generation_) return;
        if (ec) {
          fail(tls::isEndOfStream(ec) ? "connection closed by the sentinel" : ec.message());
          return;
        }
        heard_ = Clock::now();
        reader_->feed(std::string_view(read_buf_, n));
        while (true) {
          auto reply = reader_->next();
          if (!reply.ok()) {
            fail(reply.error().message);
            return;
          }
          if (!reply->has_value()) break;
          onMessage(**reply);
          if (alive.expired() || gen != generation_) return;  // a callback stopped us
        }
        readMore();
      });
}

void SentinelWatch::onMessage(const resp::Value& v) {
  if (auth_pending_) {
    auth_pending_ = false;
    // Redis's refusal (WRONGPASS...) names no password; ours is never in it.
    if (v.isError()) fail("AUTH refused: " + v.str);
    return;
  }
  if (v.isError()) {
    fail("SUBSCRIBE refused: " + v.str);
    return;
  }
  const PushMessage m = classifyPush(v);
  const auto& sentinel = options_.sentinels[next_ % options_.sentinels.size()];
  switch (m.kind) {
    case PushMessage::Kind::kSubscribed:
      // One confirmation per channel: the subscription stands once all of them came.
      if (++confirmed_ != kChannels) return;
      subscribed_ = true;
      backoff_.reset();
      if (reported_down_) {
        spdlog::info("sentinel: subscribed on {} again", sentinel.str());
        reported_down_ = false;
      }
      if (on_subscribed_) on_subscribed_();
      return;
    case PushMessage::Kind::kMessage: {
      const auto event = parseMasterEvent(m.channel, m.payload);
      if (!event) {
        spdlog::warn("sentinel {}: unreadable {} message '{}'", sentinel.str(), m.channel,
                     m.payload);
        return;
      }
      if (event->name == options_.master && on_switch_) on_switch_(event->to, m.channel);
      return;
    }
    case PushMessage::Kind::kPong:
    case PushMessage::Kind::kOther:
      return;
  }
}

// ---------------------------------------------------------------------------------------
// Writing and liveness

void SentinelWatch::write(const std::vector<std::string>& args) {
  resp::appendCommand(out_, args);
  flush();
}

void SentinelWatch::flush() {
  if (writing_now_ || out_.empty()) return;
  writing_.swap(out_);
  out_.clear();
  writing_now_ = true;
  stream_->asyncWrite(asio::buffer(writing_),
                      [this, alive = std::weak_ptr<char>(alive_), gen = generation_,
                       stream = stream_](boost::system::error_code ec, std::size_t) {
                        if (alive.expired() || gen != generation_) return;
                        writing_now_ = false;
                        writing_.clear();
                        if (ec) {
                          fail(ec.message());
                          return;
                        }
                        flush();
                      });
}

// A sentinel that hangs (stopped, or its host gone without a reset) keeps the socket
// open and says nothing: without a PING it would look like a quiet channel for ever.
void SentinelWatch::heartbeat() {
  if (Clock::now() - heard_ > kSilence) {
    fail("no answer for " + std::to_string(kSilence.count()) + "ms");
    return;
  }
  write({"PING"});
  timer_.expires_after(kHeartbeat);
  timer_.async_wait(
      [this, alive = std::weak_ptr<char>(alive_), gen = generation_](boost::system::error_code ec) {
        if (ec || alive.expired() || gen != generation_) return;
        heartbeat();
      });
}

// ---------------------------------------------------------------------------------------
// Failure: the next sentinel, after a back-off

void SentinelWatch::fail(const std::string& reason) {
  if (stopped_) return;
  const config::Endpoint sentinel = options_.sentinels[next_ % options_.sentinels.size()];
  ++generation_;
  stream_->close();
  out_.clear();
  writing_.clear();
  writing_now_ = false;
  subscribed_ = false;
  if (!reported_down_) {
    spdlog::warn("sentinel: no subscription on {}: {}; trying the next sentinel", sentinel.str(),
                 reason);
    reported_down_ = true;
  }
  ++next_;
  const std::uint64_t gen = generation_;
  timer_.expires_after(backoff_.next());
  timer_.async_wait([this, alive = std::weak_ptr<char>(alive_), gen](boost::system::error_code ec) {
    if (ec || alive.expired() || gen != generation_) return;
    connect();
  });
}

}  // namespace readthru::backend::redis
