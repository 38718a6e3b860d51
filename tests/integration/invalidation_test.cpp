// Explicit invalidation through the RESP endpoint: READTHRU.INVALIDATE KEY, and DEL/UNLINK
// of managed keys, against the real stack. Loads are counted with pg_stat_statements.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"
#include "resp/writer.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

std::string asciiLowerString(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

const std::string kTag = "inv" + std::to_string(::getpid());
const std::string kTable = kTag + "_items";

class Invalidation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kTable);
    pg.exec("CREATE TABLE " + kTable + " (id int PRIMARY KEY, v text)");
    pg.exec("INSERT INTO " + kTable + " SELECT i, 'v' || i FROM generate_series(1, 100) i");
    const std::string rules =
        "postgres:\n  dsn: \"" + std::string(kPgDsn) + "\"\nkeyspaces:\n" +
        keyspaceRule("item", kTag + ":item:<id>", "SELECT v FROM " + kTable + " WHERE id = $1",
                     "    params: [id]\n    format: value\n    ttl: 60s\n    negative_ttl: 60s\n") +
        keyspaceRule("slow", kTag + ":slow:<id>",
                     "SELECT v FROM " + kTable + " WHERE id = $1 AND pg_sleep(0.4) IS NOT NULL",
                     "    params: [id]\n    format: value\n    ttl: 60s\n");
    proc_ = new ReadthruProcess(clusterBackend(), "", rules);
  }
  static void TearDownTestSuite() {
    delete proc_;
    proc_ = nullptr;
    Pg().exec("DROP TABLE IF EXISTS " + kTable);
  }
  static std::string key(const std::string& rest) { return kTag + ":" + rest; }
  static std::int64_t loads() { return Pg().calls("FROM " + kTable + " WHERE id = $1"); }
  static inline ReadthruProcess* proc_ = nullptr;
};

TEST_F(Invalidation, KeyRemovesValuesAndNegativeMarkers) {
  Client c(proc_->port());
  ASSERT_EQ(show(c.call({"GET", key("item:1")})), "v1");
  ASSERT_EQ(show(c.call({"GET", key("item:500")})), "(nil)");  // cached as "no row"
  ASSERT_EQ(show(c.call({"SET", key("plain"), "x"})), "OK");
  const auto before = loads();
  // Counted as UNLINK counts: the value and the plain key; the negative marker is not a key
  // the application ever saw.
  EXPECT_EQ(
      show(c.call({"READTHRU.INVALIDATE", "KEY", key("item:1"), key("item:500"), key("plain")})),
      "(integer) 2");
  EXPECT_EQ(show(c.call({"EXISTS", key("plain")})), "(integer) 0");
  // Both managed keys load again.
  EXPECT_EQ(show(c.call({"GET", key("item:1")})), "v1");
  EXPECT_EQ(show(c.call({"GET", key("item:500")})), "(nil)");
  EXPECT_EQ(loads(), before + 2);
}

TEST_F(Invalidation, DelOfAManagedKeyDropsItsNegativeMarkerToo) {
  Client c(proc_->port());
  ASSERT_EQ(show(c.call({"GET", key("item:2")})), "v2");
  ASSERT_EQ(show(c.call({"GET", key("item:600")})), "(nil)");
  const auto before = loads();
  EXPECT_EQ(show(c.call({"DEL", key("item:2"), key("item:600")})), "(integer) 1");
  EXPECT_EQ(show(c.call({"GET", key("item:600")})), "(nil)");
  EXPECT_EQ(show(c.call({"UNLINK", key("item:600")})), "(integer) 0");
  EXPECT_EQ(show(c.call({"GET", key("item:600")})), "(nil)");
  EXPECT_EQ(loads(), before + 2);  // each GET after a DEL/UNLINK asked the database
  // Plain keys are untouched by any of this.
  ASSERT_EQ(show(c.call({"SET", key("p2"), "y"})), "OK");
  EXPECT_EQ(show(c.call({"DEL", key("p2")})), "(integer) 1");
}

TEST_F(Invalidation, ALoadOvertakenByAnInvalidationIsServedButNotStored) {
  Client reader(proc_->port());
  Client admin(proc_->port());
  const std::string k = key("slow:3");
  Pg pg;
  reader.send({"GET", k});  // loads for ~400 ms
  ASSERT_TRUE(eventually([&] { return pg.sleepingIn(kTable); }, 5s, 10ms))
      << "the load never reached the database";
  EXPECT_EQ(show(admin.call({"READTHRU.INVALIDATE", "KEY", k})), "(integer) 0");
  EXPECT_EQ(show(reader.read()), "v3");
  EXPECT_EQ(show(admin.call({"EXISTS", k})), "(integer) 0");
  const resp::Value info = admin.call({"INFO", "readthru"});
  EXPECT_EQ(infoInteger(info.str, "readthru_fills_cancelled"), 1);
  EXPECT_GE(infoInteger(info.str, "readthru_invalidated_keys").value_or(0), 1);
  // Not a lasting block: the next read loads and stores.
  EXPECT_EQ(show(reader.call({"GET", k})), "v3");
  EXPECT_EQ(show(admin.call({"EXISTS", k})), "(integer) 1");
}

TEST_F(Invalidation, DelKeepsItsPlaceInTheClientsPipeline) {
  Client c(proc_->port());
  const std::string k = key("item:7");
  std::string pipeline;
  for (int i = 0; i < 50; ++i) {
    resp::appendCommand(pipeline, std::vector<std::string>{"SET", k, "x"});
    resp::appendCommand(pipeline, std::vector<std::string>{"DEL", k});
    resp::appendCommand(pipeline, std::vector<std::string>{"EXISTS", k});
  }
  c.sendRaw(pipeline);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(show(c.read()), "OK");
    ASSERT_EQ(show(c.read()), "(integer) 1") << "round " << i;
    ASSERT_EQ(show(c.read()), "(integer) 0") << "round " << i;
  }
}

TEST_F(Invalidation, CommandTableAndErrors) {
  Client c(proc_->port());
  const std::string info = show(c.call({"COMMAND", "INFO", "readthru.invalidate"}));
  EXPECT_NE(info.find("readthru.invalidate"), std::string::npos) << info;
  EXPECT_EQ(show(c.call({"COMMAND", "GETKEYS", "READTHRU.INVALIDATE", "KEY", "a", "b"})), "[a, b]");
  EXPECT_EQ(show(c.call({"COMMAND", "GETKEYS", "READTHRU.REFRESH", "k"})), "[k]");
  for (const char* sub : {"KEY", "TAG", "KEYSPACE", "PATTERN"}) {
    const std::string subs = show(c.call({"COMMAND", "INFO", "readthru.invalidate"}));
    EXPECT_NE(subs.find(std::string("readthru.invalidate|") + asciiLowerString(sub)),
              std::string::npos)
        << sub << ": " << subs;
  }
  EXPECT_NE(show(c.call({"COMMAND", "INFO", "readthru.refresh"})).find("readthru.refresh"),
            std::string::npos);
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "KEYSPACE"})),
            "(error) ERR wrong number of arguments for 'readthru.invalidate|keyspace' command");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "COLOUR", "x"})),
            "(error) ERR unknown subcommand 'COLOUR'. READTHRU.INVALIDATE takes KEY, TAG, "
            "KEYSPACE or PATTERN.");
  EXPECT_EQ(show(c.call({"READTHRU.INVALIDATE", "KEY"})),
            "(error) ERR wrong number of arguments for 'readthru.invalidate|key' command");
}

}  // namespace
}  // namespace readthru::testing
