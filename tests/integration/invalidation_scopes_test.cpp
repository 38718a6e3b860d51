// Invalidation wider than one key, against the real stack: READTHRU.INVALIDATE TAG,
// KEYSPACE and PATTERN, READTHRU.REFRESH, and versioned keyspaces. Loads are counted with
// pg_stat_statements; what Redis holds is read through readthru with plain commands
// (physical key names match no keyspace, so they pass through).

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "isc" + std::to_string(::getpid());
const std::string kTable = kTag + "_items";

std::string itemRules(int version) {
  const std::string v = version > 0 ? "    version: " + std::to_string(version) + "\n" : "";
  return "postgres:\n  dsn: \"" + std::string(kPgDsn) + "\"\nkeyspaces:\n" +
         keyspaceRule(
             "item", kTag + ":item:<id>", "SELECT id, team, v FROM " + kTable + " WHERE id = $1",
             "    params: [id]\n    ttl: 60s\n    negative_ttl: 60s\n" + v + "    tags: [\"" +
                 kTag + "-team:<team>\", \"" + kTag + "-item:<id>\"]\n") +
         keyspaceRule(
             "name", kTag + ":name:<id>", "SELECT v FROM " + kTable + " WHERE id = $1",
             "    params: [id]\n    format: value\n    ttl: 60s\n    negative_ttl: 60s\n") +
         keyspaceRule(
             "slowtag", kTag + ":slowtag:<id>",
             "SELECT v, team FROM " + kTable + " WHERE id = $1 AND pg_sleep(0.4) IS NOT NULL",
             "    params: [id]\n    ttl: 60s\n    tags: [\"" + kTag + "-st:<team>\"]\n") +
         keyspaceRule("slow", kTag + ":slow:<id>",
                      "SELECT v FROM " + kTable + " WHERE id = $1 AND pg_sleep(0.4) IS NOT NULL",
                      "    params: [id]\n    format: value\n    ttl: 60s\n");
}

class InvalidationScopes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kTable);
    pg.exec("CREATE TABLE " + kTable + " (id int PRIMARY KEY, team int, v text)");
    pg.exec("INSERT INTO " + kTable + " SELECT i, i % 3, 'v' || i FROM generate_series(1, 300) i");
    proc_ = new ReadthruProcess(clusterBackend(), "", itemRules(0));
  }
  static void TearDownTestSuite() {
    delete proc_;
    proc_ = nullptr;
    Pg().exec("DROP TABLE IF EXISTS " + kTable);
  }
  static std::string key(const std::string& rest) { return kTag + ":" + rest; }
  static std::int64_t itemLoads() { return Pg().calls("SELECT id, team, v FROM " + kTable); }
  static std::int64_t nameLoads() { return Pg().calls("SELECT v FROM " + kTable); }
  static inline ReadthruProcess* proc_ = nullptr;
};

TEST_F(InvalidationScopes, TagFromAColumnRemovesEveryKeyCarryingItAcrossSlots) {
  Client c(proc_->port());
  std::set<std::int64_t> slots;
  for (int id = 1; id <= 30; ++id) {
    ASSERT_NE(show(c.call({"GET", key("item:" + std::to_string(id))})), "(nil)");
    slots.insert(keySlot(key("item:" + std::to_string(id))));
  }
  ASSERT_GT(slots.size(), 10u);  // the tagged keys really are spread over slots
  // Team 1 holds ids 1, 4, ... 28: 10 keys.
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "TAG", kTag + "-team:1"})), "(integer) 10");
  for (int id = 1; id <= 30; ++id) {
    const std::string exists = show(c.call({"EXISTS", key("item:" + std::to_string(id))}));
    EXPECT_EQ(exists, id % 3 == 1 ? "(integer) 0" : "(integer) 1") << id;
  }
  // The tag's set went with it: a second invalidation finds nothing.
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "TAG", kTag + "-team:1"})), "(integer) 0");
  // A key loaded after the invalidation is stored and tagged again.
  ASSERT_NE(show(c.call({"GET", key("item:4")})), "(nil)");
  EXPECT_EQ(show(c.call({"EXISTS", key("item:4")})), "(integer) 1");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "TAG", kTag + "-team:1", kTag + "-team:2"})),
            "(integer) 11");  // item:4, and team 2's ten keys
}

