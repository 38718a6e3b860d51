// Pre-warming: a keyspace's warm query names keys that readthru loads at start, in batches
// through the keyspace's batch_query, once across instances (the warm lease), and again
// on READTHRU.WARM.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "client.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kRows = 2000;
constexpr int kBatch = 500;

// A table of kRows users, its keyspace (batch_query, warm), and the keys it warms.
struct WarmTable {
  explicit WarmTable(const std::string& suffix)
      : name("warm" + std::to_string(::getpid()) + suffix), drop(name) {
    Pg().exec("DROP TABLE IF EXISTS " + name + "; CREATE TABLE " + name +
              " (id int PRIMARY KEY, name text); INSERT INTO " + name +
              " SELECT g, 'user ' || g FROM generate_series(1, " + std::to_string(kRows) + ") g");
  }
  std::string sections(const std::string& warm_extra) const {
    return "postgres:\n  dsn: \"" + std::string(kPgDsn) +
           "\"\n  pool_size: 2\n  statement_timeout: 5s\n"
           "keyspaces:\n"
           "  - name: w\n    pattern: \"" +
           name + ":<id>\"\n    query: \"SELECT id, name FROM " + name +
           " WHERE id = $1\"\n    params: [id]\n    ttl: 120s\n"
           "    batch_query: \"SELECT id, name FROM " +
           name +
           " WHERE id = ANY($1)\"\n    batch_key: id\n    warm:\n      query: \"SELECT id FROM " +
           name + " ORDER BY id\"\n      batch: " + std::to_string(kBatch) + "\n" + warm_extra;
  }
  std::int64_t batchCalls() const { return Pg().calls(name + " WHERE id = ANY($1)"); }
  std::int64_t singleCalls() const { return Pg().calls(name + " WHERE id = $1"); }
  // How many of the keys Redis holds (EXISTS through readthru: passed through, per slot).
  std::int64_t cached(std::uint16_t port) const {
    std::vector<std::string> args{"EXISTS"};
    for (int i = 1; i <= kRows; ++i) args.push_back(name + ":" + std::to_string(i));
    Client c(port);
    return c.call(args).integer;
  }
  void forget(std::uint16_t port) const {
    std::vector<std::string> args{"UNLINK"};
    for (int i = 1; i <= kRows; ++i) args.push_back(name + ":" + std::to_string(i));
    Client c(port);
    c.call(args);
  }
  std::string name;
  DropTableAtExit drop;
};

bool logHas(const ReadthruProcess& p, const std::string& text) {
  return p.log().find(text) != std::string::npos;
}

// Batches may split when the batcher's 2 ms window closes before every lease step of a
// batch is back; never more than twice as many, and never one per key.
void expectAboutOneQueryPerBatch(std::int64_t calls) {
  EXPECT_GE(calls, kRows / kBatch);
  EXPECT_LT(calls, 2 * (kRows / kBatch));
}

TEST(Warm, OnStartLoadsEveryKeyInBatches) {
  WarmTable t("a");
  ReadthruProcess rt(clusterBackend(), "",
                     t.sections("      on_start: true\n    ready_after_warm: true\n"));
  ASSERT_TRUE(eventually([&] { return logHas(rt, "warm 'w': done"); }, 30s)) << rt.log();
  EXPECT_TRUE(logHas(rt, "warm 'w': 2000 keys to load, batches of 500")) << rt.log();
  EXPECT_EQ(t.cached(rt.port()), kRows);
  expectAboutOneQueryPerBatch(t.batchCalls());
  EXPECT_EQ(t.singleCalls(), 0) << "batches go as the batch query";
  Client c(rt.port());
  const std::int64_t before = t.batchCalls();
  EXPECT_EQ(show(c.call({"GET", t.name + ":7"})), "{\"id\":7,\"name\":\"user 7\"}");
  EXPECT_EQ(t.singleCalls(), 0) << "a warmed key is a hit";
  EXPECT_EQ(t.batchCalls(), before);
  t.forget(rt.port());
}

TEST(Warm, TwoInstancesStartedTogetherWarmOnce) {
  WarmTable t("b");
  // Paced, so that the second instance starts while the first still warms.
  const std::string sections = t.sections("      on_start: true\n      rate: 1000/s\n");
  ReadthruProcess first(clusterBackend(), "", sections);
  ReadthruProcess second(clusterBackend(), "", sections);
  ASSERT_TRUE(eventually(
      [&] {
        return (logHas(first, "warm 'w': done") || logHas(second, "warm 'w': done")) &&
               (logHas(first, "warmed by another instance") ||
                logHas(second, "warmed by another instance"));
      },
      30s))
      << first.log() << "\n----\n"
      << second.log();
  EXPECT_FALSE(logHas(first, "warm 'w': done") && logHas(second, "warm 'w': done"))
      << "only the lease holder warms";
  EXPECT_EQ(t.cached(first.port()), kRows);
  expectAboutOneQueryPerBatch(t.batchCalls());
  t.forget(first.port());
}

TEST(Warm, OnCommand) {
  WarmTable t("c");
  ReadthruProcess rt(clusterBackend(), "", t.sections("      rate: 2000/s\n"));
  Client c(rt.port());
  EXPECT_EQ(show(c.call({"READTHRU.WARM", "nope"})),
            "(error) ERR readthru: no keyspace named 'nope'");
  EXPECT_EQ(show(c.call({"READTHRU.WARM"})),
            "(error) ERR wrong number of arguments for 'readthru.warm' command");
  ASSERT_TRUE(eventually([&] { return t.cached(rt.port()) == 0; })) << "not warmed at start";

  // The reply comes once the warm-up has ended; a second WARM meanwhile is refused.
  c.send({"READTHRU.WARM", "w"});
  Client other(rt.port());
  ASSERT_TRUE(eventually([&] { return logHas(rt, "warm 'w': 2000 keys to load"); }));
  EXPECT_EQ(show(other.call({"READTHRU.WARM", "w"})),
            "(error) ERR readthru: keyspace 'w' is already warming");
  const resp::Value done = c.read(30s);
  EXPECT_EQ(done.str.rfind("warmed 2000 keys of keyspace 'w' in ", 0), 0u) << show(done);
  EXPECT_EQ(t.cached(rt.port()), kRows);
  const std::int64_t calls = t.batchCalls();
  expectAboutOneQueryPerBatch(calls);
  EXPECT_EQ(t.singleCalls(), 0);

  // Keys cached already are left as they are: a second run loads only what went.
  Client(rt.port()).call({"UNLINK", t.name + ":1", t.name + ":2"});
  const resp::Value again = c.call({"READTHRU.WARM", "w"});
  EXPECT_EQ(again.str.rfind("warmed 2000 keys", 0), 0u) << show(again);
  // The two misses go as one batch, or as two single loads if the batcher's window closed.
  const std::int64_t loads = t.batchCalls() + t.singleCalls() - calls;
  EXPECT_GE(loads, 1);
  EXPECT_LE(loads, 2);
  EXPECT_EQ(t.cached(rt.port()), kRows);
  t.forget(rt.port());
}

}  // namespace
}  // namespace readthru::testing
