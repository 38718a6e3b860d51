// The `postgres:` and `keyspaces:` sections. Only the shape of each rule is checked here;
// cache::KeyspaceRules checks patterns and rules against each other, and the database
// checks the SQL (see docs/configuration.md).

#include <cstdlib>
#include <set>

#include "config/reader.hpp"

namespace readthru::config {
namespace {

bool isName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// "10%" -> 10. A bare "0" is accepted too: no jitter needs no unit.
int percent(const Reader& r, const YAML::Node& node, const std::string& key) {
  std::string text = r.scalar(node, key);
  if (text != "0") {
    if (text.empty() || text.back() != '%') r.fail(node, key, "must be a percentage such as 10%");
    text.pop_back();
  }
  int v = -1;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || v < 0 || v > 100) {
    r.fail(node, key, "must be a percentage from 0% to 100%");
  }
  return v;
}

KeyspaceFormat format(const Reader& r, const YAML::Node& node, const std::string& key) {
  const std::string text = r.scalar(node, key);
  if (text == "json") return KeyspaceFormat::kJson;
  if (text == "value") return KeyspaceFormat::kValue;
  if (text == "hash") return KeyspaceFormat::kHash;
  if (text == "rows") return KeyspaceFormat::kRows;
  r.fail(node, key, "must be json, value, hash or rows, got '" + text + "'");
}

std::vector<std::string> stringList(const Reader& r, const YAML::Node& node, const std::string& key,
                                    const std::string& what) {
  if (!node.IsSequence()) r.fail(node, key, "must be a list of " + what);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    out.push_back(r.scalar(node[i], key + "[" + std::to_string(i) + "]"));
    if (out.back().empty()) r.fail(node[i], key + "[" + std::to_string(i) + "]", "is empty");
  }
  return out;
}

InvalidateRule readInvalidate(const Reader& r, const YAML::Node& node, const std::string& key) {
  r.requireMap(node, key);
  r.allowOnly(node, key, {"table", "key", "tags"});
  InvalidateRule rule;
  rule.origin = r.where(node);
  if (!node["table"]) r.fail(node, key + ".table", "is required");
  rule.table = r.scalar(node["table"], key + ".table");
  if (auto n = node["key"]) rule.key = stringList(r, n, key + ".key", "column names");
  if (auto n = node["tags"]) rule.tags = stringList(r, n, key + ".tags", "tag templates");
  if (rule.key.empty() && rule.tags.empty()) {
    r.fail(node, key, "needs key (columns that build the key) or tags, or both");
  }
  return rule;
}

