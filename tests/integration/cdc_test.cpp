// Change data capture against the real stack: rows changed in PostgreSQL invalidate their
// keys and tags through the logical replication stream, with no invalidation command.
// Each test suite run has its own tables, publication and slot, dropped at the end.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

// A leader may need a lease time to take over.
constexpr auto kWait = 20s;

const std::string kTag = "cdc" + std::to_string(::getpid());
const std::string kItems = kTag + "_items";
const std::string kMembers = kTag + "_members";

std::string config() {
  return "postgres:\n  dsn: \"" + std::string(kPgDsn) + "\"\nkeyspaces:\n" +
         keyspaceRule("item", kTag + ":item:<id>", "SELECT v FROM " + kItems + " WHERE id = $1",
                      "    params: [id]\n    format: value\n    ttl: 300s\n"
                      "    negative_ttl: 300s\n"
                      "    invalidate:\n      - table: " +
                          kItems + "\n        key: [id]\n") +
         keyspaceRule("team", kTag + ":team:<team>",
                      "SELECT string_agg(name, ',' ORDER BY name) FROM " + kMembers +
                          " WHERE team = $1::int",
                      "    params: [team]\n    format: value\n    ttl: 300s\n"
                      "    tags: [\"" +
                          kTag + "-team:<team>\"]\n    invalidate:\n      - table: public." +
                          kMembers + "\n        tags: [\"" + kTag + "-team:<team>\"]\n") +
         "cdc:\n  slot: " + kTag + "_slot\n  publication: " + kTag + "_pub\n  leader_lease: 1s\n";
}

class Cdc : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kItems + ", " + kMembers);
    pg.exec("CREATE TABLE " + kItems + " (id int PRIMARY KEY, v text)");
    pg.exec("INSERT INTO " + kItems + " SELECT i, 'v' || i FROM generate_series(1, 1000) i");
    pg.exec("CREATE TABLE " + kMembers + " (id int PRIMARY KEY, team int, name text)");
    // team is not in the primary key: deletes and moves need the whole old row.
    pg.exec("ALTER TABLE " + kMembers + " REPLICA IDENTITY FULL");
    pg.exec("INSERT INTO " + kMembers + " VALUES (1, 1, 'ann'), (2, 1, 'bob'), (3, 2, 'cy')");
    proc_ = new ReadthruProcess(clusterBackend(), "", config());
    Client c(proc_->port());
    ASSERT_TRUE(eventually(
        [&] {
          return infoInteger(c.call({"INFO", "readthru"}).str, "cdc_connected") == 1;
        },
        kWait));
  }
  static void TearDownTestSuite() {
    delete proc_;
    proc_ = nullptr;
    Pg pg;
    // The slot is released once its walsender has gone.
    for (int i = 0; i < 100; ++i) {
      if (pg.scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + kTag +
                    "_slot' AND active") == "0") {
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    pg.exec(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
        "slot_name = '" +
        kTag + "_slot'");
    pg.exec("DROP PUBLICATION IF EXISTS " + kTag + "_pub");
    pg.exec("DROP TABLE IF EXISTS " + kItems + ", " + kMembers);
  }
  static std::string item(int id) { return kTag + ":item:" + std::to_string(id); }
  static std::string team(int t) { return kTag + ":team:" + std::to_string(t); }
  static bool reads(Client& c, const std::string& key, const std::string& want) {
    return show(c.call({"GET", key})) == want;
  }
  static inline ReadthruProcess* proc_ = nullptr;
};

TEST_F(Cdc, InsertUpdateDeleteReachTheCache) {
  Client c(proc_->port());
  ASSERT_EQ(show(c.call({"GET", item(1)})), "v1");
  ASSERT_EQ(show(c.call({"GET", item(5000)})), "(nil)");  // cached as "no row"
  Pg pg;
  pg.exec("UPDATE " + kItems + " SET v = 'changed' WHERE id = 1");
  EXPECT_TRUE(eventually([&] { return reads(c, item(1), "changed"); }, kWait));
  pg.exec("INSERT INTO " + kItems + " VALUES (5000, 'new')");
  EXPECT_TRUE(eventually([&] { return reads(c, item(5000), "new"); }, kWait));
  pg.exec("DELETE FROM " + kItems + " WHERE id = 5000");
  EXPECT_TRUE(eventually([&] { return reads(c, item(5000), "(nil)"); }, kWait));
}

