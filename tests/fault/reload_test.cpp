// The config reload (SIGHUP and READTHRU.RELOAD) against the real stack: a changed file
// applies to new requests without closing a client connection, a load in flight finishes
// under the rules it started with, a broken file is rejected with its file:line and the
// old config keeps serving, and settings that need a restart are named and left alone.
// Each test process uses its own tables and key prefix.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "rl" + std::to_string(::getpid());
const std::string kUsers = kTag + "_users";

std::string key(const std::string& keyspace, int id) {
  return kTag + ":" + keyspace + ":" + std::to_string(id);
}

// A `value` keyspace over the users table: `select` is the column expression.
std::string rule(const std::string& name, const std::string& select, const std::string& ttl = "60s",
                 const std::string& where = "") {
  return keyspaceRule(name, kTag + ":" + name + ":<id>",
                      "SELECT " + select + " FROM " + kUsers + " WHERE id = $1" + where,
                      "    params: [id]\n    format: value\n    ttl: " + ttl + "\n");
}

std::string sections(const std::string& rules, const std::string& log_level = "info") {
  return "postgres:\n  dsn: \"" + std::string(kPgDsn) +
         "\"\n  pool_size: 2\n  statement_timeout: 3s\nkeyspaces:\n" + rules +
         "log:\n  level: " + log_level + "\n";
}

// How many times `text` occurs in `log`.
int count(const std::string& log, const std::string& text) {
  int n = 0;
  for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
  return n;
}

class Reload : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kUsers);
    pg.exec("CREATE TABLE " + kUsers + " (id int PRIMARY KEY, name text)");
    pg.exec("INSERT INTO " + kUsers + " VALUES (1, 'alice'), (2, 'bob'), (3, 'carol'), (4, 'dan')");
  }
  static void TearDownTestSuite() {
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kUsers);
  }
  // Starts readthru with `rules`, nothing cached from an earlier test of this process.
  void start(const std::string& rules) {
    rt_ = std::make_unique<ReadthruProcess>(clusterBackend(), "", sections(rules));
    Client c(rt_->port());
    for (const char* ks : {"user", "gone", "fresh", "slow"}) {
      for (int id = 1; id <= 4; ++id) c.call({"UNLINK", key(ks, id)});
    }
  }

  // Sends SIGHUP and waits for the reload's outcome line (the n-th of its kind).
  void sighup(const std::string& outcome, int nth) {
    rt_->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return count(rt_->log(), outcome) >= nth; }, 15s)) << rt_->log();
  }

  bool running() { return !rt_->waitExit(0ms).has_value(); }

  std::unique_ptr<ReadthruProcess> rt_;
};

