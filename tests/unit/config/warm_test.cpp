// A keyspace's `warm:` entry and ready_after_warm (config/warm.cpp).

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace readthru::config {
namespace {

std::string withWarm(const std::string& extra) {
  return "backend: { seeds: [\"127.0.0.1:7000\"] }\n"
         "postgres: { dsn: x }\n"
         "keyspaces:\n"
         "  - name: k\n"
         "    pattern: \"k:<id>\"\n"
         "    query: \"SELECT 1 WHERE $1 = $1\"\n"
         "    params: [id]\n"
         "    ttl: 1s\n" +
         extra;
}

std::string errorOf(const std::string& yaml) {
  try {
    loadString(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(WarmConfig, ReadsEveryKey) {
  const Config cfg = loadString(withWarm("    warm:\n"
                                         "      query: \"SELECT id FROM t\"\n"
                                         "      on_start: true\n"
                                         "      rate: 5000/s\n"
                                         "      batch: 500\n"
                                         "    ready_after_warm: true\n"),
                                "t.yaml");
  const KeyspaceConfig& ks = cfg.keyspaces.front();
  ASSERT_TRUE(ks.warm.has_value());
  EXPECT_EQ(ks.warm->query, "SELECT id FROM t");
  EXPECT_TRUE(ks.warm->on_start);
  EXPECT_EQ(ks.warm->rate, 5000);
  EXPECT_EQ(ks.warm->batch, 500);
  EXPECT_TRUE(ks.ready_after_warm);
}

TEST(WarmConfig, DefaultsAndAbsence) {
  EXPECT_FALSE(loadString(withWarm(""), "t.yaml").keyspaces.front().warm.has_value());
  const Config cfg = loadString(withWarm("    warm: { query: \"SELECT 1\", rate: 7 }\n"), "t.yaml");
  EXPECT_FALSE(cfg.keyspaces.front().warm->on_start);
  EXPECT_EQ(cfg.keyspaces.front().warm->rate, 7);
  EXPECT_EQ(cfg.keyspaces.front().warm->batch, 0) << "0: the batcher's maximum";
}

TEST(WarmConfig, ErrorsNameTheKey) {
  EXPECT_EQ(errorOf(withWarm("    warm: { on_start: true }\n")),
            "test.yaml:9: keyspaces[0].warm.query: is required");
  EXPECT_EQ(errorOf(withWarm("    warm: { query: q, rate: fast }\n")),
            "test.yaml:9: keyspaces[0].warm.rate: must be keys per second such as 5000/s (1 to "
            "10000000)");
  EXPECT_EQ(errorOf(withWarm("    warm: { query: q, batch: 5000 }\n")),
            "test.yaml:9: keyspaces[0].warm.batch: must be an integer from 1 to 1000, got '5000'");
  EXPECT_EQ(errorOf(withWarm("    warm: { query: q, pace: 1 }\n")),
            "test.yaml:9: keyspaces[0].warm.pace: unknown key");
  EXPECT_EQ(errorOf(withWarm("    warm: { query: q }\n    ready_after_warm: true\n")),
            "test.yaml:10: keyspaces[0].ready_after_warm: needs warm.on_start: true (nothing else "
            "warms first)");
}

}  // namespace
}  // namespace readthru::config
