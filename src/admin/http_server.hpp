#pragma once
// The admin port's HTTP/1.1 server (Boost.Beast), on one io thread. Requests are small
// and answered at once (routes.hpp); a connection that sends a body over 4 KiB, headers
// over 8 KiB, or stays silent for 10 s is closed. Keep-alive is honoured, so a
// Prometheus scraper keeps one connection.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "admin/routes.hpp"
#include "config/config.hpp"

namespace readthru::admin {

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const config::AdminConfig& cfg, Handlers handlers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Throws std::system_error when the address cannot be bound.
  void listen();
  // Stops accepting; connections being answered finish. On the server's thread.
  void stop();

 private:
  void accept();

  boost::asio::io_context& io_;
  config::AdminConfig cfg_;
  std::shared_ptr<const Handlers> handlers_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace readthru::admin
