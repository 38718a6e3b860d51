#include "app/application.hpp"

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "backend/postgres/pool.hpp"
#include "backend/postgres/replication_stream.hpp"
#include "backend/redis/router.hpp"
#include "cache/cdc_applier.hpp"
#include "cache/read_through.hpp"
#include "cache/single_flight.hpp"
#include "cache/stream_consumer.hpp"
#include "common/log.hpp"
#include "server/server.hpp"

namespace readthru::app {
namespace asio = boost::asio;

namespace {

std::string randomHex40() {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id(40, '0');
  for (char& c : id) c = kHex[rd() % 16];
  return id;
}

// Checks every keyspace's SQL against the database before serving: a typo or a missing
// column stops the start with the rule's name. When the database cannot be reached within
// its connect timeout, readthru starts anyway (a cache must not need its database to
// start) and the pools check the rules when they connect. Returns false to stop.
bool checkRulesAtStart(const config::PostgresConfig& pg, cache::KeyspaceRules& rules) {
  asio::io_context io(1);
  const std::size_t total = rules.statements().size();
  std::size_t reported = 0;
  auto pool = std::make_unique<backend::postgres::Pool>(
      io, pg, 1, 1, rules.statements(),
      [&](std::size_t index, const Result<cache::StatementShape>& shape) {
        rules.onPrepared(index, shape);
        if (++reported == total) io.stop();
      });
  pool->start();
  io.run_for(pg.connect_timeout + Millis(1000));
  pool->stop();
  io.restart();
  io.poll();
  pool.reset();
  if (reported < total) {
    spdlog::warn(
        "postgres: not reachable at start; serving what Redis holds, keyspaces are checked "
        "when the database connects");
    return true;
  }
  const auto failures = rules.failures();
  for (const auto& f : failures) spdlog::critical("{}", f);
  return failures.empty();
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
  o.slot = cfg.cdc.slot;
  o.publication = cfg.cdc.publication;
  o.tables = std::move(tables);
  o.connect_timeout = cfg.postgres.connect_timeout;
  return o;
}

// The tables of the `invalidate:` rules, as the database sees them: a missing table or
// column, or a column the replica identity does not carry (deletes could not be mapped),
// stops the start, as a bad query does. An unreachable database is checked later, by the
// leader, which logs the same problems.
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

}  // namespace

Application::Application(config::Config cfg) : cfg_(std::move(cfg)) {}

// Every client and every backend connection is a file descriptor: take the whole hard
// limit, as Redis does for maxclients, instead of the 1,024 a shell often starts with.
static void raiseFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

std::optional<std::string> Application::check(const config::Config& cfg) {
  auto built = cache::KeyspaceRules::build(cfg.keyspaces);
  if (!built) return built.error().message;
  return std::nullopt;
}

int Application::run() {
  raiseFileLimit();
  const int threads = cfg_.listen.threads;
  std::shared_ptr<cache::KeyspaceRules> rules;
  if (!cfg_.keyspaces.empty()) {
    auto built = cache::KeyspaceRules::build(cfg_.keyspaces);
    if (!built) {
      spdlog::critical("{}", built.error().message);
      return 2;
    }
    rules = *built;
    if (!checkRulesAtStart(cfg_.postgres, *rules)) return 2;
    if (wantsCdc(cfg_) && !checkCdcAtStart(cfg_, rules)) return 2;
  }
  // Declared first, destroyed last: sessions still queued in an io_context are destroyed
  // with it, and they use the context (client count) as they go.
  server::ServerContext ctx;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  cache::SingleFlight flights;
  // Loads made while Redis is down, for the whole process (cache/gutter.hpp).
  cache::Gutter gutter({cfg_.gutter.max_memory, cfg_.gutter.ttl});
  std::vector<std::unique_ptr<backend::redis::Router>> routers;
  std::vector<std::unique_ptr<backend::postgres::Pool>> pools;
  std::vector<std::unique_ptr<cache::ReadThrough>> read_throughs;  // destroyed first
  // Connection counts and limits are for the whole process; each io thread owns a share.
  const int per_thread = std::max(1, cfg_.backend.connections_per_node / threads);
  const int pg_per_thread = std::max(1, cfg_.postgres.pool_size / threads);
  const int inflight_per_thread = std::max(1, cfg_.postgres.max_inflight / threads);

  ctx.listen = cfg_.listen;
  ctx.backend_mode = cfg_.backend.mode;
  ctx.config_path = cfg_.path;
  ctx.run_id = randomHex40();
  ctx.node_id = randomHex40();
  // One circuit breaker per Redis node for the whole process, shared by every thread.
  auto breakers = std::make_shared<backend::redis::BreakerTable>(
      backend::redis::Router::breakerOptions(cfg_.backend.breaker));
  ctx.counter_sources.push_back(breakers.get());
  std::vector<asio::io_context*> io_ptrs;
  std::vector<cache::Backend*> backend_ptrs;
  std::vector<cache::ReadThrough*> read_through_ptrs;
  for (int i = 0; i < threads; ++i) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    routers.push_back(
        std::make_unique<backend::redis::Router>(*ios.back(), cfg_.backend, per_thread, breakers));
    ctx.stats.push_back(std::make_unique<server::ThreadStats>());
    ctx.counter_sources.push_back(routers.back().get());
    io_ptrs.push_back(ios.back().get());
    backend_ptrs.push_back(routers.back().get());
    if (!rules) continue;
    pools.push_back(std::make_unique<backend::postgres::Pool>(
        *ios.back(), cfg_.postgres, pg_per_thread, inflight_per_thread, rules->statements(),
        [rules](std::size_t index, const Result<cache::StatementShape>& shape) {
          rules->onPrepared(index, shape);
        }));
    cache::ReadThrough::Options options;
    // A lease covers a load's queue wait and its statement, with room to spare.
    options.lease_time = cfg_.postgres.statement_timeout + Millis(2000);
    // Per thread: tokens count per ReadThrough, so they must differ by thread.
    options.instance = ctx.run_id.substr(0, 16) + "." + std::to_string(i);
    options.gutter = &gutter;
    read_throughs.push_back(std::make_unique<cache::ReadThrough>(
        *ios.back(), rules, flights, *routers.back(), *pools.back(), options));
    ctx.counter_sources.push_back(read_throughs.back().get());
    ctx.counter_sources.push_back(pools.back().get());
    read_through_ptrs.push_back(read_throughs.back().get());
  }

