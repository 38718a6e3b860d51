#include "app/runtime.hpp"

#include <boost/asio/post.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "app/prepared_target.hpp"
#include "app/startup_checks.hpp"
#include "backend/postgres/database_breaker.hpp"
#include "backend/postgres/pool.hpp"
#include "backend/postgres/replication_stream.hpp"
#include "backend/redis/router.hpp"
#include "cache/cdc_applier.hpp"
#include "cache/doctor_probe.hpp"
#include "cache/read_through.hpp"
#include "cache/single_flight.hpp"
#include "cache/stream_consumer.hpp"
#include "cache/warmer.hpp"
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

}  // namespace

Runtime::Runtime(const config::Config& cfg, std::shared_ptr<cache::KeyspaceRules> rules,
                 tls::Contexts tls)
    : rules_(std::move(rules)),
      backend_tls_(std::move(tls.backend)),
      prepared_(std::make_shared<PreparedTarget>(rules_)),
      flights_(std::make_unique<cache::SingleFlight>()),
      gutter_(std::make_unique<cache::Gutter>(
          cache::Gutter::Options{cfg.gutter.max_memory, cfg.gutter.ttl})) {
  ctx_.listen = cfg.listen;
  ctx_.tls = std::move(tls.listen);
  ctx_.limits.set(cfg.listen);
  // Application::check() compiled these already; a failure here is a bug, not a config.
  if (auto error = ctx_.auth.configure(cfg.auth)) throw std::logic_error(*error);
  ctx_.backend_mode = cfg.backend.mode;
  ctx_.config_path = cfg.path;
  ctx_.run_id = randomHex40();
  ctx_.node_id = randomHex40();
  ctx_.metrics.add(&context_gauges_);
  ctx_.slow_log.configure(cfg.log);
  ctx_.metrics.add(&ctx_.slow_log);
  breakers_ = std::make_shared<backend::redis::BreakerTable>(
      backend::redis::Router::breakerOptions(cfg.backend.breaker));
  ctx_.metrics.add(breakers_.get());
  if (rules_) {
    db_breaker_ = std::make_shared<backend::postgres::DatabaseBreaker>(cfg.postgres.breaker);
    ctx_.metrics.add(db_breaker_.get());
    ctx_.metrics.add(gutter_.get());
  }
  for (int i = 0; i < cfg.listen.threads; ++i) buildThread(i, cfg);
  buildInputs(cfg);
  buildDoctorAndWarmer(cfg);

  std::vector<asio::io_context*> io_ptrs;
  std::vector<cache::Backend*> backend_ptrs;
  std::vector<cache::ReadThrough*> read_through_ptrs;
  for (std::size_t i = 0; i < ios_.size(); ++i) {
    io_ptrs.push_back(ios_[i].get());
    backend_ptrs.push_back(routers_[i].get());
    if (!read_throughs_.empty()) read_through_ptrs.push_back(read_throughs_[i].get());
  }
  server_ = std::make_unique<server::Server>(ctx_, io_ptrs, backend_ptrs, read_through_ptrs);
}

Runtime::~Runtime() = default;

// Io thread `index`: its io_context, router, and with keyspaces its pool and ReadThrough.
void Runtime::buildThread(int index, const config::Config& cfg) {
  // Connection counts and limits are for the whole process; each io thread owns a share.
  const int per_thread = std::max(1, cfg.backend.connections_per_node / cfg.listen.threads);

  ios_.push_back(std::make_unique<asio::io_context>(1));
  asio::io_context& io = *ios_.back();
  routers_.push_back(std::make_unique<backend::redis::Router>(io, cfg.backend, per_thread,
                                                              breakers_, backend_tls_));
  ctx_.stats.push_back(std::make_unique<server::ThreadStats>());
  ctx_.metrics.add(ctx_.stats.back().get());
  ctx_.sessions.push_back(std::make_unique<server::SessionList>());
  ctx_.slow_log.addThread();
  ctx_.metrics.add(routers_.back().get());
  if (!rules_) return;
  pools_.push_back(makePool(io, cfg.postgres, *rules_, prepared_));
  cache::ReadThrough::Options options;
  // A lease covers a load's queue wait and its statement, with room to spare.
  options.lease_time = cfg.postgres.statement_timeout + Millis(2000);
  // Per thread: tokens count per ReadThrough, so they must differ by thread.
  options.instance = ctx_.run_id.substr(0, 16) + "." + std::to_string(index);
  options.gutter = gutter_.get();
  options.threads = cfg.listen.threads;
  read_throughs_.push_back(std::make_unique<cache::ReadThrough>(
      io, rules_, pools_.back(), *flights_, *routers_.back(), options));
  // Its counters include its pools', old and new.
  ctx_.metrics.add(read_throughs_.back().get());
}

std::shared_ptr<backend::postgres::Pool> Runtime::makePool(
    asio::io_context& io, const config::PostgresConfig& pg, const cache::KeyspaceRules& rules,
    std::shared_ptr<PreparedTarget> target) const {
  const int threads = ctx_.listen.threads;
  backend::postgres::Pool::Share share;
  share.connections = std::max(1, pg.pool_size / threads);
  share.max_inflight = std::max(1, pg.max_inflight / threads);
  share.max_waiting = (pg.max_waiting + threads - 1) / threads;
  return std::make_shared<backend::postgres::Pool>(
      io, pg, share, rules.statements(),
      [target = std::move(target)](std::size_t i, const Result<cache::StatementShape>& shape) {
        target->onPrepared(i, shape);
      },
      db_breaker_);
}

