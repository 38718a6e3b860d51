#include "config/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace readthru::config {
namespace {

constexpr const char* kMinimal = "backend: { seeds: [\"127.0.0.1:7000\"] }\n";

// The error text of loading `yaml`, or "" when it loads.
std::string errorOf(const std::string& yaml) {
  try {
    loadString(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, ShippedExampleIsValid) {
  const Config cfg = loadFile(std::string(READTHRU_SOURCE_DIR) + "/config/readthru.yaml");
  EXPECT_EQ(cfg.listen.port, 6380);
  EXPECT_EQ(cfg.backend.mode, BackendMode::kCluster);
  EXPECT_EQ(cfg.backend.seeds.size(), 3u);
  EXPECT_EQ(cfg.backend.command_timeout, Millis(1000));
}

TEST(Config, DefaultsFromMinimalFile) {
  const Config cfg = loadString(kMinimal, "t.yaml");
  EXPECT_EQ(cfg.listen.address, "127.0.0.1");
  EXPECT_EQ(cfg.listen.port, 6380);
  EXPECT_EQ(cfg.listen.threads, 2);
  EXPECT_EQ(cfg.listen.max_clients, 10000);
  EXPECT_EQ(cfg.listen.announce, "127.0.0.1");
  EXPECT_EQ(cfg.listen.query_buffer_limit, 64u * 1024 * 1024);
  EXPECT_EQ(cfg.listen.drain_timeout, Millis(10'000));
  EXPECT_EQ(cfg.backend.seeds[0].host, "127.0.0.1");
  EXPECT_EQ(cfg.backend.seeds[0].port, 7000);
  EXPECT_EQ(cfg.log.level, "info");
}

TEST(Config, ReadsEveryKey) {
  ::setenv("READTHRU_TEST_PW", "s3cret", 1);
  const Config cfg = loadString(R"(
listen: { address: 0.0.0.0, port: 7777, threads: 4, max_clients: 50, idle_timeout: 30s, output_limit: 1mb,
          query_buffer_limit: 2mb, drain_timeout: 3s }
backend:
  mode: sentinel
  seeds: ["10.0.0.1:26379", "sentinel-b:26379"]
  sentinel: { master: mymaster }
  username: app
  password_env: READTHRU_TEST_PW
  read_from_replicas: true
  connect_timeout: 500ms
  command_timeout: 2s
  connections_per_node: 4
log: { level: debug, json: true }
)",
                                "t.yaml");
  EXPECT_EQ(cfg.listen.port, 7777);
  EXPECT_EQ(cfg.listen.threads, 4);
  EXPECT_EQ(cfg.listen.idle_timeout, Millis(30'000));
  EXPECT_EQ(cfg.listen.output_limit, 1024u * 1024);
  EXPECT_EQ(cfg.listen.query_buffer_limit, 2u * 1024 * 1024);
  EXPECT_EQ(cfg.listen.drain_timeout, Millis(3000));
  EXPECT_EQ(cfg.listen.announce, "127.0.0.1");  // 0.0.0.0 is not an address to give out
  EXPECT_EQ(cfg.backend.mode, BackendMode::kSentinel);
  EXPECT_EQ(cfg.backend.sentinel_master, "mymaster");
  EXPECT_EQ(cfg.backend.seeds[1].host, "sentinel-b");
  EXPECT_EQ(cfg.backend.password, "s3cret");
  EXPECT_EQ(cfg.backend.username, "app");
  EXPECT_TRUE(cfg.backend.read_from_replicas);
  EXPECT_EQ(cfg.backend.connect_timeout, Millis(500));
  EXPECT_EQ(cfg.backend.connections_per_node, 4);
  EXPECT_EQ(cfg.log.level, "debug");
  EXPECT_EQ(cfg.log.format, LogFormat::kJson);  // written as the older `json: true`
}

TEST(Config, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(errorOf("listen:\n  port: 99999\nbackend: { seeds: [\"a:1\"] }\n"),
            "test.yaml:2: listen.port: must be an integer from 1 to 65535, got '99999'");
  EXPECT_EQ(errorOf("listen:\n  prot: 1\nbackend: { seeds: [\"a:1\"] }\n"),
            "test.yaml:2: listen.prot: unknown key");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "extra: 1\n"), "test.yaml:2: extra: unknown key");
}

TEST(Config, RejectsBadValues) {
  const std::string seeds = "  seeds: [\"127.0.0.1:7000\"]\n";
  EXPECT_NE(errorOf("backend:\n  mode: clustr\n" + seeds)
                .find("backend.mode: must be cluster, standalone or sentinel"),
            std::string::npos);
  EXPECT_NE(errorOf("backend:\n  command_timeout: 5\n" + seeds)
                .find("test.yaml:2: backend.command_timeout: must be a duration"),
            std::string::npos);
  EXPECT_NE(errorOf("backend:\n  command_timeout: 0\n" + seeds).find("must be more than 0"),
            std::string::npos);
  EXPECT_NE(
      errorOf("backend:\n  seeds: [\"nohost\"]\n").find("backend.seeds[0]: must be host:port"),
      std::string::npos);
  EXPECT_NE(errorOf("backend:\n  seeds: [\"h:0\"]\n").find("port from 1 to 65535"),
            std::string::npos);
  EXPECT_NE(errorOf("backend:\n  seeds: []\n").find("backend.seeds: must be a non-empty list"),
            std::string::npos);
  EXPECT_NE(errorOf("listen: { port: 1 }\n").find("backend: is required"), std::string::npos);
  EXPECT_NE(
      errorOf("backend:\n  mode: sentinel\n" + seeds).find("backend.sentinel.master: is required"),
      std::string::npos);
  EXPECT_NE(errorOf("backend:\n  mode: standalone\n  seeds: [\"a:1\", \"b:2\"]\n")
                .find("exactly one server"),
            std::string::npos);
  EXPECT_NE(
      errorOf("backend:\n  read_from_replicas: maybe\n" + seeds).find("must be true or false"),
      std::string::npos);
  EXPECT_NE(errorOf("backend:\n  password_env: READTHRU_SURELY_UNSET_VAR\n" + seeds)
                .find("READTHRU_SURELY_UNSET_VAR is not set"),
            std::string::npos);
  EXPECT_NE(errorOf("listen: { output_limit: 12parsecs }\n" + std::string(kMinimal))
                .find("listen.output_limit: must be a size"),
            std::string::npos);
  EXPECT_NE(errorOf("listen: { query_buffer_limit: 100b }\n" + std::string(kMinimal))
                .find("listen.query_buffer_limit: must be at least 1kb"),
            std::string::npos);
  EXPECT_NE(errorOf("listen: { drain_timeout: 10 }\n" + std::string(kMinimal))
                .find("listen.drain_timeout: must be a duration"),
            std::string::npos);
  EXPECT_NE(errorOf("listen: { drain_timeout: 2d }\n" + std::string(kMinimal))
                .find("listen.drain_timeout: must be at most 1d"),
            std::string::npos);
  EXPECT_NE(
      errorOf("log: { level: loud }\n" + std::string(kMinimal)).find("log.level: must be one of"),
      std::string::npos);
  EXPECT_NE(errorOf("listen: [1, 2]\n" + std::string(kMinimal)).find("listen: must be a mapping"),
            std::string::npos);
}

TEST(Config, InvalidYamlNamesTheLine) {
  const std::string e = errorOf("listen:\n  port: [1\nbackend: {}\n");
  EXPECT_EQ(e.rfind("test.yaml:", 0), 0u);
  EXPECT_NE(e.find("invalid YAML"), std::string::npos);
}

TEST(Config, LogSection) {
  const Config defaults = loadString(kMinimal, "t.yaml");
  EXPECT_EQ(defaults.log.format, LogFormat::kText);
  EXPECT_EQ(defaults.log.slow_threshold, std::chrono::milliseconds(10));
  EXPECT_EQ(defaults.log.slow_log_max_len, 128u);
  EXPECT_EQ(defaults.log.slow_log_lines_per_second, 10u);
  const Config cfg = loadString(
      "log: { format: json, slow_threshold: 250us, slow_log_max_len: 7, "
      "slow_log_lines_per_second: 0 }\n" +
          std::string(kMinimal),
      "t.yaml");
  EXPECT_EQ(cfg.log.format, LogFormat::kJson);
  EXPECT_EQ(cfg.log.slow_threshold, std::chrono::microseconds(250));  // not rounded to 1ms
  EXPECT_EQ(cfg.log.slow_log_max_len, 7u);
  EXPECT_EQ(cfg.log.slow_log_lines_per_second, 0u);
  EXPECT_EQ(loadString("log: { slow_threshold: 0 }\n" + std::string(kMinimal), "t.yaml")
                .log.slow_threshold.count(),
            0);
  // The older `json:` agrees with format:, or is an error rather than a silent winner.
  EXPECT_EQ(loadString("log: { json: false, format: text }\n" + std::string(kMinimal), "t.yaml")
                .log.format,
            LogFormat::kText);
  EXPECT_NE(errorOf("log: { json: true, format: text }\n" + std::string(kMinimal))
                .find("log.json: says otherwise than log.format"),
            std::string::npos);
  EXPECT_NE(errorOf("log: { format: xml }\n" + std::string(kMinimal))
                .find("log.format: must be text or json"),
            std::string::npos);
  EXPECT_NE(errorOf("log: { slow_threshold: 10 }\n" + std::string(kMinimal))
                .find("log.slow_threshold: must be a duration"),
            std::string::npos);
}

TEST(Config, MissingFile) { EXPECT_THROW(loadFile("/nonexistent/readthru.yaml"), ConfigError); }

constexpr const char* kReadThrough = R"yaml(backend: { seeds: ["127.0.0.1:7000"] }
postgres:
  dsn: "host=127.0.0.1 dbname=app"
  pool_size: 3
  statement_timeout: 250ms
  max_inflight: 64
keyspaces:
  - name: user_profile
    pattern: "user:profile:<id>"
    query: "SELECT id, name FROM users WHERE id = $1"
    params: [id]
    format: json
    ttl: 1h
    ttl_jitter: 10%
    negative_ttl: 30s
    batch_query: "SELECT id, name FROM users WHERE id = ANY($1)"
    batch_key: id
  - name: flags
    pattern: "flags"
    query: "SELECT value FROM flags"
    format: value
    ttl: 5s
)yaml";

TEST(Config, ReadThroughSections) {
  const Config cfg = loadString(kReadThrough, "rt.yaml");
  EXPECT_TRUE(cfg.postgres.enabled);
  EXPECT_EQ(cfg.postgres.dsn, "host=127.0.0.1 dbname=app");
  EXPECT_EQ(cfg.postgres.pool_size, 3);
  EXPECT_EQ(cfg.postgres.statement_timeout, Millis(250));
  EXPECT_EQ(cfg.postgres.max_inflight, 64);
  ASSERT_EQ(cfg.keyspaces.size(), 2u);
  const KeyspaceConfig& ks = cfg.keyspaces[0];
  EXPECT_EQ(ks.name, "user_profile");
  EXPECT_EQ(ks.origin, "rt.yaml:8");
  EXPECT_EQ(ks.params, std::vector<std::string>{"id"});
  EXPECT_EQ(ks.format, KeyspaceFormat::kJson);
  EXPECT_EQ(ks.ttl, Millis(3600 * 1000));
  EXPECT_EQ(ks.ttl_jitter_percent, 10);
  EXPECT_EQ(ks.negative_ttl, Millis(30000));
  EXPECT_EQ(ks.batch_key, "id");
  EXPECT_EQ(ks.max_value_size, 1024u * 1024u);
  EXPECT_EQ(cfg.keyspaces[1].format, KeyspaceFormat::kValue);
  EXPECT_TRUE(cfg.keyspaces[1].params.empty());
  EXPECT_EQ(cfg.keyspaces[1].negative_ttl, Millis(0));
}

TEST(Config, DatabaseProtection) {
  const Config defaults = loadString(kReadThrough, "rt.yaml");
  EXPECT_EQ(defaults.postgres.max_waiting, 256);
  EXPECT_EQ(defaults.postgres.breaker.consecutive_failures, 5);
  EXPECT_EQ(defaults.postgres.breaker.open_time, Millis(1000));
  EXPECT_EQ(defaults.keyspaces[0].max_loads_in_flight, 0);
  EXPECT_EQ(defaults.keyspaces[0].max_loads_waiting, 1000);

  std::string yaml = kReadThrough;
  yaml.replace(yaml.find("  max_inflight: 64\n"), 18,
               "  max_inflight: 64\n  max_waiting: 10\n"
               "  breaker: { consecutive_failures: 3, open_time: 2s, max_open_time: 1m }\n");
  yaml.replace(yaml.find("    batch_key: id\n"), 18,
               "    batch_key: id\n    max_loads_in_flight: 4\n    max_loads_waiting: 20\n");
  const Config cfg = loadString(yaml, "rt.yaml");
  EXPECT_EQ(cfg.postgres.max_waiting, 10);
  EXPECT_EQ(cfg.postgres.breaker.consecutive_failures, 3);
  EXPECT_EQ(cfg.postgres.breaker.open_time, Millis(2000));
  EXPECT_EQ(cfg.postgres.breaker.max_open_time, Millis(60000));
  EXPECT_EQ(cfg.keyspaces[0].max_loads_in_flight, 4);
  EXPECT_EQ(cfg.keyspaces[0].max_loads_waiting, 20);

  std::string bad = kReadThrough;
  bad.replace(bad.find("  max_inflight: 64\n"), 18,
              "  breaker: { open_time: 5s, max_open_time: 1s }\n");
  EXPECT_EQ(errorOf(bad),
            "test.yaml:6: postgres.breaker.max_open_time: must be at least open_time");
  bad = kReadThrough;
  bad.replace(bad.find("    batch_key: id\n"), 18,
              "    batch_key: id\n    max_loads_in_flight: -1\n");
  EXPECT_NE(errorOf(bad).find("keyspaces[0].max_loads_in_flight"), std::string::npos)
      << errorOf(bad);
}

TEST(Config, StaleLadder) {
  EXPECT_FALSE(loadString(kReadThrough, "rt.yaml").keyspaces[0].refresh_ahead);
  std::string yaml = kReadThrough;
  yaml.replace(yaml.find("    batch_key: id\n"), 18,
               "    batch_key: id\n    refresh_ahead: true\n    refresh_beta: 2.5\n"
               "    stale_while_revalidate: 30s\n    stale_if_error: 10m\n");
  const KeyspaceConfig ks = loadString(yaml, "rt.yaml").keyspaces[0];
  EXPECT_TRUE(ks.refresh_ahead);
  EXPECT_DOUBLE_EQ(ks.refresh_beta, 2.5);
  EXPECT_EQ(ks.stale_while_revalidate, Millis(30000));
  EXPECT_EQ(ks.stale_if_error, Millis(600000));
  for (const char* beta : {"0", "-1", "x", "1e9"}) {
    std::string bad = kReadThrough;
    bad.replace(bad.find("    batch_key: id\n"), 18,
                std::string("    batch_key: id\n    refresh_beta: ") + beta + "\n");
    EXPECT_NE(errorOf(bad).find("keyspaces[0].refresh_beta: must be a number above 0"),
              std::string::npos)
        << beta << ": " << errorOf(bad);
  }
}

TEST(Config, PostgresDsnFromEnvironment) {
  ::setenv("READTHRU_TEST_DSN", "host=db.internal", 1);
  const Config cfg =
      loadString(std::string(kMinimal) + "postgres: { dsn_env: READTHRU_TEST_DSN }\n", "t.yaml");
  EXPECT_EQ(cfg.postgres.dsn, "host=db.internal");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "postgres: { dsn_env: READTHRU_NOT_SET_ANYWHERE }\n"),
            "test.yaml:2: postgres.dsn_env: environment variable READTHRU_NOT_SET_ANYWHERE is "
            "not set");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "postgres: { pool_size: 2 }\n"),
            "test.yaml:2: postgres.dsn: is required (or dsn_env: the variable that holds it)");
}

