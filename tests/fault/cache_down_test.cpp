// Reads of managed keys while Redis cannot answer: the keyspace's `on_cache_down` decides
// between answering from PostgreSQL (load, the default) and reporting the outage (error).
// Redis is a redis-server of the test's own, killed and restarted; the database is the
// stack's, only read.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"
#include "tcp_proxy.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "cd" + std::to_string(::getpid());

std::string rule(const std::string& name, const std::string& extra) {
  return keyspaceRule(name, kTag + ":" + name + ":<id>", "SELECT 'row-' || $1 AS v",
                      "    params: [id]\n    format: value\n    ttl: 30s\n" + extra);
}

std::string key(const std::string& name, int id) {
  return kTag + ":" + name + ":" + std::to_string(id);
}

TEST(CacheDown, ManagedReadsFailOpenToTheDatabaseOrReportPerKeyspace) {
  RedisServer redis;
  const std::string backend =
      "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(redis.port()) +
      "\"]\n  command_timeout: 300ms\n  connect_timeout: 300ms\n";
  const std::string sections =
      "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app\"\nkeyspaces:\n" +
      rule("open", "") + rule("closed", "    on_cache_down: error\n");
  ReadthruProcess rt(backend, "  threads: 1\n", sections);
  Client c(rt.port());
  ASSERT_EQ(show(c.call({"GET", key("open", 1)})), "row-1");  // an ordinary miss, stored
  Client direct(redis.port());
  ASSERT_EQ(show(direct.call({"GET", key("open", 1)})), "row-1");

  redis.kill();
  // Redis is gone: the default keyspace answers from the database, cached or not...
  EXPECT_EQ(show(c.call({"GET", key("open", 1)})), "row-1");
  EXPECT_EQ(show(c.call({"GET", key("open", 2)})), "row-2");
  // ...the other reports the outage, and so does a plain key.
  const std::string refused = show(c.call({"GET", key("closed", 1)}));
  EXPECT_EQ(refused.rfind("(error) ERR readthru: backend 127.0.0.1:", 0), 0u) << refused;
  const std::string plain = show(c.call({"GET", kTag + ":plain"}));
  EXPECT_EQ(plain.rfind("(error) ERR readthru: backend 127.0.0.1:", 0), 0u) << plain;
  // An MGET of managed keys alone fails open too; one with a plain key (or a keyspace that
  // reports) gets the outage, since that key has no other source.
  EXPECT_EQ(show(c.call({"MGET", key("open", 1), key("open", 5)})), "[row-1, row-5]");
  const std::string mixed = show(c.call({"MGET", key("open", 1), kTag + ":plain"}));
  EXPECT_EQ(mixed.rfind("(error) ERR readthru: backend 127.0.0.1:", 0), 0u) << mixed;
  const std::string reported = show(c.call({"MGET", key("open", 1), key("closed", 1)}));
  EXPECT_EQ(reported.rfind("(error) ERR readthru: backend 127.0.0.1:", 0), 0u) << reported;
  EXPECT_GE(infoField(c, "readthru", "readthru_cache_down_loads").value_or(0), 3);
  EXPECT_GE(infoField(c, "readthru", "readthru_cache_down_errors").value_or(0), 1);

  redis.start();
  // Back to normal once the node answers again: misses are stored as before.
  EXPECT_TRUE(eventually([&] { return show(c.call({"GET", key("closed", 3)})) == "row-3"; }, 20s));
  Client again(redis.port());
  EXPECT_TRUE(eventually([&] { return show(again.call({"GET", key("closed", 3)})) == "row-3"; }));
}

TEST(CacheDown, ARefusalByRedisIsNotAnOutage) {
  RedisServer redis;
  const std::string backend =
      "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(redis.port()) + "\"]\n";
  const std::string sections =
      "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app\"\nkeyspaces:\n" +
      rule("open", "");
  ReadthruProcess rt(backend, "  threads: 1\n", sections);
  Client c(rt.port());
  // A list where the keyspace expects a string: Redis's WRONGTYPE reaches the client, and
  // the database is not asked.
  Client direct(redis.port());
  ASSERT_EQ(show(direct.call({"RPUSH", key("open", 7), "x"})), "(integer) 1");
  const std::string wrong = show(c.call({"GET", key("open", 7)}));
  EXPECT_EQ(wrong.rfind("(error) WRONGTYPE", 0), 0u) << wrong;
  EXPECT_EQ(infoField(c, "readthru", "readthru_loads").value_or(-1), 0);
  EXPECT_EQ(infoField(c, "readthru", "readthru_cache_down_loads").value_or(-1), 0);
}

TEST(CacheDown, TheGutterSparesTheDatabaseAndTheFallbackStandsIn) {
  RedisServer redis;
  TcpProxy pg(55432);
  const std::string backend =
      "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(redis.port()) +
      "\"]\n  command_timeout: 300ms\n  connect_timeout: 300ms\n";
  const std::string sections =
      "postgres:\n  dsn: \"host=127.0.0.1 port=" + std::to_string(pg.port()) +
      " dbname=app user=app\"\n  connect_timeout: 500ms\n"
      "gutter: { max_memory: 1mb, ttl: 60s }\nkeyspaces:\n" +
      rule("g", "") + rule("f", "    fallback_value: \"unknown\"\n");
  ReadthruProcess rt(backend, "  threads: 1\n", sections);
  Client c(rt.port());
  ASSERT_EQ(show(c.call({"PING"})), "PONG");

  redis.kill();
  const long long loads = infoField(c, "readthru", "readthru_loads").value_or(-1);
  // Twenty reads of one key while Redis is down: one load, nineteen answers from the gutter.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(show(c.call({"GET", key("g", 1)})), "row-1");
  EXPECT_EQ(infoField(c, "readthru", "readthru_loads").value_or(-1) - loads, 1);
  EXPECT_EQ(infoField(c, "readthru", "readthru_gutter_served").value_or(-1), 19);
  EXPECT_EQ(infoField(c, "readthru", "gutter_entries").value_or(-1), 1);

  // The database goes too: the gutter still answers what it holds, the keyspace with a
  // fallback_value serves it, the other reports the failed load.
  pg.setMode(TcpProxy::Mode::kClosed);
  EXPECT_EQ(show(c.call({"GET", key("g", 1)})), "row-1");
  EXPECT_EQ(show(c.call({"GET", key("f", 1)})), "unknown");
  const std::string failed = show(c.call({"GET", key("g", 2)}));
  EXPECT_EQ(failed.rfind("(error) ERR readthru: load failed for keyspace 'g'", 0), 0u) << failed;
  EXPECT_EQ(infoField(c, "readthru", "readthru_fallbacks_served").value_or(-1), 1);

  // An invalidation reaches the gutter: the next read loads again (and fails, no database).
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "KEY", key("g", 1)})).rfind("(error)", 0), 0u);
  EXPECT_EQ(infoField(c, "readthru", "gutter_entries").value_or(-1), 0);
  pg.setMode(TcpProxy::Mode::kForward);
}

}  // namespace
}  // namespace readthru::testing
