// readthru in front of the local Redis Cluster, checked against the nodes themselves:
// multi-key commands split across slots and merged in key order, Redis's own CROSSSLOT
// error, deep pipelines and concurrent pipelining clients, fan-out commands, redis-cli
// (plain and cluster mode), reads from replicas, and a backend that cannot be reached.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "readthru_process.hpp"
#include "resp/writer.hpp"
#include "shared_readthru.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

// A prefix unique to this run, so concurrent runs and leftovers never collide.
std::string runId() {
  static const std::string id =
      std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007);
  return id;
}

// Keys named `<prefix><n>`, `per_master` of them owned by each master, by slot owner
// as the cluster itself reports it.
std::map<std::uint16_t, std::vector<std::string>> keysOnEachMaster(const std::string& prefix,
                                                                   std::size_t per_master) {
  const auto owners = clusterSlots();
  std::map<std::uint16_t, std::vector<std::string>> out;
  for (const auto& o : owners) out[o.master];
  Client direct(kClusterFirstPort);
  for (int n = 0; n < 10000; ++n) {
    const std::string key = prefix + std::to_string(n);
    const std::int64_t slot = direct.call({"CLUSTER", "KEYSLOT", key}).integer;
    for (const auto& o : owners) {
      if (slot >= o.first && slot <= o.last && out[o.master].size() < per_master) {
        out[o.master].push_back(key);
      }
    }
    bool full = true;
    for (const auto& [port, keys] : out) full = full && keys.size() == per_master;
    if (full) return out;
  }
  throw std::runtime_error("could not find keys on every master");
}

// Appends one encoded command to a pipeline being built.
void encodeInto(std::string& out, const std::vector<std::string>& args) {
  resp::appendCommand(out, args);
}

// Output of a shell command (stdout and stderr), bounded by `timeout`.
std::string run(const std::string& command) {
  FILE* p = ::popen(("timeout 20 " + command + " 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed");
  std::string out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::int64_t directDbsizeSum() {
  std::int64_t sum = 0;
  for (std::uint16_t port : masterPorts()) sum += Client(port).call({"DBSIZE"}).integer;
  return sum;
}

class Cluster : public SharedClusterReadthru {};

// ---------------------------------------------------------------------------------------
// Multi-key commands

TEST_F(Cluster, MultiKeyCommandsSplitAcrossMastersInKeyOrder) {
  const auto by_master = keysOnEachMaster("ct:mk:" + runId() + ":", 2);
  ASSERT_EQ(by_master.size(), 3u);
  std::vector<std::string> keys;  // a0 b0 c0 a1 b1 c1: neighbours on different masters
  for (std::size_t i = 0; i < 2; ++i) {
    for (const auto& [port, ks] : by_master) keys.push_back(ks[i]);
  }
  Client c(proc_->port());
  std::vector<std::string> mset{"MSET"};
  for (const auto& k : keys) {
    mset.push_back(k);
    mset.push_back("v-" + k);
  }
  ASSERT_EQ(show(c.call(mset)), "OK");

  // Each key is on the master that owns its slot.
  for (const auto& [port, ks] : by_master) {
    Client direct(port);
    for (const auto& k : ks) EXPECT_EQ(show(direct.call({"GET", k})), "v-" + k) << port;
  }

  const std::string missing = "ct:mk:" + runId() + ":missing";
  const auto mget = c.call(
      {"MGET", keys[0], missing, keys[1], keys[0], keys[2], keys[5], missing, keys[3], keys[4]});
  EXPECT_EQ(show(mget), "[v-" + keys[0] + ", (nil), v-" + keys[1] + ", v-" + keys[0] + ", v-" +
                            keys[2] + ", v-" + keys[5] + ", (nil), v-" + keys[3] + ", v-" +
                            keys[4] + "]");

  // Redis counts a repeated key once per mention in EXISTS, once in DEL.
  EXPECT_EQ(show(c.call({"EXISTS", keys[0], keys[0], missing, keys[1], keys[2]})), "(integer) 4");
  EXPECT_EQ(show(c.call({"TOUCH", keys[3], missing, keys[4], keys[5]})), "(integer) 3");
  EXPECT_EQ(show(c.call({"DEL", keys[0], keys[0], missing, keys[1]})), "(integer) 2");
  EXPECT_EQ(show(c.call({"UNLINK", keys[2], keys[3], missing, keys[4]})), "(integer) 3");
  EXPECT_EQ(show(c.call({"MGET", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5]})),
            "[(nil), (nil), (nil), (nil), (nil), v-" + keys[5] + "]");
  EXPECT_EQ(show(c.call({"EXISTS", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5]})),
            "(integer) 1");

  // MSET with a repeated key: the last value wins, as on one Redis.
  ASSERT_EQ(show(c.call({"MSET", keys[0], "first", keys[1], "x", keys[0], "second"})), "OK");
  EXPECT_EQ(show(c.call({"MGET", keys[0], keys[1]})), "[second, x]");
  EXPECT_EQ(show(c.call({"DEL", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5]})),
            "(integer) 3");
}

