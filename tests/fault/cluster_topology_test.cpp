// The cluster's topology changed on purpose while clients read and write through readthru:
// a graceful CLUSTER FAILOVER on a replica (and back), and a range of slots resharded from
// one master to another with SETSLOT IMPORTING/MIGRATING + MIGRATE (and back). No client
// may see a wrong value (managed values come from PostgreSQL; a plain key's value is the
// last SET acknowledged, or one whose answer was an error); errors may only come inside a
// short window around each change, and readthru's slot map follows. These tests change the
// shared cluster (they hold the redis_cluster lock) and leave it as they found it: roles
// failed back, slots moved home, whatever happened (the guards below).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "topology_load.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kTag = "tp" + std::to_string(::getpid());
constexpr int kSlots = 16;  // the range moved, from the start of a master's slots

// The master that owns slot 0: the test's slots are 0..kSlots-1.
std::uint16_t firstMaster() { return slotOwner(0).master; }

// ---------------------------------------------------------------------------------------
// CLUSTER FAILOVER, and back

// Makes `port` a master again (CLUSTER FAILOVER on it while it is a replica) when it is
// not one at the end, however the test ended; then waits for the cluster to be whole.
struct RolesGuard {
  std::uint16_t master;
  ~RolesGuard() {
    try {
      if (slotOwner(0).master != master) {
        Client(master).call({"CLUSTER", "FAILOVER"});
        if (!eventually([&] { return everyNodeAgrees(0, master); }, 30s)) {
          ADD_FAILURE() << "could not fail back to " << master;
        }
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "failing back to " << master << ": " << e.what();
    }
    if (!eventually(clusterHealthy, 60s)) ADD_FAILURE() << "the cluster is not healthy after";
  }
};

// CLUSTER FAILOVER on `replica`, the replica of `slot`'s master; true once every node
// names it master of `slot`. It waits first until the master lists it (a replica fresh
// from a failover is not one yet in the others' eyes, and its request would time out),
// and asks again if a manual failover times out (5 s in Redis).
bool failover(std::uint16_t replica, std::int64_t slot) {
  const bool ready = eventually(
      [&] {
        if (!clusterHealthy()) return false;
        const auto replicas = slotOwner(slot).replicas;
        return std::find(replicas.begin(), replicas.end(), replica) != replicas.end();
      },
      30s, 50ms);
  if (!ready) return false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    Client c(replica);
    if (show(c.call({"CLUSTER", "FAILOVER"})) != "OK") return false;
    if (eventually([&] { return everyNodeAgrees(slot, replica); }, 7s, 20ms)) return true;
  }
  return false;
}

TEST(ClusterTopology, GracefulFailoverAndBackUnderLoad) {
  ASSERT_TRUE(eventually(clusterHealthy, 60s)) << "the cluster is not healthy before the test";
  const std::uint16_t master = firstMaster();
  const auto owner = slotOwner(0);
  ASSERT_EQ(owner.replicas.size(), 1u);
  const std::uint16_t replica = owner.replicas[0];
  RolesGuard fail_back_whatever_happens{master};
  const KeySet keys(kTag, 0, kSlots);
  ReadthruProcess rt(clusterBackend("  command_timeout: 2s\n"), "", loadSections(kTag));
  Client admin(rt.port());
  const long long pid = infoField(admin, "server", "process_id").value_or(0);
  const long long rss_before = memoryKib(pid, "VmRSS").value_or(0);
  {
    Load load(rt.port(), keys);
    ASSERT_TRUE(eventually([&] { return load.commands() >= 2000; }, 20s));

    load.mark("failover to " + std::to_string(replica));
    const auto t0 = Clock::now();
    const bool promoted = failover(replica, 0);
    const auto t_promoted = Clock::now();
    const bool clean = promoted && eventually([&] { return load.cleanPass(); }, 20s, 50ms);
    const auto t_clean = Clock::now();
    EXPECT_TRUE(promoted) << replica << " did not become master";
    EXPECT_TRUE(clean);
    const long long at = load.commands();
    ASSERT_TRUE(eventually([&] { return load.commands() >= at + 2000; }, 20s));

    load.mark("failover back to " + std::to_string(master));
    const auto t1 = Clock::now();
    const bool back = failover(master, 0);
    const auto t_back = Clock::now();
    const bool clean_back = back && eventually([&] { return load.cleanPass(); }, 20s, 50ms);
    const auto t_clean_back = Clock::now();
    EXPECT_TRUE(back);
    EXPECT_TRUE(clean_back);
    const long long at_back = load.commands();
    ASSERT_TRUE(eventually([&] { return load.commands() >= at_back + 2000; }, 20s));
    load.stop();

    std::cout << "CLUSTER FAILOVER on " << replica << ": promoted after " << ms(t_promoted - t0)
              << " ms, every value right after " << ms(t_clean - t0) << " ms; back on " << master
              << " after " << ms(t_back - t1) << " ms, right after " << ms(t_clean_back - t1)
              << " ms; ";
    load.report(std::cout);
    EXPECT_EQ(load.wrong(), 0);
    EXPECT_EQ(load.unexpectedErrors(), 0);
    EXPECT_LT(load.longestWindow(), 3s);
  }
  // readthru followed: its slot map names the master again, it answers, its memory held.
  EXPECT_EQ(show(admin.call({"PING"})), "PONG");
  EXPECT_GT(infoField(admin, "readthru", "backend_moved_redirects").value_or(0) +
                infoField(admin, "readthru", "backend_topology_refreshes").value_or(0),
            0);
  EXPECT_LT(memoryKib(pid, "VmRSS").value_or(0) - rss_before, rssBoundKib(64 * 1024));
  deleteKeys(rt.port(), keys);
}

