#pragma once
// readthru's configuration as plain, validated structs. Every value here has been checked:
// code that receives a Config never re-validates it. See docs/configuration.md.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/log_format.hpp"
#include "common/units.hpp"

namespace readthru::config {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
  bool operator==(const Endpoint&) const = default;
};

// listen.tls: clients connect with TLS. listen.port then speaks TLS only: one port, whose
// security is known (docs/operations.md says why there is no second, plain one). The files
// are read at start and again by every reload.
struct ListenTlsConfig {
  bool enabled = false;
  std::string cert;  // PEM: the server's certificate (chain)
  std::string key;   // PEM: its private key
  std::string ca;    // PEM: the CA client certificates are checked against; required with
                     // require_client_cert
  bool require_client_cert = false;
  // A client that has not finished its handshake by then is dropped (and counted).
  Millis handshake_timeout{10000};
  bool operator==(const ListenTlsConfig&) const = default;
};

struct ListenConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 6380;
  int threads = 2;
  int max_clients = 10000;
  Millis idle_timeout{0};                         // 0: never close idle clients
  std::uint64_t output_limit = 64 * 1024 * 1024;  // unsent reply bytes per client
  // Bytes the parser may hold for one client's request still arriving (a partial request,
  // not the stream of complete ones), as Redis's client-query-buffer-limit.
  std::uint64_t query_buffer_limit = 64 * 1024 * 1024;
  // On SIGTERM/SIGINT: how long requests already read may take to be answered before the
  // clients still waiting are closed. 0: close them at once.
  Millis drain_timeout{10000};
  std::string announce;  // address given in CLUSTER SLOTS/NODES; defaults to `address`
  ListenTlsConfig tls;
};

enum class BackendMode { kCluster, kStandalone, kSentinel };

// backend.breaker: when a node's requests fail fast instead of waiting (one breaker per
// node for the process).
struct BreakerConfig {
  int consecutive_failures = 5;   // 0: off
  int failure_rate_percent = 50;  // 0: off; judged per connection over `window`
  int min_requests = 20;          // fewer outcomes in a window are not judged
  Millis window{10000};
  Millis open_time{1000};  // first open period; doubles on each failed probe
  Millis max_open_time{30000};
  bool operator==(const BreakerConfig&) const = default;
};

// backend.tls: every connection to Redis (nodes, sentinels, the sentinel subscription) is
// TLS, its handshake within backend.connect_timeout.
struct BackendTlsConfig {
  bool enabled = false;
  std::string ca;    // PEM: the CA the servers' certificates are checked against; empty: the
                     // system's
  std::string cert;  // PEM: a client certificate, for servers that ask for one (optional)
  std::string key;   // its private key; given with cert
  // The name checked in the servers' certificates and sent as SNI; empty: each node's own
  // host (a name or an IP address, as the seeds and the cluster's slot map give it).
  std::string server_name;
  bool verify = true;  // false: encrypted, but any certificate is accepted
  bool operator==(const BackendTlsConfig&) const = default;
};

struct BackendConfig {
  BackendMode mode = BackendMode::kCluster;
  std::vector<Endpoint> seeds;
  std::string sentinel_master;  // with mode: sentinel
  // AUTH for the sentinels themselves (their own requirepass), apart from the nodes'.
  std::string sentinel_username;
  std::string sentinel_password;  // secret
  std::string username;
  std::string password;  // secret: from `password`, `password_env` or `password_file`
  bool read_from_replicas = false;
  Millis connect_timeout{2000};
  Millis command_timeout{1000};
  // A connection with requests outstanding and no reply for this long is dropped.
  Millis node_timeout{5000};
  int connections_per_node = 2;
  std::uint64_t max_queued_requests = 100000;         // per connection, sent or waiting
  std::uint64_t max_queued_bytes = 64 * 1024 * 1024;  // per connection, not yet written
  BreakerConfig breaker;
  BackendTlsConfig tls;
};

// The database that keyspaces load from. `enabled` is false when the file has no
// `postgres:` section; keyspaces then cannot be configured.
// postgres.breaker: when loads fail at once instead of piling up behind a database that
// does not answer (one breaker for the process; a failure is a lost or failed session or
// a statement timeout, a success any answer).
struct DatabaseBreakerConfig {
  int consecutive_failures = 5;  // 0: off
  Millis open_time{1000};        // first open period; doubles on each failed probe
  Millis max_open_time{30000};
  bool operator==(const DatabaseBreakerConfig&) const = default;
};

