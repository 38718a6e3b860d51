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
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "command/key_slot.hpp"
#include "eventually.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kTag = "tp" + std::to_string(::getpid());
constexpr int kSlots = 16;       // the range moved, from the start of a master's slots
constexpr int kKeysPerSlot = 4;  // plain and managed each
constexpr int kWriters = 3;

long long ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// A hash tag ("{...}") whose key lands on `slot`.
std::string tagFor(std::int64_t slot) {
  for (int i = 0;; ++i) {
    const std::string tag = "{" + kTag + "-" + std::to_string(i) + "}";
    if (command::keyHashSlot(tag) == slot) return tag;
  }
}

// The keys of the test, kKeysPerSlot plain and managed ones in each slot of the range.
struct KeySet {
  std::vector<std::string> plain, managed, rows;
  std::vector<std::int64_t> slots;

  explicit KeySet(std::int64_t first_slot) {
    for (std::int64_t s = first_slot; s < first_slot + kSlots; ++s) {
      slots.push_back(s);
      const std::string tag = tagFor(s);
      for (int i = 0; i < kKeysPerSlot; ++i) {
        plain.push_back(kTag + ":p:" + tag + ":" + std::to_string(i));
        managed.push_back(kTag + ":m:" + tag + ":" + std::to_string(i));
        rows.push_back("row-" + tag + "-" + std::to_string(i));
      }
    }
  }
};

std::string sections() {
  return "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app\"\nkeyspaces:\n" +
         keyspaceRule("m", kTag + ":m:<tag>:<id>", "SELECT 'row-' || $1 || '-' || $2 AS v",
                      "    params: [tag, id]\n    format: value\n    ttl: 120s\n");
}