TEST_F(Cluster, KeyedCommandAcrossSlotsGetsRedisCrossSlotError) {
  const auto by_master = keysOnEachMaster("ct:xs:" + runId() + ":", 1);
  std::vector<std::string> keys;
  for (const auto& [port, ks] : by_master) keys.push_back(ks[0]);
  ASSERT_NE(keySlot(keys[0]), keySlot(keys[1]));
  Client c(proc_->port());
  ASSERT_EQ(show(c.call({"SADD", keys[0], "a"})), "(integer) 1");
  const std::string crossslot = "(error) CROSSSLOT Keys in request don't hash to the same slot";
  EXPECT_EQ(show(c.call({"SUNIONSTORE", keys[2], keys[0], keys[1]})), crossslot);
  EXPECT_EQ(show(c.call({"RENAME", keys[0], keys[1]})), crossslot);
  EXPECT_EQ(show(c.call({"EVAL", "return 1", "2", keys[0], keys[1]})), crossslot);
  EXPECT_EQ(show(c.call({"DEL", keys[0]})), "(integer) 1");

  // The same commands within one hash tag work.
  const std::string tag = "{ct:u1:" + runId() + "}";
  ASSERT_EQ(keySlot(tag + "a"), keySlot(tag + "b"));
  EXPECT_EQ(show(c.call({"SADD", tag + "a", "x", "y"})), "(integer) 2");
  EXPECT_EQ(show(c.call({"SADD", tag + "b", "y", "z"})), "(integer) 2");
  EXPECT_EQ(show(c.call({"SUNIONSTORE", tag + "c", tag + "a", tag + "b"})), "(integer) 3");
  EXPECT_EQ(show(c.call({"RENAME", tag + "a", tag + "d"})), "OK");
  EXPECT_EQ(show(c.call({"SCARD", tag + "d"})), "(integer) 2");
  EXPECT_EQ(show(c.call({"EXISTS", tag + "a"})), "(integer) 0");
  EXPECT_EQ(show(c.call({"DEL", tag + "b", tag + "c", tag + "d"})), "(integer) 3");
}

// ---------------------------------------------------------------------------------------
// Pipelining

TEST_F(Cluster, TenThousandPipelinedCommandsInOneWrite) {
  const std::string prefix = "ct:pl:" + runId() + ":";
  constexpr int kGroups = 3334;  // SET, GET, INCR each: 10,002 commands
  std::string batch;
  for (int i = 0; i < kGroups; ++i) {
    const std::string n = std::to_string(i);
    encodeInto(batch, {"SET", prefix + n, "v" + n});
    encodeInto(batch, {"GET", prefix + n});
    encodeInto(batch, {"INCR", prefix + "counter:" + std::to_string(i % 100)});
  }
  Client c(proc_->port());
  c.sendRaw(batch);
  std::map<int, std::int64_t> counters;
  for (int i = 0; i < kGroups; ++i) {
    const std::string n = std::to_string(i);
    const auto set = c.read();
    const auto get = c.read();
    const auto incr = c.read();
    ASSERT_EQ(show(set), "OK") << "group " << i;
    ASSERT_EQ(show(get), "v" + n) << "group " << i;
    ASSERT_EQ(show(incr), "(integer) " + std::to_string(++counters[i % 100])) << "group " << i;
  }
  // Nothing more than the replies asked for.
  EXPECT_EQ(show(c.call({"PING"})), "PONG");
  // Clean up, pipelined as well.
  std::string del;
  for (int i = 0; i < kGroups; ++i) encodeInto(del, {"DEL", prefix + std::to_string(i)});
  for (int i = 0; i < 100; ++i) {
    encodeInto(del, {"DEL", prefix + "counter:" + std::to_string(i)});
  }
  c.sendRaw(del);
  for (int i = 0; i < kGroups + 100; ++i) ASSERT_EQ(show(c.read()), "(integer) 1") << i;
}

