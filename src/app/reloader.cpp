#include "app/reloader.hpp"

#include <boost/asio/post.hpp>

#include "app/drain.hpp"
#include "app/runtime.hpp"
#include "app/service_state.hpp"
#include "app/startup_checks.hpp"
#include "auth/users.hpp"
#include "common/log.hpp"

namespace readthru::app {

Reloader::Reloader(Runtime& runtime, Drain& drain, ServiceState& service, config::Config running)
    : runtime_(runtime), drain_(drain), service_(service), running_(std::move(running)) {}

Reloader::~Reloader() {
  if (worker_.joinable()) worker_.join();
}

void Reloader::request(Done done) {
  next_.push_back(std::move(done));
  if (!busy_) begin();
}

void Reloader::begin() {
  busy_ = true;
  service_.onReloadStarted();
  current_ = std::exchange(next_, {});
  // The worker before has posted its outcome already: joining it does not wait.
  if (worker_.joinable()) worker_.join();
  worker_ = std::thread([this, running = running_, &io = runtime_.mainIo()] {
    Outcome out = prepare(running);
    // Not run when readthru stops first: the io_context drops it, and ~Reloader joined us.
    boost::asio::post(io, [this, out = std::move(out)]() mutable {
      if (!out.prepared) {
        spdlog::error("reload rejected: {}", out.error);
        finish(out.error);
        return;
      }
      apply(std::move(*out.prepared));
    });
  });
}

// Step 1, off the io threads. The file is read and checked exactly as at start; new rules
// are checked against the database that runs (postgres.dsn needs a restart).
Reloader::Outcome Reloader::prepare(const config::Config& running) {
  Prepared p;
  try {
    p.next = config::loadFile(running.path);
  } catch (const config::ConfigError& e) {
    return {std::nullopt, e.what()};
  }
  p.diff = config::diff(running, p.next);
  if (auto users = auth::UserTable::build(p.next.auth); !users) {
    return {std::nullopt, users.error().message};
  }
  // Every reload re-reads the certificate and key, changed names or not: renewing them in
  // place and sending SIGHUP is how they are rotated. One that cannot be used rejects the
  // reload, and the running context keeps serving.
  if (running.listen.tls.enabled && p.next.listen.tls.enabled) {
    auto built = tls::serverContext(p.next.listen.tls);
    if (!built) return {std::nullopt, built.error().message};
    p.listen_tls = std::move(*built);
  }
  if (!p.diff.keyspacesChanged()) return {std::move(p), ""};
  auto built = cache::KeyspaceRules::build(p.next.keyspaces);
  if (!built) return {std::nullopt, built.error().message};
  p.rules = *built;
  if (running.postgres.enabled && !p.rules->empty()) {
    config::PostgresConfig pg = p.next.postgres;
    pg.dsn = running.postgres.dsn;
    pg.password = running.postgres.password;
    pg.tls = running.postgres.tls;
    const RulesCheck check = checkRules(pg, *p.rules);
    if (!check.failures.empty()) return {std::nullopt, config::joinNames(check.failures)};
    if (!check.reached) {
      spdlog::warn(
          "reload: postgres not reachable; the new keyspaces are checked when it connects");
    }
  }
  return {std::move(p), ""};
}

// Step 2, on io thread 0.
void Reloader::apply(Prepared p) {
  config::ConfigDiff& d = p.diff;
  if (d.keyspacesChanged() && !runtime_.hasKeyspaces()) {
    // No read-through service runs (no pools, no ReadThrough) to install them into.
    d.restart.emplace_back("keyspaces (readthru started without any)");
    d.added.clear();
    d.removed.clear();
    d.changed.clear();
    p.next.keyspaces = running_.keyspaces;
    p.rules = nullptr;
  }
  for (const std::string& name : d.restart) {
    spdlog::warn("reload: {} changed but needs a restart; left as it is", name);
  }
  config::Config next = config::keepRestartOnly(running_, std::move(p.next));
  runtime_.context().limits.set(next.listen);
  runtime_.context().auth.configure(next.auth);  // compiled in prepare(): cannot fail here
  if (p.listen_tls) {
    spdlog::info("reload: listen.tls: new connections get certificate {}",
                 tls::describeCertificate(*p.listen_tls));
    runtime_.context().tls = std::move(p.listen_tls);  // on io thread 0, as the acceptor
  }
  drain_.setTimeout(next.listen.drain_timeout);
  runtime_.context().slow_log.configure(next.log);
  auto done = [this, d, next]() mutable {
    spdlog::info("reload: {}", summary(d));
    // Last: the line above is logged at the old level and format.
    setupLogging(next.log.level, next.log.format);
    running_ = std::move(next);
    finish("");
  };
  if (!runtime_.hasKeyspaces() || (!d.keyspacesChanged() && !d.new_pools)) {
    done();
    return;
  }
  auto rules = p.rules ? std::move(p.rules) : runtime_.rules();
  runtime_.installRules(std::move(rules), next.postgres, d.new_pools, std::move(done));
}

// Step 3.
void Reloader::finish(const std::string& error) {
  std::vector<Done> answered = std::exchange(current_, {});
  busy_ = false;
  service_.onReloadFinished(error, running_.keyspaces.size());
  for (Done& done : answered) done(error);
  if (!next_.empty()) begin();
}

std::string Reloader::summary(const config::ConfigDiff& d) {
  std::string out;
  auto part = [&out](const std::string& text) {
    if (!out.empty()) out += "; ";
    out += text;
  };
  if (d.keyspacesChanged()) {
    part("keyspaces added [" + config::joinNames(d.added) + "], removed [" +
         config::joinNames(d.removed) + "], changed [" + config::joinNames(d.changed) + "]");
  }
  if (!d.applied.empty()) part("applied " + config::joinNames(d.applied));
  if (!d.restart.empty()) part("left for a restart " + config::joinNames(d.restart));
  return out.empty() ? "nothing changed" : out;
}

}  // namespace readthru::app
