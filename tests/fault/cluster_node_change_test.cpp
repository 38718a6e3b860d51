// A master added to the cluster and removed again while clients read and write through
// readthru (issue 9 item 8): a cluster-mode redis-server of the test's own joins the
// stack's cluster (CLUSTER MEET), a range of slots moves to it and back (SETSLOT +
// MIGRATE; emptied, it makes itself a replica of the master that took its last slot, as
// Redis 7 does), then every node forgets it (CLUSTER FORGET) and it stops. readthru learns of
// the new node only from -ASK and -MOVED and the slot map it then reads. No client may see
// a wrong value; errors may only come while a change runs (topology_load.hpp).
//
// The test changes the shared cluster (it holds the redis_cluster lock) and leaves it as
// it found it, whatever happens: NodeGuard moves the slots home, makes every node forget
// the extra one, stops it and waits for the cluster to be whole again.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"
#include "topology_load.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kTag = "nc" + std::to_string(::getpid());
constexpr int kSlots = 16;  // moved to the new node, from the start of a master's slots

bool answersPing(std::uint16_t port) {
  try {
    Client c(port);
    return show(c.call({"PING"})) == "PONG";
  } catch (const std::exception&) {
    return false;
  }
}

// A cluster-mode redis-server on free ports (client and bus), in a temp dir of its own
// (nodes.conf), with the stack's node timeout. Not yet part of any cluster.
class ExtraNode {
 public:
  ExtraNode() {
    char tmpl[] = "/tmp/readthru-extra-node-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    port_ = freePort();
    std::uint16_t bus = freePort();
    while (bus == port_) bus = freePort();
    pid_ = spawnRedisServer({"--port",
                             std::to_string(port_),
                             "--cluster-port",
                             std::to_string(bus),
                             "--bind",
                             "127.0.0.1",
                             "--cluster-enabled",
                             "yes",
                             "--cluster-config-file",
                             dir_ + "/nodes.conf",
                             "--cluster-node-timeout",
                             "2000",
                             "--dir",
                             dir_,
                             "--save",
                             "",
                             "--appendonly",
                             "no",
                             "--daemonize",
                             "no",
                             "--loglevel",
                             "warning",
                             "--logfile",
                             dir_ + "/redis.log"});
    if (!eventually([&] { return answersPing(port_); }, 10s)) {
      stop();
      throw std::runtime_error("the extra cluster node did not answer PING in 10s");
    }
    Client c(port_);
    id_ = show(c.call({"CLUSTER", "MYID"}));
  }
  ~ExtraNode() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ExtraNode(const ExtraNode&) = delete;
  ExtraNode& operator=(const ExtraNode&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    reapChild(pid_, 10s);
    pid_ = -1;
  }
  std::uint16_t port() const { return port_; }
  const std::string& id() const { return id_; }

 private:
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string id_;
};

// Every node of the stack's cluster, and the extra one, lists `known` nodes, and the extra
// one says the cluster is ok (a master that just joined holds back for 2 s, Redis's
// CLUSTER_WRITABLE_DELAY, and answers -CLUSTERDOWN meanwhile, MIGRATE included).
bool everyoneKnows(const ExtraNode& extra, int known) {
  const std::string want = "cluster_known_nodes:" + std::to_string(known) + "\r\n";
  try {
    for (std::uint16_t p : kClusterPorts) {
      if (show(Client(p).call({"CLUSTER", "INFO"})).find(want) == std::string::npos) return false;
    }
    const std::string own = show(Client(extra.port()).call({"CLUSTER", "INFO"}));
    return own.find(want) != std::string::npos && own.find("cluster_state:ok") != std::string::npos;
  } catch (const std::exception&) {
    return false;
  }
}

void join(const ExtraNode& extra) {
  expectOk(Client(extra.port())
               .call({"CLUSTER", "MEET", "127.0.0.1", std::to_string(kClusterFirstPort)}),
           "CLUSTER MEET");
  if (!eventually([&] { return everyoneKnows(extra, 7); }, 20s)) {
    throw std::runtime_error("the cluster did not learn of the extra node in 20s");
  }
}

std::string role(std::uint16_t port) {
  const auto v = Client(port).call({"ROLE"});
  return v.isArray() && !v.elements.empty() ? v.elements[0].str : show(v);
}

// Moves every slot of `keys` from `src` to `dst`, two keys per MIGRATE; each slot agreed
// on by every node (the extra one too) before the next.
//
// A master that loses its last slot makes itself a replica of the master that took it, as
// soon as gossip tells it (Redis 7 does so even with cluster-allow-replica-migration off),
// and that may come before migrateSlot's SETSLOT on the source, which a replica refuses.
// The move is then complete all the same (redis-cli --cluster ignores that refusal for the
// same reason): accepted when the source is a replica now and everyone agrees.
void reshard(const KeySet& keys, std::uint16_t src, std::uint16_t dst, const ExtraNode& extra) {
  for (std::int64_t slot : keys.slots) {
    try {
      migrateSlot(
          slot, src, dst, {}, [] {}, 2);
    } catch (const std::exception&) {
      if (slot != keys.slots.back() || role(src) != "slave") throw;
    }
    waitUntilEveryNodeAgrees(slot, dst);
    if (!eventually([&] { return slotOwner(slot, extra.port()).master == dst; }, 10s)) {
      throw std::runtime_error("the extra node does not agree on slot " + std::to_string(slot));
    }
  }
}

