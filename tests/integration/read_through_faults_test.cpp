// Read-through when the database fails: down, hung, late to arrive, or saturated. The
// database is reached through a TcpProxy that the test switches, so the shared stack's
// PostgreSQL keeps running for everything else.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "tcp_proxy.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kTag = "rtf" + std::to_string(::getpid());

std::string rule(const std::string& name, const std::string& query, const std::string& extra = "") {
  return keyspaceRule(name, kTag + ":" + name + ":<id>", query,
                      "    params: [id]\n    ttl: 30s\n" + extra);
}

std::string postgres(std::uint16_t port, const std::string& extra = "") {
  return "postgres:\n  dsn: \"host=127.0.0.1 port=" + std::to_string(port) +
         " dbname=app user=app\"\n  connect_timeout: 500ms\n  statement_timeout: 500ms\n" + extra +
         "keyspaces:\n";
}

std::string key(const std::string& name, int id) {
  return kTag + ":" + name + ":" + std::to_string(id);
}

TEST(ReadThroughFaults, DatabaseDownServesHitsFailsMissesAndRecovers) {
  TcpProxy proxy(kPgPort);
  ReadthruProcess proc(clusterBackend(), "",
                       postgres(proxy.port()) + rule("u", "SELECT $1::int AS id"));
  Client c(proc.port());
  ASSERT_EQ(show(c.call({"GET", key("u", 1)})), "{\"id\":1}");

  proxy.setMode(TcpProxy::Mode::kClosed);
  EXPECT_EQ(show(c.call({"GET", key("u", 1)})), "{\"id\":1}");  // a hit needs no database
  const auto start = Clock::now();
  const std::string miss = show(c.call({"GET", key("u", 2)}));
  EXPECT_LT(Clock::now() - start, 3s);  // statement_timeout 500ms + 500ms slack, with room
  EXPECT_EQ(miss.rfind("(error) ERR readthru: load failed for keyspace 'u': ", 0), 0u) << miss;
  EXPECT_EQ(show(c.call({"EXISTS", key("u", 2)})), "(integer) 0");  // failures are not stored

  proxy.setMode(TcpProxy::Mode::kForward);
  EXPECT_TRUE(eventually([&] { return show(c.call({"GET", key("u", 2)})) == "{\"id\":2}"; }));
  c.call({"DEL", key("u", 1), key("u", 2)});
}

TEST(ReadThroughFaults, HungDatabaseAnswersWithinTheDeadline) {
  TcpProxy proxy(kPgPort);
  ReadthruProcess proc(clusterBackend(), "",
                       postgres(proxy.port()) + rule("h", "SELECT $1::int AS id"));
  Client c(proc.port());
  ASSERT_EQ(show(c.call({"GET", key("h", 1)})), "{\"id\":1}");
  proxy.setMode(TcpProxy::Mode::kBlackhole);
  const auto start = Clock::now();
  const std::string miss = show(c.call({"GET", key("h", 2)}));
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(miss, "(error) ERR readthru: load failed for keyspace 'h': statement timeout");
  EXPECT_EQ(show(c.call({"GET", key("h", 1)})), "{\"id\":1}");
  proxy.setMode(TcpProxy::Mode::kForward);
  EXPECT_TRUE(eventually([&] { return show(c.call({"GET", key("h", 3)})) == "{\"id\":3}"; }));
  c.call({"DEL", key("h", 1), key("h", 3)});
}

TEST(ReadThroughFaults, RulesAreCheckedWhenTheDatabaseArrives) {
  TcpProxy proxy(kPgPort);
  proxy.setMode(TcpProxy::Mode::kClosed);
  ReadthruProcess proc(clusterBackend(), "",
                       postgres(proxy.port()) + rule("ok", "SELECT $1::int AS id") +
                           rule("typo", "SELECT nme FROM pg_class WHERE oid = $1"));
  Client c(proc.port());
  const std::string early = show(c.call({"GET", key("typo", 1)}));
  EXPECT_EQ(early.rfind("(error) ERR readthru: load failed for keyspace 'typo': ", 0), 0u) << early;

  proxy.setMode(TcpProxy::Mode::kForward);
  EXPECT_TRUE(eventually([&] { return show(c.call({"GET", key("ok", 1)})) == "{\"id\":1}"; }));
  EXPECT_EQ(show(c.call({"GET", key("typo", 1)})),
            "(error) ERR readthru: keyspace 'typo' is disabled: query: column \"nme\" does not "
            "exist");
  c.call({"DEL", key("ok", 1)});
}