void Runtime::installRules(std::shared_ptr<cache::KeyspaceRules> rules,
                           const config::PostgresConfig& pg, bool new_pools,
                           std::function<void()> done) {
  new_pools = new_pools || rules->statements() != rules_->statements();
  rules_ = rules;
  if (new_pools) {
    prepared_ = std::make_shared<PreparedTarget>(rules);
  } else {
    prepared_->point(rules);
  }
  // Counted on thread 0 only: each thread posts back once it has switched.
  auto left = std::make_shared<std::size_t>(ios_.size());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  for (std::size_t i = 0; i < ios_.size(); ++i) {
    asio::post(*ios_[i], [this, i, rules, pg, new_pools, target = prepared_, left, finished] {
      cache::ReadThrough& rt = *read_throughs_[i];
      std::shared_ptr<cache::SourceLoader> db = rt.loader();
      if (new_pools) {
        auto pool = makePool(*ios_[i], pg, *rules, target);
        pool->start();
        db = std::move(pool);
      }
      rt.install(rules, std::move(db));
      asio::post(mainIo(), [left, finished] {
        if (--*left == 0) (*finished)();
      });
    });
  }
}

// The invalidation inputs, one each per process, on io thread 0 with its router and
// ReadThrough: the invalidation stream consumer and the change stream's applier (every
// instance competes for the leader lease; the leader reads).
void Runtime::buildInputs(const config::Config& cfg) {
  if (read_throughs_.empty()) return;
  if (!cfg.invalidation_stream.key.empty()) {
    cache::StreamConsumer::Options so;
    so.key = cfg.invalidation_stream.key;
    so.group = cfg.invalidation_stream.group;
    so.batch = cfg.invalidation_stream.batch;
    so.claim_idle = cfg.invalidation_stream.claim_idle;
    so.consumer = "readthru-" + ctx_.run_id.substr(0, 16);
    stream_consumer_ = std::make_unique<cache::StreamConsumer>(*ios_.front(), *routers_.front(),
                                                               *read_throughs_.front(), so);
    ctx_.metrics.add(stream_consumer_.get());
  }
  if (wantsCdc(cfg)) {
    cache::CdcApplier::Options co;
    co.slot = cfg.cdc.slot;
    co.instance = ctx_.run_id.substr(0, 16);
    co.lease = cfg.cdc.leader_lease;
    co.max_queued_transactions = static_cast<std::size_t>(cfg.cdc.max_queued_transactions);
    co.max_queued_bytes = static_cast<std::size_t>(cfg.cdc.max_queued_bytes);
    const auto tables = cache::ChangeMapper(rules_).tables();
    auto make_source = [io = ios_.front().get(), options = streamOptions(cfg, tables)] {
      return std::make_unique<backend::postgres::ReplicationStream>(*io, options);
    };
    cdc_ = std::make_unique<cache::CdcApplier>(*ios_.front(), *routers_.front(),
                                               *read_throughs_.front(), rules_, make_source, co);
    ctx_.metrics.add(cdc_.get());
  }
}

void Runtime::listen() { server_->listen(); }

void Runtime::start() {
  for (std::size_t i = 0; i < ios_.size(); ++i) {
    asio::post(*ios_[i], [r = routers_[i].get()] { r->start(); });
    if (!pools_.empty()) asio::post(*ios_[i], [p = std::move(pools_[i])] { p->start(); });
  }
  // The ReadThroughs hold them from now on: a reload that replaces them lets them go.
  pools_.clear();
  if (stream_consumer_) asio::post(mainIo(), [s = stream_consumer_.get()] { s->start(); });
  if (cdc_) asio::post(mainIo(), [c = cdc_.get()] { c->start(); });
}

void Runtime::onTopology(std::function<void(std::size_t thread, std::size_t nodes)> listener) {
  auto shared = std::make_shared<decltype(listener)>(std::move(listener));
  for (std::size_t i = 0; i < routers_.size(); ++i) {
    routers_[i]->setTopologyListener([this, i, shared](std::size_t nodes) {
      asio::post(mainIo(), [i, nodes, shared] { (*shared)(i, nodes); });
    });
  }
}

void Runtime::probeThreads(std::function<void()> done) {
  auto left = std::make_shared<std::size_t>(ios_.size());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& io : ios_) {
    asio::post(*io, [this, left, finished] {
      asio::post(mainIo(), [left, finished] {
        if (--*left == 0) (*finished)();
      });
    });
  }
}

void Runtime::run() {
  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < ios_.size(); ++i) {
    workers.emplace_back([io = ios_[i].get()] { io->run(); });
  }
  ios_.front()->run();
  for (auto& w : workers) w.join();
}

void Runtime::stopInputs() {
  if (warmer_) warmer_->stop();  // releases the warm leases for another instance
  if (stream_consumer_) stream_consumer_->stop();
  if (cdc_) cdc_->stop();
}

void Runtime::stopThreads() {
  for (std::size_t i = 0; i < ios_.size(); ++i) {
    auto* rt = read_throughs_.empty() ? nullptr : read_throughs_[i].get();
    asio::post(*ios_[i], [r = routers_[i].get(), rt, io = ios_[i].get()] {
      r->stop();
      if (rt != nullptr) rt->stopLoaders();
      io->stop();
    });
  }
}

}  // namespace readthru::app
