#include "config/config_diff.hpp"

#include <gtest/gtest.h>

#include <string>

namespace readthru::config {
namespace {

using Names = std::vector<std::string>;

// A file with two keyspaces (one with an `invalidate:` rule); `extra` is spliced into
// the listen section and `rules` replaces the keyspaces when given.
Config load(const std::string& listen_extra = "", const std::string& rules = "") {
  const std::string keyspaces = rules.empty() ? R"(
  - name: user
    pattern: "user:<id>"
    query: "SELECT id, name FROM users WHERE id = $1"
    params: [id]
    ttl: 60s
    invalidate:
      - table: users
        key: [id]
  - name: flag
    pattern: "flag:<name>"
    query: "SELECT value FROM flags WHERE name = $1"
    params: [name]
    format: value
    ttl: 30s
)"
                                              : rules;
  return loadString("listen:\n  port: 6380\n" + listen_extra +
                        "backend: { seeds: [\"127.0.0.1:7000\"] }\n"
                        "postgres: { dsn: \"host=db\" }\n"
                        "keyspaces:" +
                        keyspaces,
                    "t.yaml");
}

TEST(ConfigDiff, SameFileIsEmpty) {
  const ConfigDiff d = diff(load(), load());
  EXPECT_TRUE(d.empty());
  EXPECT_FALSE(d.new_pools);
}

TEST(ConfigDiff, MovedLinesAreNoChange) {
  // The same rules lower in the file: their origins differ, nothing else.
  const ConfigDiff d = diff(load(), load("\n\n\n"));
  EXPECT_TRUE(d.empty()) << joinNames(d.changed);
}

TEST(ConfigDiff, LimitsAndTimeoutsApplyNow) {
  const ConfigDiff d = diff(load(), load("  idle_timeout: 5s\n  max_clients: 10\n"));
  EXPECT_EQ(d.applied, (Names{"listen.max_clients", "listen.idle_timeout"}));
  EXPECT_TRUE(d.restart.empty());
  EXPECT_FALSE(d.new_pools);
}

TEST(ConfigDiff, ThreadsAndAddressNeedARestart) {
  const ConfigDiff d = diff(load(), load("  threads: 8\n  address: 0.0.0.0\n"));
  EXPECT_EQ(d.restart, (Names{"listen.address", "listen.threads"}));
  EXPECT_TRUE(d.applied.empty());
}

TEST(ConfigDiff, PoolSettingsBuildNewPools) {
  Config next = load();
  next.postgres.pool_size = 9;
  next.log.level = "debug";
  const ConfigDiff d = diff(load(), next);
  EXPECT_EQ(d.applied, (Names{"postgres.pool_size", "log.level"}));
  EXPECT_TRUE(d.new_pools);
}

TEST(ConfigDiff, LogSettingsApplyAtOnce) {
  Config next = load();
  next.log.format = LogFormat::kJson;
  next.log.slow_threshold = std::chrono::microseconds(1);
  next.log.slow_log_max_len = 1;
  next.log.slow_log_lines_per_second = 1;
  const ConfigDiff d = diff(load(), next);
  EXPECT_EQ(d.applied, (Names{"log.format", "log.slow_threshold", "log.slow_log_max_len",
                              "log.slow_log_lines_per_second"}));
  EXPECT_TRUE(d.restart.empty());
}

TEST(ConfigDiff, BackendAndDsnNeedARestart) {
  Config next = load();
  next.backend.command_timeout = Millis(5);
  next.backend.breaker.open_time = Millis(7);
  next.postgres.dsn = "host=other";
  next.cdc.slot = "other";
  const ConfigDiff d = diff(load(), next);
  EXPECT_EQ(d.restart,
            (Names{"backend.command_timeout", "backend.breaker", "postgres.dsn", "cdc.slot"}));
  EXPECT_FALSE(d.new_pools);
}

TEST(ConfigDiff, KeyspacesAddedRemovedAndChanged) {
  Config next = load();
  next.keyspaces[1].ttl = Millis(1);  // flag: changed
  next.keyspaces[0].name = "member";  // user: removed; member: added
  const ConfigDiff d = diff(load(), next);
  EXPECT_EQ(d.added, Names{"member"});
  EXPECT_EQ(d.removed, Names{"user"});
  EXPECT_EQ(d.changed, Names{"flag"});
  EXPECT_TRUE(d.keyspacesChanged());
}

TEST(ConfigDiff, ChangedQueryIsAChange) {
  Config next = load();
  next.keyspaces[1].query = "SELECT 'x'";
  EXPECT_EQ(diff(load(), next).changed, Names{"flag"});
}

TEST(ConfigDiff, InvalidateRulesNeedARestartWithCdc) {
  Config next = load();
  next.keyspaces[0].invalidate[0].key = {"other_id"};
  const ConfigDiff d = diff(load(), next);
  EXPECT_EQ(d.changed, Names{"user"});
  EXPECT_EQ(d.restart, Names{"keyspaces.invalidate"});

  // Without the change stream they are just part of the rule.
  Config off = load();
  off.cdc.enabled = false;
  Config off_next = next;
  off_next.cdc.enabled = false;
  EXPECT_TRUE(diff(off, off_next).restart.empty());
}

TEST(ConfigDiff, RemovingAKeyspaceWithRulesChangesTheStream) {
  Config next = load();
  next.keyspaces.erase(next.keyspaces.begin());
  const ConfigDiff d = diff(load(), next);
  EXPECT_EQ(d.removed, Names{"user"});
  EXPECT_EQ(d.restart, Names{"keyspaces.invalidate"});
}

TEST(ConfigDiff, KeepRestartOnlyKeepsWhatRunsAndTakesTheRest) {
  const Config running = load();
  Config next = load("  threads: 8\n  idle_timeout: 5s\n");
  next.backend.seeds[0].port = 7100;
  next.keyspaces[1].ttl = Millis(1);
  const Config kept = keepRestartOnly(running, next);
  EXPECT_EQ(kept.listen.threads, running.listen.threads);
  EXPECT_EQ(kept.backend.seeds, running.backend.seeds);
  EXPECT_EQ(kept.listen.idle_timeout, Millis(5000));
  EXPECT_EQ(kept.keyspaces[1].ttl, Millis(1));
  // Compared with what runs now, the file still differs only in what needs a restart.
  const ConfigDiff again = diff(kept, next);
  EXPECT_EQ(again.restart, (Names{"listen.threads", "backend.seeds"}));
  EXPECT_TRUE(again.applied.empty());
  EXPECT_FALSE(again.keyspacesChanged());
}

TEST(ConfigDiff, JoinNames) {
  EXPECT_EQ(joinNames({}), "");
  EXPECT_EQ(joinNames({"a", "b"}), "a, b");
}

}  // namespace
}  // namespace readthru::config