// Readers and writers over a KeySet: each writer SETs its share of the plain keys to
// fresh values and reads them back, and reads every managed key. Every answer is checked.
class Load {
 public:
  Load(std::uint16_t port, const KeySet& keys) : port_(port), keys_(keys) {
    accepted_.resize(keys.plain.size());
    for (std::size_t i = 0; i < keys.plain.size(); ++i) accepted_[i] = {"start"};
    Client c(port);
    for (const auto& k : keys.plain) expectOk(c.call({"SET", k, "start"}), "SET " + k);
    for (std::size_t i = 0; i < keys.managed.size(); ++i) {
      if (show(c.call({"GET", keys.managed[i]})) != keys.rows[i]) {
        throw std::runtime_error("managed " + keys.managed[i] + " did not load");
      }
    }
    for (int w = 0; w < kWriters; ++w) threads_.emplace_back([this, w] { run(w); });
  }
  ~Load() { stop(); }

  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  long long commands() {
    std::lock_guard lock(mutex_);
    return commands_;
  }
  // Marks the start of a change: errors are reported relative to it.
  void mark(const std::string& what) {
    std::lock_guard lock(mutex_);
    windows_.push_back({what, Clock::now(), {}, {}, 0});
  }
  // One pass over every key from a client of its own: true when every answer is right.
  bool cleanPass() {
    try {
      Client c(port_);
      for (std::size_t i = 0; i < keys_.managed.size(); ++i) {
        if (show(c.call({"GET", keys_.managed[i]})) != keys_.rows[i]) return false;
      }
      for (std::size_t i = 0; i < keys_.plain.size(); ++i) {
        const std::string got = show(c.call({"GET", keys_.plain[i]}));
        std::lock_guard lock(mutex_);
        if (!accepted_[i].contains(got)) return false;
      }
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  struct Window {
    std::string what;
    Clock::time_point start, first_error, last_error;
    long long errors;
  };
  long long wrong() {
    std::lock_guard lock(mutex_);
    return wrong_;
  }
  long long unexpectedErrors() {
    std::lock_guard lock(mutex_);
    return unexpected_;
  }
  void report(std::ostream& out) {
    std::lock_guard lock(mutex_);
    out << commands_ << " commands, " << errors_ << " errors, " << wrong_ << " wrong values\n";
    for (const auto& w : windows_) {
      out << "  " << w.what << ": " << w.errors << " errors";
      if (w.errors > 0) {
        out << " from " << ms(w.first_error - w.start) << " to " << ms(w.last_error - w.start)
            << " ms after it began";
      }
      out << "\n";
    }
    for (const auto& [kind, n] : kinds_) out << "  " << n << " x " << kind << "\n";
    for (const auto& s : samples_) out << "  wrong: " << s << "\n";
  }
  // The longest error window (first to last error of one change).
  Clock::duration longestWindow() {
    std::lock_guard lock(mutex_);
    Clock::duration longest{};
    for (const auto& w : windows_) {
      if (w.errors > 0) longest = std::max(longest, w.last_error - w.first_error);
    }
    return longest;
  }

 private:
  void run(int w) {
    try {
      Client c(port_);
      for (long long n = 0; !stop_.load(); ++n) {
        for (std::size_t i = w; i < keys_.plain.size(); i += kWriters) {
          const std::string value = std::to_string(w) + ":" + std::to_string(n);
          const std::string set = show(c.call({"SET", keys_.plain[i], value}));
          {
            std::lock_guard lock(mutex_);
            if (set == "OK") {
              accepted_[i] = {value};
            } else {
              accepted_[i].insert(value);  // failed, or applied with the answer lost
            }
          }
          check(set == "OK" ? "" : set);
          const std::string got = show(c.call({"GET", keys_.plain[i]}));
          std::lock_guard lock(mutex_);
          if (!accepted_[i].contains(got)) checkLocked(got, keys_.plain[i]);
          ++commands_;
        }
        for (std::size_t i = w; i < keys_.managed.size(); i += kWriters) {
          const std::string got = show(c.call({"GET", keys_.managed[i]}));
          std::lock_guard lock(mutex_);
          if (got != keys_.rows[i]) checkLocked(got, keys_.managed[i]);
          ++commands_;
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex_);
      ++unexpected_;
      samples_.push_back(std::string("client: ") + e.what());
    }
  }
  void check(const std::string& error) {
    if (error.empty()) return;
    std::lock_guard lock(mutex_);
    checkLocked(error, "SET");
  }
  // `got` was not an accepted answer: an error (counted in the current window), or wrong.
  void checkLocked(const std::string& got, const std::string& key) {
    if (got.rfind("(error) ", 0) != 0) {
      ++wrong_;
      if (samples_.size() < 5) samples_.push_back(key + " -> " + got);
      return;
    }
    ++errors_;
    const std::string kind = got.substr(0, got.find(' ', 8));
    ++kinds_[kind];
    const bool expected =
        kind == "(error) ERR" || kind == "(error) CLUSTERDOWN" || kind == "(error) TRYAGAIN";
    if (!expected) ++unexpected_;
    if (windows_.empty()) {
      ++unexpected_;  // before any change
      return;
    }
    auto& w = windows_.back();
    const auto now = Clock::now();
    if (w.errors++ == 0) w.first_error = now;
    w.last_error = now;
  }

  std::uint16_t port_;
  const KeySet& keys_;
  std::mutex mutex_;
  std::vector<std::set<std::string>> accepted_;  // guarded by mutex_
  long long commands_ = 0, errors_ = 0, wrong_ = 0, unexpected_ = 0;
  std::map<std::string, long long> kinds_;
  std::vector<Window> windows_;
  std::vector<std::string> samples_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// The master that owns slot 0: the test's slots are 0..kSlots-1.
std::uint16_t firstMaster() { return slotOwner(0).master; }

void deleteKeys(std::uint16_t port, const KeySet& keys) {
  Client c(port);
  for (const auto& k : keys.plain) c.call({"DEL", k});
  for (const auto& k : keys.managed) c.call({"DEL", k});
}

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
  const KeySet keys(0);
  ReadthruProcess rt(clusterBackend("  command_timeout: 2s\n"), "", sections());
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
  const KeySet keys(0);
  SlotsGuard slots_home_whatever_happens{keys, home};
  ReadthruProcess rt(clusterBackend("  command_timeout: 5s\n"), "", sections());
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
