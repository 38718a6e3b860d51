// INFO as Redis writes it, read the way Redis tools read it: the sections in Redis's order,
// keyspace_hits summed from the backend nodes, INFO commandstats, and Debian's
// prometheus-redis-exporter pointed at readthru reporting redis_up 1 without errors.
// READTHRU.STATS gives one keyspace's figures.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "http_get.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "inf" + std::to_string(::getpid());

std::string sections() {
  return "postgres:\n  dsn: \"" + std::string(kPgDsn) + "\"\nkeyspaces:\n" +
         keyspaceRule("acct", kTag + ":acct:<id>", "SELECT $1::int AS id",
                      "    params: [id]\n    ttl: 30s\n") +
         keyspaceRule("other", kTag + ":other:<id>", "SELECT $1::int AS id",
                      "    params: [id]\n    ttl: 30s\n");
}

// A field of an INFO text, as a number (-1 when absent).
long long field(const std::string& info, const std::string& name) {
  const std::string key = "\r\n" + name + ":";
  const std::size_t at = ("\r\n" + info).find(key);
  if (at == std::string::npos) return -1;
  return std::atoll(info.c_str() + at + key.size() - 2);
}

// keyspace_hits summed over every node of the stack's cluster, asked directly.
long long clusterHits() {
  long long sum = 0;
  for (int port = kClusterFirstPort; port < kClusterFirstPort + 6; ++port) {
    Client node(static_cast<std::uint16_t>(port));
    sum += field(show(node.call({"INFO", "stats"})), "keyspace_hits");
  }
  return sum;
}

TEST(Info, SectionsInRedisOrderWithTheNodesSums) {
  ReadthruProcess proc(clusterBackend());
  Client c(proc.port());
  const std::string info = show(c.call({"INFO"}));
  std::size_t at = 0;
  for (const char* title :
       {"# Server\r\n", "# Clients\r\n", "# Memory\r\n", "# Persistence\r\n", "# Stats\r\n",
        "# Replication\r\n", "# CPU\r\n", "# Cluster\r\n", "# Keyspace\r\n", "# Readthru\r\n"}) {
    const std::size_t found = info.find(title, at);
    ASSERT_NE(found, std::string::npos) << title << " after " << at << " in\n" << info;
    at = found;
  }
  EXPECT_EQ(info.find("# Commandstats"), std::string::npos) << "not in the default set";
  EXPECT_EQ(field(info, "info_backend_nodes"), 6) << info;
  EXPECT_GT(field(info, "used_memory"), 0);
  EXPECT_EQ(field(info, "cluster_enabled"), 1);

  // Between two direct readings of the nodes (the lock keeps other tests away; the 1 s
  // cache is waited out first).
  c.call({"SET", kTag + ":plain", "v"});
  c.call({"GET", kTag + ":plain"});
  const long long before = clusterHits();
  long long seen = -1;
  EXPECT_TRUE(eventually([&] {
    seen = field(show(c.call({"INFO", "stats"})), "keyspace_hits");
    return seen >= before;
  }));
  const long long after = clusterHits();
  EXPECT_LE(seen, after);
  EXPECT_GT(field(show(c.call({"INFO", "keyspace"})), "db0"), -1) << "a db0 line with keys";
  c.call({"DEL", kTag + ":plain"});
}

TEST(Info, CommandstatsCountsCallsAndFailures) {
  ReadthruProcess proc(clusterBackend());
  Client c(proc.port());
  for (int i = 0; i < 3; ++i) c.call({"GET", kTag + ":none"});
  c.call({"INCR", kTag + ":str"});
  c.call({"SET", kTag + ":str", "x"});
  c.call({"INCR", kTag + ":str"});  // not an integer: a failed call
  const std::string all = show(c.call({"INFO", "all"}));
  EXPECT_NE(all.find("# Commandstats\r\n"), std::string::npos);
  EXPECT_NE(all.find("\r\ncmdstat_get:calls=3,usec="), std::string::npos) << all;
  EXPECT_NE(all.find("rejected_calls=0,failed_calls=1\r\n", all.find("cmdstat_incr:calls=2")),
            std::string::npos)
      << all;
  c.call({"DEL", kTag + ":str"});
}

