// The cluster's masters full (a small maxmemory) and evicting with allkeys-lfu while
// clients read managed keys: every read answers the row PostgreSQL holds, evicted keys
// are loaded again, and the masters count their evictions. This test changes the shared
// cluster's config (it holds the redis_cluster lock) and puts the old values back at the
// end, however the test ends (MaxmemoryGuard).

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kTag = "ev" + std::to_string(::getpid());
const std::string kTable = "fault_eviction_" + std::to_string(::getpid());
constexpr int kRows = 20000;    // 1 KiB each: about 20 MiB, while the masters hold ~12
constexpr int kHotRows = 1000;  // half the reads go to these
constexpr long long kRoomBytes = 4 * 1024 * 1024;  // each master's maxmemory: used + this

std::string key(int id) { return kTag + ":" + std::to_string(id); }

std::string configGet(Client& c, const std::string& name) {
  const auto v = c.call({"CONFIG", "GET", name});
  if (!v.isArray() || v.elements.size() != 2) throw std::runtime_error("CONFIG GET " + name);
  return v.elements[1].str;
}

long long evictedKeys(const std::vector<std::uint16_t>& masters) {
  long long n = 0;
  for (std::uint16_t port : masters) {
    Client c(port);
    n += infoInteger(show(c.call({"INFO", "stats"})), "evicted_keys").value_or(0);
  }
  return n;
}

// Caps each master's memory just above what it uses now, with allkeys-lfu, and puts each
// one's maxmemory and maxmemory-policy back when it goes out of scope.
class MaxmemoryGuard {
 public:
  explicit MaxmemoryGuard(const std::vector<std::uint16_t>& masters) {
    for (std::uint16_t port : masters) {
      Client c(port);
      saved_.push_back({port, configGet(c, "maxmemory"), configGet(c, "maxmemory-policy")});
    }
    try {
      for (std::uint16_t port : masters) {
        Client c(port);
        const auto used = infoInteger(show(c.call({"INFO", "memory"})), "used_memory");
        if (!used) throw std::runtime_error("no used_memory on " + std::to_string(port));
        const std::string cap = std::to_string(*used + kRoomBytes);
        if (show(c.call({"CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"})) != "OK" ||
            show(c.call({"CONFIG", "SET", "maxmemory", cap})) != "OK") {
          throw std::runtime_error("CONFIG SET on " + std::to_string(port));
        }
      }
    } catch (...) {
      restore();  // the destructor does not run for a constructor that throws
      throw;
    }
  }
  ~MaxmemoryGuard() { restore(); }
  MaxmemoryGuard(const MaxmemoryGuard&) = delete;
  MaxmemoryGuard& operator=(const MaxmemoryGuard&) = delete;

 private:
  void restore() {
    for (const auto& s : saved_) {
      try {
        Client c(s.port);
        const std::string a = show(c.call({"CONFIG", "SET", "maxmemory", s.maxmemory}));
        const std::string b = show(c.call({"CONFIG", "SET", "maxmemory-policy", s.policy}));
        if (a != "OK" || b != "OK") ADD_FAILURE() << "restoring " << s.port << ": " << a << b;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "could not restore maxmemory on " << s.port << ": " << e.what();
      }
    }
  }

  struct Saved {
    std::uint16_t port;
    std::string maxmemory;
    std::string policy;
  };
  std::vector<Saved> saved_;
};