TEST_F(Cluster, ConcurrentPipeliningClientsSeeOnlyTheirOwnRepliesInOrder) {
  constexpr int kClients = 8;
  constexpr int kRounds = 5;
  constexpr int kPerRound = 400;  // SET, GET, INCR, ECHO, MGET each
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      try {
        Client c(proc_->port());
        const std::string prefix = "ct:cc:" + runId() + ":" + std::to_string(t) + ":";
        std::int64_t count = 0;
        for (int r = 0; r < kRounds; ++r) {
          std::string batch;
          for (int i = 0; i < kPerRound; ++i) {
            const std::string n = std::to_string(r * kPerRound + i);
            const std::string value = "c" + std::to_string(t) + "-" + n;
            encodeInto(batch, {"SET", prefix + n, value});
            encodeInto(batch, {"GET", prefix + n});
            encodeInto(batch, {"INCR", prefix + "counter"});
            encodeInto(batch, {"ECHO", value});
            // Split across slots and merged back: this key, a missing one, the previous.
            const std::string prev = std::to_string(std::max(0, r * kPerRound + i - 1));
            encodeInto(batch, {"MGET", prefix + n, prefix + "missing", prefix + prev});
          }
          c.sendRaw(batch);
          for (int i = 0; i < kPerRound; ++i) {
            const std::string n = std::to_string(r * kPerRound + i);
            const std::string value = "c" + std::to_string(t) + "-" + n;
            const int prev = std::max(0, r * kPerRound + i - 1);
            const std::string prev_value = "c" + std::to_string(t) + "-" + std::to_string(prev);
            const std::string got[] = {show(c.read()), show(c.read()), show(c.read()),
                                       show(c.read()), show(c.read())};
            const std::string want[] = {"OK", value, "(integer) " + std::to_string(++count), value,
                                        "[" + value + ", (nil), " + prev_value + "]"};
            for (int j = 0; j < 5; ++j) {
              if (got[j] != want[j]) {
                throw std::runtime_error("client " + std::to_string(t) + " command " + n + "/" +
                                         std::to_string(j) + ": got '" + got[j] + "', want '" +
                                         want[j] + "'");
              }
            }
          }
        }
        std::string del;
        for (int i = 0; i < kRounds * kPerRound; ++i) {
          encodeInto(del, {"DEL", prefix + std::to_string(i)});
        }
        encodeInto(del, {"DEL", prefix + "counter"});
        c.sendRaw(del);
        for (int i = 0; i <= kRounds * kPerRound; ++i) {
          const std::string got = show(c.read());
          if (got != "(integer) 1") throw std::runtime_error("cleanup DEL answered " + got);
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        failures.push_back(e.what());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& f : failures) ADD_FAILURE() << f;
}

// ---------------------------------------------------------------------------------------
// Fan-out

TEST_F(Cluster, FanOutKeyspaceCommands) {
  constexpr int kKeys = 300;
  const std::string prefix = "ct:fan:" + runId() + ":";
  Client c(proc_->port());
  std::set<std::string> written;
  // The cluster is shared with other test runs: a key written by someone else between
  // our FLUSHALL and our counts shows as a direct DBSIZE above kKeys; start over then.
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSERT_EQ(show(c.call({"FLUSHALL"})), "OK");
    const std::int64_t after_flush = c.call({"DBSIZE"}).integer;
    const std::int64_t direct_after_flush = directDbsizeSum();
    written.clear();
    std::vector<std::string> mset{"MSET"};
    for (int i = 0; i < kKeys; ++i) {
      mset.push_back(prefix + std::to_string(i));
      mset.push_back(std::to_string(i));
      written.insert(prefix + std::to_string(i));
    }
    ASSERT_EQ(show(c.call(mset)), "OK");
    const std::int64_t direct = directDbsizeSum();
    const std::int64_t dbsize = c.call({"DBSIZE"}).integer;
    if (directDbsizeSum() != kKeys || direct_after_flush != 0) continue;  // someone else wrote
    EXPECT_EQ(after_flush, 0);
    EXPECT_EQ(direct, kKeys);
    EXPECT_EQ(dbsize, kKeys);
    break;
  }
  ASSERT_EQ(c.call({"DBSIZE"}).integer, kKeys) << "other writers kept the cluster busy";

  // KEYS merges every master's answer.
  const auto keys = c.call({"KEYS", prefix + "*"});
  ASSERT_TRUE(keys.isArray()) << show(keys);
  std::set<std::string> from_keys;
  for (const auto& k : keys.elements) from_keys.insert(k.str);
  EXPECT_EQ(keys.elements.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(from_keys, written);

  // SCAN walks every master behind one cursor, with and without MATCH.
  for (const bool match : {false, true}) {
    std::multiset<std::string> seen;
    std::string cursor = "0";
    int calls = 0;
    do {
      std::vector<std::string> scan{"SCAN", cursor, "COUNT", "10"};
      if (match) {
        scan.push_back("MATCH");
        scan.push_back(prefix + "1*");
      }
      const auto page = c.call(scan);
      ASSERT_TRUE(page.isArray() && page.elements.size() == 2) << show(page);
      cursor = page.elements[0].str;
      for (const auto& k : page.elements[1].elements) seen.insert(k.str);
      ASSERT_LT(++calls, 10000) << "SCAN does not end";
    } while (cursor != "0");
    std::set<std::string> want;
    for (const auto& k : written) {
      if (!match || k.rfind(prefix + "1", 0) == 0) want.insert(k);
    }
    // Without MATCH, keys other test runs wrote meanwhile may show up: only ours count.
    std::multiset<std::string> ours;
    for (const auto& k : seen) {
      if (k.rfind(prefix, 0) == 0) ours.insert(k);
    }
    EXPECT_EQ(std::set<std::string>(ours.begin(), ours.end()), want) << "match=" << match;
    EXPECT_EQ(ours.size(), want.size()) << "duplicates, match=" << match;
    EXPECT_GT(calls, 3) << "COUNT 10 over " << kKeys << " keys should take several pages";
  }

  const auto random = c.call({"RANDOMKEY"});
  EXPECT_EQ(written.count(random.str), 1u) << show(random);

  // SCRIPT LOAD reaches every master, so EVALSHA works for a key on any of them.
  const auto sha = c.call({"SCRIPT", "LOAD", "return redis.call('GET', KEYS[1])"});
  ASSERT_EQ(sha.type, resp::Type::kBulk) << show(sha);
  ASSERT_EQ(sha.str.size(), 40u);
  EXPECT_EQ(show(c.call({"SCRIPT", "EXISTS", sha.str, std::string(40, '0')})),
            "[(integer) 1, (integer) 0]");
  for (std::uint16_t port : masterPorts()) {
    EXPECT_EQ(show(Client(port).call({"SCRIPT", "EXISTS", sha.str})), "[(integer) 1]") << port;
  }
  const auto by_master = keysOnEachMaster(prefix, 1);
  for (const auto& [port, ks] : by_master) {
    const std::string expected = ks[0].substr(prefix.size());
    EXPECT_EQ(show(c.call({"EVALSHA", sha.str, "1", ks[0]})), expected) << port;
  }

  EXPECT_EQ(show(c.call({"FLUSHALL"})), "OK");
  EXPECT_EQ(show(c.call({"KEYS", prefix + "*"})), "[]");
}

TEST_F(Cluster, ConfigSetReachesEveryNode) {
  const std::string before =
      show(Client(kClusterFirstPort).call({"CONFIG", "GET", "slowlog-max-len"}).elements.at(1));
  const std::string wanted = before == "200" ? "201" : "200";
  Client c(proc_->port());
  struct Restore {
    Client& c;
    std::string value;
    ~Restore() {
      try {
        c.call({"CONFIG", "SET", "slowlog-max-len", value});
        for (std::uint16_t port : kClusterPorts) {
          Client(port).call({"CONFIG", "SET", "slowlog-max-len", value});
        }
      } catch (...) {
      }
    }
  } restore{c, before};
  ASSERT_EQ(show(c.call({"CONFIG", "SET", "slowlog-max-len", wanted})), "OK");
  for (std::uint16_t port : kClusterPorts) {
    EXPECT_EQ(show(Client(port).call({"CONFIG", "GET", "slowlog-max-len"})),
              "[slowlog-max-len, " + wanted + "]")
        << "node " << port;
  }
  // A bad value is Redis's own error, not a partial success.
  const std::string bad = show(c.call({"CONFIG", "SET", "slowlog-max-len", "nope"}));
  EXPECT_EQ(bad.rfind("(error) ERR", 0), 0u) << bad;
}

// ---------------------------------------------------------------------------------------
// redis-cli, plain and in cluster mode

TEST_F(Cluster, RedisCliWorksUnchanged) {
  const std::string cli = "redis-cli -p " + std::to_string(proc_->port()) + " ";
  const auto by_master = keysOnEachMaster("ct:cli:" + runId() + ":", 1);
  for (const auto& [port, ks] : by_master) {
    EXPECT_EQ(run(cli + "SET " + ks[0] + " v" + std::to_string(port)), "OK\n");
    EXPECT_EQ(run(cli + "GET " + ks[0]), "v" + std::to_string(port) + "\n");
  }
  std::set<std::string> want;
  for (const auto& [port, ks] : by_master) want.insert(ks[0]);
  const auto scanned = lines(run(cli + "--scan --pattern 'ct:cli:" + runId() + ":*'"));
  EXPECT_EQ(std::set<std::string>(scanned.begin(), scanned.end()), want);
  EXPECT_EQ(scanned.size(), want.size());

  // Cluster mode: readthru looks like a one-node cluster, so no redirect ever happens.
  const std::string cluster_cli = "redis-cli -c -p " + std::to_string(proc_->port()) + " ";
  for (const auto& [port, ks] : by_master) {
    EXPECT_EQ(run(cluster_cli + "SET " + ks[0] + " c" + std::to_string(port)), "OK\n");
    EXPECT_EQ(run(cluster_cli + "GET " + ks[0]), "c" + std::to_string(port) + "\n");
  }
  std::string mget = cluster_cli + "MGET";
  for (const auto& [port, ks] : by_master) mget += " " + ks[0];
  std::string mget_want;
  for (const auto& [port, ks] : by_master) mget_want += "c" + std::to_string(port) + "\n";
  EXPECT_EQ(run(mget), mget_want);
  const std::string check =
      run("redis-cli --cluster check 127.0.0.1:" + std::to_string(proc_->port()));
  EXPECT_NE(check.find("[OK] All 16384 slots covered."), std::string::npos) << check;
  std::string del = cli + "DEL";
  for (const auto& k : want) del += " " + k;
  EXPECT_EQ(run(del), "3\n");  // redis-cli prints bare integers when not on a tty
}

// ---------------------------------------------------------------------------------------
// Reads from replicas

TEST(ClusterReplicas, ReadFromReplicasSendsGetsToTheSlotsReplica) {
  ReadthruProcess proc(clusterBackend("  read_from_replicas: true\n"));
  const std::string key = "ct:rr:" + runId();
  const SlotOwner owner = slotOwner(keySlot(key));
  ASSERT_FALSE(owner.replicas.empty());
  Client c(proc.port());
  ASSERT_EQ(show(c.call({"SET", key, "replicated"})), "OK");

  // Wait (bounded) until the replica has the write, so every read below can see it.
  for (const std::uint16_t replica : owner.replicas) {
    Client direct(replica);
    ASSERT_EQ(show(direct.call({"READONLY"})), "OK");
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (show(direct.call({"GET", key})) != "replicated") {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "replica " << replica << " lags";
      std::this_thread::sleep_for(10ms);
    }
  }
  auto replicaGets = [&] {
    std::int64_t sum = 0;
    for (const std::uint16_t replica : owner.replicas) {
      const std::string stats = show(Client(replica).call({"INFO", "commandstats"}));
      sum += infoInteger(stats, "cmdstat_get:calls").value_or(0);
    }
    return sum;
  };
  const std::int64_t before = replicaGets();
  constexpr int kReads = 200;
  for (int i = 0; i < kReads; ++i) ASSERT_EQ(show(c.call({"GET", key})), "replicated") << i;
  EXPECT_GE(replicaGets() - before, kReads);

  // Writes still go to the master.
  EXPECT_EQ(show(c.call({"SET", key, "again"})), "OK");
  EXPECT_EQ(show(Client(owner.master).call({"GET", key})), "again");
  EXPECT_EQ(show(c.call({"DEL", key})), "(integer) 1");
  EXPECT_EQ(proc.stopAndCheck(), "");
}

// ---------------------------------------------------------------------------------------
// No reachable backend

TEST(ClusterUnreachable, StartsAnswersLocallyAndFailsRequestsWithinTheTimeout) {
  ReadthruProcess proc(
      "  mode: cluster\n  seeds: [\"127.0.0.1:1\"]\n  connect_timeout: 300ms\n"
      "  command_timeout: 500ms\n");
  Client c(proc.port());
  EXPECT_EQ(show(c.call({"PING"})), "PONG");
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"GET", "ct:down"}, {"MGET", "a", "b", "c"}, {"DBSIZE"}, {"SCAN", "0"}, {"GET", "x"}}) {
    const auto start = std::chrono::steady_clock::now();
    const auto reply = c.call(cmd);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(reply.isError()) << cmd[0] << ": " << show(reply);
    EXPECT_TRUE(reply.str.rfind("CLUSTERDOWN", 0) == 0 || reply.str.rfind("ERR", 0) == 0)
        << reply.str;
    EXPECT_LT(took, 500ms + 1500ms) << cmd[0];
  }
  EXPECT_EQ(show(c.call({"PING"})), "PONG");
  EXPECT_EQ(proc.stopAndCheck(), "");
}

}  // namespace
}  // namespace readthru::testing
