// The stale ladder against the real stack: stale_while_revalidate, stale_if_error (the
// database cut off by a proxy) and refresh_ahead, for GET, MGET and HGETALL, and the
// cases where a stale copy must not be served (a deleted row, an invalidation). Each
// value a client reads is checked against what the table held at some moment.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "tcp_proxy.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "stl" + std::to_string(::getpid());
const std::string kTable = kTag + "_items";

std::string postgres(std::uint16_t port) {
  return "postgres:\n  dsn: \"host=127.0.0.1 port=" + std::to_string(port) +
         " dbname=app user=app\"\n  connect_timeout: 500ms\n  statement_timeout: 1s\n"
         "keyspaces:\n";
}

std::string rule(const std::string& name, const std::string& select, const std::string& extra) {
  return keyspaceRule(name, kTag + ":" + name + ":<id>",
                      select + " FROM " + kTable + " WHERE id = $1::int",
                      "    params: [id]\n" + extra);
}

std::string key(const std::string& name, int id) {
  return kTag + ":" + name + ":" + std::to_string(id);
}

std::string json(int id, const std::string& name) {
  return "{\"id\":" + std::to_string(id) + ",\"name\":\"" + name + "\"}";
}

long long counter(Client& c, const std::string& name) {
  return infoField(c, "readthru", name).value_or(-1);
}

class StaleLadder : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_.exec("DROP TABLE IF EXISTS " + kTable);
    pg_.exec("CREATE TABLE " + kTable + " (id int PRIMARY KEY, name text)");
    pg_.exec("INSERT INTO " + kTable + " VALUES (1, 'a'), (2, 'a'), (3, 'a')");
  }
  void TearDown() override { pg_.exec("DROP TABLE IF EXISTS " + kTable); }
  void rename(int id, const std::string& name) {
    pg_.exec("UPDATE " + kTable + " SET name = '" + name + "' WHERE id = " + std::to_string(id));
  }

  Pg pg_;
};

// Past its TTL the old value is served at once while one reload runs; then the new one.
TEST_F(StaleLadder, StaleWhileRevalidateServesTheOldValueThenTheNew) {
  ReadthruProcess proc(
      clusterBackend(), "",
      postgres(kPgPort) +
          rule("swr", "SELECT id, name", "    ttl: 300ms\n    stale_while_revalidate: 30s\n") +
          rule("swrh", "SELECT name",
               "    format: hash\n    ttl: 300ms\n    stale_while_revalidate: 30s\n"));
  Client c(proc.port());
  ASSERT_EQ(show(c.call({"GET", key("swr", 1)})), json(1, "a"));
  ASSERT_EQ(show(c.call({"HGET", key("swrh", 1), "name"})), "a");
  rename(1, "b");
  bool saw_new = false;
  ASSERT_TRUE(eventually([&] {
    const std::string v = show(c.call({"GET", key("swr", 1)}));
    EXPECT_TRUE(v == json(1, "a") || v == json(1, "b")) << v;  // never nil, never an error
    saw_new = v == json(1, "b");
    return saw_new;
  }));
  ASSERT_TRUE(eventually([&] {
    const std::string v = show(c.call({"HGETALL", key("swrh", 1)}));
    EXPECT_TRUE(v == "[name, a]" || v == "[name, b]") << v;
    return v == "[name, b]";
  }));
  EXPECT_GE(counter(c, "readthru_stale_served"), 2);  // the GET's and the HGETALL's
  EXPECT_GE(counter(c, "readthru_background_refreshes"), 2);
  EXPECT_EQ(counter(c, "readthru_misses"), 2);  // the first reads only: no reader waited
  // The value outlives its TTL in Redis by the window, for the next stale read.
  const std::string pttl = show(c.call({"PTTL", key("swr", 1)}));
  EXPECT_GT(std::stoll(pttl.substr(pttl.find(' ') + 1)), 300) << pttl;
  c.call({"DEL", key("swr", 1), key("swrh", 1)});
}

// MGET climbs the same ladder per key, and its reply holds only the keys asked for.
TEST_F(StaleLadder, MgetServesStaleKeysAndRefreshesThem) {
  ReadthruProcess proc(
      clusterBackend(), "",
      postgres(kPgPort) +
          rule("m", "SELECT id, name", "    ttl: 300ms\n    stale_while_revalidate: 30s\n"));
  Client c(proc.port());
  c.call({"SET", kTag + ":plain", "p"});
  const std::string first =
      show(c.call({"MGET", key("m", 1), kTag + ":plain", key("m", 2), key("m", 3)}));
  ASSERT_EQ(first, "[" + json(1, "a") + ", p, " + json(2, "a") + ", " + json(3, "a") + "]");
  rename(2, "b");
  const std::string fresh = "[" + json(1, "a") + ", p, " + json(2, "b") + ", " + json(3, "a") + "]";
  ASSERT_TRUE(eventually([&] {
    const std::string v =
        show(c.call({"MGET", key("m", 1), kTag + ":plain", key("m", 2), key("m", 3)}));
    EXPECT_TRUE(v == first || v == fresh) << v;
    return v == fresh;
  }));
  EXPECT_GE(counter(c, "readthru_stale_served"), 1);
  c.call({"DEL", key("m", 1), key("m", 2), key("m", 3), kTag + ":plain"});
}