// ---------------------------------------------------------------------------------------
// A range of slots resharded, and back

// Puts every slot of `keys` back on `home`, stable, however the test ended.
struct SlotsGuard {
  const KeySet& keys;
  std::uint16_t home;
  ~SlotsGuard() {
    try {
      for (std::int64_t slot : keys.slots) {
        for (std::uint16_t port : masterPorts()) {
          Client(port).call({"CLUSTER", "SETSLOT", std::to_string(slot), "STABLE"});
        }
        const std::uint16_t owner = slotOwner(slot).master;
        if (owner != home) migrateSlot(slot, owner, home, {});
        waitUntilEveryNodeAgrees(slot, home);
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not put the slots back on " << home << ": " << e.what();
    }
    if (!eventually(clusterHealthy, 60s)) ADD_FAILURE() << "the cluster is not healthy after";
  }
};

// Moves every slot of `keys` from `src` to `dst`, a few keys per MIGRATE, each slot
// agreed on by every node before the next.
void reshard(const KeySet& keys, std::uint16_t src, std::uint16_t dst) {
  for (std::int64_t slot : keys.slots) {
    migrateSlot(
        slot, src, dst, {}, [] {}, 2);
    waitUntilEveryNodeAgrees(slot, dst);
  }
}

TEST(ClusterTopology, SlotRangeReshardedAndBackUnderLoad) {
  ASSERT_TRUE(eventually(clusterHealthy, 60s)) << "the cluster is not healthy before the test";
  const std::uint16_t home = firstMaster();
  std::uint16_t away = 0;
  for (std::uint16_t p : masterPorts()) {
    if (p != home) away = p;
  }
  ASSERT_NE(away, 0);
  const KeySet keys(kTag, 0, kSlots);
  SlotsGuard slots_home_whatever_happens{keys, home};
  ReadthruProcess rt(clusterBackend("  command_timeout: 5s\n"), "", loadSections(kTag));
  Client admin(rt.port());
  const long long pid = infoField(admin, "server", "process_id").value_or(0);
  const long long rss_before = memoryKib(pid, "VmRSS").value_or(0);
  {
    Load load(rt.port(), keys);
    ASSERT_TRUE(eventually([&] { return load.commands() >= 2000; }, 20s));

    load.mark("slots 0-" + std::to_string(kSlots - 1) + " to " + std::to_string(away));
    const auto t0 = Clock::now();
    std::string error;
    try {
      reshard(keys, home, away);
    } catch (const std::exception& e) {
      error = e.what();
    }
    const auto t_moved = Clock::now();
    ASSERT_EQ(error, "");
    EXPECT_TRUE(eventually([&] { return load.cleanPass(); }, 20s, 50ms));
    const long long at = load.commands();
    ASSERT_TRUE(eventually([&] { return load.commands() >= at + 2000; }, 20s));

    load.mark("slots back to " + std::to_string(home));
    const auto t1 = Clock::now();
    try {
      reshard(keys, away, home);
    } catch (const std::exception& e) {
      error = e.what();
    }
    const auto t_back = Clock::now();
    ASSERT_EQ(error, "");
    EXPECT_TRUE(eventually([&] { return load.cleanPass(); }, 20s, 50ms));
    const long long at_back = load.commands();
    ASSERT_TRUE(eventually([&] { return load.commands() >= at_back + 2000; }, 20s));
    load.stop();

    std::cout << "reshard of " << kSlots << " slots (" << keys.plain.size() * 2
              << " keys and their state keys) " << home << " -> " << away << " in "
              << ms(t_moved - t0) << " ms, back in " << ms(t_back - t1) << " ms; ";
    load.report(std::cout);
    EXPECT_EQ(load.wrong(), 0);
    EXPECT_EQ(load.unexpectedErrors(), 0);
    EXPECT_LT(load.longestWindow(), 3s);
  }
  EXPECT_EQ(show(admin.call({"PING"})), "PONG");
  const std::string info = show(admin.call({"INFO", "readthru"}));
  EXPECT_GT(infoInteger(info, "backend_moved_redirects").value_or(0), 0) << info;
  EXPECT_GT(infoInteger(info, "backend_ask_redirects").value_or(0), 0) << info;
  EXPECT_LT(memoryKib(pid, "VmRSS").value_or(0) - rss_before, rssBoundKib(64 * 1024));
  deleteKeys(rt.port(), keys);
}

}  // namespace
}  // namespace readthru::testing