TEST_F(Cdc, AKeyColumnChangeInvalidatesTheOldAndTheNewKey) {
  Client c(proc_->port());
  ASSERT_EQ(show(c.call({"GET", item(7)})), "v7");
  ASSERT_EQ(show(c.call({"GET", item(7007)})), "(nil)");
  Pg().exec("UPDATE " + kItems + " SET id = 7007 WHERE id = 7");
  EXPECT_TRUE(eventually([&] { return reads(c, item(7), "(nil)"); }, kWait));
  EXPECT_TRUE(eventually([&] { return reads(c, item(7007), "v7"); }, kWait));
}

TEST_F(Cdc, ATransactionOfManyRowsInvalidatesEveryKey) {
  Client c(proc_->port());
  for (int id = 100; id < 300; ++id)
    ASSERT_EQ(show(c.call({"GET", item(id)})), "v" + std::to_string(id));
  Pg().exec("UPDATE " + kItems + " SET v = 'bulk' || id WHERE id >= 100 AND id < 300");
  EXPECT_TRUE(eventually([&] { return reads(c, item(299), "bulk299"); }, kWait));
  for (int id = 100; id < 300; ++id) {
    ASSERT_EQ(show(c.call({"GET", item(id)})), "bulk" + std::to_string(id)) << id;
  }
}

TEST_F(Cdc, TagRulesFollowTheOldAndTheNewRow) {
  Client c(proc_->port());
  ASSERT_EQ(show(c.call({"GET", team(1)})), "ann,bob");
  ASSERT_EQ(show(c.call({"GET", team(2)})), "cy");
  // bob moves from team 1 to team 2: both tags come from the old and the new row.
  Pg().exec("UPDATE " + kMembers + " SET team = 2 WHERE id = 2");
  EXPECT_TRUE(eventually([&] { return reads(c, team(1), "ann"); }, kWait));
  EXPECT_TRUE(eventually([&] { return reads(c, team(2), "bob,cy"); }, kWait));
  Pg().exec("DELETE FROM " + kMembers + " WHERE id = 3");
  EXPECT_TRUE(eventually([&] { return reads(c, team(2), "bob"); }, kWait));
}

TEST_F(Cdc, TruncateEmptiesTheKeyspace) {
  Client c(proc_->port());
  ASSERT_NE(show(c.call({"GET", team(1)})), "(nil)");  // whatever earlier tests left
  Pg().exec("TRUNCATE " + kMembers);
  EXPECT_TRUE(eventually([&] { return reads(c, team(1), "(nil)"); }, kWait));
  Pg().exec("INSERT INTO " + kMembers + " VALUES (1, 1, 'ann'), (2, 1, 'bob'), (3, 2, 'cy')");
  EXPECT_TRUE(eventually([&] { return reads(c, team(1), "ann,bob"); }, kWait));
}

TEST_F(Cdc, AKillBetweenCommitAndInvalidationLosesNothing) {
  Client c(proc_->port());
  ASSERT_EQ(show(c.call({"GET", item(20)})), "v20");
  auto counter = [&](const char* name) {
    return infoInteger(c.call({"INFO", "readthru"}).str, name).value_or(-1);
  };
  const auto received = counter("cdc_transactions");
  const auto applied = counter("cdc_transactions_applied");
  // Writes on every master wait: readthru receives the change but cannot apply it.
  std::vector<std::unique_ptr<Client>> masters;
  for (auto port : masterPorts()) {
    masters.push_back(std::make_unique<Client>(port));
    ASSERT_EQ(show(masters.back()->call({"CLIENT", "PAUSE", "5000", "WRITE"})), "OK");
  }
  Pg().exec("UPDATE " + kItems + " SET v = 'after-crash' WHERE id = 20");
  // Received: the stream counts a transaction as it hands it to the applier, which sends
  // its UNLINK at once (held by the pause). Not applied: the kill below comes between.
  ASSERT_TRUE(eventually([&] { return counter("cdc_transactions") > received; }, 4s, 10ms));
  ASSERT_EQ(counter("cdc_transactions_applied"), applied);
  proc_->stop(/*kill=*/true);
  for (auto& m : masters) m->call({"CLIENT", "UNPAUSE"});
  delete proc_;
  proc_ = new ReadthruProcess(clusterBackend(), "", config());
  Client c2(proc_->port());
  EXPECT_TRUE(eventually([&] { return reads(c2, item(20), "after-crash"); }, kWait));
}