TEST_F(InvalidationScopes, TagFromACaptureAndUnknownTags) {
  Client c(proc_->port());
  ASSERT_NE(show(c.call({"GET", key("item:40")})), "(nil)");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "TAG", kTag + "-item:40", kTag + "-nothing"})),
            "(integer) 1");
  EXPECT_EQ(show(c.call({"EXISTS", key("item:40")})), "(integer) 0");
  const auto info = c.call({"INFO", "readthru"});
  EXPECT_GE(infoInteger(info.str, "readthru_invalidations_tag").value_or(0), 2);
  EXPECT_GE(infoInteger(info.str, "readthru_tags_recorded").value_or(0), 2);
}

TEST_F(InvalidationScopes, KeyspaceRemovesEveryEntryAndMarkerOfThatKeyspaceOnly) {
  Client c(proc_->port());
  for (int id = 100; id < 160; ++id) {
    ASSERT_NE(show(c.call({"GET", key("name:" + std::to_string(id))})), "(nil)");
  }
  ASSERT_EQ(show(c.call({"GET", key("name:9999")})), "(nil)");  // a "no row" marker
  ASSERT_NE(show(c.call({"GET", key("item:100")})), "(nil)");   // another keyspace
  const auto before = nameLoads();
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "KEYSPACE", "name"})), "(integer) 60");
  EXPECT_EQ(show(c.call({"EXISTS", key("item:100")})), "(integer) 1");
  // The marker went too: the database is asked again.
  EXPECT_EQ(show(c.call({"GET", key("name:9999")})), "(nil)");
  EXPECT_EQ(show(c.call({"GET", key("name:100")})), "v100");
  EXPECT_EQ(nameLoads(), before + 2);
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "KEYSPACE", "nope"})),
            "(error) ERR readthru: no keyspace named 'nope'");
}

TEST_F(InvalidationScopes, AKeyspaceSweepStopsALoadAlreadyInFlight) {
  Client reader(proc_->port());
  Client admin(proc_->port());
  const std::string k = key("slow:5");
  Pg pg;
  reader.send({"GET", k});  // holds its lease for ~400 ms
  ASSERT_TRUE(eventually([&] { return pg.sleepingIn(kTable); }, 5s, 10ms))
      << "the load never reached the database";
  EXPECT_EQ(show(admin.call({"READTHRU.INVALIDATE", "KEYSPACE", "slow"})), "(integer) 0");
  EXPECT_EQ(show(reader.read()), "v5");                       // the client that asked is answered
  EXPECT_EQ(show(admin.call({"EXISTS", k})), "(integer) 0");  // but nothing was stored
}

TEST_F(InvalidationScopes, ATagInvalidatedDuringTheLoadOfAKeyItWillCarryIsNotLost) {
  // The tag comes from a result column, so it can only be recorded after the load; the
  // invalidation runs before that, and finds no key under the tag.
  Client reader(proc_->port());
  Client admin(proc_->port());
  const std::string k = key("slowtag:7");  // team 1
  Pg pg;
  reader.send({"GET", k});
  ASSERT_TRUE(eventually([&] { return pg.sleepingIn(kTable); }, 5s, 10ms))
      << "the load never reached the database";
  EXPECT_EQ(show(admin.call({"READTHRU.INVALIDATE", "TAG", kTag + "-st:1"})), "(integer) 0");
  EXPECT_NE(show(reader.read()).find("\"v7\""), std::string::npos);
  EXPECT_EQ(show(admin.call({"EXISTS", k})), "(integer) 0");  // served, not stored
  const auto raced = [&] {
    return infoInteger(admin.call({"INFO", "readthru"}).str, "readthru_tag_fills_raced")
        .value_or(0);
  };
  EXPECT_GE(raced(), 1);
  // A key whose tag was not invalidated is stored as usual.
  const auto before = raced();
  ASSERT_NE(show(reader.call({"GET", key("slowtag:8")})), "(nil)");  // team 2
  EXPECT_EQ(show(admin.call({"EXISTS", key("slowtag:8")})), "(integer) 1");
  EXPECT_EQ(raced(), before);
}

