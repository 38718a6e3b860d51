#pragma once
// The RESP listener. One acceptor hands new connections to the io threads in turn; each
// connection then lives on its thread with that thread's Dispatcher and backend.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "cache/backend.hpp"
#include "common/outage.hpp"
#include "server/context.hpp"
#include "server/dispatcher.hpp"

namespace readthru::server {

class Server {
 public:
  // `ios[i]` and `backends[i]` belong to io thread i; ios[0] also runs the acceptor.
  // `ctx.stats` and `ctx.sessions` hold one entry per io thread.
  Server(ServerContext& ctx, std::vector<boost::asio::io_context*> ios,
         std::vector<cache::Backend*> backends, std::vector<cache::ReadThrough*> read_throughs);

  // Binds and starts accepting. Throws std::system_error when the address cannot be bound
  // (a start-up error, reported with the address).
  void listen();
  // Closes the listener: new connections are refused. On io thread 0.
  void stopAccepting();
  std::uint16_t port() const { return bound_port_; }

  // The graceful half of a stop, called on io thread 0: stops accepting, then every
  // client connection on every io thread stops reading, is answered what it had asked and
  // closes (Session::drain). `done` runs on io thread 0 once none is open.
  void drain(std::function<void()> done);
  // Closes every client connection still open, on every io thread; `done` runs on io
  // thread 0 with what they still owed. Called on io thread 0.
  void closeClients(std::function<void(DrainCut)> done);

 private:
  void accept();
  void acceptFailed(const boost::system::error_code& ec);
  void accepted(std::size_t thread, boost::asio::ip::tcp::socket socket);

  ServerContext& ctx_;
  std::vector<boost::asio::io_context*> ios_;
  std::vector<std::unique_ptr<Dispatcher>> dispatchers_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Outage accept_errors_;  // EMFILE and the like: a line when they start and when they end
  std::size_t next_thread_ = 0;
  std::uint16_t bound_port_ = 0;
};

}  // namespace readthru::server
