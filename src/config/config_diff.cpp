#include "config/config_diff.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace readthru::config {
namespace {

// How a change of a setting takes effect.
enum class Takes : std::uint8_t {
  kNow,       // read per connection or per request, or set at once (log.level)
  kNewPools,  // the database pools are built with it: the reload builds new ones
  kRestart,   // the listener, io threads, Redis connections or inputs were built with it
};

struct Setting {
  std::string_view name;
  Takes takes;
  bool (*differs)(const Config& a, const Config& b);
  void (*keep)(const Config& from, Config& to);
};

// One row of the table: Config::*Section's field *Field.
template <auto Section, auto Field>
constexpr Setting field(std::string_view name, Takes takes) {
  return {name, takes,
          [](const Config& a, const Config& b) { return a.*Section.*Field != b.*Section.*Field; },
          [](const Config& from, Config& to) { to.*Section.*Field = from.*Section.*Field; }};
}

// listen.tls as a whole: whether listen.port speaks TLS is fixed at start. When that does
// not change, the row below it applies the rest (files and checks) to new connections.
constexpr Setting kListenTlsOnOff{
    "listen.tls", Takes::kRestart,
    [](const Config& a, const Config& b) { return a.listen.tls.enabled != b.listen.tls.enabled; },
    [](const Config& from, Config& to) { to.listen.tls = from.listen.tls; }};
constexpr Setting kListenTlsFiles{
    "listen.tls.*", Takes::kNow,
    [](const Config& a, const Config& b) {
      return a.listen.tls.enabled == b.listen.tls.enabled && a.listen.tls != b.listen.tls;
    },
    [](const Config& from, Config& to) { to.listen.tls = from.listen.tls; }};

using C = Config;
using L = ListenConfig;
using B = BackendConfig;
using P = PostgresConfig;
using A = AdminConfig;

// Every setting but the keyspaces. A new key in config.hpp needs its row here, or a
// reload would neither apply it nor say that it needs a restart.
constexpr std::array kSettings{
    field<&C::listen, &L::address>("listen.address", Takes::kRestart),
    field<&C::listen, &L::port>("listen.port", Takes::kRestart),
    field<&C::listen, &L::threads>("listen.threads", Takes::kRestart),
    field<&C::listen, &L::max_clients>("listen.max_clients", Takes::kNow),
    field<&C::listen, &L::idle_timeout>("listen.idle_timeout", Takes::kNow),
    field<&C::listen, &L::output_limit>("listen.output_limit", Takes::kNow),
    // Each connection's parser is built with it: connections made from now on.
    field<&C::listen, &L::query_buffer_limit>("listen.query_buffer_limit", Takes::kNow),
    field<&C::listen, &L::drain_timeout>("listen.drain_timeout", Takes::kNow),
    field<&C::listen, &L::announce>("listen.announce", Takes::kRestart),
    kListenTlsOnOff,
    // New connections use the TLS context built by the reload (app/reloader.cpp), which
    // re-reads the files even when this row sees no change (a certificate renewed in place).
    kListenTlsFiles,
    // The admin listener is bound once, at start.
    field<&C::admin, &A::enabled>("admin", Takes::kRestart),
    field<&C::admin, &A::address>("admin.address", Takes::kRestart),
    field<&C::admin, &A::port>("admin.port", Takes::kRestart),
    // The Redis routers and their connections, on every io thread, are built with these.
    field<&C::backend, &B::mode>("backend.mode", Takes::kRestart),
    field<&C::backend, &B::seeds>("backend.seeds", Takes::kRestart),
    field<&C::backend, &B::sentinel_master>("backend.sentinel.master", Takes::kRestart),
    field<&C::backend, &B::sentinel_username>("backend.sentinel.username", Takes::kRestart),
    field<&C::backend, &B::sentinel_password>("backend.sentinel.password", Takes::kRestart),
    field<&C::backend, &B::username>("backend.username", Takes::kRestart),
    field<&C::backend, &B::password>("backend.password", Takes::kRestart),
    field<&C::backend, &B::read_from_replicas>("backend.read_from_replicas", Takes::kRestart),
    field<&C::backend, &B::connect_timeout>("backend.connect_timeout", Takes::kRestart),
    field<&C::backend, &B::command_timeout>("backend.command_timeout", Takes::kRestart),
    field<&C::backend, &B::node_timeout>("backend.node_timeout", Takes::kRestart),
    field<&C::backend, &B::connections_per_node>("backend.connections_per_node", Takes::kRestart),
    field<&C::backend, &B::max_queued_requests>("backend.max_queued_requests", Takes::kRestart),
    field<&C::backend, &B::max_queued_bytes>("backend.max_queued_bytes", Takes::kRestart),
    field<&C::backend, &B::breaker>("backend.breaker", Takes::kRestart),
    field<&C::backend, &B::tls>("backend.tls", Takes::kRestart),
    // The change stream and the start-up checks use the DSN too.
    field<&C::postgres, &P::enabled>("postgres", Takes::kRestart),
    field<&C::postgres, &P::dsn>("postgres.dsn", Takes::kRestart),
    field<&C::postgres, &P::password>("postgres.password", Takes::kRestart),
    // Like the DSN: the change stream and the start-up checks connect with them too.
    field<&C::postgres, &P::tls>("postgres.ssl*", Takes::kRestart),
    field<&C::postgres, &P::pool_size>("postgres.pool_size", Takes::kNewPools),
    // The load lease (statement_timeout + 2s) is set at start in every FillCoordinator.
    field<&C::postgres, &P::statement_timeout>("postgres.statement_timeout", Takes::kRestart),
    field<&C::postgres, &P::connect_timeout>("postgres.connect_timeout", Takes::kNewPools),
    field<&C::postgres, &P::max_inflight>("postgres.max_inflight", Takes::kNewPools),
    field<&C::postgres, &P::max_waiting>("postgres.max_waiting", Takes::kNewPools),
    // One breaker for the process, built at start and shared by every pool.
    field<&C::postgres, &P::breaker>("postgres.breaker", Takes::kRestart),
    field<&C::cdc, &CdcConfig::enabled>("cdc.enabled", Takes::kRestart),
    field<&C::cdc, &CdcConfig::slot>("cdc.slot", Takes::kRestart),
    field<&C::cdc, &CdcConfig::publication>("cdc.publication", Takes::kRestart),
    field<&C::cdc, &CdcConfig::leader_lease>("cdc.leader_lease", Takes::kRestart),
    field<&C::cdc, &CdcConfig::max_queued_transactions>("cdc.max_queued_transactions",
                                                        Takes::kRestart),
    field<&C::cdc, &CdcConfig::max_queued_bytes>("cdc.max_queued_bytes", Takes::kRestart),
    field<&C::invalidation_stream, &InvalidationStreamConfig::key>("invalidation_stream.key",
                                                                   Takes::kRestart),
    field<&C::invalidation_stream, &InvalidationStreamConfig::group>("invalidation_stream.group",
                                                                     Takes::kRestart),
    field<&C::invalidation_stream, &InvalidationStreamConfig::batch>("invalidation_stream.batch",
                                                                     Takes::kRestart),
    field<&C::invalidation_stream, &InvalidationStreamConfig::claim_idle>(
        "invalidation_stream.claim_idle", Takes::kRestart),
    field<&C::gutter, &GutterConfig::max_memory>("gutter.max_memory", Takes::kRestart),
    field<&C::gutter, &GutterConfig::ttl>("gutter.ttl", Takes::kRestart),
    // Sessions re-check their user against the table installed last (server/client_auth.hpp).
    field<&C::auth, &AuthConfig::enabled>("auth", Takes::kNow),
    field<&C::auth, &AuthConfig::default_password>("auth.password", Takes::kNow),
    field<&C::auth, &AuthConfig::default_admin>("auth.default_admin", Takes::kNow),
    field<&C::auth, &AuthConfig::users>("auth.users", Takes::kNow),
    field<&C::log, &LogConfig::level>("log.level", Takes::kNow),
    // Set on io thread 0 by the reload (common/log.hpp, server/slow_log.hpp).
    field<&C::log, &LogConfig::format>("log.format", Takes::kNow),
    field<&C::log, &LogConfig::slow_threshold>("log.slow_threshold", Takes::kNow),
    field<&C::log, &LogConfig::slow_log_max_len>("log.slow_log_max_len", Takes::kNow),
    field<&C::log, &LogConfig::slow_log_lines_per_second>("log.slow_log_lines_per_second",
                                                          Takes::kNow),
};

// A rule as compared: where it was written does not count, what it says does.
KeyspaceConfig withoutOrigin(KeyspaceConfig ks) {
  ks.origin.clear();
  for (InvalidateRule& rule : ks.invalidate) rule.origin.clear();
  return ks;
}

const KeyspaceConfig* byName(const std::vector<KeyspaceConfig>& list, const std::string& name) {
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const KeyspaceConfig& ks) { return ks.name == name; });
  return it == list.end() ? nullptr : &*it;
}