TEST_F(InvalidationScopes, SweepsTouchOnlyWhatTheyName) {
  Client c(proc_->port());
  // Matches the keyspace's glob (a '*' also matches ':') but not its pattern.
  ASSERT_EQ(show(c.call({"SET", key("name:1:session"), "x"})), "OK");
  ASSERT_EQ(show(c.call({"GET", key("name:1")})), "v1");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "KEYSPACE", "name"})).rfind("(integer) ", 0), 0u);
  EXPECT_EQ(show(c.call({"EXISTS", key("name:1:session"), key("name:1")})), "(integer) 1");
  // readthru's own keys are never swept by a glob: the tag sets survive.
  ASSERT_NE(show(c.call({"GET", key("item:41")})), "(nil)");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "PATTERN", "readthru:*"})), "(integer) 0");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "TAG", kTag + "-item:41"})), "(integer) 1");
  // Tags of any text, and a clear error for an empty one.
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "TAG", "}odd{", "{"})), "(integer) 0");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "TAG", "a", ""})),
            "(error) ERR readthru: a tag cannot be empty");
}

TEST_F(InvalidationScopes, PatternWithAndWithoutAHashTag) {
  Client c(proc_->port());
  for (int i = 0; i < 25; ++i) {
    ASSERT_EQ(show(c.call({"SET", key("{grp}:" + std::to_string(i)), "x"})), "OK");
    ASSERT_EQ(show(c.call({"SET", key("loose:" + std::to_string(i)), "x"})), "OK");
  }
  ASSERT_EQ(show(c.call({"SET", key("{other}:1"), "x"})), "OK");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "PATTERN", key("{grp}:*")})), "(integer) 25");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "PATTERN", key("loose:*")})), "(integer) 25");
  EXPECT_EQ(show(c.call({"EXISTS", key("{other}:1"), key("{grp}:3"), key("loose:3")})),
            "(integer) 1");
  // Managed keys found by a pattern lose their markers too.
  ASSERT_EQ(show(c.call({"GET", key("name:8888")})), "(nil)");
  const auto before = nameLoads();
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "PATTERN", key("name:888*")})), "(integer) 0");
  EXPECT_EQ(show(c.call({"GET", key("name:8888")})), "(nil)");
  EXPECT_EQ(nameLoads(), before + 1);
}

TEST_F(InvalidationScopes, ScanWithAHashTaggedMatchVisitsOneNode) {
  // The same routing serves clients' own SCANs: a cursor of the owning node, all matches.
  Client c(proc_->port());
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(show(c.call({"SET", key("{scan}:" + std::to_string(i)), "x"})), "OK");
  }
  std::set<std::string> seen;
  std::string cursor = "0";
  do {
    resp::Value v = c.call({"SCAN", cursor, "MATCH", key("{scan}:*"), "COUNT", "7"});
    ASSERT_TRUE(v.isArray()) << show(v);
    cursor = v.elements[0].str;
    for (const auto& k : v.elements[1].elements) seen.insert(k.str);
  } while (cursor != "0");
  EXPECT_EQ(seen.size(), 40u);
}

TEST_F(InvalidationScopes, RefreshReloadsAndReplacesTheValue) {
  Client c(proc_->port());
  ASSERT_EQ(show(c.call({"GET", key("name:200")})), "v200");
  Pg().exec("UPDATE " + kTable + " SET v = 'fresh' WHERE id = 200");
  EXPECT_EQ(show(c.call({"GET", key("name:200")})), "v200");  // still cached
  EXPECT_EQ(show(c.call({"READTHRU.REFRESH", key("name:200")})), "fresh");
  EXPECT_EQ(show(c.call({"GET", key("name:200")})), "fresh");
  EXPECT_EQ(show(c.call({"READTHRU.REFRESH", key("name:77777")})), "(nil)");
  EXPECT_EQ(show(c.call({"READTHRU.REFRESH", key("plain")})),
            "(error) ERR readthru: key '" + key("plain") + "' matches no keyspace");
}

