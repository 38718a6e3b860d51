#include "admin/http_server.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

#include "common/log.hpp"

namespace readthru::admin {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kIdle = std::chrono::seconds(10);
constexpr std::uint64_t kBodyLimit = 4096;
constexpr std::uint32_t kHeaderLimit = 8192;

// One client connection: read a request, answer it, again while it keeps the connection.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<const Handlers> handlers)
      : stream_(std::move(socket)), handlers_(std::move(handlers)) {}

  void read() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(kIdle);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onRead(ec); });
  }

 private:
  void onRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    if (ec) return;  // timeout, reset, or a request over the limits: closed
    const auto& req = parser_->get();
    const Response r =
        route(std::string_view(req.method_string().data(), req.method_string().size()),
              std::string_view(req.target().data(), req.target().size()), *handlers_);
    response_.emplace(static_cast<http::status>(r.status), req.version());
    response_->set(http::field::server, "readthru");
    response_->set(http::field::content_type, r.content_type);
    response_->set(http::field::cache_control, "no-store");
    if (!r.allow.empty()) response_->set(http::field::allow, r.allow);
    response_->keep_alive(req.keep_alive());
    if (req.method() == http::verb::head) {
      response_->content_length(r.body.size());
    } else {
      response_->body() = r.body;
      response_->prepare_payload();
    }
    stream_.expires_after(kIdle);
    http::async_write(
        stream_, *response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onWrite(ec); });
  }

  void onWrite(beast::error_code ec) {
    if (ec) return;
    if (!response_->keep_alive()) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    read();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<const Handlers> handlers_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
};

}  // namespace

HttpServer::HttpServer(asio::io_context& io, const config::AdminConfig& cfg, Handlers handlers)
    : io_(io),
      cfg_(cfg),
      handlers_(std::make_shared<const Handlers>(std::move(handlers))),
      acceptor_(io) {}

HttpServer::~HttpServer() = default;

void HttpServer::listen() {
  const tcp::endpoint at(asio::ip::make_address(cfg_.address), cfg_.port);
  acceptor_.open(at.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(at);
  acceptor_.listen();
  spdlog::info("admin: http://{}:{}/ (/metrics, /healthz, /readyz)", cfg_.address, cfg_.port);
  accept();
}

void HttpServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void HttpServer::accept() {
  acceptor_.async_accept(io_, [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<Connection>(std::move(socket), handlers_)->read();
    accept();
  });
}

}  // namespace readthru::admin
