// Race-free fills against the real stack: a fill lands only while its own lease is still
// in the key's state key, and every invalidation removes the lease with the key. Two
// readthru instances share one Redis Cluster, as in production.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cache/side_keys.hpp"
#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "rff" + std::to_string(::getpid());
const std::string kTable = kTag + "_rows";

std::string rules() {
  return "postgres:\n  dsn: \"" + std::string(kPgDsn) +
         "\"\n  statement_timeout: 2s\nkeyspaces:\n" +
         keyspaceRule(
             "row", kTag + ":row:<id>", "SELECT v FROM " + kTable + " WHERE id = $1",
             "    params: [id]\n    format: value\n    ttl: 60s\n    negative_ttl: 60s\n") +
         keyspaceRule("slow", kTag + ":slow:<id>",
                      "SELECT v FROM " + kTable + " WHERE id = $1 AND pg_sleep(0.4) IS NOT NULL",
                      "    params: [id]\n    format: value\n    ttl: 60s\n");
}

class RaceFreeFill : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kTable);
    pg.exec("CREATE TABLE " + kTable + " (id int PRIMARY KEY, v int NOT NULL)");
    pg.exec("INSERT INTO " + kTable + " VALUES (1, 0), (2, 0)");
    a_ = new ReadthruProcess(clusterBackend(), "", rules());
    b_ = new ReadthruProcess(clusterBackend(), "", rules());
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
    a_ = b_ = nullptr;
    Pg().exec("DROP TABLE IF EXISTS " + kTable);
  }
  // What Redis itself holds under `key`, read from the slot's master (not through readthru,
  // which would load a missing key).
  static std::string inRedis(const std::string& key) {
    Client node(slotOwner(keySlot(key)).master);
    return show(node.call({"GET", key}));
  }
  static inline ReadthruProcess* a_ = nullptr;
  static inline ReadthruProcess* b_ = nullptr;
};

TEST_F(RaceFreeFill, AnotherInstancesInvalidationStopsTheFill) {
  const std::string k = kTag + ":slow:2";
  Client reader(a_->port());
  Client admin(b_->port());
  Pg pg;
  reader.send({"GET", k});  // instance A loads for ~400 ms
  // Its statement sleeps: it has its snapshot, so it reads the row as it was before this.
  ASSERT_TRUE(eventually([&] { return pg.sleepingIn(kTable); }, 5s, 10ms))
      << "the load never reached the database";
  pg.exec("UPDATE " + kTable + " SET v = 5 WHERE id = 2");
  EXPECT_EQ(show(admin.call({"READTHRU.INVALIDATE", "KEY", k})), "(integer) 0");  // via B
  EXPECT_EQ(show(reader.read()), "0");  // A read the row before the update: served...
  EXPECT_EQ(inRedis(k), "(nil)");       // ...but its lease was gone, so not stored
  const resp::Value info = reader.call({"INFO", "readthru"});
  EXPECT_EQ(infoInteger(info.str, "readthru_fills_rejected"), 1);
  EXPECT_EQ(show(reader.call({"GET", k})), "5");
  EXPECT_EQ(inRedis(k), "5");
}

// The acceptance test of race-free fills: one key, hammered with reads through both
// instances while the row changes and is invalidated 10,000 times. Whenever the writes
// stop, the cache must hold exactly what the database holds.
TEST_F(RaceFreeFill, TenThousandRoundsLeaveTheCacheEqualToTheDatabase) {
  const std::string k = kTag + ":row:1";
  const std::string state = cache::stateKey(k);  // holds the lease of a load in flight
  std::atomic<bool> stop{false};
  std::atomic<bool> pause{false};
  std::atomic<int> paused{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      Client c(r % 2 == 0 ? a_->port() : b_->port());
      while (!stop.load()) {
        if (pause.load()) {
          ++paused;
          while (pause.load() && !stop.load()) std::this_thread::sleep_for(1ms);
          --paused;
          continue;
        }
        const resp::Value v = c.call({"GET", k});
        if (v.isError()) ADD_FAILURE() << show(v);
        ++reads;
      }
    });
  }
  Pg pg;
  Client via_a(a_->port());
  Client via_b(b_->port());
  int settled = 0;
  for (int round = 1; round <= 10000; ++round) {
    pg.exec("UPDATE " + kTable + " SET v = " + std::to_string(round) + " WHERE id = 1");
    Client& admin = round % 2 == 0 ? via_a : via_b;
    ASSERT_FALSE(admin.call({"READTHRU.INVALIDATE", "KEY", k}).isError());
    if (round % 500 != 0) continue;
    // Let the dust settle: readers stop (each reader's last GET answered, and readthru
    // answers a load's clients once its fill script has run), and no load holds a lease
    // (a refused fill drops its lease after the answer). Then a bounded wait: a fill that
    // wrongly landed late, without its lease, has had its chance to show.
    pause = true;
    if (!eventually([&] { return paused.load() == 4; }, 10s, 1ms)) {
      ADD_FAILURE() << "round " << round << ": the readers did not pause";
      break;
    }
    EXPECT_TRUE(eventually([&] { return inRedis(state) == "(nil)"; }, 10s, 5ms))
        << "round " << round << ": a lease stayed in " << state << ": " << inRedis(state);
    std::this_thread::sleep_for(50ms);
    const std::string want = std::to_string(round);
    const std::string cached = inRedis(k);
    EXPECT_TRUE(cached == "(nil)" || cached == want)
        << "round " << round << ": Redis holds " << cached << ", the database " << want;
    EXPECT_EQ(show(via_a.call({"GET", k})), want) << "round " << round;
    EXPECT_EQ(show(via_b.call({"GET", k})), want) << "round " << round;
    EXPECT_EQ(inRedis(k), want) << "round " << round;
    ++settled;
    pause = false;
    if (HasFailure()) break;
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(settled, 20);
  EXPECT_GT(reads.load(), 1000);
  std::cout << "race test: " << reads.load() << " reads over 10,000 update+invalidate rounds\n";
}

}  // namespace
}  // namespace readthru::testing