TEST_F(Cdc, TwoInstancesOneLeaderAndATakeover) {
  // The leader renews its lease with EVAL; an instance that does not lead tries to take it
  // with SET NX every third of a lease. So the SETs counted by the lease key's master are
  // the second instance's attempts.
  const std::uint16_t lease_node =
      slotOwner(keySlot("readthru:cdc:leader:{" + kTag + "_slot}")).master;
  auto sets = [&] {
    return infoInteger(show(Client(lease_node).call({"INFO", "commandstats"})), "cmdstat_set:calls")
        .value_or(0);
  };
  const auto sets_before = sets();
  ReadthruProcess second(clusterBackend(), "", config());
  Client a(proc_->port()), b(second.port());
  auto leader = [](Client& c) {
    return infoInteger(c.call({"INFO", "readthru"}).str, "cdc_leader").value_or(-1);
  };
  // Both have had their chance: the second has tried three times (the answers to the
  // first two are back, a third of a lease apart) while the first held the lease.
  ASSERT_TRUE(eventually([&] { return sets() >= sets_before + 3; }, kWait));
  EXPECT_EQ(leader(a) + leader(b), 1);
  ASSERT_EQ(leader(a), 1);  // the first instance has held it all along
  proc_->stop(/*kill=*/true);
  EXPECT_TRUE(eventually([&] { return leader(b) == 1; }, kWait));
  ASSERT_EQ(show(b.call({"GET", item(30)})), "v30");
  Pg().exec("UPDATE " + kItems + " SET v = 'second' WHERE id = 30");
  EXPECT_TRUE(eventually([&] { return reads(b, item(30), "second"); }, kWait));
  delete proc_;
  proc_ = new ReadthruProcess(clusterBackend(), "", config());
}

// A leader that stops (SIGTERM) lets go of its lease on the way out, so another instance
// need not wait for it to run out.
TEST_F(Cdc, AStoppingLeaderReleasesItsLease) {
  const std::string lease_key = "readthru:cdc:leader:{" + kTag + "_slot}";
  const std::uint16_t lease_node = slotOwner(keySlot(lease_key)).master;
  Client a(proc_->port());
  ASSERT_TRUE(eventually(
      [&] {
        return infoInteger(a.call({"INFO", "readthru"}).str, "cdc_leader").value_or(0) == 1;
      },
      kWait));
  const std::string holder = show(Client(lease_node).call({"GET", lease_key}));
  ASSERT_NE(holder, "(nil)");
  proc_->stop(/*kill=*/false);
  // Gone at once, not a lease time later (nobody else competes for it here).
  EXPECT_EQ(show(Client(lease_node).call({"GET", lease_key})), "(nil)");
  delete proc_;
  proc_ = new ReadthruProcess(clusterBackend(), "", config());
}

TEST_F(Cdc, StartRefusesRulesTheReplicaIdentityCannotServe) {
  Pg().exec("ALTER TABLE " + kMembers + " REPLICA IDENTITY DEFAULT");
  std::string cfg = config();
  // Another slot, so the running instance keeps its own.
  const auto at = cfg.find("slot: " + kTag + "_slot");
  cfg.replace(at, 6 + kTag.size() + 5, "slot: " + kTag + "_other");
  const ExitResult r = runUntilExit(
      "listen: { port: " + std::to_string(freePort()) + " }\nbackend:\n" + clusterBackend() + cfg,
      10s);
  Pg().exec("ALTER TABLE " + kMembers + " REPLICA IDENTITY FULL");
  EXPECT_EQ(r.code, 2) << r.log;
  EXPECT_NE(r.log.find("column 'team' is not in the table's replica identity"), std::string::npos)
      << r.log;
}

}  // namespace
}  // namespace readthru::testing
