// readthru in front of one standalone Redis and in front of the master Sentinel names,
// including a Sentinel failover while clients write: readthru must follow the new master.
//
// The stack's standalone pair (6390/6391) may have either node as master (a failover test
// that failed half-way, or another user): every test asks Sentinel first, and the failover
// test fails back to the master it found, in TearDown, so it runs even after a failure.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "readthru_process.hpp"
#include "tcp_proxy.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long long ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

constexpr std::uint16_t kSentinelPorts[] = {26390, 26391, 26392};
constexpr const char* kMasterName = "mymaster";

// ---------------------------------------------------------------------------------------
// Direct views of the standalone pair and its Sentinels

// The master's port as Sentinel `port` names it, or nullopt (unreachable, unknown).
std::optional<std::uint16_t> sentinelMaster(std::uint16_t port = kSentinelPorts[0]) {
  try {
    Client s(port);
    const auto v = s.call({"SENTINEL", "get-master-addr-by-name", kMasterName});
    if (!v.isArray() || v.elements.size() != 2) return std::nullopt;
    return static_cast<std::uint16_t>(std::stoi(v.elements[1].str));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// A flat field/value reply (SENTINEL MASTER, one entry of SENTINEL REPLICAS) as lookups.
std::string field(const resp::Value& flat, const std::string& name) {
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    if (flat.elements[i].str == name) return flat.elements[i + 1].str;
  }
  return {};
}

// "master", "slave" (connected to `master_port`), or a description of what is wrong.
std::string roleOf(std::uint16_t port) {
  try {
    Client c(port);
    const auto role = c.call({"ROLE"});
    if (!role.isArray() || role.elements.empty()) return show(role);
    return role.elements[0].str;
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::uint16_t otherNode(std::uint16_t port) {
  return port == kStandalonePort ? kStandaloneReplicaPort : kStandalonePort;
}

// True when every Sentinel names `master`, sees the other node as a healthy replica and
// its two peers, the master says it is master and the replica's link is up: the state in
// which SENTINEL FAILOVER can pick the replica.
bool settledOn(std::uint16_t master) {
  for (auto port : kSentinelPorts) {
    if (sentinelMaster(port) != master) return false;
    try {
      Client s(port);
      const auto m = s.call({"SENTINEL", "MASTER", kMasterName});
      if (field(m, "flags") != "master" || field(m, "num-other-sentinels") != "2" ||
          field(m, "num-slaves") != "1") {
        return false;
      }
      const auto replicas = s.call({"SENTINEL", "REPLICAS", kMasterName});
      if (replicas.elements.size() != 1) return false;
      const auto& r = replicas.elements[0];
      if (field(r, "flags") != "slave" || field(r, "master-link-status") != "ok" ||
          field(r, "port") != std::to_string(otherNode(master))) {
        return false;
      }
    } catch (const std::exception&) {
      return false;
    }
  }
  if (roleOf(master) != "master") return false;
  try {
    Client replica(otherNode(master));
    const auto role = replica.call({"ROLE"});
    return role.elements.size() >= 4 && role.elements[0].str == "slave" &&
           role.elements[2].integer == master && role.elements[3].str == "connected";
  } catch (const std::exception&) {
    return false;
  }
}

// Waits (bounded) until the pair has settled on whichever master Sentinel names; returns
// it, or nullopt when it does not settle in time.
std::optional<std::uint16_t> waitSettled(std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (const auto m = sentinelMaster(); m && settledOn(*m)) return m;
    std::this_thread::sleep_for(200ms);
  }
  return std::nullopt;
}

// Asks Sentinel for a failover until it starts one (it refuses while the replica is not
// yet fit to be promoted, e.g. just after the previous failover). Returns the last answer.
std::string startFailover(std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string answer;
  while (Clock::now() < deadline) {
    try {
      Client s(kSentinelPorts[0]);
      answer = show(s.call({"SENTINEL", "FAILOVER", kMasterName}));
    } catch (const std::exception& e) {
      answer = e.what();
    }
    if (answer == "OK") return answer;
    std::this_thread::sleep_for(250ms);
  }
  return answer;
}

bool waitSentinelNames(std::uint16_t master, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (sentinelMaster() == master) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::string directGet(std::uint16_t port, const std::string& key) {
  try {
    Client c(port);
    return show(c.call({"GET", key}));
  } catch (const std::exception& e) {
    return e.what();
  }
}

// ---------------------------------------------------------------------------------------
// Standalone mode

class Standalone : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto m = waitSettled(60s);
    master_ = m.value_or(kStandalonePort);
    proc_ = new ReadthruProcess(
        "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(master_) + "\"]\n");
  }
  static void TearDownTestSuite() {
    delete proc_;
    proc_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(roleOf(master_), "master") << "port " << master_; }

  static ReadthruProcess* proc_;
  static std::uint16_t master_;
};
ReadthruProcess* Standalone::proc_ = nullptr;
std::uint16_t Standalone::master_ = kStandalonePort;

TEST_F(Standalone, ReadsAndWritesLandOnTheServer) {
  Client rt(proc_->port());
  Client direct(master_);
  EXPECT_EQ(show(rt.call({"SET", "sa:a", "1"})), "OK");
  EXPECT_EQ(show(direct.call({"GET", "sa:a"})), "1");
  EXPECT_EQ(show(direct.call({"SET", "sa:b", "2"})), "OK");
  EXPECT_EQ(show(rt.call({"GET", "sa:b"})), "2");
  // Keys of different cluster slots: one server holds them all, nothing to split.
  EXPECT_EQ(show(rt.call({"MSET", "sa:c", "3", "sa:d", "4"})), "OK");
  EXPECT_EQ(show(rt.call({"MGET", "sa:a", "sa:missing", "sa:b", "sa:c", "sa:d"})),
            "[1, (nil), 2, 3, 4]");
  EXPECT_EQ(show(direct.call({"MGET", "sa:c", "sa:d"})), "[3, 4]");
  EXPECT_EQ(show(rt.call({"EXISTS", "sa:a", "sa:b", "sa:missing"})), "(integer) 2");
  EXPECT_EQ(show(rt.call({"DEL", "sa:a", "sa:b", "sa:c", "sa:missing"})), "(integer) 3");
  EXPECT_EQ(show(direct.call({"EXISTS", "sa:a", "sa:b", "sa:c"})), "(integer) 0");
  EXPECT_EQ(show(rt.call({"DEL", "sa:d"})), "(integer) 1");
  const std::string mode = show(rt.call({"INFO", "readthru"}));
  EXPECT_NE(mode.find("backend_mode:standalone"), std::string::npos) << mode;
}

TEST_F(Standalone, ScanVisitsEveryKey) {
  Client rt(proc_->port());
  const std::string prefix = "sa:scan:" + std::to_string(::getpid()) + ":";
  std::set<std::string> want;
  for (int i = 0; i < 60; ++i) {
    want.insert(prefix + std::to_string(i));
    ASSERT_EQ(show(rt.call({"SET", prefix + std::to_string(i), "x"})), "OK");
  }
  std::set<std::string> seen;
  std::string cursor = "0";
  int rounds = 0;
  do {
    const auto page = rt.call({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "20"});
    ASSERT_TRUE(page.isArray()) << show(page);
    ASSERT_EQ(page.elements.size(), 2u);
    cursor = page.elements[0].str;
    for (const auto& k : page.elements[1].elements) seen.insert(k.str);
  } while (cursor != "0" && ++rounds < 10'000);
  EXPECT_EQ(cursor, "0");
  EXPECT_EQ(seen, want);
  for (const auto& k : want) rt.call({"DEL", k});
}

TEST_F(Standalone, DbsizeAndFlushdb) {
  Client rt(proc_->port());
  Client direct(master_);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(show(rt.call({"SET", "sa:flush:" + std::to_string(i), "x"})), "OK");
  }
  // Other users of the shared server may write meanwhile: compare until two reads agree.
  std::string ours, theirs;
  for (int attempt = 0; attempt < 5; ++attempt) {
    ours = show(rt.call({"DBSIZE"}));
    theirs = show(direct.call({"DBSIZE"}));
    if (ours == theirs) break;
  }
  EXPECT_EQ(ours, theirs);
  EXPECT_GE(rt.call({"DBSIZE"}).integer, 5);
  EXPECT_EQ(show(rt.call({"FLUSHDB"})), "OK");
  EXPECT_EQ(show(direct.call({"EXISTS", "sa:flush:0", "sa:flush:4"})), "(integer) 0");
}

// ---------------------------------------------------------------------------------------
// Sentinel mode and failover

class Sentinel : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto m = waitSettled(60s);
    ASSERT_TRUE(m.has_value()) << "the standalone pair and its Sentinels did not settle";
    original_ = *m;
  }

  // Fail back to the master found in SetUp, so the stack is as the test found it.
  void TearDown() override {
    if (original_ == 0) return;
    if (sentinelMaster() != original_) {
      // Right after a failover Sentinel refuses until the old master is a healthy replica.
      const auto answer = startFailover(60s);
      if (answer != "OK") ADD_FAILURE() << "fail-back SENTINEL FAILOVER: " << answer;
      if (!waitSentinelNames(original_, 30s)) ADD_FAILURE() << "fail-back did not complete";
    }
    if (!waitSettled(60s)) ADD_FAILURE() << "the pair did not settle after the fail-back";
  }

  std::string sentinelBackend() const {
    return std::string("  mode: sentinel\n  seeds: ") + kSentinels +
           "\n  sentinel: { master: " + kMasterName + " }\n";
  }

  static std::int64_t counter(Client& rt, const std::string& name) {
    return infoInteger(show(rt.call({"INFO", "readthru"})), name).value_or(-1);
  }
  // One +switch-master subscription per io thread (each has its own router).
  static std::int64_t subscriptions(Client& rt) {
    return counter(rt, "backend_sentinel_subscriptions");
  }

  static constexpr int kThreads = 2;  // readthru's default listen.threads
  std::uint16_t original_ = 0;
};

