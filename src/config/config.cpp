#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/log.hpp"
#include "config/reader.hpp"

namespace readthru::config {
namespace {

void readListen(const Reader& r, const YAML::Node& node, ListenConfig& out) {
  r.requireMap(node, "listen");
  r.allowOnly(node, "listen",
              {"address", "port", "threads", "max_clients", "idle_timeout", "output_limit",
               "query_buffer_limit", "drain_timeout", "announce", "tls"});
  if (auto n = node["address"]) out.address = r.scalar(n, "listen.address");
  if (auto n = node["port"])
    out.port = static_cast<std::uint16_t>(r.integer(n, "listen.port", 1, 65535));
  if (auto n = node["threads"])
    out.threads = static_cast<int>(r.integer(n, "listen.threads", 1, 256));
  if (auto n = node["max_clients"]) {
    out.max_clients = static_cast<int>(r.integer(n, "listen.max_clients", 1, 1'000'000));
  }
  if (auto n = node["idle_timeout"]) out.idle_timeout = r.duration(n, "listen.idle_timeout");
  if (auto n = node["output_limit"]) {
    out.output_limit = r.size(n, "listen.output_limit");
    if (out.output_limit < 1024) r.fail(n, "listen.output_limit", "must be at least 1kb");
  }
  if (auto n = node["query_buffer_limit"]) {
    out.query_buffer_limit = r.size(n, "listen.query_buffer_limit");
    if (out.query_buffer_limit < 1024) {
      r.fail(n, "listen.query_buffer_limit", "must be at least 1kb");
    }
  }
  if (auto n = node["drain_timeout"]) {
    out.drain_timeout = r.duration(n, "listen.drain_timeout");
    if (out.drain_timeout > Millis(86'400'000))
      r.fail(n, "listen.drain_timeout", "must be at most 1d");
  }
  if (auto n = node["announce"]) out.announce = r.scalar(n, "listen.announce");
  if (auto n = node["tls"]) readListenTls(r, n, out.tls);
}

void readBreaker(const Reader& r, const YAML::Node& node, BreakerConfig& out) {
  r.requireMap(node, "backend.breaker");
  r.allowOnly(node, "backend.breaker",
              {"consecutive_failures", "failure_rate", "min_requests", "window", "open_time",
               "max_open_time"});
  if (auto n = node["consecutive_failures"]) {
    out.consecutive_failures =
        static_cast<int>(r.integer(n, "backend.breaker.consecutive_failures", 0, 1000000));
  }
  if (auto n = node["failure_rate"]) {
    std::string text = r.scalar(n, "backend.breaker.failure_rate");
    if (!text.empty() && text.back() == '%') text.pop_back();
    int v = -1;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || v < 0 || v > 100) {
      r.fail(n, "backend.breaker.failure_rate", "must be a percentage from 0% to 100%");
    }
    out.failure_rate_percent = v;
  }
  if (auto n = node["min_requests"]) {
    out.min_requests = static_cast<int>(r.integer(n, "backend.breaker.min_requests", 1, 1000000));
  }
  auto positive = [&](const char* key, Millis& field) {
    if (auto n = node[key]) {
      const std::string path = std::string("backend.breaker.") + key;
      field = r.duration(n, path);
      if (field.count() == 0) r.fail(n, path, "must be more than 0");
    }
  };
  positive("window", out.window);
  positive("open_time", out.open_time);
  positive("max_open_time", out.max_open_time);
  if (out.max_open_time < out.open_time) {
    r.fail(node, "backend.breaker.max_open_time", "must be at least open_time");
  }
}

void readBackend(const Reader& r, const YAML::Node& node, BackendConfig& out) {
  r.requireMap(node, "backend");
  r.allowOnly(
      node, "backend",
      {"mode", "seeds", "sentinel", "username", "password", "password_env", "password_file",
       "read_from_replicas", "connect_timeout", "command_timeout", "node_timeout",
       "connections_per_node", "max_queued_requests", "max_queued_bytes", "breaker", "tls"});
  if (auto n = node["mode"]) {
    const std::string mode = r.scalar(n, "backend.mode");
    if (mode == "cluster")
      out.mode = BackendMode::kCluster;
    else if (mode == "standalone")
      out.mode = BackendMode::kStandalone;
    else if (mode == "sentinel")
      out.mode = BackendMode::kSentinel;
    else
      r.fail(n, "backend.mode", "must be cluster, standalone or sentinel, got '" + mode + "'");
  }
  const YAML::Node seeds = node["seeds"];
  if (!seeds) r.fail(node, "backend.seeds", "is required (a list of host:port)");
  if (!seeds.IsSequence() || seeds.size() == 0) {
    r.fail(seeds, "backend.seeds", "must be a non-empty list of host:port");
  }
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    out.seeds.push_back(r.endpoint(seeds[i], "backend.seeds[" + std::to_string(i) + "]"));
  }
  if (auto n = node["sentinel"]) {
    r.requireMap(n, "backend.sentinel");
    r.allowOnly(n, "backend.sentinel",
                {"master", "username", "password", "password_env", "password_file"});
    if (auto m = n["master"]) out.sentinel_master = r.scalar(m, "backend.sentinel.master");
    if (auto m = n["username"]) out.sentinel_username = r.scalar(m, "backend.sentinel.username");
    if (auto secret = readSecret(r, n, "backend.sentinel")) {
      out.sentinel_password = std::move(*secret);
    }
  }
  if (out.mode == BackendMode::kSentinel && out.sentinel_master.empty()) {
    r.fail(node, "backend.sentinel.master", "is required with mode: sentinel");
  }
  if (out.mode == BackendMode::kStandalone && out.seeds.size() != 1) {
    r.fail(seeds, "backend.seeds", "must name exactly one server with mode: standalone");
  }
  if (auto n = node["username"]) out.username = r.scalar(n, "backend.username");
  if (auto secret = readSecret(r, node, "backend")) out.password = std::move(*secret);
  if (auto n = node["read_from_replicas"]) {
    out.read_from_replicas = r.boolean(n, "backend.read_from_replicas");
  }
  if (auto n = node["connect_timeout"]) {
    out.connect_timeout = r.duration(n, "backend.connect_timeout");
    if (out.connect_timeout.count() == 0)
      r.fail(n, "backend.connect_timeout", "must be more than 0");
  }
  if (auto n = node["command_timeout"]) {
    out.command_timeout = r.duration(n, "backend.command_timeout");
    if (out.command_timeout.count() == 0)
      r.fail(n, "backend.command_timeout", "must be more than 0");
  }
  if (auto n = node["node_timeout"]) {
    out.node_timeout = r.duration(n, "backend.node_timeout");
    if (out.node_timeout < out.command_timeout) {
      r.fail(n, "backend.node_timeout", "must be at least backend.command_timeout");
    }
  } else {
    out.node_timeout = std::max(out.node_timeout, out.command_timeout);
  }
  if (auto n = node["connections_per_node"]) {
    out.connections_per_node =
        static_cast<int>(r.integer(n, "backend.connections_per_node", 1, 64));
  }
  if (auto n = node["max_queued_requests"]) {
    out.max_queued_requests =
        static_cast<std::uint64_t>(r.integer(n, "backend.max_queued_requests", 1, 100000000));
  }
  if (auto n = node["max_queued_bytes"]) {
    out.max_queued_bytes = r.size(n, "backend.max_queued_bytes");
    if (out.max_queued_bytes < 1024) r.fail(n, "backend.max_queued_bytes", "must be at least 1kb");
  }
  if (auto n = node["breaker"]) readBreaker(r, n, out.breaker);
  if (auto n = node["tls"]) readBackendTls(r, n, out.tls);
}