KeyspaceConfig readKeyspace(const Reader& r, const YAML::Node& node, const std::string& key) {
  r.requireMap(node, key);
  r.allowOnly(node, key,
              {"name",
               "pattern",
               "query",
               "params",
               "format",
               "ttl",
               "ttl_jitter",
               "negative_ttl",
               "batch_query",
               "batch_key",
               "max_value_size",
               "version",
               "tags",
               "invalidate",
               "on_cache_down",
               "fallback_value",
               "request_deadline",
               "max_loads_in_flight",
               "max_loads_waiting",
               "refresh_ahead",
               "refresh_beta",
               "stale_while_revalidate",
               "stale_if_error",
               "warm",
               "ready_after_warm"});
  KeyspaceConfig ks;
  ks.origin = r.where(node);
  auto required = [&](const char* name) {
    YAML::Node n = node[name];
    if (!n) r.fail(node, key + "." + name, "is required");
    return n;
  };
  ks.name = r.scalar(required("name"), key + ".name");
  if (!isName(ks.name)) {
    r.fail(node["name"], key + ".name", "must be 1-64 letters, digits, '_' or '-'");
  }
  ks.pattern = r.scalar(required("pattern"), key + ".pattern");
  ks.query = r.scalar(required("query"), key + ".query");
  if (auto n = node["params"]) {
    if (!n.IsSequence()) r.fail(n, key + ".params", "must be a list of capture names");
    for (std::size_t i = 0; i < n.size(); ++i) {
      ks.params.push_back(r.scalar(n[i], key + ".params[" + std::to_string(i) + "]"));
    }
  }
  if (auto n = node["format"]) ks.format = format(r, n, key + ".format");
  ks.ttl = r.duration(required("ttl"), key + ".ttl");
  if (ks.ttl.count() == 0) r.fail(node["ttl"], key + ".ttl", "must be more than 0");
  if (auto n = node["ttl_jitter"]) ks.ttl_jitter_percent = percent(r, n, key + ".ttl_jitter");
  if (auto n = node["negative_ttl"]) ks.negative_ttl = r.duration(n, key + ".negative_ttl");
  if (auto n = node["batch_query"]) ks.batch_query = r.scalar(n, key + ".batch_query");
  if (auto n = node["batch_key"]) ks.batch_key = r.scalar(n, key + ".batch_key");
  if (ks.batch_query.empty() != ks.batch_key.empty()) {
    r.fail(node, key, "batch_query and batch_key go together: set both or neither");
  }
  if (!ks.batch_query.empty() && ks.params.size() != 1) {
    r.fail(node["batch_query"], key + ".batch_query",
           "needs exactly one entry in params (its values are passed as one array, $1)");
  }
  if (auto n = node["on_cache_down"]) {
    const std::string policy = r.scalar(n, key + ".on_cache_down");
    if (policy == "load") {
      ks.on_cache_down = CacheDownPolicy::kLoad;
    } else if (policy == "error") {
      ks.on_cache_down = CacheDownPolicy::kError;
    } else {
      r.fail(n, key + ".on_cache_down", "must be load or error, got '" + policy + "'");
    }
  }
  if (auto n = node["request_deadline"]) {
    ks.request_deadline = r.duration(n, key + ".request_deadline");
    if (ks.request_deadline.count() == 0) {
      r.fail(n, key + ".request_deadline", "must be more than 0");
    }
  }
  if (auto n = node["max_loads_in_flight"]) {
    ks.max_loads_in_flight =
        static_cast<int>(r.integer(n, key + ".max_loads_in_flight", 0, 100000));
  }
  if (auto n = node["max_loads_waiting"]) {
    ks.max_loads_waiting = static_cast<int>(r.integer(n, key + ".max_loads_waiting", 0, 1000000));
  }
  if (auto n = node["refresh_ahead"]) ks.refresh_ahead = r.boolean(n, key + ".refresh_ahead");
  if (auto n = node["refresh_beta"]) {
    const std::string text = r.scalar(n, key + ".refresh_beta");
    char* end = nullptr;
    const double beta = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(beta > 0) || beta > 100) {
      r.fail(n, key + ".refresh_beta",
             "must be a number above 0 and at most 100, got '" + text + "'");
    }
    ks.refresh_beta = beta;
  }
  if (auto n = node["stale_while_revalidate"]) {
    ks.stale_while_revalidate = r.duration(n, key + ".stale_while_revalidate");
  }
  if (auto n = node["stale_if_error"]) ks.stale_if_error = r.duration(n, key + ".stale_if_error");
  if (auto n = node["fallback_value"]) {
    ks.fallback_value = r.scalar(n, key + ".fallback_value");
    if (ks.format == KeyspaceFormat::kHash) {
      r.fail(n, key + ".fallback_value", "is for string formats (json, value, rows), not hash");
    }
  }
  if (auto n = node["max_value_size"]) {
    ks.max_value_size = r.size(n, key + ".max_value_size");
    if (ks.max_value_size == 0 || ks.max_value_size > 512ull * 1024 * 1024) {
      r.fail(n, key + ".max_value_size", "must be from 1b to 512mb");
    }
  }
  if (auto n = node["version"]) {
    ks.version = static_cast<int>(r.integer(n, key + ".version", 1, 1000000));
  }
  if (auto n = node["tags"]) ks.tags = stringList(r, n, key + ".tags", "tag templates");
  if (auto n = node["invalidate"]) {
    if (!n.IsSequence()) r.fail(n, key + ".invalidate", "must be a list of table rules");
    for (std::size_t i = 0; i < n.size(); ++i) {
      ks.invalidate.push_back(
          readInvalidate(r, n[i], key + ".invalidate[" + std::to_string(i) + "]"));
    }
  }
  readWarm(r, node, key, ks);
  return ks;
}

void readDatabaseBreaker(const Reader& r, const YAML::Node& node, DatabaseBreakerConfig& out) {
  r.requireMap(node, "postgres.breaker");
  r.allowOnly(node, "postgres.breaker", {"consecutive_failures", "open_time", "max_open_time"});
  if (auto n = node["consecutive_failures"]) {
    out.consecutive_failures =
        static_cast<int>(r.integer(n, "postgres.breaker.consecutive_failures", 0, 1000000));
  }
  for (auto [key, field] :
       {std::pair{"open_time", &out.open_time}, std::pair{"max_open_time", &out.max_open_time}}) {
    if (auto n = node[key]) {
      const std::string path = std::string("postgres.breaker.") + key;
      *field = r.duration(n, path);
      if (field->count() == 0) r.fail(n, path, "must be more than 0");
    }
  }
  if (out.max_open_time < out.open_time) {
    r.fail(node, "postgres.breaker.max_open_time", "must be at least open_time");
  }
}

}  // namespace