// A rule, with one line replaced or added, for the error cases below.
std::string withRule(const std::string& extra) {
  return std::string(kMinimal) +
         "postgres: { dsn: x }\n"
         "keyspaces:\n"
         "  - name: k\n"
         "    pattern: \"k:<id>\"\n"
         "    query: \"SELECT 1 WHERE $1 = $1\"\n"
         "    params: [id]\n"
         "    ttl: 1s\n" +
         extra;
}

TEST(Config, KeyspaceShapeErrorsNameTheKey) {
  EXPECT_EQ(errorOf(withRule("")), "");
  EXPECT_EQ(errorOf(withRule("    format: xml\n")),
            "test.yaml:9: keyspaces[0].format: must be json, value, hash or rows, got 'xml'");
  EXPECT_EQ(errorOf(withRule("    ttl_jitter: 150%\n")),
            "test.yaml:9: keyspaces[0].ttl_jitter: must be a percentage from 0% to 100%");
  EXPECT_EQ(errorOf(withRule("    ttl_jitter: 10\n")),
            "test.yaml:9: keyspaces[0].ttl_jitter: must be a percentage such as 10%");
  EXPECT_EQ(errorOf(withRule("    batch_key: id\n")),
            "test.yaml:4: keyspaces[0]: batch_query and batch_key go together: set both or "
            "neither");
  EXPECT_EQ(errorOf(withRule("    colour: blue\n")),
            "test.yaml:9: keyspaces[0].colour: unknown key");
  EXPECT_EQ(errorOf(withRule("  - name: k\n    pattern: a\n    query: b\n    ttl: 1s\n")),
            "test.yaml:9: keyspaces[1].name: keyspace 'k' is defined twice");
  EXPECT_EQ(errorOf(withRule("  - name: bad name\n    pattern: a\n    query: b\n    ttl: 1s\n")),
            "test.yaml:9: keyspaces[1].name: must be 1-64 letters, digits, '_' or '-'");
  EXPECT_EQ(errorOf(withRule("  - name: m\n    pattern: a\n    query: b\n")),
            "test.yaml:9: keyspaces[1].ttl: is required");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "keyspaces: []\n"),
            "test.yaml:2: keyspaces: need a postgres: section (the database they load from)");
}