TEST_F(Reload, SighupAppliesAChangedConfigWithoutDroppingClients) {
  start(rule("user", "name") + rule("gone", "name"));
  Client held(rt_->port());  // open across the reload
  ASSERT_EQ(show(held.call({"GET", key("user", 1)})), "alice");
  ASSERT_EQ(show(held.call({"GET", key("gone", 1)})), "alice");

  // user: a new query and TTL; gone: removed; fresh: added; a restart-only change; a new
  // log level.
  rt_->rewriteConfig(
      clusterBackend(), "  threads: 3\n",
      sections(rule("user", "upper(name)", "5s") + rule("fresh", "'fresh-' || name"), "debug"));
  sighup("reload: keyspaces added [fresh], removed [gone], changed [user]", 1);
  const std::string log = rt_->log();
  EXPECT_NE(log.find("reload: listen.threads changed but needs a restart; left as it is"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("applied log.level"), std::string::npos) << log;

  // The same connection, still open, is served by the new rules.
  EXPECT_EQ(show(held.call({"PING"})), "PONG");
  EXPECT_EQ(show(held.call({"GET", key("user", 1)})), "alice");  // cached before: a hit
  EXPECT_EQ(show(held.call({"GET", key("user", 2)})), "BOB");    // a miss: the new query
  const auto pttl = held.call({"PTTL", key("user", 2)});
  EXPECT_GT(pttl.integer, 0);
  EXPECT_LE(pttl.integer, 5000) << "the new ttl";
  EXPECT_EQ(show(held.call({"GET", key("fresh", 3)})), "fresh-carol");
  // A removed keyspace's key is a plain key: nothing loads it.
  EXPECT_EQ(show(held.call({"GET", key("gone", 2)})), "(nil)");
  EXPECT_EQ(show(held.call({"SET", key("gone", 2), "plain"})), "OK");
  EXPECT_EQ(show(held.call({"GET", key("gone", 2)})), "plain");
  EXPECT_TRUE(running());
}

TEST_F(Reload, BrokenFilesAreRejectedAndTheOldConfigServes) {
  start(rule("user", "name"));
  Client held(rt_->port());
  ASSERT_EQ(show(held.call({"GET", key("user", 1)})), "alice");
  const std::string rejected = "reload rejected: " + rt_->configPath() + ":";

  // A YAML syntax error.
  rt_->writeRawConfig("listen:\n  port: [1, 2\nbackend: {\n");
  sighup(rejected, 1);
  // An invalid value.
  rt_->rewriteConfig(clusterBackend(), "", sections(rule("user", "upper(name)", "soon")));
  sighup(rejected, 2);
  const std::string log = rt_->log();
  EXPECT_NE(log.find("ttl: must be a duration"), std::string::npos) << log;
  EXPECT_EQ(count(log, "reload: keyspaces"), 0) << log;

  EXPECT_TRUE(running());
  EXPECT_EQ(show(held.call({"PING"})), "PONG");
  // Still the old query: no value from the rejected file.
  EXPECT_EQ(show(held.call({"GET", key("user", 2)})), "bob");
}

TEST_F(Reload, ReloadCommandBothWays) {
  start(rule("user", "name"));
  Client held(rt_->port());
  ASSERT_EQ(show(held.call({"GET", key("user", 1)})), "alice");

  rt_->rewriteConfig(clusterBackend(), "", sections(rule("user", "upper(name)")));
  EXPECT_EQ(show(held.call({"READTHRU.RELOAD"})), "OK");
  EXPECT_EQ(show(held.call({"GET", key("user", 2)})), "BOB");

  // Rejected by the database: a column that does not exist, named with the rule's line.
  rt_->rewriteConfig(clusterBackend(), "", sections(rule("user", "no_such_column")));
  const std::string bad_sql = show(held.call({"READTHRU.RELOAD"}));
  EXPECT_EQ(bad_sql.rfind("(error) ERR readthru: reload rejected: " + rt_->configPath() + ":", 0),
            0u)
      << bad_sql;
  EXPECT_NE(bad_sql.find("keyspace 'user'"), std::string::npos) << bad_sql;

  // Rejected by the parser.
  rt_->writeRawConfig("listen: [\n");
  const std::string bad_yaml = show(held.call({"READTHRU.RELOAD"}));
  EXPECT_EQ(bad_yaml.rfind("(error) ERR readthru: reload rejected: " + rt_->configPath() + ":", 0),
            0u)
      << bad_yaml;

  // The last good config serves.
  EXPECT_EQ(show(held.call({"GET", key("user", 3)})), "CAROL");
  EXPECT_TRUE(running());
}

TEST_F(Reload, LoadInFlightFinishesUnderItsRules) {
  // slow's load takes a second; the reload removes slow and changes user's SQL (new
  // pools) while it runs.
  start(rule("user", "name") + rule("slow", "name", "60s", " AND pg_sleep(1) IS NOT NULL"));
  Client waiting(rt_->port());
  waiting.send({"GET", key("slow", 4)});
  Pg pg;
  ASSERT_TRUE(eventually([&] { return pg.sleepingIn(kUsers); }, 5s, 10ms));

  rt_->rewriteConfig(clusterBackend(), "", sections(rule("user", "upper(name)")));
  Client other(rt_->port());
  EXPECT_EQ(show(other.call({"READTHRU.RELOAD"})), "OK");
  EXPECT_EQ(show(waiting.read()), "dan");  // the old rule's load, answered in full
  EXPECT_EQ(show(other.call({"GET", key("user", 4)})), "DAN");
  EXPECT_EQ(show(other.call({"GET", key("slow", 1)})), "(nil)");  // a plain key now
  // The retired generation's pools close once nothing holds them: one connection per io
  // thread is left (pool_size 2, 2 threads), the new pools'.
  EXPECT_TRUE(eventually([&] {
    return show(other.call({"INFO", "readthru"})).find("pg_connections_up:2\r\n") !=
           std::string::npos;
  })) << show(other.call({"INFO", "readthru"}));
  EXPECT_TRUE(running());
}

}  // namespace
}  // namespace readthru::testing