  if (rules) ctx.counter_sources.push_back(&gutter);

  // Invalidations from other systems: one consumer per process, on the first io thread.
  std::unique_ptr<cache::StreamConsumer> stream_consumer;
  if (!read_throughs.empty() && !cfg_.invalidation_stream.key.empty()) {
    cache::StreamConsumer::Options so;
    so.key = cfg_.invalidation_stream.key;
    so.group = cfg_.invalidation_stream.group;
    so.batch = cfg_.invalidation_stream.batch;
    so.claim_idle = cfg_.invalidation_stream.claim_idle;
    so.consumer = "readthru-" + ctx.run_id.substr(0, 16);
    stream_consumer = std::make_unique<cache::StreamConsumer>(*ios.front(), *routers.front(),
                                                              *read_throughs.front(), so);
    ctx.counter_sources.push_back(stream_consumer.get());
  }

  // The change stream: every instance competes for the leader lease; the leader reads.
  std::unique_ptr<cache::CdcApplier> cdc;
  if (!read_throughs.empty() && wantsCdc(cfg_)) {
    cache::CdcApplier::Options co;
    co.slot = cfg_.cdc.slot;
    co.instance = ctx.run_id.substr(0, 16);
    co.lease = cfg_.cdc.leader_lease;
    const auto tables = cache::ChangeMapper(rules).tables();
    auto make_source = [io = ios.front().get(), options = streamOptions(cfg_, tables)] {
      return std::make_unique<backend::postgres::ReplicationStream>(*io, options);
    };
    cdc = std::make_unique<cache::CdcApplier>(*ios.front(), *routers.front(),
                                              *read_throughs.front(), rules, make_source, co);
    ctx.counter_sources.push_back(cdc.get());
  }

  server::Server srv(ctx, io_ptrs, backend_ptrs, read_through_ptrs);
  try {
    srv.listen();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen on {}:{}: {}", cfg_.listen.address, cfg_.listen.port, e.what());
    return 1;
  }
  spdlog::info("readthru {} started: backend {} via {}, {} keyspace(s)", READTHRU_VERSION,
               config::modeName(cfg_.backend.mode), cfg_.backend.seeds.front().str(),
               cfg_.keyspaces.size());

  for (int i = 0; i < threads; ++i) {
    asio::post(*ios[i], [r = routers[i].get()] { r->start(); });
    if (!pools.empty()) asio::post(*ios[i], [p = pools[i].get()] { p->start(); });
  }
  if (stream_consumer) asio::post(*ios.front(), [s = stream_consumer.get()] { s->start(); });
  if (cdc) asio::post(*ios.front(), [c = cdc.get()] { c->start(); });

  asio::signal_set signals(*ios.front(), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    srv.stopAccepting();
    if (stream_consumer) stream_consumer->stop();
    if (cdc) cdc->stop();
    for (int i = 0; i < threads; ++i) {
      auto* pool = pools.empty() ? nullptr : pools[i].get();
      asio::post(*ios[i], [r = routers[i].get(), pool, io = ios[i].get()] {
        r->stop();
        if (pool != nullptr) pool->stop();
        io->stop();
      });
    }
  });
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) {
    workers.emplace_back([io = ios[i].get()] { io->run(); });
  }
  ios.front()->run();
  for (auto& w : workers) w.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace readthru::app
