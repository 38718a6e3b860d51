// A Redis node that is slow, hangs, or dies, behind readthru in standalone mode. Each test
// runs its own redis-server, so stopping or killing it touches nothing shared.
//
// What must hold: a slow command fails alone (its neighbours on the same backend
// connection get their replies, the late reply is discarded in its place); a hung node
// costs a few timeouts, then its breaker opens and requests fail at once; when it comes
// back the breaker closes by itself; a queue that would grow without bound fails fast.

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "eventually.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string standalone(const RedisServer& redis, const std::string& extra) {
  return "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(redis.port()) + "\"]\n" +
         extra;
}

// One io thread and one connection per node: every client shares one backend connection.
constexpr const char* kOneConnection = "  threads: 1\n";

// A script that keeps Redis busy for `ms` milliseconds, then answers 1.
std::vector<std::string> busyFor(int ms) {
  return {"EVAL",
          "local t0 = redis.call('TIME') "
          "repeat local t = redis.call('TIME') "
          "until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) >= tonumber(ARGV[1]) * 1000 "
          "return 1",
          "0", std::to_string(ms)};
}

long long counter(Client& c, const std::string& name) {
  return infoField(c, "readthru", name).value_or(-1);
}

TEST(BackendNode, SlowCommandFailsAloneAndItsNeighboursAreAnswered) {
  RedisServer redis;
  ReadthruProcess rt(
      standalone(redis, "  command_timeout: 1s\n  node_timeout: 10s\n  connections_per_node: 1\n"),
      kOneConnection);
  Client slow(rt.port()), neighbour(rt.port()), admin(rt.port());
  ASSERT_EQ(show(neighbour.call({"SET", "k", "before"})), "OK");

  // Redis is busy for 1.6 s; the slow request's own deadline passes at 1 s, while the
  // neighbour's SET (sent at 0.8 s) waits behind it on the same connection and is
  // answered at 1.6 s, inside its own deadline (1.8 s). Before per-request deadlines,
  // the slow request's timeout dropped the connection and failed the neighbour with it.
  const auto start = Clock::now();
  slow.send(busyFor(1600));
  std::this_thread::sleep_for(800ms);  // places the neighbour inside the slow request's window
  neighbour.send({"SET", "k", "after"});
  ASSERT_LT(Clock::now() - start, 1000ms) << "the neighbour was sent after the slow request failed";

  const std::string failed = show(slow.read());
  EXPECT_EQ(failed.rfind("(error) ERR readthru: backend 127.0.0.1:" + std::to_string(redis.port()) +
                             " timed out",
                         0),
            0u)
      << failed;
  EXPECT_EQ(show(neighbour.read()), "OK");

  // The script's late "1" was matched to its place and dropped: the next replies on the
  // same connection are their own.
  EXPECT_EQ(show(slow.call({"GET", "k"})), "after");
  EXPECT_EQ(show(neighbour.call({"PING"})), "PONG");
  EXPECT_TRUE(eventually([&] { return counter(admin, "backend_late_replies_discarded") == 1; }));
  EXPECT_EQ(counter(admin, "backend_failed_timeout"), 1);
  EXPECT_EQ(counter(admin, "backend_failed_connection_lost"), 0);
  EXPECT_EQ(counter(admin, "backend_connections_stalled"), 0);
}