TEST(Config, InvalidationSections) {
  const std::string yaml = std::string(kMinimal) +
                           "postgres: { dsn: \"host=x\" }\n"
                           "keyspaces:\n"
                           "  - name: users\n"
                           "    pattern: \"user:<id>\"\n"
                           "    query: \"SELECT * FROM users WHERE id = $1\"\n"
                           "    params: [id]\n"
                           "    ttl: 1m\n"
                           "    version: 2\n"
                           "    tags: [\"team:<team_id>\"]\n"
                           "    invalidate:\n"
                           "      - table: public.users\n"
                           "        key: [id]\n"
                           "      - table: memberships\n"
                           "        tags: [\"team:<team_id>\"]\n"
                           "cdc: { slot: rt_slot, publication: rt_pub, leader_lease: 3s }\n"
                           "invalidation_stream: { key: \"readthru:invalidations\", group: g }\n";
  const Config cfg = loadString(yaml, "t.yaml");
  ASSERT_EQ(cfg.keyspaces.size(), 1u);
  const KeyspaceConfig& ks = cfg.keyspaces[0];
  EXPECT_EQ(ks.version, 2);
  EXPECT_EQ(ks.tags, std::vector<std::string>{"team:<team_id>"});
  ASSERT_EQ(ks.invalidate.size(), 2u);
  EXPECT_EQ(ks.invalidate[0].table, "public.users");
  EXPECT_EQ(ks.invalidate[0].key, std::vector<std::string>{"id"});
  EXPECT_EQ(ks.invalidate[0].origin, "t.yaml:12");
  EXPECT_EQ(ks.invalidate[1].tags, std::vector<std::string>{"team:<team_id>"});
  EXPECT_EQ(cfg.cdc.slot, "rt_slot");
  EXPECT_EQ(cfg.cdc.publication, "rt_pub");
  EXPECT_EQ(cfg.cdc.leader_lease, Millis(3000));
  EXPECT_EQ(cfg.invalidation_stream.key, "readthru:invalidations");
  EXPECT_EQ(cfg.invalidation_stream.group, "g");

  EXPECT_EQ(errorOf(std::string(kMinimal) + "cdc: { slot: Bad-Name }\n"),
            "test.yaml:2: cdc.slot: must be 1-63 lower-case letters, digits or '_'");
  EXPECT_EQ(cfg.cdc.max_queued_transactions, 10000);
  EXPECT_EQ(cfg.cdc.max_queued_bytes, 16u << 20);
  const Config bounded = loadString(
      std::string(kMinimal) + "cdc: { max_queued_transactions: 50, max_queued_bytes: 1mb }\n",
      "test.yaml");
  EXPECT_EQ(bounded.cdc.max_queued_transactions, 50);
  EXPECT_EQ(bounded.cdc.max_queued_bytes, 1u << 20);
  EXPECT_NE(errorOf(std::string(kMinimal) + "cdc: { max_queued_transactions: 0 }\n"), "");
  EXPECT_NE(errorOf(std::string(kMinimal) + "cdc: { max_queued_bytes: 0 }\n"), "");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "invalidation_stream: { group: g }\n"),
            "test.yaml:2: invalidation_stream.key: is required");
  const std::string no_key = std::string(kMinimal) +
                             "postgres: { dsn: x }\nkeyspaces:\n"
                             "  - { name: a, pattern: \"a:<id>\", query: \"SELECT $1\", "
                             "params: [id], ttl: 1s, invalidate: [{ table: t }] }\n";
  EXPECT_EQ(errorOf(no_key),
            "test.yaml:4: keyspaces[0].invalidate[0]: needs key (columns that build the key) or "
            "tags, or both");
}

}  // namespace
}  // namespace readthru::config

