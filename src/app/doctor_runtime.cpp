// Runtime: the cache-health doctor and the warm-ups, both on io thread 0 with its router
// (and ReadThrough), and the hooks READTHRU.DOCTOR and READTHRU.WARM reach them through.

#include <boost/asio/post.hpp>

#include "app/runtime.hpp"
#include "backend/postgres/simple_connection.hpp"
#include "backend/redis/router.hpp"
#include "cache/doctor_probe.hpp"
#include "cache/read_through.hpp"
#include "cache/warmer.hpp"
#include "common/log.hpp"

namespace readthru::app {
namespace asio = boost::asio;

namespace {

// A warm query reads many rows once, not one key: it gets more time than a load.
constexpr Millis kWarmStatementTimeout{60000};

// Runs `sql` on a session of its own (the pools hold prepared statements only), then
// closes it. The session's callbacks hold the holder, which holds the session: the cycle
// is broken once the answer is in, from a handler of its own (not inside libpq's callback).
cache::Warmer::QueryRunner warmQueries(asio::io_context& io, const config::PostgresConfig& pg) {
  backend::postgres::SimpleConnection::Options o;
  o.dsn = pg.dsn;
  // The warm queries' own session: the same credentials and TLS as the loaders'.
  o.password = pg.password;
  o.tls = pg.tls;
  o.connect_timeout = pg.connect_timeout;
  o.statement_timeout = kWarmStatementTimeout;
  return [&io, o](const std::string& sql, std::function<void(Result<cache::RowSet>)> done) {
    struct Holder {
      std::shared_ptr<backend::postgres::SimpleConnection> conn;
      std::function<void(Result<cache::RowSet>)> done;
      void answer(Result<cache::RowSet> r, asio::io_context& io) {
        if (!done) return;
        auto d = std::move(done);
        done = nullptr;
        asio::post(io, [c = std::move(conn)] {
          if (c) c->close();
        });
        d(std::move(r));
      }
    };
    auto h = std::make_shared<Holder>();
    h->done = std::move(done);
    h->conn = std::make_shared<backend::postgres::SimpleConnection>(
        io, o, [h, &io](const std::string& reason) { h->answer(Error{reason}, io); });
    h->conn->connect([h, &io, sql] {
      h->conn->query(sql, [h, &io](Result<backend::postgres::SimpleConnection::Rows> rows) {
        if (!rows) {
          h->answer(rows.error(), io);
          return;
        }
        cache::RowSet set;
        set.rows = std::move(*rows);
        h->answer(std::move(set), io);
      });
    });
  };
}

// Runs `work` on thread 0 and its reply on `reply_on`.
template <class Work>
server::CommandHook onMainThread(asio::io_context& main, Work work) {
  return [&main, work](asio::io_context& reply_on, std::vector<std::string> args,
                       std::function<void(resp::Value)> done) {
    asio::post(main, [&reply_on, work, args = std::move(args), done = std::move(done)] {
      work(args, [&reply_on, done](resp::Value v) {
        asio::post(reply_on, [done, v = std::move(v)]() mutable { done(std::move(v)); });
      });
    });
  };
}

}  // namespace

void Runtime::buildDoctorAndWarmer(const config::Config& cfg) {
  auto keyspace_ttls = [this] {
    std::vector<cache::KeyspaceTtl> out;
    if (!rules_) return out;
    for (const auto& ks : rules_->keyspaces()) out.push_back({ks->name(), ks->cfg().ttl.count()});
    return out;
  };
  // Each node's own command timeout ends its questions first; this is the run's guard.
  doctor_ = std::make_unique<cache::DoctorProbe>(*ios_.front(), *routers_.front(), keyspace_ttls,
                                                 2 * cfg.backend.command_timeout);
  ctx_.doctor =
      onMainThread(mainIo(), [this](const std::vector<std::string>&, cache::ReplyCallback reply) {
        doctor_->run([reply](cache::DoctorProbe::Report r) { reply(resp::Value::bulk(r.text)); });
      });
  if (read_throughs_.empty()) return;
  cache::Warmer::Options wo;
  wo.instance = ctx_.run_id.substr(0, 16);
  warmer_ =
      std::make_unique<cache::Warmer>(*ios_.front(), *routers_.front(), *read_throughs_.front(),
                                      warmQueries(mainIo(), cfg.postgres), wo);
  ctx_.metrics.add(warmer_.get());
  ctx_.warm = onMainThread(
      mainIo(), [this](const std::vector<std::string>& args, cache::ReplyCallback reply) {
        warmer_->warm(rules_, args[1], std::move(reply));
      });
}

void Runtime::backendKnown() {
  doctor_->run([](cache::DoctorProbe::Report r) {
    // One line per finding, so that each is found by a grep of the log.
    for (const cache::Finding& f : r.findings) {
      const std::string line = (f.node.empty() ? "" : f.node + ": ") + f.text;
      if (f.severity == cache::Severity::kWarn) {
        spdlog::warn("doctor: {}", line);
      } else {
        spdlog::info("doctor: {}", line);
      }
    }
    spdlog::info("doctor: {} warning(s); READTHRU.DOCTOR shows the full report", r.warnings);
  });
  if (warmer_) warmer_->start(rules_);
}

}  // namespace readthru::app