void readPostgres(const Reader& r, const YAML::Node& node, PostgresConfig& out) {
  r.requireMap(node, "postgres");
  r.allowOnly(node, "postgres",
              {"dsn", "dsn_env", "password", "password_env", "password_file", "pool_size",
               "statement_timeout", "connect_timeout", "max_inflight", "max_waiting", "breaker",
               "sslmode", "sslrootcert", "sslcert", "sslkey"});
  out.enabled = true;
  if (node["dsn"] && node["dsn_env"]) {
    r.fail(node["dsn_env"], "postgres.dsn_env", "cannot be used together with dsn");
  }
  if (auto n = node["dsn"]) {
    out.dsn = r.scalar(n, "postgres.dsn");
  } else if (auto n = node["dsn_env"]) {
    const std::string var = r.scalar(n, "postgres.dsn_env");
    const char* value = std::getenv(var.c_str());
    if (value == nullptr)
      r.fail(n, "postgres.dsn_env", "environment variable " + var + " is not set");
    out.dsn = value;
  } else {
    r.fail(node, "postgres.dsn", "is required (or dsn_env: the variable that holds it)");
  }
  if (auto secret = readSecret(r, node, "postgres")) out.password = std::move(*secret);
  readPostgresTls(r, node, out.tls);
  if (auto n = node["pool_size"]) {
    out.pool_size = static_cast<int>(r.integer(n, "postgres.pool_size", 1, 64));
  }
  if (auto n = node["statement_timeout"]) {
    out.statement_timeout = r.duration(n, "postgres.statement_timeout");
    if (out.statement_timeout.count() == 0) {
      r.fail(n, "postgres.statement_timeout", "must be more than 0");
    }
  }
  if (auto n = node["connect_timeout"]) {
    out.connect_timeout = r.duration(n, "postgres.connect_timeout");
    if (out.connect_timeout.count() == 0) {
      r.fail(n, "postgres.connect_timeout", "must be more than 0");
    }
  }
  if (auto n = node["max_inflight"]) {
    out.max_inflight = static_cast<int>(r.integer(n, "postgres.max_inflight", 1, 100000));
  }
  if (auto n = node["max_waiting"]) {
    out.max_waiting = static_cast<int>(r.integer(n, "postgres.max_waiting", 0, 1000000));
  }
  if (auto n = node["breaker"]) readDatabaseBreaker(r, n, out.breaker);
}

void readKeyspaces(const Reader& r, const YAML::Node& node, std::vector<KeyspaceConfig>& out) {
  if (!node.IsSequence()) r.fail(node, "keyspaces", "must be a list of keyspace rules");
  std::set<std::string> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string key = "keyspaces[" + std::to_string(i) + "]";
    KeyspaceConfig ks = readKeyspace(r, node[i], key);
    if (!names.insert(ks.name).second) {
      r.fail(node[i]["name"], key + ".name", "keyspace '" + ks.name + "' is defined twice");
    }
    out.push_back(std::move(ks));
  }
}

}  // namespace readthru::config

namespace readthru::config {

void readCdc(const Reader& r, const YAML::Node& node, CdcConfig& out) {
  r.requireMap(node, "cdc");
  r.allowOnly(node, "cdc",
              {"enabled", "slot", "publication", "leader_lease", "max_queued_transactions",
               "max_queued_bytes"});
  if (auto n = node["enabled"]) out.enabled = r.boolean(n, "cdc.enabled");
  // Slot names allow only lower-case letters, digits and '_' in PostgreSQL.
  auto slotName = [&](const YAML::Node& n, const std::string& key) {
    std::string v = r.scalar(n, key);
    bool ok = !v.empty() && v.size() <= 63;
    for (char c : v) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (!ok) r.fail(n, key, "must be 1-63 lower-case letters, digits or '_'");
    return v;
  };
  if (auto n = node["slot"]) out.slot = slotName(n, "cdc.slot");
  if (auto n = node["publication"]) out.publication = slotName(n, "cdc.publication");
  if (auto n = node["leader_lease"]) {
    out.leader_lease = r.duration(n, "cdc.leader_lease");
    if (out.leader_lease < Millis(1000)) r.fail(n, "cdc.leader_lease", "must be at least 1s");
  }
  if (auto n = node["max_queued_transactions"]) {
    out.max_queued_transactions = r.integer(n, "cdc.max_queued_transactions", 1, 100000000);
  }
  if (auto n = node["max_queued_bytes"]) {
    out.max_queued_bytes = r.size(n, "cdc.max_queued_bytes");
    if (out.max_queued_bytes == 0) r.fail(n, "cdc.max_queued_bytes", "must be more than 0");
  }
}

void readInvalidationStream(const Reader& r, const YAML::Node& node,
                            InvalidationStreamConfig& out) {
  r.requireMap(node, "invalidation_stream");
  r.allowOnly(node, "invalidation_stream", {"key", "group", "batch", "claim_idle"});
  if (!node["key"]) r.fail(node, "invalidation_stream.key", "is required");
  out.key = r.scalar(node["key"], "invalidation_stream.key");
  if (out.key.empty()) r.fail(node["key"], "invalidation_stream.key", "is empty");
  if (auto n = node["group"]) out.group = r.scalar(n, "invalidation_stream.group");
  if (out.group.empty()) r.fail(node["group"], "invalidation_stream.group", "is empty");
  if (auto n = node["batch"]) {
    out.batch = static_cast<int>(r.integer(n, "invalidation_stream.batch", 1, 10000));
  }
  if (auto n = node["claim_idle"]) {
    out.claim_idle = r.duration(n, "invalidation_stream.claim_idle");
    if (out.claim_idle.count() == 0)
      r.fail(n, "invalidation_stream.claim_idle", "must be more than 0");
  }
}

}  // namespace readthru::config
