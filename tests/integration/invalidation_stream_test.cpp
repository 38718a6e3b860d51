// The invalidation stream (`invalidation_stream:`): entries XADDed by other systems are
// applied and acknowledged, bad entries are skipped without blocking the rest, two
// instances share the work, and entries a dead consumer left pending are claimed.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

// The stream is polled every 100 ms.
constexpr auto kWait = 10s;

const std::string kTag = "ist" + std::to_string(::getpid());
const std::string kTable = kTag + "_items";

class InvalidationStream : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kTable);
    pg.exec("CREATE TABLE " + kTable + " (id int PRIMARY KEY, team int, v text)");
    pg.exec("INSERT INTO " + kTable + " SELECT i, i % 2, 'v' || i FROM generate_series(1, 100) i");
  }
  static void TearDownTestSuite() { Pg().exec("DROP TABLE IF EXISTS " + kTable); }

  static std::string config(const std::string& stream) {
    return "postgres:\n  dsn: \"" + std::string(kPgDsn) + "\"\nkeyspaces:\n" +
           keyspaceRule(
               "item", kTag + ":item:<id>", "SELECT v, team FROM " + kTable + " WHERE id = $1",
               "    params: [id]\n    ttl: 60s\n    tags: [\"" + kTag + "-team:<team>\"]\n") +
           "invalidation_stream:\n  key: \"" + stream + "\"\n  group: rt\n  claim_idle: 1s\n";
  }
  static std::string key(int id) { return kTag + ":item:" + std::to_string(id); }
  static bool gone(Client& c, const std::string& k) {
    return show(c.call({"EXISTS", k})) == "(integer) 0";
  }
  // A number XINFO GROUPS gives for the stream's one group, "rt" (entries-read, pending),
  // or -1.
  static std::int64_t groupField(Client& c, const std::string& stream, const std::string& name) {
    for (const auto& group : c.call({"XINFO", "GROUPS", stream}).elements) {
      for (std::size_t i = 0; i + 1 < group.elements.size(); i += 2) {
        if (group.elements[i].str == name && group.elements[i + 1].type == resp::Type::kInteger) {
          return group.elements[i + 1].integer;
        }
      }
    }
    return -1;
  }
};

TEST_F(InvalidationStream, KeyTagAndKeyspaceEntriesAreAppliedAndAcknowledged) {
  const std::string stream = kTag + ":stream1";
  ReadthruProcess proc(clusterBackend(), "", config(stream));
  Client c(proc.port());
  for (int id = 1; id <= 10; ++id) ASSERT_NE(show(c.call({"GET", key(id)})), "(nil)");

  ASSERT_TRUE(c.call({"XADD", stream, "*", "key", key(1), "key", key(2)}).type ==
              resp::Type::kBulk);
  EXPECT_TRUE(eventually([&] { return gone(c, key(1)) && gone(c, key(2)); }, kWait));
  EXPECT_EQ(show(c.call({"EXISTS", key(3)})), "(integer) 1");

  c.call({"XADD", stream, "*", "tag", kTag + "-team:1"});  // odd ids: 3, 5, 7, 9 remain
  EXPECT_TRUE(eventually([&] { return gone(c, key(3)) && gone(c, key(9)); }, kWait));
  EXPECT_EQ(show(c.call({"EXISTS", key(4)})), "(integer) 1");

  // A bad entry is skipped and acknowledged; the entry after it still applies.
  c.call({"XADD", stream, "*", "colour", "red"});
  c.call({"XADD", stream, "*", "keyspace", "nope"});
  c.call({"XADD", stream, "*", "keyspace", "item"});
  EXPECT_TRUE(eventually([&] { return gone(c, key(4)) && gone(c, key(10)); }, kWait));
  EXPECT_TRUE(eventually(
      [&] {
        return show(c.call({"XPENDING", stream, "rt"})).starts_with("[(integer) 0");
      },
      kWait));
  const auto info = c.call({"INFO", "readthru"}).str;
  EXPECT_EQ(infoInteger(info, "stream_entries_applied"), 4);
  EXPECT_EQ(infoInteger(info, "stream_entries_bad"), 2);
  EXPECT_GE(infoInteger(info, "readthru_invalidations_from_stream").value_or(0), 4);
  c.call({"DEL", stream});
}

TEST_F(InvalidationStream, TwoInstancesApplyEachEntryOnce) {
  const std::string stream = kTag + ":stream2";
  ReadthruProcess a(clusterBackend(), "", config(stream));
  ReadthruProcess b(clusterBackend(), "", config(stream));
  Client ca(a.port()), cb(b.port());
  for (int i = 0; i < 200; ++i)
    cb.call({"XADD", stream, "*", "key", kTag + ":plain:" + std::to_string(i)});
  auto applied = [&] {
    return infoInteger(ca.call({"INFO", "readthru"}).str, "stream_entries_applied").value_or(0) +
           infoInteger(cb.call({"INFO", "readthru"}).str, "stream_entries_applied").value_or(0);
  };
  EXPECT_TRUE(eventually([&] { return applied() == 200; }, kWait)) << applied();
  // Nothing is applied twice later either. First the group has handed out every entry and
  // has each acknowledged, so no consumer can be given one again (a read or a claim); then
  // a bounded wait lets an extra application that was under way show in the counts.
  EXPECT_TRUE(eventually(
      [&] {
        return groupField(ca, stream, "entries-read") == 200 &&
               groupField(ca, stream, "pending") == 0;
      },
      kWait));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(applied(), 200);
  ca.call({"DEL", stream});
}

TEST_F(InvalidationStream, EntriesADeadConsumerLeftPendingAreClaimed) {
  const std::string stream = kTag + ":stream3";
  ReadthruProcess first(clusterBackend(), "", config(stream));
  ASSERT_NE(show(Client(first.port()).call({"GET", key(50)})), "(nil)");
  first.stop();
  ReadthruProcess plain(clusterBackend());
  Client c(plain.port());
  c.call({"XGROUP", "CREATE", stream, "rt", "0", "MKSTREAM"});  // unless `first` did
  // A consumer that read the entry and died before acknowledging it.
  c.call({"XADD", stream, "*", "key", key(50)});
  ASSERT_EQ(
      c.call({"XREADGROUP", "GROUP", "rt", "ghost", "COUNT", "10", "STREAMS", stream, ">"}).type,
      resp::Type::kArray);
  // `second` claims once as it starts (then every 10 s): the entry must have been idle for
  // longer than claim_idle (1 s) by then, as Redis counts it: [[id, consumer, idle, n]].
  ASSERT_TRUE(eventually(
      [&] {
        const auto p = c.call({"XPENDING", stream, "rt", "-", "+", "10"});
        return p.isArray() && p.elements.size() == 1 && p.elements[0].elements.size() == 4 &&
               p.elements[0].elements[2].integer > 1000;
      },
      kWait));
  ReadthruProcess second(clusterBackend(), "", config(stream));
  Client c2(second.port());
  EXPECT_TRUE(eventually([&] { return gone(c2, key(50)); }, kWait));
  EXPECT_EQ(infoInteger(c2.call({"INFO", "readthru"}).str, "stream_entries_claimed"), 1);
  c2.call({"DEL", stream});
}

}  // namespace
}  // namespace readthru::testing
