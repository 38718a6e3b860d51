// A load slower than the keyspace's request_deadline: each reader is answered by its own
// deadline (an error, never a hang), the load goes on and stores its row for the next
// reader. Redis is a redis-server of the test's own; the database is the stack's, only read.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

TEST(SlowLoad, EveryReaderHasItsOwnDeadlineAndTheLoadStillFills) {
  RedisServer redis;
  const std::string tag = "sl" + std::to_string(::getpid());
  const std::string backend =
      "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(redis.port()) + "\"]\n";
  const std::string sections =
      "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app\"\n"
      "  statement_timeout: 10s\nkeyspaces:\n" +
      keyspaceRule("slow", tag + ":<id>", "SELECT 'row-' || $1 AS v FROM pg_sleep(2)",
                   "    params: [id]\n    format: value\n    ttl: 60s\n"
                   "    request_deadline: 500ms\n");
  ReadthruProcess rt(backend, "  threads: 1\n", sections);
  Client first(rt.port()), second(rt.port()), admin(rt.port());
  const std::string key = tag + ":1";

  first.send({"GET", key});
  const std::string a = show(first.read());
  EXPECT_EQ(a, "(error) ERR readthru: read of '" + key +
                   "' in keyspace 'slow' timed out (request_deadline 500ms)")
      << a;
  // The load is still running (2 s): a second reader joins it and is answered by its own
  // deadline, not by the first reader's and not by the load.
  second.send({"GET", key});
  const std::string b = show(second.read());
  EXPECT_EQ(b.rfind("(error) ERR readthru: read of '" + key + "'", 0), 0u) << b;
  EXPECT_EQ(infoField(admin, "readthru", "readthru_singleflight_joins").value_or(-1), 1);
  EXPECT_EQ(infoField(admin, "readthru", "readthru_deadlines").value_or(-1), 2);
  EXPECT_EQ(infoField(admin, "readthru", "readthru_loads").value_or(-1), 1);

  // The load finished in its own time and stored the row: the next read is a hit.
  Client direct(redis.port());
  EXPECT_TRUE(eventually([&] { return show(direct.call({"GET", key})) == "row-1"; }, 10s));
  EXPECT_EQ(show(first.call({"GET", key})), "row-1");
  EXPECT_EQ(infoField(admin, "readthru", "readthru_loads").value_or(-1), 1);
}

}  // namespace
}  // namespace readthru::testing