TEST_F(Sentinel, WritesLandOnTheMasterSentinelNames) {
  ReadthruProcess proc(sentinelBackend());
  Client rt(proc.port());
  const std::string value = "v" + std::to_string(Clock::now().time_since_epoch().count());
  EXPECT_EQ(show(rt.call({"SET", "sen:k", value})), "OK");
  EXPECT_EQ(directGet(original_, "sen:k"), value);
  EXPECT_EQ(show(rt.call({"GET", "sen:k"})), value);
  EXPECT_EQ(show(rt.call({"DEL", "sen:k"})), "(integer) 1");
  const std::string mode = show(rt.call({"INFO", "readthru"}));
  EXPECT_NE(mode.find("backend_mode:sentinel"), std::string::npos) << mode;
}

TEST_F(Sentinel, FollowsAFailover) {
  const std::uint16_t promoted = otherNode(original_);
  ReadthruProcess proc(sentinelBackend());
  auto rt = std::make_unique<Client>(proc.port());
  // Values unique to this run: keys of an earlier run may survive on either node.
  const std::string run =
      std::to_string(::getpid()) + "." + std::to_string(Clock::now().time_since_epoch().count());
  ASSERT_EQ(show(rt->call({"SET", "sen:before", run})), "OK");
  ASSERT_EQ(directGet(original_, "sen:before"), run);
  // Replication is asynchronous: let the replica have it before it is promoted.
  const auto replicated_by = Clock::now() + 10s;
  while (directGet(promoted, "sen:before") != run && Clock::now() < replicated_by) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(directGet(promoted, "sen:before"), run);

  ASSERT_TRUE(eventually([&] { return subscriptions(*rt) == kThreads; }, 10s))
      << "readthru did not subscribe to +switch-master";
  const auto heard_before = counter(*rt, "backend_sentinel_switches");

  ASSERT_EQ(startFailover(30s), "OK");
  const auto t_failover = Clock::now();
  // Write through readthru until a write lands on the promoted node. Errors are expected
  // while the master changes; a broken connection is replaced. Sentinel is asked before
  // each write: once it names the promoted node, that node no longer replicates from the
  // old one, so a value found there was written there.
  int writes = 0, errors = 0;
  bool sentinel_switched = false, landed = false;
  Clock::time_point t_switched{}, t_landed{};
  std::vector<std::pair<std::string, std::string>> acknowledged;
  const auto deadline = Clock::now() + 40s;
  while (!landed && Clock::now() < deadline) {
    if (!sentinel_switched && sentinelMaster() == promoted) {
      sentinel_switched = true;
      t_switched = Clock::now();
    }
    const std::string key = "sen:fo:" + std::to_string(writes);
    const std::string value = run + ":" + std::to_string(writes);
    ++writes;
    std::string answer;
    try {
      if (!rt) rt = std::make_unique<Client>(proc.port());
      answer = show(rt->call({"SET", key, value}));
    } catch (const std::exception& e) {
      answer = e.what();
      rt.reset();
    }
    if (answer == "OK") {
      acknowledged.emplace_back(key, value);
    } else {
      ++errors;
    }
    landed = sentinel_switched && answer == "OK" && directGet(promoted, key) == value;
    if (landed) t_landed = Clock::now();
    if (!landed) std::this_thread::sleep_for(10ms);
  }
  // Writes acknowledged by the old master after the promotion are lost when it becomes a
  // replica (as with any Sentinel client): reported, not asserted.
  int lost = 0;
  for (const auto& [key, value] : acknowledged) lost += directGet(promoted, key) == value ? 0 : 1;
  std::cout << "failover window: " << errors << " error(s) and " << lost
            << " acknowledged write(s) missing on the new master, in " << writes << " write(s)\n";
  ASSERT_TRUE(sentinel_switched) << "Sentinel never named port " << promoted;
  ASSERT_TRUE(landed) << "no write through readthru reached the new master on " << promoted;
  std::cout << "SENTINEL FAILOVER answered OK; Sentinel named " << promoted << " after "
            << ms(t_switched - t_failover) << " ms; the first write through readthru landed on it "
            << ms(t_landed - t_failover) << " ms after the FAILOVER, " << ms(t_landed - t_switched)
            << " ms after Sentinel named it\n";
  // readthru's own account, with its timestamps: which path moved each router, and when.
  std::istringstream log(proc.log());
  for (std::string line; std::getline(log, line);) {
    if (line.find("sentinel: master") != std::string::npos) std::cout << "  " << line << "\n";
  }
  EXPECT_EQ(roleOf(promoted), "master");
  // Both routers heard the switch on their subscription (the poll alone would not count).
  if (!rt) rt = std::make_unique<Client>(proc.port());
  EXPECT_TRUE(eventually(
      [&] { return counter(*rt, "backend_sentinel_switches") >= heard_before + kThreads; }, 10s))
      << show(rt->call({"INFO", "readthru"}));

  // From now on every write succeeds and lands on the new master.
  if (!rt) rt = std::make_unique<Client>(proc.port());
  for (int i = 0; i < 20; ++i) {
    const std::string key = "sen:after:" + std::to_string(i);
    ASSERT_EQ(show(rt->call({"SET", key, run})), "OK") << "write " << i;
    EXPECT_EQ(directGet(promoted, key), run)
        << key << "; on " << original_ << ": " << directGet(original_, key)
        << "; roles: " << roleOf(original_) << "/" << roleOf(promoted) << "; sentinel names "
        << sentinelMaster().value_or(0);
  }
  EXPECT_EQ(show(rt->call({"GET", "sen:before"})), run);  // replicated before the switch
  std::vector<std::string> del = {"DEL", "sen:before"};
  for (int i = 0; i < writes; ++i) del.push_back("sen:fo:" + std::to_string(i));
  for (int i = 0; i < 20; ++i) del.push_back("sen:after:" + std::to_string(i));
  rt->call(del);
}