// Whether the change stream would map rows differently: some keyspace's `invalidate:`
// rules differ, or a keyspace with rules came or went.
bool changeRulesDiffer(const Config& running, const Config& next) {
  auto rulesOf = [](const Config& cfg, const std::string& name) {
    const KeyspaceConfig* ks = byName(cfg.keyspaces, name);
    return ks == nullptr ? std::vector<InvalidateRule>{} : withoutOrigin(*ks).invalidate;
  };
  for (const auto* side : {&running, &next}) {
    for (const KeyspaceConfig& ks : side->keyspaces) {
      if (rulesOf(running, ks.name) != rulesOf(next, ks.name)) return true;
    }
  }
  return false;
}

void diffKeyspaces(const Config& running, const Config& next, ConfigDiff& out) {
  for (const KeyspaceConfig& ks : next.keyspaces) {
    const KeyspaceConfig* old = byName(running.keyspaces, ks.name);
    if (old == nullptr) {
      out.added.push_back(ks.name);
    } else if (withoutOrigin(*old) != withoutOrigin(ks)) {
      out.changed.push_back(ks.name);
    }
  }
  for (const KeyspaceConfig& ks : running.keyspaces) {
    if (byName(next.keyspaces, ks.name) == nullptr) out.removed.push_back(ks.name);
  }
  if (running.cdc.enabled && next.cdc.enabled && changeRulesDiffer(running, next)) {
    out.restart.emplace_back("keyspaces.invalidate");
  }
}

}  // namespace

ConfigDiff diff(const Config& running, const Config& next) {
  ConfigDiff out;
  for (const Setting& s : kSettings) {
    if (!s.differs(running, next)) continue;
    if (s.takes == Takes::kRestart) {
      out.restart.emplace_back(s.name);
      continue;
    }
    out.applied.emplace_back(s.name);
    out.new_pools = out.new_pools || s.takes == Takes::kNewPools;
  }
  diffKeyspaces(running, next, out);
  return out;
}

Config keepRestartOnly(const Config& running, Config next) {
  for (const Setting& s : kSettings) {
    if (s.takes == Takes::kRestart) s.keep(running, next);
  }
  return next;
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace readthru::config
