#include "app/application.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "backend/redis/router.hpp"
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

}  // namespace

Application::Application(config::Config cfg) : cfg_(std::move(cfg)) {}

int Application::run() {
  const int threads = cfg_.listen.threads;
  // Declared first, destroyed last: sessions still queued in an io_context are destroyed
  // with it, and they use the context (client count) as they go.
  server::ServerContext ctx;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<std::unique_ptr<backend::redis::Router>> routers;
  // backend.connections_per_node is for the whole process; each io thread owns a share.
  const int per_thread = std::max(1, cfg_.backend.connections_per_node / threads);

  ctx.listen = cfg_.listen;
  ctx.backend_mode = cfg_.backend.mode;
  ctx.config_path = cfg_.path;
  ctx.run_id = randomHex40();
  ctx.node_id = randomHex40();
  std::vector<asio::io_context*> io_ptrs;
  std::vector<cache::Backend*> backend_ptrs;
  for (int i = 0; i < threads; ++i) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    routers.push_back(
        std::make_unique<backend::redis::Router>(*ios.back(), cfg_.backend, per_thread));
    ctx.stats.push_back(std::make_unique<server::ThreadStats>());
    ctx.backends.push_back(routers.back().get());
    io_ptrs.push_back(ios.back().get());
    backend_ptrs.push_back(routers.back().get());
  }

  server::Server srv(ctx, io_ptrs, backend_ptrs);
  try {
    srv.listen();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen on {}:{}: {}", cfg_.listen.address, cfg_.listen.port, e.what());
    return 1;
  }
  spdlog::info("readthru {} started: backend {} via {}", READTHRU_VERSION,
               config::modeName(cfg_.backend.mode), cfg_.backend.seeds.front().str());

  for (int i = 0; i < threads; ++i) {
    asio::post(*ios[i], [r = routers[i].get()] { r->start(); });
  }

  asio::signal_set signals(*ios.front(), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    srv.stopAccepting();
    for (int i = 0; i < threads; ++i) {
      asio::post(*ios[i], [r = routers[i].get(), io = ios[i].get()] {
        r->stop();
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
