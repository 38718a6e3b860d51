// The change stream's applier while Redis cannot acknowledge invalidations (issue 9 item
// 10): readthru in front of a redis-server of the test's own, which the test stops
// (SIGSTOP) while PostgreSQL commits many small transactions. The applier's queue must
// stay within cdc.max_queued_transactions (the stream is paused: the source stops
// delivering, and nothing past the applied transactions is confirmed, so the database
// keeps its log), and once Redis is back every change must reach the cache.
//
// Only the stack's PostgreSQL is used (the postgres lock); the table, publication and
// slot are the test's own and are dropped at the end.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "cbp" + std::to_string(::getpid());
const std::string kTable = kTag + "_items";
const std::string kSlot = kTag + "_slot";
constexpr int kRows = 300;
constexpr int kMaxQueued = 20;

std::string sections() {
  return "postgres:\n  dsn: \"" + std::string(kPgDsn) + "\"\nkeyspaces:\n" +
         keyspaceRule("item", kTag + ":item:<id>", "SELECT v FROM " + kTable + " WHERE id = $1",
                      "    params: [id]\n    format: value\n    ttl: 300s\n"
                      "    invalidate:\n      - table: " +
                          kTable + "\n        key: [id]\n") +
         // A lease longer than the test's outage: the leader must not step down meanwhile
         // (that would drop the queue, and prove nothing about its bound).
         "cdc:\n  slot: " + kSlot + "\n  publication: " + kTag +
         "_pub\n  leader_lease: 60s\n  max_queued_transactions: " + std::to_string(kMaxQueued) +
         "\n";
}

std::string item(int id) { return kTag + ":item:" + std::to_string(id); }

// Drops what the test made in PostgreSQL, once readthru's walsender has let the slot go.
struct PgCleanup {
  PgCleanup() { drop(); }
  ~PgCleanup() {
    try {
      drop();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
  }
  static void drop() {
    Pg pg;
    eventually(
        [&] {
          return pg.scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + kSlot +
                           "' AND active") == "0";
        },
        10s, 100ms);
    pg.exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE " +
            std::string("slot_name = '") + kSlot + "'");
    pg.exec("DROP PUBLICATION IF EXISTS " + kTag + "_pub");
    pg.exec("DROP TABLE IF EXISTS " + kTable);
  }
};

std::int64_t counter(std::uint16_t port, const std::string& name) {
  try {
    Client c(port);
    return infoInteger(show(c.call({"INFO", "readthru"})), name).value_or(-1);
  } catch (const std::exception&) {
    return -1;
  }
}

TEST(CdcBackpressure, TheQueueStaysBoundedWhileRedisIsStoppedAndNothingIsLost) {
  PgCleanup cleanup;
  {
    Pg pg;
    pg.exec("CREATE TABLE " + kTable + " (id int PRIMARY KEY, v text)");
    pg.exec("INSERT INTO " + kTable + " SELECT i, 'old' || i FROM generate_series(1, " +
            std::to_string(kRows) + ") i");
  }
  RedisServer redis;
  ReadthruProcess rt("  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(redis.port()) +
                         "\"]\n  command_timeout: 500ms\n",
                     "", sections());
  ASSERT_TRUE(eventually([&] { return counter(rt.port(), "cdc_connected") == 1; }, 20s));
  {
    Client c(rt.port());
    for (int id = 1; id <= kRows; ++id) {
      ASSERT_EQ(show(c.call({"GET", item(id)})), "old" + std::to_string(id));
    }
  }

  redis.pause();
  // One transaction per row, committed one after another.
  Pg pg;
  const std::string before = pg.scalar("SELECT pg_current_wal_lsn()");
  pg.exec("DO $$ BEGIN FOR i IN 1.." + std::to_string(kRows) + " LOOP UPDATE " + kTable +
          " SET v = 'new' || i WHERE id = i; COMMIT; END LOOP; END $$");

  // The stream pauses at the bound; then, while the applier keeps failing against the
  // stopped Redis, the queue never grows past it and the source delivers no more.
  ASSERT_TRUE(eventually([&] { return counter(rt.port(), "cdc_paused") == 1; }, 20s))
      << "the stream was not paused";
  const auto errors_at_pause = counter(rt.port(), "cdc_apply_errors");
  std::int64_t most_queued = 0, delivered = 0;
  const bool kept_failing = eventually(
      [&] {
        const auto queued = counter(rt.port(), "cdc_queued_transactions");
        most_queued = std::max(most_queued, queued);
        delivered = std::max(delivered, counter(rt.port(), "cdc_transactions"));
        EXPECT_LE(queued, kMaxQueued);
        return counter(rt.port(), "cdc_apply_errors") >= errors_at_pause + 3;
      },
      20s, 100ms);
  EXPECT_TRUE(kept_failing) << "the applier did not keep retrying against the stopped Redis";
  EXPECT_EQ(counter(rt.port(), "cdc_paused"), 1);
  EXPECT_LE(counter(rt.port(), "cdc_queued_transactions"), kMaxQueued);
  EXPECT_LE(delivered - counter(rt.port(), "cdc_transactions_applied"), kMaxQueued);
  EXPECT_LT(delivered, kRows) << "the source kept delivering while paused";
  // Nothing of the updates is confirmed: the database still has every one of them.
  EXPECT_EQ(pg.scalar("SELECT confirmed_flush_lsn <= '" + before +
                      "'::pg_lsn FROM pg_replication_slots WHERE slot_name = '" + kSlot + "'"),
            "t");
  std::cout << "Redis stopped: " << kRows << " transactions committed, at most " << most_queued
            << " queued (bound " << kMaxQueued << "), " << delivered
            << " delivered by the stream, confirmed position held at or before " << before << "\n";

  redis.resume();
  const auto t_back = std::chrono::steady_clock::now();
  // Caught up: every transaction applied, the queue empty, the stream reading again.
  const bool caught_up = eventually(
      [&] {
        return counter(rt.port(), "cdc_transactions_applied") >= kRows &&
               counter(rt.port(), "cdc_queued_transactions") == 0 &&
               counter(rt.port(), "cdc_paused") == 0;
      },
      30s, 100ms);
  EXPECT_TRUE(caught_up) << "applied " << counter(rt.port(), "cdc_transactions_applied")
                         << ", queued " << counter(rt.port(), "cdc_queued_transactions");
  std::cout << "Redis back: every transaction applied after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t_back)
                   .count()
            << " ms\n";
  EXPECT_GE(counter(rt.port(), "cdc_pauses"), 1);
  // Nothing lost: Redis itself holds no old value (reads through readthru could not tell,
  // since they fall back to the database while Redis is unavailable), and readthru
  // serves the new ones.
  Client direct(redis.port());
  Client c(rt.port());
  int stale = 0, wrong = 0;
  for (int id = 1; id <= kRows; ++id) {
    if (show(direct.call({"GET", item(id)})).find("old") != std::string::npos) ++stale;
    if (show(c.call({"GET", item(id)})) != "new" + std::to_string(id)) ++wrong;
  }
  EXPECT_EQ(stale, 0) << "keys Redis still holds with the old row: a change was lost";
  EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace readthru::testing