TEST_F(InvalidationScopes, AVersionBumpNeverReadsTheOldVersionsEntries) {
  ReadthruProcess v2(clusterBackend(), "", itemRules(2));
  Client old_c(proc_->port());
  Client new_c(v2.port());
  const std::string k = key("item:250");
  ASSERT_NE(show(old_c.call({"GET", k})).find("\"v250\""), std::string::npos);
  Pg().exec("UPDATE " + kTable + " SET v = 'second' WHERE id = 250");
  // The version 2 rule reads its own physical key: a miss, so the database's new row.
  EXPECT_NE(show(new_c.call({"GET", k})).find("\"second\""), std::string::npos);
  EXPECT_NE(show(old_c.call({"GET", k})).find("\"v250\""), std::string::npos);
  EXPECT_EQ(show(new_c.call({"EXISTS", key("item:v2:250")})), "(integer) 1");
  EXPECT_EQ(show(new_c.call({"EXISTS", key("item:250")})), "(integer) 1");  // version 0's
  // DEL through the v2 instance removes its own entry only.
  EXPECT_EQ(show(new_c.call({"DEL", k})), "(integer) 1");
  EXPECT_EQ(show(new_c.call({"EXISTS", key("item:v2:250")})), "(integer) 0");
  EXPECT_EQ(show(new_c.call({"MGET", k, key("item:251")})).find("second") != std::string::npos,
            true);
}

}  // namespace
}  // namespace readthru::testing

namespace readthru::testing {
namespace {

// SSCAN calls the cluster's masters have answered so far.
std::int64_t sscanCalls() {
  std::int64_t n = 0;
  for (std::uint16_t port : masterPorts()) {
    Client node(port);
    n += infoInteger(show(node.call({"INFO", "commandstats"})), "cmdstat_sscan:calls").value_or(0);
  }
  return n;
}

// A tag on more keys than one SSCAN batch (COUNT 1000): the set is emptied batch by batch,
// and every key goes.
TEST(InvalidationScopesBulk, ATagOnThousandsOfKeysIsInvalidatedInBatches) {
  const std::string tag = kTag + "-bulk";
  ReadthruProcess proc(clusterBackend(), "",
                       "postgres:\n  dsn: \"" + std::string(kPgDsn) +
                           "\"\n  max_inflight: 8192\nkeyspaces:\n" +
                           keyspaceRule("bulk", kTag + ":bulk:<id>", "SELECT $1::text AS v",
                                        "    params: [id]\n    format: value\n    ttl: 60s\n"
                                        "    tags: [\"" +
                                            tag + "\"]\n"));
  Client c(proc.port());
  constexpr int kKeys = 2500;
  std::string pipeline;
  for (int i = 0; i < kKeys; ++i) {
    const std::string k = kTag + ":bulk:" + std::to_string(i);
    pipeline += "*2\r\n$3\r\nGET\r\n$" + std::to_string(k.size()) + "\r\n" + k + "\r\n";
  }
  c.sendRaw(pipeline);
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(show(c.read()), std::to_string(i));
  const std::int64_t sscans = sscanCalls();
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "TAG", tag})),
            "(integer) " + std::to_string(kKeys));
  EXPECT_GE(sscanCalls() - sscans, 2) << "the set was not read in batches";
  for (int i = 0; i < kKeys; i += 97) {
    EXPECT_EQ(show(c.call({"EXISTS", kTag + ":bulk:" + std::to_string(i)})), "(integer) 0") << i;
  }
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "TAG", tag})), "(integer) 0");
}

}  // namespace
}  // namespace readthru::testing
