#include "server/server.hpp"

#include <boost/asio/post.hpp>

#include "common/log.hpp"
#include "server/refusal.hpp"
#include "server/session.hpp"
#include "tls/context.hpp"

namespace readthru::server {
namespace asio = boost::asio;
using asio::ip::tcp;

Server::Server(ServerContext& ctx, std::vector<asio::io_context*> ios,
               std::vector<cache::Backend*> backends,
               std::vector<cache::ReadThrough*> read_throughs)
    : ctx_(ctx), ios_(std::move(ios)), acceptor_(*ios_.front()) {
  read_throughs.resize(ios_.size(), nullptr);
  for (std::size_t i = 0; i < ios_.size(); ++i) {
    dispatchers_.push_back(std::make_unique<Dispatcher>(*ios_[i], ctx_, *ctx_.stats[i],
                                                        *backends[i], read_throughs[i]));
  }
}

void Server::listen() {
  const tcp::endpoint ep(asio::ip::make_address(ctx_.listen.address), ctx_.listen.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  bound_port_ = acceptor_.local_endpoint().port();
  spdlog::info("listening on {}:{}{} with {} io thread(s)", ctx_.listen.address, bound_port_,
               ctx_.tls ? " (TLS only)" : "", ios_.size());
  accept();
}

void Server::stopAccepting() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void Server::drain(std::function<void()> done) {
  stopAccepting();
  // Counted on thread 0 only: each thread posts back when its last session closes.
  auto left = std::make_shared<std::size_t>(ios_.size());
  for (std::size_t i = 0; i < ios_.size(); ++i) {
    asio::post(*ios_[i], [this, i, left, done] {
      ctx_.sessions[i]->drain([this, left, done] {
        asio::post(*ios_.front(), [left, done] {
          if (--*left == 0) done();
        });
      });
    });
  }
}

void Server::closeClients(std::function<void(DrainCut)> done) {
  stopAccepting();
  struct Tally {
    std::size_t left;
    DrainCut cut;
  };
  auto tally = std::make_shared<Tally>(Tally{ios_.size(), {}});
  for (std::size_t i = 0; i < ios_.size(); ++i) {
    asio::post(*ios_[i], [this, i, tally, done] {
      const DrainCut cut = ctx_.sessions[i]->closeAll();
      asio::post(*ios_.front(), [tally, done, cut] {
        tally->cut += cut;
        if (--tally->left == 0) done(tally->cut);
      });
    });
  }
}

void Server::accept() {
  const std::size_t thread = next_thread_++ % ios_.size();
  acceptor_.async_accept(*ios_[thread],
                         [this, thread](boost::system::error_code ec, tcp::socket socket) {
                           if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
                             return;  // stopAccepting()
                           }
                           if (ec) {
                             acceptFailed(ec);
                             return;
                           }
                           accepted(thread, std::move(socket));
                           accept();
                         });
}

// EMFILE and friends: keep serving the clients we have, try again shortly; one line when
// the failures start, a reminder while they last, one when they end.
void Server::acceptFailed(const boost::system::error_code& ec) {
  const auto now = Outage::Clock::now();
  switch (accept_errors_.failed(now)) {
    case Outage::Say::kDown:
      spdlog::warn("accept failed, retrying every 100 ms: {}", ec.message());
      break;
    case Outage::Say::kStillDown:
      spdlog::warn("accept still failing after {} attempt(s) in {} s: {}",
                   accept_errors_.failures(), accept_errors_.downFor(now).count() / 1000,
                   ec.message());
      break;
    default:
      break;
  }
  auto timer = std::make_shared<asio::steady_timer>(*ios_.front(), std::chrono::milliseconds(100));
  timer->async_wait([this, timer](boost::system::error_code) { accept(); });
}

void Server::accepted(std::size_t thread, tcp::socket socket) {
  if (const auto now = Outage::Clock::now(); accept_errors_.succeeded(now) == Outage::Say::kBack) {
    spdlog::info("accepting again after {} failed attempt(s) in {} ms", accept_errors_.failures(),
                 accept_errors_.downFor(now).count());
  }
  ThreadStats& acceptor_stats = *ctx_.stats.front();  // only this thread writes these two
  acceptor_stats.connections_received.add();
  // The TLS context as it is now: a reload that replaces it leaves this connection's alone.
  tls::Stream stream =
      ctx_.tls ? tls::Stream(std::move(socket), ctx_.tls) : tls::Stream(std::move(socket));
  const int max_clients = ctx_.limits.max_clients.load(std::memory_order_relaxed);
  if (ctx_.connected_clients.fetch_add(1, std::memory_order_relaxed) >= max_clients) {
    ctx_.connected_clients.fetch_sub(1, std::memory_order_relaxed);
    acceptor_stats.rejected_connections.add();
    refuseClient(std::move(stream),
                 std::chrono::milliseconds(
                     ctx_.limits.tls_handshake_timeout_ms.load(std::memory_order_relaxed)));
    return;
  }
  auto session = std::make_shared<Session>(std::move(stream), *dispatchers_[thread], ctx_,
                                           *ctx_.stats[thread], *ctx_.sessions[thread]);
  asio::post(*ios_[thread], [session] { session->start(); });
}

}  // namespace readthru::server
