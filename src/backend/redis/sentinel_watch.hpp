#pragma once
// A subscription to Sentinel's +promoted-slave and +switch-master channels
// (sentinel_messages.hpp): the moment a sentinel names a new master for ours, on_switch
// hears its address, instead of waiting for the next poll.
//
// One connection to one sentinel at a time. When it cannot connect, the subscription is
// refused, the connection breaks or the sentinel falls silent (a PING every second is
// answered even while subscribed; nothing heard for kSilence means it hangs), the watch
// moves on to the next sentinel after a back-off (100 ms doubling to 2 s, jittered).
// Switches announced while no subscription stood are missed: on_subscribed runs each
// time one stands again, so the owner can poll once to catch up.
//
// Ownership: belongs to one io thread (its Router's) and is held by unique_ptr; handlers
// hold a weak_ptr to `alive_`, so none runs after the destructor or stop().

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/redis/reply_reader.hpp"
#include "common/backoff.hpp"
#include "common/units.hpp"
#include "config/config.hpp"
#include "tls/context.hpp"

namespace readthru::backend::redis {

class SentinelWatch {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::vector<config::Endpoint> sentinels;  // tried in turn
    std::string master;                       // only its switches are reported
    Millis connect_timeout{2000};
    // backend.sentinel.username/password: sent with AUTH before SUBSCRIBE when set.
    std::string username;
    std::string password;  // secret
    // backend.tls: the sentinels are spoken to over TLS too, the handshake within
    // connect_timeout. Null: plain TCP.
    std::shared_ptr<const tls::ClientTls> tls;
  };
  // `to` is the new master; `channel` the event that named it.
  using SwitchCallback = std::function<void(const config::Endpoint& to, std::string_view channel)>;

  SentinelWatch(boost::asio::io_context& io, Options options, SwitchCallback on_switch,
                std::function<void()> on_subscribed);
  ~SentinelWatch();
  SentinelWatch(const SentinelWatch&) = delete;
  SentinelWatch& operator=(const SentinelWatch&) = delete;

  void start();
  void stop();

  // Whether a subscription stands now.
  bool subscribed() const { return subscribed_; }

 private:
  static constexpr Millis kHeartbeat{1000};
  static constexpr Millis kSilence{3000};

  void connect();
  void handshake(std::uint64_t gen);
  void onConnected();
  void readMore();
  void onMessage(const resp::Value& v);
  void heartbeat();
  void write(const std::vector<std::string>& args);
  void flush();
  void fail(const std::string& reason);

  boost::asio::io_context& io_;
  Options options_;
  SwitchCallback on_switch_;
  std::function<void()> on_subscribed_;
  std::shared_ptr<char> alive_;
  // A new one for each connection; handlers hold the one they run on (tls/stream.hpp).
  std::shared_ptr<tls::Stream> stream_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer timer_;  // connect deadline, heartbeat or back-off
  std::unique_ptr<ReplyReader> reader_;
  std::string out_;  // commands waiting for the write in flight
  std::string writing_;
  bool writing_now_ = false;
  bool stopped_ = true;
  bool subscribed_ = false;
  std::size_t confirmed_ = 0;     // SUBSCRIBE confirmations on this connection
  bool auth_pending_ = false;     // the first reply on this connection answers AUTH
  bool reported_down_ = false;    // the current outage has been logged
  std::size_t next_ = 0;          // the sentinel to try next
  std::uint64_t generation_ = 0;  // bumps on every (re)connect; stale handlers check it
  Backoff backoff_;
  Clock::time_point heard_{};  // last bytes from the sentinel
  char read_buf_[4096];
};

}  // namespace readthru::backend::redis
