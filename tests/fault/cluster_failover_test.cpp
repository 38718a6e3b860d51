// A Redis Cluster master killed with kill -9 while clients read through readthru: its
// replica is promoted, readthru follows, and no client ever sees a wrong value. This test
// changes the shared cluster (it holds the redis_cluster lock) and leaves it healthy again:
// the killed node is restarted from its own config and rejoins as a replica.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kTag = "fo" + std::to_string(::getpid());
constexpr int kKeys = 200;

std::string managed(int i) { return kTag + ":m:" + std::to_string(i); }
std::string plain(int i) { return kTag + ":p:" + std::to_string(i); }

long long ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Starts `redis-server conf`: it daemonizes, so the child we wait for exits at once.
bool startNode(const std::string& conf) {
  const auto status = reapChild(spawnRedisServer({conf}), 10s);
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

struct Tally {
  std::mutex mutex;
  long long reads = 0, errors = 0, wrong = 0, managed_errors = 0;
  std::map<std::string, long long> kinds;  // error texts, cut after the node address
  Clock::time_point first_error{}, last_error{};
  std::vector<std::string> wrong_samples;
};

// One pass over every key: true when every answer was the right value.
bool sweep(Client& c, Tally& t) {
  bool clean = true;
  for (int i = 0; i < kKeys; ++i) {
    for (int kind = 0; kind < 2; ++kind) {
      const std::string key = kind == 0 ? managed(i) : plain(i);
      const std::string want = (kind == 0 ? "row-" : "v-") + std::to_string(i);
      const std::string got = show(c.call({"GET", key}));
      std::lock_guard lock(t.mutex);
      ++t.reads;
      if (got == want) continue;
      clean = false;
      if (got.rfind("(error) ", 0) == 0) {
        ++t.errors;
        if (kind == 0) ++t.managed_errors;
        const auto now = Clock::now();
        if (t.first_error == Clock::time_point{}) t.first_error = now;
        t.last_error = now;
        ++t.kinds[got.substr(0, got.find(' ', 8))];
      } else {
        ++t.wrong;
        if (t.wrong_samples.size() < 5) t.wrong_samples.push_back(key + " -> " + got);
      }
    }
  }
  return clean;
}

TEST(ClusterFailover, KilledMasterIsReplacedAndNoReaderSeesAWrongValue) {
  ASSERT_TRUE(eventually(clusterHealthy, 60s)) << "the cluster is not healthy before the test";
  const std::string sections =
      "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app\"\nkeyspaces:\n" +
      keyspaceRule("m", kTag + ":m:<id>", "SELECT 'row-' || $1 AS v",
                   "    params: [id]\n    format: value\n    ttl: 120s\n");
  ReadthruProcess rt(clusterBackend("  command_timeout: 500ms\n  connect_timeout: 300ms\n"), "",
                     sections);
  {
    Client c(rt.port());
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_EQ(show(c.call({"SET", plain(i), "v-" + std::to_string(i)})), "OK");
      ASSERT_EQ(show(c.call({"GET", managed(i)})), "row-" + std::to_string(i));
    }
  }
  // Nothing acknowledged is lost with the master: the replicas hold it all before the kill.
  ASSERT_TRUE(eventually(replicasCaughtUp, 20s));

  Tally tally;
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      Client c(rt.port());
      while (!stop.load()) sweep(c, tally);
    });
  }

  // The master of the first plain key's slot dies.
  const std::uint16_t victim = slotOwner(keySlot(plain(0))).master;
  Client victim_admin(victim);
  const auto pid = infoInteger(show(victim_admin.call({"INFO", "server"})), "process_id");
  ASSERT_TRUE(pid.has_value());
  const char* stack_dir = std::getenv("READTHRU_STACK_DIR");
  const std::string conf = std::string(stack_dir != nullptr ? stack_dir : "/tmp/readthru-stack") +
                           "/cluster/" + std::to_string(victim) + "/redis.conf";
  // The readers are under way before the fault.
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(tally.mutex);
    return tally.reads >= 1000;
  }));
  const auto killed = Clock::now();
  ASSERT_EQ(::kill(static_cast<pid_t>(*pid), SIGKILL), 0);

  // Its replica takes over (cluster-node-timeout is 2 s on the stack) ...
  const bool promoted = eventually(
      [&] {
        try {
          for (const auto& o : clusterSlots(victim == 7000 ? 7001 : 7000)) {
            if (o.master == victim) return false;
          }
          return true;
        } catch (const std::exception&) {
          return false;
        }
      },
      30s);
  const auto promoted_at = Clock::now();
  // ... and readthru follows: a whole pass with every value right.
  Client check(rt.port());
  const bool recovered = promoted && eventually([&] { return sweep(check, tally); }, 30s, 100ms);
  const auto recovered_at = Clock::now();
  stop = true;
  for (auto& t : readers) t.join();

  std::cout << "kill -9 of master " << victim << ": " << tally.reads << " reads, " << tally.errors
            << " errors (" << tally.managed_errors << " of them for managed keys)";
  if (tally.errors > 0) {
    std::cout << " between " << ms(tally.first_error - killed) << " and "
              << ms(tally.last_error - killed) << " ms after the kill";
  }
  std::cout << "; replica promoted after " << ms(promoted_at - killed)
            << " ms, every value served again after " << ms(recovered_at - killed) << " ms\n";
  for (const auto& [kind, n] : tally.kinds) std::cout << "  " << n << " x " << kind << "\n";

  EXPECT_TRUE(promoted);
  EXPECT_TRUE(recovered);
  EXPECT_EQ(tally.wrong, 0) << (tally.wrong_samples.empty() ? "" : tally.wrong_samples.front());
  // Managed keys fail open: PostgreSQL answers while their node is gone.
  EXPECT_EQ(tally.managed_errors, 0);
  // The only errors are readthru's own outage errors and Redis's cluster ones.
  for (const auto& [kind, n] : tally.kinds) {
    const bool expected = kind.rfind("(error) ERR", 0) == 0 ||
                          kind.rfind("(error) CLUSTERDOWN", 0) == 0 ||
                          kind.rfind("(error) TRYAGAIN", 0) == 0;
    EXPECT_TRUE(expected) << kind;
  }
  Client after(rt.port());
  EXPECT_EQ(show(after.call({"PING"})), "PONG");

  // Put the stack back: the killed node restarts from its config and rejoins as a replica.
  ASSERT_TRUE(startNode(conf));
  EXPECT_TRUE(eventually(clusterHealthy, 60s)) << "the cluster did not heal after the restart";
}

}  // namespace
}  // namespace readthru::testing