void readGutter(const Reader& r, const YAML::Node& node, GutterConfig& out) {
  r.requireMap(node, "gutter");
  r.allowOnly(node, "gutter", {"max_memory", "ttl"});
  if (auto n = node["max_memory"]) out.max_memory = r.size(n, "gutter.max_memory");
  if (auto n = node["ttl"]) {
    out.ttl = r.duration(n, "gutter.ttl");
    if (out.ttl.count() == 0) r.fail(n, "gutter.ttl", "must be more than 0");
  }
}

void readAdmin(const Reader& r, const YAML::Node& node, AdminConfig& out) {
  r.requireMap(node, "admin");
  r.allowOnly(node, "admin", {"address", "port"});
  out.enabled = true;
  if (auto n = node["address"]) out.address = r.scalar(n, "admin.address");
  if (auto n = node["port"])
    out.port = static_cast<std::uint16_t>(r.integer(n, "admin.port", 1, 65535));
}

void readLog(const Reader& r, const YAML::Node& node, LogConfig& out) {
  r.requireMap(node, "log");
  r.allowOnly(node, "log",
              {"level", "format", "json", "slow_threshold", "slow_log_max_len",
               "slow_log_lines_per_second"});
  if (auto n = node["level"]) {
    out.level = r.scalar(n, "log.level");
    if (!isLogLevel(out.level)) {
      r.fail(n, "log.level", "must be one of trace, debug, info, warn, error, critical, off");
    }
  }
  if (auto n = node["format"]) {
    if (!parseLogFormat(r.scalar(n, "log.format"), out.format)) {
      r.fail(n, "log.format", "must be text or json");
    }
  }
  // The older spelling, kept so that existing files still load.
  if (auto n = node["json"]) {
    const LogFormat said = r.boolean(n, "log.json") ? LogFormat::kJson : LogFormat::kText;
    if (node["format"] && said != out.format) {
      r.fail(n, "log.json", "says otherwise than log.format; keep log.format alone");
    }
    out.format = said;
  }
  if (auto n = node["slow_threshold"]) {
    const std::string text = r.scalar(n, "log.slow_threshold");
    auto d = parseDurationMicros(text);
    if (!d) r.fail(n, "log.slow_threshold", "must be a duration such as 500us or 10ms, or 0");
    out.slow_threshold = *d;
  }
  if (auto n = node["slow_log_max_len"]) {
    out.slow_log_max_len =
        static_cast<std::uint32_t>(r.integer(n, "log.slow_log_max_len", 0, 100'000));
  }
  if (auto n = node["slow_log_lines_per_second"]) {
    out.slow_log_lines_per_second =
        static_cast<std::uint32_t>(r.integer(n, "log.slow_log_lines_per_second", 0, 100'000));
  }
}

}  // namespace

Config loadString(std::string_view yaml, const std::string& name) {
  Reader r(name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  if (!root.IsMap())
    r.fail(root, "",
           "must be a mapping of sections (listen, backend, postgres, keyspaces, log, ...)");
  r.allowOnly(root, "",
              {"listen", "backend", "postgres", "keyspaces", "cdc", "invalidation_stream", "gutter",
               "admin", "auth", "log"});
  Config cfg;
  cfg.path = name;
  if (auto n = root["listen"]) readListen(r, n, cfg.listen);
  if (auto n = root["backend"]) {
    readBackend(r, n, cfg.backend);
  } else {
    r.fail(root, "backend", "is required");
  }
  if (auto n = root["postgres"]) readPostgres(r, n, cfg.postgres);
  if (auto n = root["keyspaces"]) {
    if (!cfg.postgres.enabled) {
      r.fail(n, "keyspaces", "need a postgres: section (the database they load from)");
    }
    readKeyspaces(r, n, cfg.keyspaces);
  }
  if (auto n = root["cdc"]) readCdc(r, n, cfg.cdc);
  if (auto n = root["invalidation_stream"]) {
    readInvalidationStream(r, n, cfg.invalidation_stream);
    if (cfg.keyspaces.empty()) {
      r.fail(n, "invalidation_stream", "needs keyspaces: (it invalidates their entries)");
    }
  }
  if (auto n = root["gutter"]) readGutter(r, n, cfg.gutter);
  if (auto n = root["admin"]) readAdmin(r, n, cfg.admin);
  if (auto n = root["auth"]) readAuth(r, n, cfg.auth);
  if (auto n = root["log"]) readLog(r, n, cfg.log);
  if (cfg.admin.enabled && cfg.admin.port == cfg.listen.port &&
      cfg.admin.address == cfg.listen.address) {
    r.fail(root["admin"], "admin.port", "is the port clients use (listen.port)");
  }
  if (cfg.listen.announce.empty()) {
    cfg.listen.announce = cfg.listen.address == "0.0.0.0" ? "127.0.0.1" : cfg.listen.address;
  }
  return cfg;
}

Config loadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return loadString(text.str(), path);
}

std::string_view formatName(KeyspaceFormat format) {
  switch (format) {
    case KeyspaceFormat::kJson:
      return "json";
    case KeyspaceFormat::kValue:
      return "value";
    case KeyspaceFormat::kHash:
      return "hash";
    case KeyspaceFormat::kRows:
      return "rows";
  }
  return "?";
}

std::string_view modeName(BackendMode mode) {
  switch (mode) {
    case BackendMode::kCluster:
      return "cluster";
    case BackendMode::kStandalone:
      return "standalone";
    case BackendMode::kSentinel:
      return "sentinel";
  }
  return "?";
}

}  // namespace readthru::config
