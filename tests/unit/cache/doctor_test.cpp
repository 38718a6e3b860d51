// The doctor's rules (cache/doctor.cpp): each one on facts made for it.

#include "cache/doctor.hpp"

#include <gtest/gtest.h>

namespace readthru::cache {
namespace {

// A node with nothing to warn about.
NodeFacts healthy(std::string address = "10.0.0.1:7000") {
  NodeFacts n;
  n.address = std::move(address);
  n.maxmemory = 100 * 1024 * 1024;
  n.policy = "allkeys-lfu";
  n.samples = 5;
  n.fragmentation = 1.1;
  n.used_memory = 50 * 1024 * 1024;
  n.evicted_keys = 0;
  n.expired_keys = 0;
  return n;
}

std::vector<Finding> warnings(const std::vector<NodeFacts>& nodes,
                              const std::vector<KeyspaceTtl>& ks = {},
                              const CountHistory& before = {}) {
  std::vector<Finding> out;
  for (Finding& f : judge(nodes, ks, before)) {
    if (f.severity == Severity::kWarn) out.push_back(std::move(f));
  }
  return out;
}

TEST(Doctor, HealthyNodeHasNoWarnings) {
  EXPECT_TRUE(warnings({healthy()}).empty());
  EXPECT_EQ(judge({healthy()}, {}, {}).size(), 5u) << "one finding per rule";
}

TEST(Doctor, NoMemoryLimit) {
  NodeFacts n = healthy();
  n.maxmemory = 0;
  auto w = warnings({n});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].node, "10.0.0.1:7000");
  EXPECT_EQ(w[0].text.rfind("maxmemory 0: no memory limit", 0), 0u);
}

TEST(Doctor, NoEviction) {
  NodeFacts n = healthy();
  n.policy = "noeviction";
  auto w = warnings({n});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].text.find("noeviction"), std::string::npos);
  EXPECT_NE(w[0].text.find("fills"), std::string::npos);
}

TEST(Doctor, VolatilePolicyNamesKeyspacesWithoutTtl) {
  NodeFacts n = healthy();
  n.policy = "volatile-lru";
  EXPECT_TRUE(warnings({n}, {{"users", 60000}}).empty());
  auto w = warnings({n}, {{"users", 60000}, {"forever", 0}, {"also", 0}});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].text.find("keyspaces forever, also"), std::string::npos) << w[0].text;
}

TEST(Doctor, LruAndRandomGetTheLfuNote) {
  for (const char* p : {"allkeys-lru", "allkeys-random"}) {
    NodeFacts n = healthy();
    n.policy = p;
    EXPECT_TRUE(warnings({n}).empty());
    bool noted = false;
    for (const Finding& f : judge({n}, {}, {})) {
      noted = noted || f.text.find("allkeys-lfu keeps hot keys") != std::string::npos;
    }
    EXPECT_TRUE(noted) << p;
  }
}

TEST(Doctor, FewSamples) {
  NodeFacts n = healthy();
  n.samples = 3;
  auto w = warnings({n});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].text.rfind("maxmemory-samples 3", 0), 0u);
  n.samples = 5;
  EXPECT_TRUE(warnings({n}).empty());
}

TEST(Doctor, FragmentationBothWays) {
  NodeFacts n = healthy();
  n.fragmentation = 1.8;
  auto w = warnings({n});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].text.rfind("mem_fragmentation_ratio 1.80: above 1.5", 0), 0u);
  n.fragmentation = 0.7;
  w = warnings({n});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].text.find("swapped"), std::string::npos);
  n.used_memory = 1024 * 1024;  // tiny: the ratio means nothing
  EXPECT_TRUE(warnings({n}).empty());
}

TEST(Doctor, EvictionTrendSinceTheLastRun) {
  NodeFacts n = healthy();
  n.evicted_keys = 100;
  n.expired_keys = 40;
  EXPECT_TRUE(warnings({n}).empty()) << "no trend on the first run";
  const CountHistory before = countsOf({n});
  EXPECT_TRUE(warnings({n}, {}, before).empty()) << "no new evictions";
  n.evicted_keys = 130;
  n.expired_keys = 45;
  auto w = warnings({n}, {}, before);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].text.find("+30 evicted, +5 expired"), std::string::npos) << w[0].text;
}

TEST(Doctor, SilentNodeIsAFindingNotACrash) {
  NodeFacts n;
  n.address = "10.0.0.9:7000";
  n.error = "no answer within the doctor's deadline";
  auto all = judge({n, healthy()}, {}, {});
  ASSERT_EQ(warnings({n, healthy()}).size(), 1u);
  EXPECT_EQ(all.front().node, "10.0.0.9:7000");
  EXPECT_EQ(all.front().text.rfind("did not answer", 0), 0u);
  EXPECT_TRUE(countsOf({n}).empty());
  EXPECT_EQ(warnings({}).size(), 1u) << "no nodes known is a warning";
}

TEST(Doctor, ReportLinesAndMemoryDoctorText) {
  NodeFacts n = healthy();
  n.maxmemory = 0;
  n.memory_doctor = "Sam, I have no memory problems\r\n";
  const std::string r = renderReport(judge({n}, {}, {}), {n});
  EXPECT_EQ(r.rfind("readthru doctor: 1 node(s), 1 warning(s)\n", 0), 0u) << r;
  EXPECT_NE(r.find("[warn] 10.0.0.1:7000: maxmemory 0"), std::string::npos);
  EXPECT_NE(r.find("[ok] 10.0.0.1:7000: maxmemory-policy allkeys-lfu"), std::string::npos);
  EXPECT_NE(r.find("MEMORY DOCTOR 10.0.0.1:7000:\n  Sam, I have no memory problems\n"),
            std::string::npos)
      << r;
}

TEST(Doctor, ReadsRealReplies) {
  NodeFacts n;
  readConfig(n, "maxmemory",
             resp::Value::array({resp::Value::bulk("maxmemory"), resp::Value::bulk("0")}));
  readConfig(
      n, "maxmemory-policy",
      resp::Value::array({resp::Value::bulk("maxmemory-policy"), resp::Value::bulk("noeviction")}));
  readConfig(n, "maxmemory-samples",
             resp::Value::array({resp::Value::bulk("maxmemory-samples"), resp::Value::bulk("5")}));
  readInfo(n, resp::Value::bulk("# Memory\r\nused_memory:1048576\r\nmem_fragmentation_ratio:"
                                "2.35\r\n"));
  readInfo(n, resp::Value::bulk("# Stats\r\nevicted_keys:7\r\nexpired_keys:9\r\n"));
  EXPECT_EQ(n.maxmemory, 0);
  EXPECT_EQ(n.policy, "noeviction");
  EXPECT_EQ(n.samples, 5);
  EXPECT_EQ(n.used_memory, 1048576);
  EXPECT_DOUBLE_EQ(*n.fragmentation, 2.35);
  EXPECT_EQ(n.evicted_keys, 7);
  EXPECT_EQ(n.expired_keys, 9);
  EXPECT_TRUE(n.error.empty());
  readConfig(n, "maxmemory", resp::Value::error("NOPERM no permissions"));
  EXPECT_EQ(n.error, "CONFIG GET maxmemory: NOPERM no permissions");
  EXPECT_EQ(configValue(resp::Value::array({})), std::nullopt);
}

}  // namespace
}  // namespace readthru::cache
