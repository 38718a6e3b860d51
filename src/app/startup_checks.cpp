#include "app/startup_checks.hpp"

#include <boost/asio/io_context.hpp>
#include <optional>

#include "backend/postgres/pool.hpp"
#include "cache/change_mapper.hpp"
#include "common/log.hpp"

namespace readthru::app {
namespace asio = boost::asio;

RulesCheck checkRules(const config::PostgresConfig& pg, cache::KeyspaceRules& rules) {
  asio::io_context io(1);
  const std::size_t total = rules.statements().size();
  std::size_t reported = 0;
  auto pool = std::make_unique<backend::postgres::Pool>(
      io, pg, backend::postgres::Pool::Share{}, rules.statements(),
      [&](std::size_t index, const Result<cache::StatementShape>& shape) {
        rules.onPrepared(index, shape);
        if (++reported == total) io.stop();
      });
  pool->start();
  if (total > 0) io.run_for(pg.connect_timeout + Millis(1000));
  pool->stop();
  io.restart();
  io.poll();
  pool.reset();
  if (reported < total) return {};
  return {true, rules.failures()};
}

bool checkRulesAtStart(const config::PostgresConfig& pg, cache::KeyspaceRules& rules) {
  const RulesCheck check = checkRules(pg, rules);
  if (!check.reached) {
    spdlog::warn(
        "postgres: not reachable at start; serving what Redis holds, keyspaces are checked "
        "when the database connects");
    return true;
  }
  for (const auto& f : check.failures) spdlog::critical("{}", f);
  return check.failures.empty();
}

bool wantsCdc(const config::Config& cfg) {
  if (!cfg.cdc.enabled) return false;
  for (const auto& ks : cfg.keyspaces) {
    if (!ks.invalidate.empty()) return true;
  }
  return false;
}

backend::postgres::ReplicationStream::Options streamOptions(const config::Config& cfg,
                                                            std::vector<std::string> tables) {
  backend::postgres::ReplicationStream::Options o;
  o.dsn = cfg.postgres.dsn;
  o.password = cfg.postgres.password;
  o.tls = cfg.postgres.tls;
  o.slot = cfg.cdc.slot;
  o.publication = cfg.cdc.publication;
  o.tables = std::move(tables);
  o.connect_timeout = cfg.postgres.connect_timeout;
  return o;
}

bool checkCdcAtStart(const config::Config& cfg, std::shared_ptr<const cache::KeyspaceRules> rules) {
  cache::ChangeMapper mapper(std::move(rules));
  asio::io_context io(1);
  backend::postgres::ReplicationStream stream(io, streamOptions(cfg, mapper.tables()));
  std::optional<Result<std::vector<cache::TableInfo>>> answer;
  stream.describeTables(mapper.tables(), [&](Result<std::vector<cache::TableInfo>> r) {
    answer = std::move(r);
    io.stop();
  });
  io.run_for(cfg.postgres.connect_timeout + Millis(1000));
  stream.stop();
  if (!answer || !*answer) {
    spdlog::warn("cdc: tables not checked at start: {}",
                 answer ? answer->error().message : std::string("no answer"));
    return true;
  }
  const auto problems = mapper.check(**answer);
  for (const auto& p : problems) spdlog::critical("{}", p);
  return problems.empty();
}

}  // namespace readthru::app
