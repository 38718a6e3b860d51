#include "app/application.hpp"

#include <sys/resource.h>

#include <boost/asio/post.hpp>
#include <memory>

#include "admin/http_server.hpp"
#include "admin/status_page.hpp"
#include "app/drain.hpp"
#include "app/reloader.hpp"
#include "app/runtime.hpp"
#include "app/service_state.hpp"
#include "app/signals.hpp"
#include "app/startup_checks.hpp"
#include "auth/users.hpp"
#include "cache/keyspace_rules.hpp"
#include "common/log.hpp"
#include "metrics/render.hpp"
#include "tls/context.hpp"

namespace readthru::app {
namespace {

// Every client and every backend connection is a file descriptor: take the whole hard
// limit, as Redis does for maxclients, instead of the 1,024 a shell often starts with.
void raiseFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// What the admin port answers, from the metrics every part of readthru counts into.
admin::Handlers adminHandlers(Runtime& runtime, const config::Config& cfg) {
  server::ServerContext& ctx = runtime.context();
  const admin::ReadinessInputs inputs{static_cast<std::size_t>(cfg.listen.threads),
                                      !cfg.keyspaces.empty(), false};
  auto readiness = [&ctx, inputs](const metrics::Snapshot& snap) {
    admin::ReadinessInputs now = inputs;
    now.draining = ctx.draining.load(std::memory_order_relaxed);
    return admin::judgeReadiness(snap, now);
  };
  admin::Handlers h;
  h.metrics = [&ctx] { return metrics::renderPrometheus(ctx.metrics.snapshot()); };
  h.readiness = [&ctx, readiness] { return readiness(ctx.metrics.snapshot()); };
  h.status_page = [&ctx, readiness, listen = cfg.listen] {
    const metrics::Snapshot snap = ctx.metrics.snapshot();
    admin::PageHeader header;
    header.version = READTHRU_VERSION;
    header.listen = listen.address + ":" + std::to_string(listen.port);
    header.uptime_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now() - ctx.started)
                                .count();
    header.readiness = readiness(snap);
    return admin::renderStatusPage(snap, header);
  };
  return h;
}

}  // namespace

Application::Application(config::Config cfg) : cfg_(std::move(cfg)) {}

std::optional<std::string> Application::check(const config::Config& cfg) {
  auto built = cache::KeyspaceRules::build(cfg.keyspaces);
  if (!built) return built.error().message;
  auto users = auth::UserTable::build(cfg.auth);
  if (!users) return users.error().message;
  return std::nullopt;
}

int Application::run() {
  raiseFileLimit();
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

  // The TLS files are read now: one that cannot be used stops readthru, named with
  // OpenSSL's reason.
  auto contexts = tls::contexts(cfg_);
  if (!contexts) {
    spdlog::critical("{}", contexts.error().message);
    return 2;
  }
  if (contexts->listen) {
    spdlog::info("listen.tls: serving certificate {}", tls::describeCertificate(*contexts->listen));
  }
  if (contexts->backend && !contexts->backend->verify) {
    spdlog::warn("backend.tls.verify is off: Redis's certificates are not checked");
  }
  Runtime runtime(cfg_, rules, *contexts);
  try {
    runtime.listen();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen on {}:{}: {}", cfg_.listen.address, cfg_.listen.port, e.what());
    return 1;
  }
  std::optional<admin::HttpServer> admin_port;
  if (cfg_.admin.enabled) {
    admin_port.emplace(runtime.mainIo(), cfg_.admin, adminHandlers(runtime, cfg_));
    try {
      admin_port->listen();
    } catch (const std::exception& e) {
      spdlog::critical("cannot listen on {}:{} (admin): {}", cfg_.admin.address, cfg_.admin.port,
                       e.what());
      return 1;
    }
  }
  spdlog::info("readthru {} started: backend {} via {}, {} keyspace(s)", READTHRU_VERSION,
               config::modeName(cfg_.backend.mode), cfg_.backend.seeds.front().str(),
               cfg_.keyspaces.size());
  // All four live on io thread 0 and are destroyed before the runtime's io contexts.
  ServiceState service(
      runtime.mainIo(), static_cast<std::size_t>(cfg_.listen.threads), cfg_.keyspaces.size(),
      [&runtime](std::function<void()> done) { runtime.probeThreads(std::move(done)); });
  runtime.onTopology(
      [&service, &runtime, known = false](std::size_t thread, std::size_t nodes) mutable {
        service.onTopology(thread, nodes);
        if (thread == 0 && !known) {  // the doctor and the warm-ups use thread 0's router
          known = true;
          runtime.backendKnown();
        }
      });
  runtime.start();
  service.start();

  Drain drain(runtime, service, cfg_.listen.drain_timeout);
  Reloader reloader(runtime, drain, service, cfg_);
  // READTHRU.RELOAD, from any io thread: the reload runs on thread 0, the answer goes
  // back to the asking connection's thread.
  runtime.context().reload = [&reloader, &main = runtime.mainIo()](
                                 boost::asio::io_context& reply_on,
                                 std::function<void(std::string)> done) {
    boost::asio::post(main, [&reloader, &reply_on, done = std::move(done)]() mutable {
      reloader.request([&reply_on, done = std::move(done)](const std::string& error) {
        boost::asio::post(reply_on, [done, error] { done(error); });
      });
    });
  };
  const std::string path = cfg_.path;
  Signals signals(runtime.mainIo(), {.stop = [&drain](int signal) { drain.onSignal(signal); },
                                     .reload =
                                         [&reloader, path] {
                                           spdlog::info("SIGHUP: reloading {}", path);
                                           reloader.request([](const std::string&) {});
                                         }});
  runtime.run();
  spdlog::info("stopped");
  return drain.exitCode();
}

}  // namespace readthru::app