// postgres.sslmode and friends, given to libpq as its own keywords (after the DSN, so they
// win over what it says). Empty: the DSN's or libpq's default (sslmode prefer).
struct PostgresTlsConfig {
  std::string sslmode;  // disable, allow, prefer, require, verify-ca or verify-full
  std::string sslrootcert;
  std::string sslcert;
  std::string sslkey;
  bool operator==(const PostgresTlsConfig&) const = default;
};

struct PostgresConfig {
  bool enabled = false;
  std::string dsn;  // from `dsn` or the variable named by `dsn_env`
  // Secret, given to libpq apart from the DSN (which then needs none): from `password`,
  // `password_env` or `password_file`. Empty: whatever the DSN or PGPASSWORD says.
  std::string password;
  PostgresTlsConfig tls;
  int pool_size = 4;
  Millis statement_timeout{1000};
  Millis connect_timeout{2000};
  int max_inflight = 256;  // statements running at once, all keyspaces
  int max_waiting = 256;   // statements waiting for room; past it a load fails at once
  DatabaseBreakerConfig breaker;
};

enum class KeyspaceFormat { kJson, kValue, kHash, kRows };

// What a read of a managed key does when Redis cannot answer it (node unreachable,
// timeout, breaker open, CLUSTERDOWN, LOADING, MASTERDOWN, TRYAGAIN past its window).
enum class CacheDownPolicy { kLoad, kError };

// One `invalidate:` entry of a keyspace: when a row of `table` changes (the database's
// change stream), the keys built from its `key` columns and the tags built from its
// `tags` templates are invalidated.
struct InvalidateRule {
  std::string origin;
  std::string table;              // "name" or "schema.name"
  std::vector<std::string> key;   // columns, one per capture of the pattern, in order
  std::vector<std::string> tags;  // templates: "team:<team_id>" names columns of `table`
  bool operator==(const InvalidateRule&) const = default;
};

// A keyspace's `warm:` entry: keys loaded into the cache ahead of reads (cache/warmer.hpp).
// `query` returns one row per key, one column per capture of the pattern, in order.
struct WarmConfig {
  std::string query;
  bool on_start = false;
  int rate = 0;   // keys per second at most; 0: as fast as the loads go
  int batch = 0;  // keys per batch; 0: the batcher's maximum (1,000)
  bool operator==(const WarmConfig&) const = default;
};

// One read-through rule, as written. Only its shape is checked here (required keys, types,
// ranges); cache::KeyspaceRules compiles the pattern and checks the rules against each
// other, and the database checks the SQL. `origin` ("file:line") lets those later checks
// point at the rule.
struct KeyspaceConfig {
  std::string name;
  std::string origin;
  std::string pattern;
  std::string query;
  std::vector<std::string> params;
  KeyspaceFormat format = KeyspaceFormat::kJson;
  Millis ttl{0};
  int ttl_jitter_percent = 0;  // 0..100: a fill's TTL is drawn from [ttl*(1-j), ttl]
  Millis negative_ttl{0};      // 0: "no row" is not cached
  std::string batch_query;     // empty: one query per key
  std::string batch_key;
  std::uint64_t max_value_size = 1024 * 1024;              // bigger values are served, not stored
  int version = 0;                                         // 0: keys as written; n: "v<n>:" added
  CacheDownPolicy on_cache_down = CacheDownPolicy::kLoad;  // kLoad: answer from the database
  // One bound for a miss as a whole: lease wait, load and fill. Past it the reader gets an
  // error (the load goes on and may still be stored).
  Millis request_deadline{5000};
  // This keyspace's share of the database: SQL executions in flight at once (a batch is
  // one; 0: only postgres.max_inflight bounds it) and keys waiting for room (past it a
  // miss fails at once with "too many loads waiting").
  int max_loads_in_flight = 0;
  int max_loads_waiting = 1000;
  // Served when Redis is down and the load fails too (string formats only); never stored.
  std::optional<std::string> fallback_value;
  // The stale ladder (cache/stale_ladder.hpp). refresh_ahead: a value near its expiry is
  // reloaded in the background (XFetch, with refresh_beta); stale_while_revalidate: past
  // its TTL it is served at once for this long while one reload runs; stale_if_error: past
  // its TTL it is served for this long when the reload fails. All off by default.
  bool refresh_ahead = false;
  double refresh_beta = 1.0;
  Millis stale_while_revalidate{0};
  Millis stale_if_error{0};
  std::vector<std::string> tags;  // templates: "user:<id>" from captures or result columns
  std::vector<InvalidateRule> invalidate;
  std::optional<WarmConfig> warm;
  // /readyz waits until this keyspace's first warm-up has ended (needs warm.on_start).
  bool ready_after_warm = false;
  // Every field, `origin` included: config_diff.hpp compares rules without their origins.
  bool operator==(const KeyspaceConfig&) const = default;
};

