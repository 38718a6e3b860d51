#include "server/info.hpp"

#include <gtest/gtest.h>

#include "server/backend_info.hpp"
#include "server/context.hpp"

namespace readthru::server {
namespace {

using Sections = std::vector<std::string_view>;

TEST(InfoSections, DefaultAllAndNamedInRedisOrder) {
  const Sections def{"server", "clients", "memory",     "persistence", "stats",    "replication",
                     "cpu",    "modules", "errorstats", "cluster",     "keyspace", "readthru"};
  EXPECT_EQ(infoSections({}), def);
  EXPECT_EQ(infoSections({"DEFAULT"}), def);
  Sections all = def;
  all.insert(all.end() - 1, "commandstats");
  EXPECT_EQ(infoSections({"all"}), all);
  EXPECT_EQ(infoSections({"everything"}), all);
  EXPECT_EQ(infoSections({"keyspace", "Server", "nosuch"}), (Sections{"server", "keyspace"}));
  EXPECT_EQ(infoSections({"commandstats"}), (Sections{"commandstats"}));
  EXPECT_TRUE(infoSections({"nosuch"}).empty());
}

TEST(InfoSections, OnlyMemoryStatsAndKeyspaceNeedTheNodes) {
  EXPECT_TRUE(needsBackendTotals(infoSections({})));
  EXPECT_TRUE(needsBackendTotals({"keyspace"}));
  EXPECT_FALSE(needsBackendTotals({"server", "clients", "readthru", "commandstats"}));
}

cache::NodeReply node(std::string name, bool replica, std::string info) {
  return {std::move(name), replica, resp::Value::bulk(std::move(info))};
}

TEST(BackendInfo, SumsMastersAndCountsHitsOnEveryNode) {
  const std::vector<cache::NodeReply> replies{
      node("a:1", false,
           "# Memory\r\nused_memory:100\r\nused_memory_peak:150\r\nused_memory_rss:200\r\n"
           "maxmemory:1000\r\nmaxmemory_policy:allkeys-lfu\r\n\r\n# Stats\r\nkeyspace_hits:5\r\n"
           "keyspace_misses:1\r\nexpired_keys:2\r\nevicted_keys:3\r\n\r\n# Keyspace\r\n"
           "db0:keys=10,expires=4,avg_ttl=1000\r\n"),
      node("b:1", false,
           "used_memory:50\r\nmaxmemory:1000\r\nmaxmemory_policy:allkeys-lfu\r\nkeyspace_hits:1\r\n"
           "db0:keys=6,expires=1,avg_ttl=6000\r\n"),
      // A replica: its hits count (reads may go there), its copies of keys do not.
      node("a:2", true,
           "used_memory:100\r\nkeyspace_hits:7\r\ndb0:keys=10,expires=4,avg_ttl=1\r\n"),
      {"c:1", false, resp::Value::error("ERR readthru: timed out")},
  };
  const BackendTotals t = sumBackendInfo(replies);
  EXPECT_EQ(t.nodes, 3u);
  EXPECT_EQ(t.nodes_failed, 1u);
  EXPECT_EQ(t.used_memory, 150u);
  EXPECT_EQ(t.used_memory_peak, 150u);
  EXPECT_EQ(t.maxmemory, 2000u);
  EXPECT_EQ(t.maxmemory_policy, "allkeys-lfu");
  EXPECT_EQ(t.keyspace_hits, 13u);
  EXPECT_EQ(t.keyspace_misses, 1u);
  EXPECT_EQ(t.expired_keys, 2u);
  EXPECT_EQ(t.evicted_keys, 3u);
  EXPECT_EQ(t.keys, 16u);
  EXPECT_EQ(t.expires, 5u);
  EXPECT_EQ(t.avg_ttl, 2000u);  // (1000·4 + 6000·1) / 5
}

TEST(BackendInfo, APolicyThatDiffersIsMixed) {
  const BackendTotals t = sumBackendInfo({node("a:1", false, "maxmemory_policy:allkeys-lru\r\n"),
                                          node("b:1", false, "maxmemory_policy:noeviction\r\n")});
  EXPECT_EQ(t.maxmemory_policy, "mixed");
}

TEST(BackendInfo, ParseSkipsTitlesAndBlanks) {
  const auto f = parseInfoLines("# Server\r\nredis_version:7.0.15\r\n\r\nx:a:b\r\nnocolon\r\n");
  EXPECT_EQ(f.size(), 2u);
  EXPECT_EQ(f.at("redis_version"), "7.0.15");
  EXPECT_EQ(f.at("x"), "a:b");
}

TEST(BytesToHuman, AsRedisWritesIt) {
  EXPECT_EQ(bytesToHuman(0), "0B");
  EXPECT_EQ(bytesToHuman(1023), "1023B");
  EXPECT_EQ(bytesToHuman(1536), "1.50K");
  EXPECT_EQ(bytesToHuman(12ull * 1024 * 1024), "12.00M");
  EXPECT_EQ(bytesToHuman(3ull << 30), "3.00G");
}

TEST(InfoText, SectionsTitledAndSeparatedAsRedisDoes) {
  ServerContext ctx;
  metrics::Snapshot snap;
  BackendTotals b;
  b.keys = 3;
  b.expires = 1;
  b.avg_ttl = 9;
  b.keyspace_hits = 4;
  const std::string text = renderInfoText({"stats", "keyspace", "readthru"}, {ctx, snap, b});
  EXPECT_EQ(text.rfind("# Stats\r\ntotal_connections_received:0\r\n", 0), 0u) << text;
  EXPECT_NE(text.find("keyspace_hits:4\r\n"), std::string::npos);
  EXPECT_NE(text.find("\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=9\r\n\r\n# Readthru\r\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.substr(text.size() - 2), "\r\n");
  b.keys = 0;
  EXPECT_EQ(renderInfoText({"keyspace"}, {ctx, snap, b}), "# Keyspace\r\n")
      << "an empty database has no db0 line";
}

}  // namespace
}  // namespace readthru::server