// The subscription sits on the first sentinel, behind a proxy. That sentinel first hangs
// (the proxy swallows everything: only the heartbeat can tell), then refuses connections:
// each time the subscription must move to another sentinel, and the failover after that
// is still heard there.
TEST_F(Sentinel, SubscriptionMovesOnWhenASentinelHangsOrGoesAway) {
  TcpProxy first(kSentinelPorts[0]);
  const std::string seeds = "[\"127.0.0.1:" + std::to_string(first.port()) +
                            "\", \"127.0.0.1:" + std::to_string(kSentinelPorts[1]) +
                            "\", \"127.0.0.1:" + std::to_string(kSentinelPorts[2]) + "\"]";
  ReadthruProcess proc(std::string("  mode: sentinel\n  seeds: ") + seeds +
                       "\n  sentinel: { master: " + kMasterName + " }\n");
  Client rt(proc.port());
  ASSERT_TRUE(eventually([&] { return subscriptions(rt) == kThreads; }, 10s));
  const auto made = counter(rt, "backend_sentinel_subscribes");

  first.setMode(TcpProxy::Mode::kBlackhole);
  EXPECT_TRUE(eventually(
      [&] {
        return counter(rt, "backend_sentinel_subscribes") >= made + kThreads &&
               subscriptions(rt) == kThreads;
      },
      20s))
      << show(rt.call({"INFO", "readthru"}));
  first.setMode(TcpProxy::Mode::kClosed);
  EXPECT_EQ(subscriptions(rt), kThreads) << "subscribed elsewhere, the close changes nothing";

  // Sentinel names the other node after the failover; readthru's writes go there.
  const std::uint16_t promoted = otherNode(original_);
  const auto heard_before = counter(rt, "backend_sentinel_switches");
  ASSERT_EQ(startFailover(30s), "OK");
  ASSERT_TRUE(waitSentinelNames(promoted, 30s));
  EXPECT_TRUE(eventually(
      [&] { return counter(rt, "backend_sentinel_switches") >= heard_before + kThreads; }, 10s))
      << show(rt.call({"INFO", "readthru"}));
  const std::string value = "v" + std::to_string(Clock::now().time_since_epoch().count());
  EXPECT_TRUE(eventually(
      [&] {
        try {
          Client c(proc.port());
          return show(c.call({"SET", "sen:moved", value})) == "OK" &&
                 directGet(promoted, "sen:moved") == value;
        } catch (const std::exception&) {
          return false;
        }
      },
      20s));
  Client(proc.port()).call({"DEL", "sen:moved"});
}

}  // namespace
}  // namespace readthru::testing