// Change data capture: PostgreSQL's logical replication stream, read by one readthru
// instance at a time. On when a keyspace has `invalidate:` rules (and `enabled` is true).
struct CdcConfig {
  bool enabled = true;
  std::string slot = "readthru";
  std::string publication = "readthru";
  Millis leader_lease{5000};  // a dead leader's instance is replaced after this
  // While Redis cannot acknowledge, the stream pauses once this many transactions (or
  // bytes of the names they invalidate) wait (cache/cdc_applier.hpp).
  std::int64_t max_queued_transactions = 10000;
  std::uint64_t max_queued_bytes = 16 * 1024 * 1024;
};

// A Redis Stream that other systems write invalidations to. Off unless `key` is set.
struct InvalidationStreamConfig {
  std::string key;
  std::string group = "readthru";
  int batch = 100;           // entries read per XREADGROUP
  Millis claim_idle{30000};  // a dead consumer's pending entries are taken after this
};

// The gutter (cache/gutter.hpp): loads made while Redis is down, kept in process memory.
struct GutterConfig {
  std::uint64_t max_memory = 16 * 1024 * 1024;  // 0: off
  Millis ttl{5000};
};

// admin: the HTTP port for /metrics, /healthz, /readyz and the status page. Off unless
// the section is given (two instances on one host would otherwise fight over the port).
struct AdminConfig {
  bool enabled = false;
  std::string address = "127.0.0.1";
  std::uint16_t port = 9121;
};

// One readthru user (auth.users[]). The rules are kept as written; auth::UserTable
// compiles them against the command table and reports errors at `origin` ("file:line").
struct UserConfig {
  std::string name;
  std::string origin;
  std::string password;               // secret: never logged, never in an error
  std::vector<std::string> commands;  // Redis ACL rules: "+@read", "-@dangerous", "+get"
  std::vector<std::string> keys;      // globs as Redis's ~pattern; "*" every key; none: no key
  bool admin = false;                 // may run admin-only commands (FLUSHALL, READTHRU.RELOAD)
  bool operator==(const UserConfig&) const = default;
};

// Client authentication. Without an `auth:` section (enabled false) every connection is the
// default user with every permission, as a Redis without requirepass.
struct AuthConfig {
  bool enabled = false;
  std::string origin;                           // where `auth:` is written
  std::optional<std::string> default_password;  // secret; none: the default user is off
  bool default_admin = true;
  std::vector<UserConfig> users;
  bool operator==(const AuthConfig&) const = default;
};

struct LogConfig {
  std::string level = "info";
  LogFormat format = LogFormat::kText;  // `json: true` is read as format: json
  // Commands sent on that take longer are kept in the slow log (SLOWLOG GET) and logged
  // at warn. 0: off.
  std::chrono::microseconds slow_threshold{10'000};
  std::uint32_t slow_log_max_len = 128;
  std::uint32_t slow_log_lines_per_second = 10;  // across the process; the rest counted
  bool operator==(const LogConfig&) const = default;
};

struct Config {
  std::string path;
  ListenConfig listen;
  BackendConfig backend;
  PostgresConfig postgres;
  std::vector<KeyspaceConfig> keyspaces;
  CdcConfig cdc;
  InvalidationStreamConfig invalidation_stream;
  GutterConfig gutter;
  AdminConfig admin;
  AuthConfig auth;
  LogConfig log;
};

// One clear message: "<file>:<line>: <key>: <problem>".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and validates a config file. Throws ConfigError; unknown keys are errors.
Config loadFile(const std::string& path);
// The same for text already in memory; `name` stands for the file in messages.
Config loadString(std::string_view yaml, const std::string& name);

std::string_view modeName(BackendMode mode);
std::string_view formatName(KeyspaceFormat format);

}  // namespace readthru::config