TEST(Info, ErrorstatsCountsErrorRepliesByKind) {
  ReadthruProcess proc(clusterBackend());
  Client c(proc.port());
  c.call({"NOSUCHCOMMAND"});  // readthru's own ERR
  c.call({"GET"});            // arity: ERR
  c.call({"SET", kTag + ":kind", "x"});
  c.call({"LPUSH", kTag + ":kind", "y"});                              // Redis's WRONGTYPE, relayed
  c.call({"EVAL", "return redis.error_reply('MYCODE custom')", "0"});  // not a Redis kind
  const std::string errors = show(c.call({"INFO", "errorstats"}));
  EXPECT_NE(errors.find("# Errorstats\r\n"), std::string::npos) << errors;
  EXPECT_NE(errors.find("errorstat_ERR:count=2\r\n"), std::string::npos) << errors;
  EXPECT_NE(errors.find("errorstat_WRONGTYPE:count=1\r\n"), std::string::npos) << errors;
  EXPECT_NE(errors.find("errorstat_OTHER:count=1\r\n"), std::string::npos) << errors;
  EXPECT_EQ(field(show(c.call({"INFO", "stats"})), "total_error_replies"), 4);
  c.call({"DEL", kTag + ":kind"});
}

TEST(Info, CommandstatsTimesCommandsReadthruAnswersItself) {
  ReadthruProcess proc(clusterBackend());
  Client c(proc.port());
  // INFO memory waits on every node's INFO: its time runs until that reply.
  c.call({"INFO", "memory"});
  const std::string all = show(c.call({"INFO", "commandstats"}));
  const std::size_t at = all.find("cmdstat_info:calls=1,usec=");
  ASSERT_NE(at, std::string::npos) << all;
  EXPECT_GT(std::stoll(all.substr(at + std::string("cmdstat_info:calls=1,usec=").size())), 0)
      << all;
}

TEST(Info, ReadthruStatsGivesOneKeyspace) {
  ReadthruProcess proc(clusterBackend(), "", sections());
  Client c(proc.port());
  c.call({"DEL", kTag + ":acct:1"});
  c.call({"GET", kTag + ":acct:1"});
  c.call({"GET", kTag + ":acct:1"});
  const std::string one = show(c.call({"READTHRU.STATS", "acct"}));
  EXPECT_EQ(one.rfind("# keyspace acct\r\n", 0), 0u) << one;
  EXPECT_NE(one.find("\r\nreadthru_hits:1\r\n"), std::string::npos) << one;
  EXPECT_NE(one.find("\r\nreadthru_misses:1\r\n"), std::string::npos) << one;
  EXPECT_NE(one.find("\r\nreadthru_loads:1\r\n"), std::string::npos) << one;
  const std::string both = show(c.call({"READTHRU.STATS"}));
  EXPECT_NE(both.find("# keyspace other\r\n"), std::string::npos) << both;
  EXPECT_EQ(show(c.call({"READTHRU.STATS", "nosuch"})),
            "(error) ERR readthru: no keyspace 'nosuch'");
  c.call({"DEL", kTag + ":acct:1"});
}

TEST(Info, PrometheusRedisExporterReadsReadthruAsRedis) {
  if (::access("/usr/bin/prometheus-redis-exporter", X_OK) != 0) {
    FAIL() << "prometheus-redis-exporter is not installed (scripts/install-deps installs it)";
  }
  ReadthruProcess proc(clusterBackend());
  Client c(proc.port());
  c.call({"SET", kTag + ":exp", "v"});
  const std::uint16_t web = freePort();
  const pid_t exporter = spawnProgram(
      "prometheus-redis-exporter", {"--redis.addr=redis://127.0.0.1:" + std::to_string(proc.port()),
                                    "--web.listen-address=127.0.0.1:" + std::to_string(web)});
  ASSERT_GT(exporter, 0);
  std::string page;
  const bool scraped = eventually(
      [&] {
        const HttpReply r = httpGet(web, "/metrics");
        page = r.body;
        return r.status == 200 && page.find("\nredis_up ") != std::string::npos;
      },
      20s, 100ms);
  ::kill(exporter, SIGTERM);
  if (!reapChild(exporter, 10s)) {
    ::kill(exporter, SIGKILL);
    reapChild(exporter, 5s);
  }
  ASSERT_TRUE(scraped) << page;
  EXPECT_NE(page.find("\nredis_up 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("\nredis_exporter_last_scrape_error{err=\"\"} 0\n"), std::string::npos)
      << page;
  for (const char* series :
       {"\nredis_keyspace_hits_total ", "\nredis_memory_used_bytes ", "\nredis_connected_clients ",
        "\nredis_db_keys{db=\"db0\"} ", "\nredis_commands_total{cmd=\"set\"} 1\n"}) {
    EXPECT_NE(page.find(series), std::string::npos) << series;
  }
  c.call({"DEL", kTag + ":exp"});
}

}  // namespace
}  // namespace readthru::testing
