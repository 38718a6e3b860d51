#pragma once
// What the postgres pool tests share: a Pool on a real io_context driven until a
// condition holds, optionally reaching the stack's PostgreSQL through a TcpProxy that can
// play a hung server. Set-up and fault injection use the shared Pg client (pg.hpp).

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/postgres/database_breaker.hpp"
#include "backend/postgres/pool.hpp"
#include "gtest/gtest.h"
#include "pg.hpp"
#include "tcp_proxy.hpp"

namespace readthru::backend::postgres::testing {

using namespace std::chrono_literals;
namespace asio = boost::asio;

using readthru::testing::kPgDsn;
using readthru::testing::kPgPort;
using readthru::testing::Pg;
using readthru::testing::TcpProxy;

// A table name no other test process uses.
inline std::string uniqueName(const std::string& base) {
  return base + "_" + std::to_string(::getpid());
}

struct PoolOptions {
  std::string dsn = kPgDsn;
  bool via_proxy = false;  // connect through a TcpProxy (Harness::proxy) instead of `dsn`
  int connections = 1;
  int max_inflight = 256;
  int max_waiting = 256;
  Millis statement_timeout{5000};
  std::shared_ptr<DatabaseBreaker> breaker = nullptr;
  Millis connect_timeout{2000};
};

// A started Pool on its own io_context, and what it reported through on_prepared.
// Destroying it drops the pool without running the loop again.
class Harness {
 public:
  explicit Harness(std::vector<std::string> statements, PoolOptions o = {})
      : prepared(statements.size()) {
    config::PostgresConfig cfg;
    cfg.enabled = true;
    cfg.dsn = o.dsn;
    if (o.via_proxy) {
      proxy = std::make_unique<TcpProxy>(kPgPort);
      cfg.dsn = "host=127.0.0.1 port=" + std::to_string(proxy->port()) + " dbname=app user=app";
    }
    cfg.statement_timeout = o.statement_timeout;
    cfg.connect_timeout = o.connect_timeout;
    pool = std::make_unique<Pool>(
        io, cfg, Pool::Share{o.connections, o.max_inflight, o.max_waiting}, std::move(statements),
        [this](std::size_t i, Result<cache::StatementShape> shape) {
          ++prepared_calls;
          prepared[i] = std::move(shape);
        },
        o.breaker);
    pool->start();
  }

  // Runs the loop until `done()` or `limit` passes; returns done().
  bool runUntil(const std::function<bool()>& done, Millis limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
      io.run_for(5ms);
      if (io.stopped()) io.restart();
    }
    return done();
  }

  bool waitConnected(Millis limit = 10s) {
    return runUntil([this] { return pool->anyConnected(); }, limit);
  }

  std::uint64_t counter(const std::string& name) const { return counter(name, *pool); }
  std::uint64_t counter(const std::string& name, const metrics::Source& source) const {
    if (auto v = metrics::snapshotOf(source).info(name)) return static_cast<std::uint64_t>(*v);
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }

  // One query, run to its answer (nullopt if none came within `limit`).
  std::optional<Result<cache::RowSet>> run(std::size_t statement,
                                           std::vector<std::string> params = {},
                                           Millis limit = 10s) {
    // Shared: an answer that comes after `limit` must not write into a dead frame.
    auto out = std::make_shared<std::optional<Result<cache::RowSet>>>();
    pool->query(statement, std::move(params),
                [out](Result<cache::RowSet> r) { *out = std::move(r); });
    runUntil([&out] { return out->has_value(); }, limit);
    return *out;
  }

  // The first value of a one-row answer, or the error text prefixed with "error: ".
  std::string scalar(std::size_t statement, std::vector<std::string> params = {}) {
    auto r = run(statement, std::move(params));
    if (!r) return "no answer";
    if (!r->ok()) return "error: " + r->error().message;
    if ((*r)->rows.size() != 1 || (*r)->rows[0].empty() || !(*r)->rows[0][0]) return "no value";
    return *(*r)->rows[0][0];
  }

  asio::io_context io;              // declared first: outlives the pool
  std::unique_ptr<TcpProxy> proxy;  // with via_proxy; outlives the pool too
  std::vector<std::optional<Result<cache::StatementShape>>> prepared;
  int prepared_calls = 0;
  std::unique_ptr<Pool> pool;
};

}  // namespace readthru::backend::postgres::testing