// With the database cut off, a stale value is served instead of the load's error; a key
// never loaded still fails; when the database is back, the reload replaces it.
TEST_F(StaleLadder, StaleIfErrorServesTheLastValueWhileTheDatabaseIsDown) {
  TcpProxy proxy(kPgPort);
  ReadthruProcess proc(clusterBackend(), "",
                       postgres(proxy.port()) + rule("sie", "SELECT id, name",
                                                     "    ttl: 300ms\n    stale_if_error: 1m\n"));
  Client c(proc.port());
  ASSERT_EQ(show(c.call({"GET", key("sie", 1)})), json(1, "a"));
  proxy.setMode(TcpProxy::Mode::kClosed);
  rename(1, "c");
  ASSERT_TRUE(eventually([&] {
    EXPECT_EQ(show(c.call({"GET", key("sie", 1)})), json(1, "a"));
    return counter(c, "readthru_stale_if_error_served") >= 1;
  }));
  const std::string cold = show(c.call({"GET", key("sie", 2)}));
  EXPECT_EQ(cold.rfind("(error) ERR readthru: load failed for keyspace 'sie': ", 0), 0u) << cold;

  proxy.setMode(TcpProxy::Mode::kForward);
  EXPECT_TRUE(eventually([&] {
    const std::string v = show(c.call({"GET", key("sie", 1)}));
    EXPECT_TRUE(v == json(1, "a") || v == json(1, "c")) << v;
    return v == json(1, "c");
  }));
  c.call({"DEL", key("sie", 1), key("sie", 2)});
}

// A slow load (δ ≈ 200 ms) with β 10 refreshes long before the 1 s TTL: the value is
// replaced while readers keep hitting, and no reader ever waits for a load again.
TEST_F(StaleLadder, RefreshAheadReplacesTheValueBeforeItExpires) {
  ReadthruProcess proc(
      clusterBackend(), "",
      postgres(kPgPort) + rule("ra", "SELECT id, name, pg_sleep(0.2)::text AS slept",
                               "    ttl: 1s\n    refresh_ahead: true\n    refresh_beta: 10\n"));
  Client c(proc.port());
  auto value = [](const std::string& name) {
    return "{\"id\":1,\"name\":\"" + name + "\",\"slept\":\"\"}";
  };
  ASSERT_EQ(show(c.call({"GET", key("ra", 1)})), value("a"));
  rename(1, "d");
  ASSERT_TRUE(eventually([&] {
    const std::string v = show(c.call({"GET", key("ra", 1)}));
    EXPECT_TRUE(v == value("a") || v == value("d")) << v;
    return v == value("d");
  }));
  EXPECT_GE(counter(c, "readthru_refreshed_ahead"), 1);
  EXPECT_EQ(counter(c, "readthru_misses"), 1);
  c.call({"DEL", key("ra", 1)});
}

// A deleted row: the background reload finds no row and removes the stale copy (without
// CDC, the window may serve it until then); an invalidation removes it at once.
TEST_F(StaleLadder, ADeletedRowIsNotKeptStale) {
  ReadthruProcess proc(
      clusterBackend(), "",
      postgres(kPgPort) +
          rule("del", "SELECT id, name", "    ttl: 300ms\n    stale_while_revalidate: 30s\n"));
  Client c(proc.port());
  ASSERT_EQ(show(c.call({"GET", key("del", 1)})), json(1, "a"));
  ASSERT_EQ(show(c.call({"GET", key("del", 2)})), json(2, "a"));
  pg_.exec("DELETE FROM " + kTable + " WHERE id IN (1, 2)");
  ASSERT_TRUE(eventually([&] {
    const std::string v = show(c.call({"GET", key("del", 1)}));
    EXPECT_TRUE(v == json(1, "a") || v == "(nil)") << v;
    return v == "(nil)";
  }));
  EXPECT_EQ(show(c.call({"EXISTS", key("del", 1)})), "(integer) 0");
  // Within its TTL: an invalidation, and the next read finds no row.
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "KEY", key("del", 2)})), "(integer) 1");
  EXPECT_EQ(show(c.call({"GET", key("del", 2)})), "(nil)");
}

}  // namespace
}  // namespace readthru::testing