namespace readthru::config {
namespace {

TEST(Config, ResilienceDefaults) {
  const Config cfg = loadString(kMinimal, "test.yaml");
  EXPECT_EQ(cfg.backend.node_timeout, Millis(5000));
  EXPECT_EQ(cfg.backend.max_queued_requests, 100000u);
  EXPECT_EQ(cfg.backend.max_queued_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(cfg.backend.breaker.consecutive_failures, 5);
  EXPECT_EQ(cfg.backend.breaker.failure_rate_percent, 50);
  EXPECT_EQ(cfg.backend.breaker.open_time, Millis(1000));
  // A command_timeout beyond the default node_timeout carries node_timeout with it.
  const Config slow =
      loadString("backend:\n  command_timeout: 8s\n  seeds: [\"127.0.0.1:7000\"]\n", "test.yaml");
  EXPECT_EQ(slow.backend.node_timeout, Millis(8000));
}

TEST(Config, ResilienceKeys) {
  const Config cfg = loadString(R"(backend:
  seeds: ["127.0.0.1:7000"]
  node_timeout: 3s
  max_queued_requests: 500
  max_queued_bytes: 1mb
  breaker:
    consecutive_failures: 3
    failure_rate: 25%
    min_requests: 10
    window: 2s
    open_time: 200ms
    max_open_time: 5s
)",
                                "test.yaml");
  EXPECT_EQ(cfg.backend.node_timeout, Millis(3000));
  EXPECT_EQ(cfg.backend.max_queued_requests, 500u);
  EXPECT_EQ(cfg.backend.max_queued_bytes, 1024u * 1024);
  EXPECT_EQ(cfg.backend.breaker.consecutive_failures, 3);
  EXPECT_EQ(cfg.backend.breaker.failure_rate_percent, 25);
  EXPECT_EQ(cfg.backend.breaker.min_requests, 10);
  EXPECT_EQ(cfg.backend.breaker.window, Millis(2000));
  EXPECT_EQ(cfg.backend.breaker.open_time, Millis(200));
  EXPECT_EQ(cfg.backend.breaker.max_open_time, Millis(5000));
}

TEST(Config, OnCacheDown) {
  const std::string head =
      "backend: { seeds: [\"127.0.0.1:7000\"] }\npostgres: { dsn: \"host=x\" }\nkeyspaces:\n"
      "  - name: u\n    pattern: \"u:<id>\"\n    query: \"SELECT 1\"\n    params: [id]\n"
      "    ttl: 1s\n";
  EXPECT_EQ(loadString(head, "t.yaml").keyspaces[0].on_cache_down, CacheDownPolicy::kLoad);
  EXPECT_EQ(loadString(head + "    on_cache_down: error\n", "t.yaml").keyspaces[0].on_cache_down,
            CacheDownPolicy::kError);
  EXPECT_NE(
      errorOf(head + "    on_cache_down: stale\n").find("on_cache_down: must be load or error"),
      std::string::npos);
}

TEST(Config, ResilienceErrors) {
  const std::string seeds = "  seeds: [\"127.0.0.1:7000\"]\n";
  EXPECT_NE(
      errorOf("backend:\n  command_timeout: 2s\n  node_timeout: 1s\n" + seeds)
          .find("test.yaml:3: backend.node_timeout: must be at least backend.command_timeout"),
      std::string::npos);
  EXPECT_NE(errorOf("backend:\n  breaker: { failure_rate: 120% }\n" + seeds)
                .find("backend.breaker.failure_rate: must be a percentage"),
            std::string::npos);
  EXPECT_NE(errorOf("backend:\n  breaker: { open_time: 0 }\n" + seeds)
                .find("backend.breaker.open_time: must be more than 0"),
            std::string::npos);
  EXPECT_NE(errorOf("backend:\n  breaker: { open_time: 10s, max_open_time: 1s }\n" + seeds)
                .find("backend.breaker.max_open_time: must be at least open_time"),
            std::string::npos);
  EXPECT_NE(errorOf("backend:\n  breaker: { opne_time: 1s }\n" + seeds)
                .find("backend.breaker.opne_time: unknown key"),
            std::string::npos);
  EXPECT_NE(errorOf("backend:\n  max_queued_requests: 0\n" + seeds)
                .find("backend.max_queued_requests: must be an integer from 1"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------
// auth: and secrets

TEST(ConfigAuth, UsersAndDefaults) {
  ::setenv("READTHRU_TEST_APP_PW", "from-env", 1);
  const Config cfg = loadString(std::string(kMinimal) +
                                    "auth:\n"
                                    "  password: defpw\n"
                                    "  users:\n"
                                    "    - name: app\n"
                                    "      password_env: READTHRU_TEST_APP_PW\n"
                                    "      commands: [\"+@read\", \"-@dangerous\"]\n"
                                    "      keys: [\"user:*\"]\n"
                                    "    - name: admin\n"
                                    "      password: adm\n"
                                    "      admin: true\n",
                                "t.yaml");
  EXPECT_TRUE(cfg.auth.enabled);
  EXPECT_EQ(cfg.auth.default_password, "defpw");
  EXPECT_TRUE(cfg.auth.default_admin);
  ASSERT_EQ(cfg.auth.users.size(), 2u);
  EXPECT_EQ(cfg.auth.users[0].name, "app");
  EXPECT_EQ(cfg.auth.users[0].password, "from-env");
  EXPECT_EQ(cfg.auth.users[0].origin, "t.yaml:5");
  EXPECT_EQ(cfg.auth.users[0].commands, (std::vector<std::string>{"+@read", "-@dangerous"}));
  EXPECT_EQ(cfg.auth.users[0].keys, (std::vector<std::string>{"user:*"}));
  EXPECT_FALSE(cfg.auth.users[0].admin);
  EXPECT_TRUE(cfg.auth.users[1].admin);
  EXPECT_TRUE(cfg.auth.users[1].commands.empty());  // no rules: no commands
  EXPECT_FALSE(loadString(kMinimal, "t.yaml").auth.enabled);
}

TEST(ConfigAuth, SecretFromFileDropsOneNewline) {
  const std::string path = ::testing::TempDir() + "readthru_secret_test";
  { std::ofstream(path) << "file-secret\n"; }
  const Config cfg =
      loadString(std::string(kMinimal) + "auth:\n  password_file: " + path + "\n", "t.yaml");
  EXPECT_EQ(cfg.auth.default_password, "file-secret");
  std::remove(path.c_str());
}

TEST(ConfigAuth, SecretErrorsNameTheKeyNeverTheSecret) {
  ::unsetenv("READTHRU_TEST_UNSET_PW");
  EXPECT_EQ(
      errorOf(std::string(kMinimal) + "auth:\n  password_env: READTHRU_TEST_UNSET_PW\n"),
      "test.yaml:3: auth.password_env: environment variable READTHRU_TEST_UNSET_PW is not set");
  const std::string missing =
      errorOf(std::string(kMinimal) + "auth:\n  password_file: /nonexistent/readthru.pw\n");
  EXPECT_EQ(
      missing.rfind("test.yaml:3: auth.password_file: cannot read /nonexistent/readthru.pw", 0), 0u)
      << missing;
  const std::string both =
      errorOf(std::string(kMinimal) + "auth:\n  password: hunter2\n  password_env: X\n");
  EXPECT_NE(both.find("cannot be used together with password"), std::string::npos) << both;
  EXPECT_EQ(both.find("hunter2"), std::string::npos);
  EXPECT_NE(errorOf(std::string(kMinimal) + "auth:\n  users:\n    - name: app\n")
                .find("auth.users[0].password: is required"),
            std::string::npos);
  const std::string twice = errorOf(std::string(kMinimal) +
                                    "auth:\n  users:\n    - {name: a, password: p1}\n"
                                    "    - {name: a, password: p2}\n");
  EXPECT_NE(twice.find("user 'a' is defined twice"), std::string::npos) << twice;
  EXPECT_NE(errorOf(std::string(kMinimal) + "auth:\n  users:\n    - {name: default, password: p}\n")
                .find("'default' is the default user"),
            std::string::npos);
  EXPECT_NE(errorOf(std::string(kMinimal) + "auth: {}\n").find("needs password"),
            std::string::npos);
  EXPECT_NE(errorOf(std::string(kMinimal) + "auth:\n  password: \"\"\n").find("is empty"),
            std::string::npos);
}

TEST(ConfigAuth, BackendAndPostgresPasswords) {
  const std::string path = ::testing::TempDir() + "readthru_backend_pw_test";
  { std::ofstream(path) << "backend-secret\r\n"; }
  const Config cfg = loadString(
      "backend: { seeds: [\"127.0.0.1:7000\"], username: rt, "
      "password_file: " +
          path +
          " }\n"
          "postgres: { dsn: \"host=127.0.0.1\", password: pgpw }\n",
      "t.yaml");
  EXPECT_EQ(cfg.backend.username, "rt");
  EXPECT_EQ(cfg.backend.password, "backend-secret");
  EXPECT_EQ(cfg.postgres.password, "pgpw");
  std::remove(path.c_str());

  const Config sentinel = loadString(
      "backend:\n  mode: sentinel\n  seeds: [\"127.0.0.1:26390\"]\n"
      "  sentinel: {master: m, username: su, password: spw}\n"
      "  password: npw\n",
      "t.yaml");
  EXPECT_EQ(sentinel.backend.sentinel_username, "su");
  EXPECT_EQ(sentinel.backend.sentinel_password, "spw");
  EXPECT_EQ(sentinel.backend.password, "npw");
}

}  // namespace
}  // namespace readthru::config
