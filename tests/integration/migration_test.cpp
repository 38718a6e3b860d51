// A hash slot migrated between masters while clients run through readthru: every command
// must succeed (readthru follows -ASK while keys are split between the nodes and -MOVED
// once the slot has moved), and the data must stay consistent. The slot is moved back
// in TearDown, whatever happened, so the stack stays balanced for other tests.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kTag = "{mig}";
constexpr int kFillerKeys = 300;  // migrated slowly, after the keys the clients use
constexpr int kCounters = 4;
constexpr int kThreads = 4;

std::string counterKey(int i) { return std::string(kTag) + "counter:" + std::to_string(i); }
std::string ownKey(int t) { return std::string(kTag) + "own:" + std::to_string(t); }
std::string fillerKey(int i) { return std::string(kTag) + "filler:" + std::to_string(i); }

std::int64_t readthruCounter(std::uint16_t port, const char* name) {
  Client c(port);
  return infoInteger(show(c.call({"INFO", "readthru"})), name).value_or(-1);
}

class Migration : public ::testing::Test {
 protected:
  void SetUp() override {
    slot_ = keySlot(counterKey(0));
    home_ = slotOwner(slot_).master;
    for (std::uint16_t port : masterPorts()) {
      if (port != home_) {
        away_ = port;
        break;
      }
    }
    ASSERT_NE(away_, 0);
    // Keys of the slot stay split between the nodes for the whole migration; readthru
    // retries -TRYAGAIN for up to command_timeout, so give it room on a slow machine.
    proc_ = std::make_unique<ReadthruProcess>(clusterBackend("  command_timeout: 5s\n"));
  }

  // Puts the slot back on its original master, whatever state the test left it in.
  void TearDown() override {
    if (proc_) {
      EXPECT_EQ(proc_->stopAndCheck(), "");
      proc_.reset();
    }
    const std::string s = std::to_string(slot_);
    try {
      for (std::uint16_t port : masterPorts())
        Client(port).call({"CLUSTER", "SETSLOT", s, "STABLE"});
      const std::uint16_t owner = slotOwner(slot_).master;
      if (owner != home_) migrateSlot(slot_, owner, home_, {});
      waitUntilEveryNodeAgrees(slot_, home_);
      Client home(home_);
      std::vector<std::string> del{"DEL"};
      for (int i = 0; i < kCounters; ++i) del.push_back(counterKey(i));
      for (int t = 0; t < kThreads; ++t) del.push_back(ownKey(t));
      for (int i = 0; i < kFillerKeys; ++i) del.push_back(fillerKey(i));
      home.call(del);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not restore slot " << slot_ << " to " << home_ << ": " << e.what();
    }
  }

  std::int64_t slot_ = 0;
  std::uint16_t home_ = 0;
  std::uint16_t away_ = 0;
  std::unique_ptr<ReadthruProcess> proc_;
};

