// backend/postgres Pool when the database misbehaves: unreachable, a session killed by the
// server, a server that stops answering, and the pool stopped or destroyed while busy.

#include <string>
#include <vector>

#include "pool_harness.hpp"

namespace readthru::backend::postgres::testing {
namespace {

bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(PostgresPoolFailure, UnreachableDatabaseFailsFast) {
  Harness h({"SELECT 1"}, {.dsn = "host=127.0.0.1 port=1 dbname=app user=app"});
  // Issued before the first connect attempt has failed: waits for it, then fails with it.
  auto first = h.run(0, {}, 3s);
  ASSERT_TRUE(first.has_value());
  ASSERT_FALSE(first->ok());
  EXPECT_TRUE(startsWith(first->error().message, "database unreachable: "))
      << first->error().message;
  EXPECT_NE(first->error().message.find("port 1"), std::string::npos) << first->error().message;

  // Now the pool knows: the next query is refused without waiting for any connect.
  const auto start = std::chrono::steady_clock::now();
  auto second = h.run(0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  ASSERT_TRUE(second.has_value());
  ASSERT_FALSE(second->ok());
  EXPECT_TRUE(startsWith(second->error().message, "database unreachable: "));
  EXPECT_FALSE(h.pool->anyConnected());
  EXPECT_GE(h.counter("pg_unreachable"), 1u);
  EXPECT_EQ(h.counter("pg_connections_up"), 0u);
}

TEST(PostgresPoolFailure, ReconnectsAfterTheSessionIsKilled) {
  Harness h({"SELECT pg_backend_pid()", "SELECT pg_sleep(5)"}, {.connections = 1});
  ASSERT_TRUE(h.waitConnected());
  const std::string pid = h.scalar(0);
  ASSERT_FALSE(pid.empty());

  std::optional<Result<cache::RowSet>> running;
  h.pool->query(1, {}, [&](Result<cache::RowSet> r) { running = std::move(r); });
  // In flight: the server runs it (our session sleeps in pg_sleep).
  Pg pg;
  const std::string wait_event = "SELECT wait_event FROM pg_stat_activity WHERE pid = " + pid;
  ASSERT_TRUE(h.runUntil([&] { return pg.scalar(wait_event) == "PgSleep"; }, 3s))
      << "the query never reached the server";

  // Only our own session: other processes may hold readthru sessions on the same stack.
  EXPECT_EQ(pg.scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                      " WHERE application_name = 'readthru' AND pid = " +
                      pid),
            "1");

  // The query in flight fails (not after its 5s), and the pool comes back by itself.
  ASSERT_TRUE(h.runUntil([&] { return running.has_value(); }, 3s));
  ASSERT_FALSE(running->ok());
  EXPECT_NE(running->error().message.find("terminat"), std::string::npos)
      << running->error().message;
  // A session the server ended is the database failing, not its answer (SQLSTATE 57P01).
  EXPECT_EQ(faultOf(running->error().code), Fault::kDatabaseDown) << running->error().message;
  EXPECT_TRUE(startsWith(running->error().message, "database unreachable: "))
      << running->error().message;
  std::string new_pid;
  ASSERT_TRUE(h.runUntil(
      [&] {
        if (!h.pool->anyConnected()) return false;
        new_pid = h.scalar(0);
        return !startsWith(new_pid, "error: ");
      },
      10s));
  EXPECT_NE(new_pid, pid);
  EXPECT_EQ(h.counter("pg_reconnects"), 1u);
}

TEST(PostgresPoolFailure, HungServerTimesOutThenRecovers) {
  Harness h({"SELECT 1"},
            {.via_proxy = true, .statement_timeout = Millis{300}, .connect_timeout = Millis{1000}});
  ASSERT_TRUE(h.waitConnected());
  EXPECT_EQ(h.scalar(0), "1");

  h.proxy->setMode(TcpProxy::Mode::kBlackhole);
  const auto start = std::chrono::steady_clock::now();
  auto hung = h.run(0, {}, 5s);
  ASSERT_TRUE(hung.has_value());
  ASSERT_FALSE(hung->ok());
  EXPECT_EQ(hung->error().message, "statement timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);  // 300ms + 500ms slack + sweep

  // The stuck session is dropped; its replacement cannot connect through the blackholed
  // proxy (connect_timeout), and from then on queries are refused at once.
  std::string refused;
  ASSERT_TRUE(h.runUntil(
      [&] {
        auto r = h.run(0, {}, 2s);
        refused = !r ? "no answer" : r->ok() ? "ok" : r->error().message;
        return startsWith(refused, "database unreachable: ");
      },
      5s))
      << refused;
  EXPECT_FALSE(h.pool->anyConnected());

  // Back to forwarding: the proxy drops the connections whose bytes it swallowed, and the
  // pool connects anew.
  h.proxy->setMode(TcpProxy::Mode::kForward);
  ASSERT_TRUE(h.waitConnected());
  EXPECT_EQ(h.scalar(0), "1");
  EXPECT_GE(h.counter("pg_reconnects"), 1u);
  EXPECT_GE(h.counter("pg_timeouts"), 1u);
}

// A database that accepts sessions but does not answer: after `consecutive_failures`
// statement timeouts the breaker opens and loads fail at once instead of each waiting
// its timeout; once the database answers again, one probe closes it.
TEST(PostgresPoolFailure, BreakerOpensOnTimeoutsAndAProbeClosesIt) {
  config::DatabaseBreakerConfig bc;
  bc.consecutive_failures = 2;
  bc.open_time = Millis{200};
  bc.max_open_time = Millis{400};
  auto breaker = std::make_shared<DatabaseBreaker>(bc);
  Harness h({"SELECT pg_sleep($1::float8)"},
            {.statement_timeout = Millis{200}, .breaker = breaker});
  ASSERT_TRUE(h.waitConnected());

  // Two server-side statement timeouts in a row: open.
  for (int i = 0; i < 2; ++i) {
    auto r = h.run(0, {"2"}, 5s);
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(faultOf(r->error().code), Fault::kStatementTimeout) << r->error().message;
  }
  EXPECT_EQ(breaker->breaker().state(), Breaker::State::kOpen);
  EXPECT_EQ(h.counter("pg_breaker_opened", *breaker), 1u);

  // Open: refused without reaching the database.
  auto refused = h.run(0, {"0"}, 5s);
  ASSERT_TRUE(refused.has_value());
  ASSERT_FALSE(refused->ok());
  EXPECT_EQ(refused->error().message, "database unreachable: circuit breaker open");
  EXPECT_EQ(faultOf(refused->error().code), Fault::kDatabaseDown);
  EXPECT_GE(h.counter("pg_breaker_rejected", *breaker), 1u);

  // After the open time a fast statement is the probe, and it closes the breaker.
  std::string last;
  ASSERT_TRUE(h.runUntil(
      [&] {
        auto r = h.run(0, {"0"}, 2s);
        last = !r ? "no answer" : r->ok() ? "ok" : r->error().message;
        return last == "ok";
      },
      5s))
      << last;
  EXPECT_EQ(breaker->breaker().state(), Breaker::State::kClosed);
  EXPECT_EQ(h.counter("pg_breaker_open", *breaker), 0u);
}

// The database's own error replies are answers: they never open the breaker.
TEST(PostgresPoolFailure, ErrorRepliesDoNotOpenTheBreaker) {
  config::DatabaseBreakerConfig bc;
  bc.consecutive_failures = 2;
  auto breaker = std::make_shared<DatabaseBreaker>(bc);
  Harness h({"SELECT 1 / $1::int"}, {.breaker = breaker});
  ASSERT_TRUE(h.waitConnected());
  for (int i = 0; i < 5; ++i) {
    auto r = h.run(0, {"0"}, 5s);  // division by zero
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->ok());
  }
  EXPECT_EQ(breaker->breaker().state(), Breaker::State::kClosed);
  EXPECT_EQ(h.scalar(0, {"1"}), "1");
}

TEST(PostgresPoolFailure, StopAnswersEverythingWaiting) {
  Harness h({"SELECT pg_sleep(0.5)"}, {.connections = 1, .max_inflight = 1});
  ASSERT_TRUE(h.waitConnected());
  std::vector<std::optional<Result<cache::RowSet>>> got(2);
  for (auto& slot : got)
    h.pool->query(0, {}, [&slot](Result<cache::RowSet> r) { slot = std::move(r); });
  // One in flight on the server (the other waits behind it, max_inflight 1), then stop.
  Pg pg;
  ASSERT_TRUE(h.runUntil([&] { return pg.sleepingIn("SELECT pg_sleep(0.5)"); }, 3s))
      << "the query never reached the server";
  h.pool->stop();
  for (const auto& slot : got) {
    ASSERT_TRUE(slot.has_value());
    ASSERT_FALSE(slot->ok());
    EXPECT_EQ(slot->error().message, "database unreachable: loader stopped");
  }
  auto after = h.run(0);
  ASSERT_TRUE(after && !after->ok());
  EXPECT_EQ(after->error().message, "database unreachable: loader stopped");
  EXPECT_FALSE(h.pool->anyConnected());
}

TEST(PostgresPoolFailure, DestroyedWhileBusy) {
  // Destroyed by a callback, with queries still in flight and I/O pending: no callback
  // runs afterwards and nothing touches the freed pool (the sanitizer build checks).
  Harness h({"SELECT pg_sleep(0.05)"}, {.connections = 2});
  ASSERT_TRUE(h.waitConnected());
  int answered = 0;
  for (int i = 0; i < 50; ++i) {
    h.pool->query(0, {}, [&](Result<cache::RowSet>) {
      ++answered;
      h.pool.reset();
    });
  }
  ASSERT_TRUE(h.runUntil([&] { return answered > 0; }));
  h.runUntil([] { return false; }, 300ms);
  EXPECT_EQ(answered, 1);

  // And destroyed from outside, mid-connect and mid-query.
  Harness h2({"SELECT pg_sleep(0.05)"}, {.connections = 2});
  h2.pool->query(0, {}, [](Result<cache::RowSet>) { ADD_FAILURE() << "called after destruction"; });
  h2.runUntil([] { return false; }, 3ms);
  h2.pool.reset();
  h2.runUntil([] { return false; }, 200ms);
}

}  // namespace
}  // namespace readthru::backend::postgres::testing
