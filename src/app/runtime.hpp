#pragma once
// Everything readthru runs, built from a validated Config: the io threads, each with its
// own backend Router, database Pool and ReadThrough; the invalidation inputs on thread 0
// (stream consumer, CDC applier); and the server. Built once at start; a reload installs
// new keyspace rules and database pools on every thread (installRules). Stopping is in
// steps, so that the drain can keep the backends running while clients are answered:
// stopInputs(), then the server's drain, then stopThreads().

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "cache/gutter.hpp"
#include "cache/keyspace_rules.hpp"
#include "config/config.hpp"
#include "server/context.hpp"
#include "tls/context.hpp"

namespace readthru::backend::redis {
class BreakerTable;
class Router;
}  // namespace readthru::backend::redis
namespace readthru::backend::postgres {
class Pool;
class DatabaseBreaker;
}  // namespace readthru::backend::postgres
namespace readthru::cache {
class CdcApplier;
class DoctorProbe;
class ReadThrough;
class Warmer;
class SingleFlight;
class StreamConsumer;
}  // namespace readthru::cache
namespace readthru::server {
class Server;
}

namespace readthru::app {

class PreparedTarget;

class Runtime {
 public:
  // `rules` is null without keyspaces. Builds everything; starts nothing.
  // `tls`: the contexts built from the config at start (tls::contexts), null where off.
  Runtime(const config::Config& cfg, std::shared_ptr<cache::KeyspaceRules> rules,
          tls::Contexts tls = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Binds the listener. Throws std::system_error when the address cannot be bound.
  void listen();
  // Posts the start of routers, pools and inputs to their threads (they begin in run()).
  void start();
  // Runs every io thread, the calling one as thread 0, until stopThreads() stops them.
  void run();
  // On thread 0: `done` runs on thread 0 once every io thread has run a handler posted
  // now, i.e. no io loop is stuck. For the service manager's watchdog.
  void probeThreads(std::function<void()> done);
  // Before start(): `listener` runs on thread 0 with an io thread's index and the number
  // of nodes in its slot map, when its first map is known and when that number changes.
  void onTopology(std::function<void(std::size_t thread, std::size_t nodes)> listener);

  // On thread 0, once io thread 0 first knows the slot map: logs the doctor's report and
  // starts the warm-ups of keyspaces with warm.on_start (their lease needs Redis).
  void backendKnown();

  // On thread 0: stops the stream consumer and the CDC applier, at the start of a drain:
  // a leader's lease then runs out while this instance drains, and another takes over.
  void stopInputs();
  // On thread 0: each thread stops its router and pool, then its io loop; run() returns.
  void stopThreads();

  // On thread 0, for a reload: every io thread serves new requests with `rules` from now
  // on (requests under way finish under the rules they began with). With `new_pools`, or
  // when the statements differ from the running ones, each thread gets new database
  // pools built with `pg`; otherwise the pools stay. `done` runs on thread 0 once every
  // thread has switched. Only when hasKeyspaces().
  void installRules(std::shared_ptr<cache::KeyspaceRules> rules, const config::PostgresConfig& pg,
                    bool new_pools, std::function<void()> done);
  // Whether readthru started with keyspaces (the read-through service exists).
  bool hasKeyspaces() const { return !read_throughs_.empty(); }
  // The rules running now (thread 0).
  const std::shared_ptr<cache::KeyspaceRules>& rules() const { return rules_; }

  boost::asio::io_context& mainIo() { return *ios_.front(); }
  server::Server& server() { return *server_; }
  server::ServerContext& context() { return ctx_; }

 private:
  void buildThread(int index, const config::Config& cfg);
  void buildInputs(const config::Config& cfg);
  // doctor_runtime.cpp: the doctor and the warmer, on thread 0, and their command hooks.
  void buildDoctorAndWarmer(const config::Config& cfg);
  // A pool for io thread `io` running `rules`' statements, with its share of `pg`'s
  // totals, reporting to `target`. Nothing connects before its start().
  std::shared_ptr<backend::postgres::Pool> makePool(boost::asio::io_context& io,
                                                    const config::PostgresConfig& pg,
                                                    const cache::KeyspaceRules& rules,
                                                    std::shared_ptr<PreparedTarget> target) const;

  std::shared_ptr<cache::KeyspaceRules> rules_;
  std::shared_ptr<const tls::ClientTls> backend_tls_;  // backend.tls, shared by every router
  // Where the pools report what the database said of each statement: the newest rules
  // with the same statements (pools outlive a reload that keeps the SQL).
  std::shared_ptr<PreparedTarget> prepared_;
  // Declared before the io contexts, destroyed after them: sessions still queued in an
  // io_context are destroyed with it, and they use the context (client count, session
  // lists) as they go.
  server::ServerContext ctx_;
  server::ContextGauges context_gauges_{ctx_};
  std::vector<std::unique_ptr<boost::asio::io_context>> ios_;
  std::unique_ptr<cache::SingleFlight> flights_;
  // Loads made while Redis is down, for the whole process (cache/gutter.hpp).
  std::unique_ptr<cache::Gutter> gutter_;
  // One circuit breaker per Redis node for the whole process, shared by every router.
  std::shared_ptr<backend::redis::BreakerTable> breakers_;
  std::vector<std::unique_ptr<backend::redis::Router>> routers_;
  // One circuit breaker for the database, shared by every pool, old and new.
  std::shared_ptr<backend::postgres::DatabaseBreaker> db_breaker_;
  // The first pools, until start() starts them; then only the ReadThroughs hold pools.
  std::vector<std::shared_ptr<backend::postgres::Pool>> pools_;
  std::vector<std::unique_ptr<cache::ReadThrough>> read_throughs_;
  std::unique_ptr<cache::StreamConsumer> stream_consumer_;
  std::unique_ptr<cache::CdcApplier> cdc_;
  std::unique_ptr<cache::DoctorProbe> doctor_;
  std::unique_ptr<cache::Warmer> warmer_;   // with keyspaces
  std::unique_ptr<server::Server> server_;  // destroyed first
};

}  // namespace readthru::app