TEST_F(Migration, SlotMovesWhileClientsRunWithoutErrors) {
  // The keys exist on the source before the migration starts.
  {
    Client c(proc_->port());
    std::vector<std::string> mset{"MSET"};
    for (int i = 0; i < kCounters; ++i) {
      mset.push_back(counterKey(i));
      mset.push_back("0");
    }
    for (int t = 0; t < kThreads; ++t) {
      mset.push_back(ownKey(t));
      mset.push_back("start");
    }
    for (int i = 0; i < kFillerKeys; ++i) {
      mset.push_back(fillerKey(i));
      mset.push_back("f" + std::to_string(i));
    }
    ASSERT_EQ(show(c.call(mset)), "OK");
    ASSERT_EQ(show(Client(home_).call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot_)})),
              "(integer) " + std::to_string(kCounters + kThreads + kFillerKeys));
  }

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> errors;
  std::vector<std::vector<std::int64_t>> incr_replies(kCounters);  // guarded by mu
  std::atomic<std::int64_t> commands{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      std::vector<std::vector<std::int64_t>> mine(kCounters);
      auto fail = [&](const std::string& what) {
        std::lock_guard lock(mu);
        if (errors.size() < 20) errors.push_back("client " + std::to_string(t) + ": " + what);
      };
      try {
        Client c(proc_->port());
        for (int i = 0; !stop.load(); ++i) {
          const std::string value = std::to_string(t) + ":" + std::to_string(i);
          const auto set = c.call({"SET", ownKey(t), value});
          if (show(set) != "OK") fail("SET " + show(set));
          const auto get = c.call({"GET", ownKey(t)});
          if (show(get) != value) fail("GET " + show(get) + ", want " + value);
          const int n = (i + t) % kCounters;
          const auto incr = c.call({"INCR", counterKey(n)});
          if (incr.type != resp::Type::kInteger) {
            fail("INCR " + show(incr));
          } else {
            mine[n].push_back(incr.integer);
          }
          // Multi-key, all in the slot: split by nobody, redirected as one.
          const auto mget = c.call({"MGET", ownKey(t), counterKey(n)});
          if (!mget.isArray() || mget.elements.size() != 2 || show(mget.elements[0]) != value) {
            fail("MGET " + show(mget));
          }
          const int f = (i * 7 + t) % kFillerKeys;
          if (t % 2 == 0) {
            // A key already moved with one that may not have: split between the nodes,
            // Redis answers -TRYAGAIN until both are on one side; readthru retries.
            const auto split = c.call({"MGET", counterKey(n), fillerKey(f)});
            if (!split.isArray() || split.elements.size() != 2 ||
                show(split.elements[1]) != "f" + std::to_string(f)) {
              fail("MGET with a filler " + show(split));
            }
          } else {
            const auto filler = c.call({"GET", fillerKey(f)});
            if (show(filler) != "f" + std::to_string(f)) fail("GET filler " + show(filler));
          }
          commands += 5;
        }
      } catch (const std::exception& e) {
        fail(e.what());
      }
      std::lock_guard lock(mu);
      for (int n = 0; n < kCounters; ++n) {
        incr_replies[n].insert(incr_replies[n].end(), mine[n].begin(), mine[n].end());
      }
    });
  }

  // The keys the clients use go first, then the fillers in small batches with pauses, so
  // clients keep meeting moved keys while the slot is still MIGRATING (-ASK) and keys
  // split between the nodes (-TRYAGAIN). After each batch, wait (bounded) until readthru
  // has followed at least one of each.
  std::vector<std::string> hot;
  for (int i = 0; i < kCounters; ++i) hot.push_back(counterKey(i));
  for (int t = 0; t < kThreads; ++t) hot.push_back(ownKey(t));
  const auto ask_deadline = Clock::now() + 10s;
  auto pause = [&] {
    std::this_thread::sleep_for(15ms);
    while ((readthruCounter(proc_->port(), "backend_ask_redirects") <= 0 ||
            readthruCounter(proc_->port(), "backend_tryagain_retries") <= 0) &&
           Clock::now() < ask_deadline) {
      std::this_thread::sleep_for(10ms);
    }
  };
  std::string migration_error;
  try {
    migrateSlot(slot_, home_, away_, hot, pause);
    waitUntilEveryNodeAgrees(slot_, away_);
  } catch (const std::exception& e) {
    migration_error = e.what();
  }
  // Let clients run on until readthru has followed a MOVED (bounded), then for ten more
  // rounds of every client's five commands on the slot's new home.
  const auto moved_deadline = Clock::now() + 10s;
  while (readthruCounter(proc_->port(), "backend_moved_redirects") <= 0 &&
         Clock::now() < moved_deadline) {
    std::this_thread::sleep_for(20ms);
  }
  const std::int64_t at_move = commands.load();
  EXPECT_TRUE(eventually([&] { return commands.load() >= at_move + 10 * 5 * kThreads; }, 10s))
      << "the clients hardly ran after the move";
  stop = true;
  for (auto& th : clients) th.join();
  ASSERT_EQ(migration_error, "");

  for (const auto& e : errors) ADD_FAILURE() << e;
  EXPECT_GT(commands.load(), 100) << "the clients hardly ran";

  // Each counter answered 1, 2, ..., n exactly once and ends at n.
  Client c(proc_->port());
  for (int n = 0; n < kCounters; ++n) {
    auto replies = incr_replies[n];
    std::sort(replies.begin(), replies.end());
    for (std::size_t i = 0; i < replies.size(); ++i) {
      ASSERT_EQ(replies[i], static_cast<std::int64_t>(i + 1)) << counterKey(n);
    }
    EXPECT_EQ(show(c.call({"GET", counterKey(n)})), std::to_string(replies.size()))
        << counterKey(n);
    EXPECT_EQ(show(Client(away_).call({"GET", counterKey(n)})), std::to_string(replies.size()));
  }
  // Everything moved: nothing left on the source, every filler intact on the target.
  EXPECT_EQ(show(Client(home_).call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot_)})),
            "(integer) 0");
  EXPECT_EQ(show(Client(away_).call({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot_)})),
            "(integer) " + std::to_string(kCounters + kThreads + kFillerKeys));
  EXPECT_EQ(show(c.call({"GET", fillerKey(kFillerKeys - 1)})),
            "f" + std::to_string(kFillerKeys - 1));

  const std::string info = show(c.call({"INFO", "readthru"}));
  EXPECT_GT(infoInteger(info, "backend_ask_redirects").value_or(0), 0) << info;
  EXPECT_GT(infoInteger(info, "backend_moved_redirects").value_or(0), 0) << info;
  EXPECT_GT(infoInteger(info, "backend_tryagain_retries").value_or(0), 0) << info;
}

}  // namespace
}  // namespace readthru::testing
