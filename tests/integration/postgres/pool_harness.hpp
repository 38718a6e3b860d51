#pragma once
// What the postgres pool tests share: a blocking admin connection to the stack's
// PostgreSQL (set-up and fault injection), a Pool on a real io_context driven until a
// condition holds, and a TCP relay that can stop relaying to play a hung server.

#include <libpq-fe.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/postgres/pool.hpp"
#include "gtest/gtest.h"

namespace readthru::backend::postgres::testing {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// The local stack's database (scripts/stack up).
inline constexpr const char* kDsn = "host=127.0.0.1 port=55432 dbname=app user=app";

// A table name no other test process uses.
inline std::string uniqueName(const std::string& base) {
  return base + "_" + std::to_string(::getpid());
}

// Blocking libpq, for the test's own work only.
class Admin {
 public:
  Admin() : conn_(PQconnectdb(kDsn)) {
    if (PQstatus(conn_) != CONNECTION_OK)
      ADD_FAILURE() << "admin connect: " << PQerrorMessage(conn_);
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);  // "does not exist, skipping"
  }
  ~Admin() { PQfinish(conn_); }
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // Runs `sql`; returns the first value of the first row, or "" if there is none.
  std::string exec(const std::string& sql) {
    PGresult* res = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(res);
    std::string out;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(res);
    } else if (PQntuples(res) > 0 && PQnfields(res) > 0) {
      out = PQgetvalue(res, 0, 0);
    }
    PQclear(res);
    return out;
  }

 private:
  PGconn* conn_;
};

// Relays TCP connections from an ephemeral port to the stack's PostgreSQL. freeze()
// swallows everything from then on in both directions (a server that hangs without
// closing); thaw() closes the frozen connections and relays new ones again.
class Relay {
 public:
  explicit Relay(asio::io_context& io)
      : io_(io), acceptor_(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    accept();
  }
  ~Relay() { thaw(); }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void freeze() { *frozen_ = true; }
  void thaw() {
    *frozen_ = false;
    for (auto& weak : pipes_) {
      if (auto pipe = weak.lock(); pipe && pipe->frozen_seen) pipe->close();
    }
  }

 private:
  struct Pipe {
    explicit Pipe(asio::io_context& io) : client(io), server(io) {}
    void close() {
      boost::system::error_code ignored;
      client.close(ignored);
      server.close(ignored);
    }
    asio::ip::tcp::socket client, server;
    bool frozen_seen = false;
  };
  using Buffer = std::array<char, 8192>;

  void accept() {
    auto pipe = std::make_shared<Pipe>(io_);
    acceptor_.async_accept(pipe->client, [this, pipe](boost::system::error_code ec) {
      if (ec) return;
      pipe->frozen_seen = *frozen_;
      pipes_.push_back(pipe);
      pipe->server.async_connect(
          asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 55432),
          [this, pipe](boost::system::error_code ec) {
            if (ec) return pipe->close();
            pump(pipe, pipe->client, pipe->server);
            pump(pipe, pipe->server, pipe->client);
          });
      accept();
    });
  }

  void pump(std::shared_ptr<Pipe> pipe, asio::ip::tcp::socket& from, asio::ip::tcp::socket& to) {
    auto buf = std::make_shared<Buffer>();
    from.async_read_some(asio::buffer(*buf), [this, pipe, buf, &from, &to](
                                                 boost::system::error_code ec, std::size_t n) {
      if (ec) return pipe->close();
      if (*frozen_) {
        pipe->frozen_seen = true;
        return pump(pipe, from, to);  // swallowed
      }
      asio::async_write(to, asio::buffer(*buf, n),
                        [this, pipe, buf, &from, &to](boost::system::error_code ec, std::size_t) {
                          if (ec) return pipe->close();
                          pump(pipe, from, to);
                        });
    });
  }

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<bool> frozen_ = std::make_shared<bool>(false);
  std::vector<std::weak_ptr<Pipe>> pipes_;
};

struct PoolOptions {
  std::string dsn = kDsn;
  bool via_relay = false;  // connect through a Relay (Harness::relay) instead of `dsn`
  int connections = 1;
  int max_inflight = 256;
  Millis statement_timeout{5000};
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
    if (o.via_relay) {
      relay = std::make_unique<Relay>(io);
      cfg.dsn = "host=127.0.0.1 port=" + std::to_string(relay->port()) + " dbname=app user=app";
    }
    cfg.statement_timeout = o.statement_timeout;
    cfg.connect_timeout = o.connect_timeout;
    pool = std::make_unique<Pool>(io, cfg, o.connections, o.max_inflight, std::move(statements),
                                  [this](std::size_t i, Result<cache::StatementShape> shape) {
                                    ++prepared_calls;
                                    prepared[i] = std::move(shape);
                                  });
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

  std::uint64_t counter(const std::string& name) const {
    for (const auto& c : pool->counters()) {
      if (c.name == name) return c.value;
    }
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

  asio::io_context io;           // declared first: outlives the pool
  std::unique_ptr<Relay> relay;  // with via_relay; outlives the pool too
  std::vector<std::optional<Result<cache::StatementShape>>> prepared;
  int prepared_calls = 0;
  std::unique_ptr<Pool> pool;
};

}  // namespace readthru::backend::postgres::testing
