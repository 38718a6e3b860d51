// The stack's PostgreSQL stopped (pg_ctl -m fast) and started again while clients read
// managed keys through readthru: hot keys (cached) keep their values all along, cold keys
// (misses) get `-ERR readthru: ...` at once or by their request_deadline, never a hang and
// never a wrong value, and load again once the database is back; keys of a keyspace with
// stale_if_error whose TTL passes while the database is down keep their last value (the
// stale ladder), without an error. Every value is checked
// against the table the keyspace reads. This test stops a part of the shared stack (it
// holds the postgres lock) and starts it again, whatever happens (PgStarter).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "stack.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kTag = "pgr" + std::to_string(::getpid());
const std::string kTable = "fault_pg_restart_" + std::to_string(::getpid());
constexpr int kHotKeys = 200;       // ids 1..200, cached before the fault
constexpr int kRows = 100000;       // cold readers walk ids 201.., one load each
constexpr auto kDeadline = 2000ms;  // the keyspace's request_deadline

std::string key(int id) { return kTag + ":" + std::to_string(id); }
// Keys of the stale_if_error keyspace: ids 1..kStaleKeys, over the same table.
constexpr int kStaleKeys = 50;
std::string staleKey(int id) { return kTag + ":s:" + std::to_string(id); }
// The row the table holds for `id` (the SQL below writes the same).
std::string row(int id) {
  return "v" + std::to_string(id * 7919 % 100003) + "-" + std::to_string(id);
}

long long ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Starts the database again when the test ends, however it ends: later tests need it.
struct PgStarter {
  ~PgStarter() {
    if (!runStack("pg-start", 60s)) ADD_FAILURE() << "scripts/stack pg-start failed";
  }
};

struct Tally {
  std::mutex mutex;
  long long hot_reads = 0, hot_reads_while_down = 0, cold_loads = 0, cold_errors = 0, wrong = 0;
  long long errors_before_stop = 0, other_errors = 0;
  long long stale_reads = 0, stale_reads_while_down = 0, stale_errors = 0;
  Clock::duration slowest_cold{};
  Clock::time_point first_error{}, last_error{}, first_load_after_start{};
  std::vector<std::string> samples;        // wrong values and unexpected errors
  std::map<std::string, long long> kinds;  // cold errors, by their text (cut)
};