TEST(BackendNode, HungNodeOpensItsBreakerAndClosesItWhenBack) {
  RedisServer redis;
  ReadthruProcess rt(standalone(redis,
                                "  command_timeout: 300ms\n  node_timeout: 1s\n"
                                "  breaker: { consecutive_failures: 5, open_time: 200ms, "
                                "max_open_time: 1s }\n"),
                     kOneConnection);
  Client c(rt.port()), admin(rt.port());
  ASSERT_EQ(show(c.call({"SET", "k", "v"})), "OK");

  redis.pause();
  const auto paused = Clock::now();
  // Requests time out one by one until five in a row have; then the breaker answers.
  int timeouts = 0;
  std::string unexpected;
  const bool opened = eventually(
      [&] {
        const std::string r = show(c.call({"GET", "k"}));
        if (r.find("circuit breaker open") != std::string::npos) return true;
        if (r.find("timed out") != std::string::npos) {
          ++timeouts;
        } else if (r.find("connection lost") == std::string::npos) {
          unexpected = r;
        }
        return false;
      },
      20s, 0ms);
  ASSERT_TRUE(opened) << "breaker never opened; " << timeouts << " timeouts";
  const auto open_after = Clock::now() - paused;
  EXPECT_EQ(unexpected, "");
  EXPECT_GE(timeouts, 1);
  EXPECT_EQ(counter(admin, "backend_breaker_opened") >= 1, true);
  EXPECT_EQ(counter(admin, "backend_breakers_open"), 1);
  // While open, requests are refused without waiting (and counted as such).
  for (int i = 0; i < 20; ++i) {
    const std::string r = show(c.call({"GET", "k"}));
    if (r.find("circuit breaker open") == std::string::npos) break;
  }
  EXPECT_GE(counter(admin, "backend_breaker_rejected"), 1);

  redis.resume();
  const auto resumed = Clock::now();
  // The probe (PING) closes the breaker by itself; the value is still there.
  EXPECT_TRUE(eventually([&] { return show(c.call({"GET", "k"})) == "v"; }, 20s, 10ms));
  const auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  // The figures docs/operations.md quotes.
  std::cout << "hung node: " << timeouts << " timeouts, breaker open after " << ms(open_after)
            << " ms; served again " << ms(Clock::now() - resumed) << " ms after it resumed\n";
  EXPECT_EQ(counter(admin, "backend_breakers_open"), 0);
}

std::size_t countOf(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto i = text.find(what); i != std::string::npos; i = text.find(what, i + 1)) ++n;
  return n;
}

TEST(BackendNode, KilledNodeFailsFastAndIsUsedAgainAfterRestart) {
  RedisServer redis;
  ReadthruProcess rt(standalone(redis,
                                "  command_timeout: 500ms\n  connect_timeout: 300ms\n"
                                "  breaker: { open_time: 200ms, max_open_time: 1s }\n"),
                     kOneConnection);
  Client c(rt.port()), admin(rt.port());
  ASSERT_EQ(show(c.call({"SET", "k", "v"})), "OK");
  redis.kill();
  for (int i = 0; i < 10; ++i) {
    const std::string r = show(c.call({"GET", "k"}));
    EXPECT_EQ(r.rfind("(error) ERR readthru: backend 127.0.0.1:", 0), 0u) << r;
  }
  EXPECT_GE(counter(admin, "backend_failed_unreachable") +
                counter(admin, "backend_failed_connection_lost") +
                counter(admin, "backend_failed_breaker_open"),
            10);
  redis.start();
  // Nothing persisted: the key is gone, but the node serves again.
  EXPECT_TRUE(eventually([&] { return show(c.call({"SET", "k", "w"})) == "OK"; }, 20s));
  EXPECT_EQ(show(c.call({"GET", "k"})), "w");
  // The log tells the outage once, not once per failed connect, and its end with a figure.
  const std::string log = rt.log();
  const std::string node = "redis node 127.0.0.1:" + std::to_string(redis.port());
  EXPECT_EQ(countOf(log, node + " unreachable:"), 1u) << log;
  EXPECT_EQ(countOf(log, node + " reachable again after "), 1u) << log;
}

TEST(BackendNode, QueueCapFailsFastInsteadOfGrowing) {
  RedisServer redis;
  ReadthruProcess rt(standalone(redis,
                                "  command_timeout: 2s\n  node_timeout: 5s\n"
                                "  max_queued_requests: 10\n  connections_per_node: 1\n"),
                     kOneConnection);
  Client c(rt.port()), admin(rt.port());
  ASSERT_EQ(show(c.call({"SET", "k", "v"})), "OK");
  redis.pause();
  std::string pipeline;
  for (int i = 0; i < 50; ++i) pipeline += "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  c.sendRaw(pipeline);
  // Ten wait on the hung node; the other forty are refused at once.
  EXPECT_TRUE(eventually([&] { return counter(admin, "backend_failed_queue_full") == 40; }));
  redis.resume();
  // Replies still leave in request order: the ten values first, then the refusals.
  for (int i = 0; i < 50; ++i) {
    const std::string r = show(c.read());
    if (i < 10) {
      EXPECT_EQ(r, "v") << "reply " << i;
    } else {
      EXPECT_NE(r.find("has too many requests queued"), std::string::npos) << "reply " << i << r;
    }
  }
  EXPECT_EQ(counter(admin, "backend_failed_queue_full"), 40);
}

}  // namespace
}  // namespace readthru::testing