TEST(ReadThroughFaults, FullQueueRefusesAtOnce) {
  // One connection, one load in flight and one waiting: the rest are refused at once.
  ReadthruProcess proc(clusterBackend(), "  threads: 1\n",
                       postgres(kPgPort, "  pool_size: 1\n  max_inflight: 1\n  max_waiting: 1\n") +
                           rule("slow", "SELECT $1::int AS id, pg_sleep(0.3)::text AS s"));
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<Client>(proc.port()));
  for (int i = 0; i < 6; ++i) clients[i]->send({"GET", key("slow", i)});
  int ok = 0, refused = 0;
  for (auto& cl : clients) {
    const std::string r = show(cl->read());
    if (r.rfind("{\"id\":", 0) == 0) ++ok;
    if (r == "(error) ERR readthru: load failed for keyspace 'slow': too many loads waiting") {
      ++refused;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(refused, 1);
  EXPECT_EQ(ok + refused, 6);
  Client c(proc.port());
  for (int i = 0; i < 6; ++i) c.call({"DEL", key("slow", i)});
}

TEST(ReadThroughFaults, KeyspaceLoadLimitLeavesOtherKeyspacesAlone) {
  // "slow" may run one load and hold one more key; a flood of its misses is refused at
  // once, while "fast" still loads on the same database connections.
  ReadthruProcess proc(clusterBackend(), "  threads: 1\n",
                       postgres(kPgPort, "  pool_size: 2\n") +
                           rule("slow", "SELECT $1::int AS id, pg_sleep(0.3)::text AS s",
                                "    max_loads_in_flight: 1\n    max_loads_waiting: 1\n") +
                           rule("fast", "SELECT $1::int AS id"));
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<Client>(proc.port()));
  for (int i = 0; i < 6; ++i) clients[i]->send({"GET", key("slow", i)});
  Client other(proc.port());
  EXPECT_EQ(show(other.call({"GET", key("fast", 1)})), "{\"id\":1}");
  int ok = 0, refused = 0;
  for (auto& cl : clients) {
    const std::string r = show(cl->read());
    if (r.rfind("{\"id\":", 0) == 0) ++ok;
    if (r ==
        "(error) ERR readthru: load failed for keyspace 'slow': too many loads waiting for "
        "keyspace 'slow'") {
      ++refused;
    }
  }
  EXPECT_EQ(ok, 2);  // one ran, one waited
  EXPECT_EQ(refused, 4);
  Client c(proc.port());
  EXPECT_EQ(infoField(c, "readthru", "readthru_loads_refused"), 4);
  for (int i = 0; i < 6; ++i) c.call({"DEL", key("slow", i)});
  c.call({"DEL", key("fast", 1)});
}

TEST(ReadThroughFaults, OversizedValueIsServedNotStored) {
  ReadthruProcess proc(clusterBackend(), "",
                       postgres(kPgPort) + rule("big", "SELECT repeat('x', $1::int) AS v",
                                                "    format: value\n    max_value_size: 100b\n"));
  Client c(proc.port());
  EXPECT_EQ(c.call({"GET", key("big", 500)}).str, std::string(500, 'x'));
  EXPECT_EQ(show(c.call({"EXISTS", key("big", 500)})), "(integer) 0");
  EXPECT_EQ(c.call({"GET", key("big", 50)}).str, std::string(50, 'x'));
  EXPECT_EQ(show(c.call({"EXISTS", key("big", 50)})), "(integer) 1");
  const resp::Value info = c.call({"INFO", "readthru"});
  EXPECT_EQ(infoInteger(info.str, "readthru_values_too_big"), 1);
  c.call({"DEL", key("big", 50)});
}

TEST(ReadThroughFaults, RedisErrorOnTheKeyIsPassedThrough) {
  ReadthruProcess proc(clusterBackend(), "", postgres(kPgPort) + rule("t", "SELECT $1::int AS id"));
  Client c(proc.port());
  ASSERT_EQ(show(c.call({"HSET", key("t", 1), "f", "v"})), "(integer) 1");
  EXPECT_EQ(show(c.call({"GET", key("t", 1)})),
            "(error) WRONGTYPE Operation against a key holding the wrong kind of value");
  c.call({"DEL", key("t", 1)});
}

}  // namespace
}  // namespace readthru::testing