TEST(RedisEviction, FullMastersEvictWithLfuAndEveryReadIsStillRight) {
  DropTableAtExit drop_table_at_the_end(kTable);
  std::vector<std::string> rows(kRows + 1);
  {
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kTable + "; CREATE TABLE " + kTable +
            " (id int PRIMARY KEY, v text NOT NULL); INSERT INTO " + kTable +
            " SELECT i, repeat(md5(i::text), 32) FROM generate_series(1, " + std::to_string(kRows) +
            ") i");
    for (const auto& r : pg.rows("SELECT id, v FROM " + kTable)) rows.at(std::stoi(r[0])) = r[1];
  }
  const std::string sections =
      "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app\"\nkeyspaces:\n" +
      keyspaceRule("ev", kTag + ":<id>", "SELECT v FROM " + kTable + " WHERE id = $1",
                   "    params: [id]\n    format: value\n    ttl: 300s\n");
  ReadthruProcess rt(clusterBackend(), "", sections);
  Client admin(rt.port());
  const long long pid = infoField(admin, "server", "process_id").value_or(0);
  ASSERT_GT(pid, 0);
  const long long rss_before = memoryKib(pid, "VmRSS").value_or(0);

  const auto masters = masterPorts();
  ASSERT_EQ(masters.size(), 3u);
  const long long evicted_before = evictedKeys(masters);
  std::mutex mutex;
  long long reads = 0, errors = 0, wrong = 0;
  std::vector<std::string> samples;
  std::vector<bool> seen(kRows + 1, false);
  std::atomic<bool> stop{false};
  {
    MaxmemoryGuard full(masters);
    std::vector<std::thread> readers;
    for (int r = 0; r < 3; ++r) {
      readers.emplace_back([&, r] {
        Client c(rt.port());
        std::mt19937 rng(static_cast<unsigned>(r + 1));
        std::uniform_int_distribution<int> any(1, kRows), hot(1, kHotRows);
        for (int n = 0; !stop.load(); ++n) {
          const int id = n % 2 == 0 ? hot(rng) : any(rng);
          const std::string got = show(c.call({"GET", key(id)}));
          std::lock_guard lock(mutex);
          ++reads;
          seen[id] = true;
          if (got == rows[id]) continue;
          ++(got.rfind("(error) ", 0) == 0 ? errors : wrong);
          if (samples.size() < 5) samples.push_back(key(id) + " -> " + got.substr(0, 80));
        }
      });
    }
    // Until the masters have evicted a good many keys and readthru loaded them again.
    const bool evicting = eventually(
        [&] {
          long long n = 0;
          {
            std::lock_guard lock(mutex);
            n = reads;
          }
          return n >= 40000 && evictedKeys(masters) - evicted_before >= 5000;
        },
        45s, 200ms);
    stop = true;
    for (auto& t : readers) t.join();
    EXPECT_TRUE(evicting) << reads << " reads, " << evictedKeys(masters) - evicted_before
                          << " keys evicted";
  }  // the masters' maxmemory and policy are back

  long long distinct = 0;
  for (bool s : seen) distinct += s ? 1 : 0;
  const std::string info = show(admin.call({"INFO", "readthru"}));
  const long long loads = infoInteger(info, "readthru_loads").value_or(0);
  const long long hits = infoInteger(info, "readthru_hits").value_or(0);
  const long long evicted = evictedKeys(masters) - evicted_before;
  const long long rss_after = memoryKib(pid, "VmRSS").value_or(0);
  std::cout << "allkeys-lfu, maxmemory = used + " << kRoomBytes / (1024 * 1024)
            << " MiB on each master: " << reads << " reads of " << distinct << " keys, " << hits
            << " hits, " << loads << " loads, " << evicted << " keys evicted, " << errors
            << " errors, " << wrong << " wrong; readthru RSS " << rss_before << " -> " << rss_after
            << " KiB\n";
  for (const auto& s : samples) std::cout << "  " << s << "\n";
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(errors, 0);
  // Evicted keys were loaded again: more loads than keys.
  EXPECT_GT(loads, distinct);
  EXPECT_GT(evicted, 0);
  EXPECT_EQ(show(admin.call({"PING"})), "PONG");
  EXPECT_LT(rss_after - rss_before, rssBoundKib(64 * 1024));

  std::vector<std::string> del{"DEL"};
  for (int id = 1; id <= kRows; ++id) {
    del.push_back(key(id));
    if (del.size() == 500 || id == kRows) {
      admin.call(del);
      del.resize(1);
    }
  }
}

}  // namespace
}  // namespace readthru::testing