// Whatever the test did: the slots of `keys` home and stable, the extra node forgotten by
// every node and stopped, the cluster whole. forget() may run earlier, under load.
struct NodeGuard {
  const KeySet& keys;
  std::uint16_t home;
  ExtraNode& extra;
  bool forgotten = false;

  void forget() {
    if (forgotten) return;
    for (std::int64_t slot : keys.slots) {
      const std::string s = std::to_string(slot);
      for (std::uint16_t port : masterPorts())
        Client(port).call({"CLUSTER", "SETSLOT", s, "STABLE"});
      Client(extra.port()).call({"CLUSTER", "SETSLOT", s, "STABLE"});
      const std::uint16_t owner = slotOwner(slot).master;
      if (owner != home) migrateSlot(slot, owner, home, {});
      waitUntilEveryNodeAgrees(slot, home);
    }
    // FORGET bans the node for 60 s on each node that ran it, so the gossip of those that
    // have not run it yet cannot bring it back meanwhile; it stops right after.
    for (std::uint16_t port : kClusterPorts) {
      const auto v = Client(port).call({"CLUSTER", "FORGET", extra.id()});
      if (show(v) != "OK" && show(v).find("Unknown node") == std::string::npos) {
        throw std::runtime_error("CLUSTER FORGET on " + std::to_string(port) + ": " + show(v));
      }
    }
    extra.stop();
    forgotten = true;
  }
  ~NodeGuard() {
    try {
      forget();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not remove the extra node: " << e.what();
    }
    extra.stop();
    if (!eventually(clusterHealthy, 60s)) ADD_FAILURE() << "the cluster is not healthy after";
  }
};

TEST(ClusterNodeChange, ANodeAddedAndRemovedUnderLoad) {
  ASSERT_TRUE(eventually(clusterHealthy, 60s)) << "the cluster is not healthy before the test";
  const std::uint16_t home = slotOwner(0).master;
  const KeySet keys(kTag, 0, kSlots);
  ExtraNode extra;
  NodeGuard put_back_whatever_happens{keys, home, extra};
  ReadthruProcess rt(clusterBackend("  command_timeout: 5s\n"), "", loadSections(kTag));
  Client admin(rt.port());
  {
    Load load(rt.port(), keys);
    ASSERT_TRUE(eventually([&] { return load.commands() >= 2000; }, 20s));
    // Each change under load, then every value right, then more load with no error.
    auto change = [&](const std::string& what, const std::function<void()>& run) {
      load.mark(what);
      const auto t0 = Clock::now();
      std::string error;
      try {
        run();
      } catch (const std::exception& e) {
        error = e.what();
      }
      const auto t_done = Clock::now();
      EXPECT_EQ(error, "") << what;
      const bool clean = error.empty() && eventually([&] { return load.cleanPass(); }, 20s, 50ms);
      EXPECT_TRUE(clean) << what << ": not every value right afterwards";
      load.settle();
      std::cout << what << ": done in " << ms(t_done - t0) << " ms, every value right after "
                << ms(Clock::now() - t0) << " ms\n";
      const long long at = load.commands();
      EXPECT_TRUE(eventually([&] { return load.commands() >= at + 2000; }, 20s));
      return clean;
    };

    ASSERT_TRUE(change("CLUSTER MEET of a new master on " + std::to_string(extra.port()),
                       [&] { join(extra); }));
    ASSERT_TRUE(change("slots 0-" + std::to_string(kSlots - 1) + " to the new master",
                       [&] { reshard(keys, home, extra.port(), extra); }));
    EXPECT_GT(Client(extra.port()).call({"DBSIZE"}).integer, 0) << "no key moved there";
    ASSERT_TRUE(change("slots back to " + std::to_string(home),
                       [&] { reshard(keys, extra.port(), home, extra); }));
    std::cout << "the emptied node is now a " << role(extra.port()) << "\n";
    ASSERT_TRUE(change("CLUSTER FORGET on every node, the new master stopped",
                       [&] { put_back_whatever_happens.forget(); }));
    load.stop();
    load.report(std::cout);
    EXPECT_EQ(load.wrong(), 0);
    EXPECT_EQ(load.unexpectedErrors(), 0);
  }
  EXPECT_EQ(show(admin.call({"PING"})), "PONG");
  const std::string info = show(admin.call({"INFO", "readthru"}));
  EXPECT_GT(infoInteger(info, "backend_ask_redirects").value_or(0), 0) << info;
  EXPECT_GT(infoInteger(info, "backend_moved_redirects").value_or(0), 0) << info;
  deleteKeys(rt.port(), keys);
}

}  // namespace
}  // namespace readthru::testing