TEST(PostgresRestart, HotKeysAreServedColdKeysFailFastAndLoadAgainAfterTheRestart) {
  DropTableAtExit drop_table_at_the_end(kTable);
  {
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kTable + "; CREATE TABLE " + kTable +
            " (id int PRIMARY KEY, v text NOT NULL); INSERT INTO " + kTable +
            " SELECT i, 'v' || (i * 7919 % 100003) || '-' || i FROM generate_series(1, " +
            std::to_string(kRows) + ") i");
    // The expected values are the table's, not the test's formula alone.
    for (int id : {1, kHotKeys, kHotKeys + 1, kRows}) {
      ASSERT_EQ(pg.scalar("SELECT v FROM " + kTable + " WHERE id = " + std::to_string(id)),
                row(id));
    }
  }
  const std::string sections =
      "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app\"\n"
      "  connect_timeout: 500ms\n  statement_timeout: 1s\nkeyspaces:\n" +
      keyspaceRule("pgr", kTag + ":<id>", "SELECT v FROM " + kTable + " WHERE id = $1",
                   "    params: [id]\n    format: value\n    ttl: 300s\n"
                   "    request_deadline: 2s\n") +
      keyspaceRule("pgs", kTag + ":s:<id>", "SELECT v FROM " + kTable + " WHERE id = $1",
                   "    params: [id]\n    format: value\n    ttl: 300ms\n"
                   "    stale_if_error: 5m\n    request_deadline: 2s\n");
  ReadthruProcess rt(clusterBackend(), "", sections);
  Client admin(rt.port());
  const long long pid = infoField(admin, "server", "process_id").value_or(0);
  ASSERT_GT(pid, 0);
  for (int id = 1; id <= kHotKeys; ++id) ASSERT_EQ(show(admin.call({"GET", key(id)})), row(id));
  for (int id = 1; id <= kStaleKeys; ++id) {
    ASSERT_EQ(show(admin.call({"GET", staleKey(id)})), row(id));
  }
  const long long rss_before = memoryKib(pid, "VmRSS").value_or(0);

  Tally tally;
  std::atomic<bool> stop{false};
  std::atomic<Clock::rep> stopped_at{Clock::time_point::max().time_since_epoch().count()};
  std::atomic<Clock::rep> started_at{Clock::time_point::max().time_since_epoch().count()};
  std::atomic<bool> down{false};
  std::atomic<int> next_cold{kHotKeys + 1};
  auto since = [](const std::atomic<Clock::rep>& at, Clock::time_point t) {
    return t >= Clock::time_point(Clock::duration(at.load()));
  };
  std::vector<std::thread> readers;
  // One reader of the stale_if_error keyspace: its values expire every 300 ms, and while
  // the database is down the reload fails and the last value is served.
  readers.emplace_back([&] {
    Client c(rt.port());
    for (int n = 0; !stop.load(); ++n) {
      const int id = 1 + n % kStaleKeys;
      const std::string got = show(c.call({"GET", staleKey(id)}));
      std::lock_guard lock(tally.mutex);
      if (got == row(id)) {
        ++tally.stale_reads;
        if (down.load()) ++tally.stale_reads_while_down;
      } else if (got.rfind("(error) ", 0) == 0) {
        ++tally.stale_errors;
        if (tally.samples.size() < 5) tally.samples.push_back(staleKey(id) + " -> " + got);
      } else {
        ++tally.wrong;
        if (tally.samples.size() < 5) tally.samples.push_back(staleKey(id) + " -> " + got);
      }
    }
  });
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      Client c(rt.port());
      const bool hot = r < 2;
      int id = hot ? 1 + r : next_cold.fetch_add(1);
      while (!stop.load()) {
        const auto sent = Clock::now();
        const std::string got = show(c.call({"GET", key(id)}));
        const auto took = Clock::now() - sent;
        std::lock_guard lock(tally.mutex);
        if (got == row(id)) {
          if (hot) {
            ++tally.hot_reads;
            if (down.load()) ++tally.hot_reads_while_down;
            id = 1 + (id + 37) % kHotKeys;
          } else {
            ++tally.cold_loads;
            tally.slowest_cold = std::max(tally.slowest_cold, took);
            if (since(started_at, sent) && tally.first_load_after_start == Clock::time_point{}) {
              tally.first_load_after_start = Clock::now();
            }
            id = next_cold.fetch_add(1);  // a failed id stays cold: it is read again
          }
          continue;
        }
        if (got.rfind("(error) ", 0) != 0) {
          ++tally.wrong;
          if (tally.samples.size() < 5) tally.samples.push_back(key(id) + " -> " + got);
          continue;
        }
        tally.slowest_cold = std::max(tally.slowest_cold, took);
        if (hot || got.rfind("(error) ERR readthru: ", 0) != 0) {
          ++tally.other_errors;
          if (tally.samples.size() < 5) tally.samples.push_back(key(id) + " -> " + got);
        } else if (!since(stopped_at, sent)) {
          ++tally.errors_before_stop;
        } else {
          ++tally.cold_errors;
          if (tally.first_error == Clock::time_point{}) tally.first_error = sent;
          tally.last_error = sent;
          ++tally.kinds[got.substr(0, 150)];
        }
      }
    });
  }
  auto counts = [&](auto field) {
    std::lock_guard lock(tally.mutex);
    return tally.*field;
  };
  // The readers are under way before the fault.
  ASSERT_TRUE(eventually([&] { return counts(&Tally::cold_loads) >= 200; }, 20s));

  PgStarter restart_whatever_happens;
  const auto stop_at = Clock::now();
  stopped_at = stop_at.time_since_epoch().count();
  ASSERT_TRUE(runStack("pg-stop", 40s)) << "scripts/stack pg-stop failed";
  const auto stopped = Clock::now();
  down = true;
  // Down for at least 3 s, with cold reads failing and hot ones still served.
  const bool failing = eventually(
      [&] {
        return Clock::now() - stopped >= 3s && counts(&Tally::cold_errors) >= 20 &&
               counts(&Tally::hot_reads_while_down) >= 200 &&
               counts(&Tally::stale_reads_while_down) >= 200;
      },
      20s);
  const long long loads_while_down = counts(&Tally::cold_loads);
  down = false;
  const auto start_at = Clock::now();
  started_at = start_at.time_since_epoch().count();
  ASSERT_TRUE(runStack("pg-start", 60s)) << "scripts/stack pg-start failed";
  const auto started = Clock::now();
  // Loads work again: 500 cold keys loaded after the last error any reader saw.
  long long loads_at_last_error = 0;
  auto last_error = Clock::time_point{};
  const bool recovered = eventually(
      [&] {
        std::lock_guard lock(tally.mutex);
        if (tally.last_error != last_error) {
          last_error = tally.last_error;
          loads_at_last_error = tally.cold_loads;
        }
        return tally.first_load_after_start != Clock::time_point{} &&
               tally.cold_loads >= loads_at_last_error + 500;
      },
      30s, 20ms);
  stop = true;
  for (auto& t : readers) t.join();

  std::cout << "postgres stopped (pg_ctl -m fast) for " << ms(started - stop_at)
            << " ms (the stop took " << ms(stopped - stop_at) << " ms, the start "
            << ms(started - start_at) << " ms): " << tally.hot_reads << " hot reads ("
            << tally.hot_reads_while_down << " while down), " << tally.cold_loads << " cold loads, "
            << tally.cold_errors << " cold errors";
  if (tally.cold_errors > 0) {
    std::cout << " from " << ms(tally.first_error - stop_at) << " ms after the stop to "
              << ms(tally.last_error - start_at) << " ms after the start";
  }
  std::cout << "; loads worked again " << ms(tally.first_load_after_start - start_at)
            << " ms after pg-start began (" << ms(tally.first_load_after_start - started)
            << " ms after it returned); slowest cold read " << ms(tally.slowest_cold) << " ms\n";
  const long long stale_served =
      infoField(admin, "readthru", "readthru_stale_if_error_served").value_or(0);
  std::cout << "stale_if_error keyspace: " << tally.stale_reads << " reads ("
            << tally.stale_reads_while_down << " while down), " << tally.stale_errors << " errors, "
            << stale_served << " stale values served\n";
  for (const auto& [kind, n] : tally.kinds) std::cout << "  " << n << " x " << kind << "\n";
  for (const auto& s : tally.samples) std::cout << "  " << s << "\n";

  EXPECT_TRUE(failing)
      << "cold reads did not fail, or hot reads stopped, while the database was down";
  EXPECT_TRUE(recovered) << "cold keys did not load again after the restart";
  EXPECT_EQ(tally.wrong, 0);
  EXPECT_EQ(tally.other_errors, 0) << "hot keys failed, or an error was not readthru's own";
  EXPECT_EQ(tally.errors_before_stop, 0);
  // The stale ladder: expired values were served while the reload could not run.
  EXPECT_EQ(tally.stale_errors, 0);
  EXPECT_GE(stale_served, 1);
  // Fail fast: no miss waited past its request_deadline (plus scheduling slack).
  EXPECT_LT(tally.slowest_cold, kDeadline + 1s);
  EXPECT_LE(counts(&Tally::cold_loads) - loads_while_down, kRows);

  // readthru is fine: answering, counting, its memory where it was.
  EXPECT_EQ(show(admin.call({"PING"})), "PONG");
  EXPECT_GE(infoField(admin, "readthru", "readthru_load_errors").value_or(0), 1);
  const long long rss_after = memoryKib(pid, "VmRSS").value_or(0);
  EXPECT_LT(rss_after - rss_before, rssBoundKib(64 * 1024))
      << rss_before << " -> " << rss_after << " KiB";
  std::cout << "readthru RSS " << rss_before << " -> " << rss_after << " KiB\n";

  // Clean up the keys read (the table goes with drop_table_at_the_end).
  std::vector<std::string> del{"DEL"};
  for (int id = 1; id <= kStaleKeys; ++id) del.push_back(staleKey(id));
  for (int id = 1; id < next_cold.load() && id <= kRows; ++id) {
    del.push_back(key(id));
    if (del.size() == 500 || id + 1 == next_cold.load()) {
      admin.call(del);
      del.resize(1);
    }
  }
}

}  // namespace
}  // namespace readthru::testing
