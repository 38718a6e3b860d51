#pragma once
// A TCP connection that is plain or TLS, chosen when it is made, behind one set of calls,
// so that the code driving it (server::Session, the backend connections) has one path.
//
// Cost: a std::variant visited per operation. The plain case is the socket itself: no
// allocation, no virtual call, no TLS layer. The TLS case holds the context it was made
// with, so a reload that installs a new context leaves this connection's alone.
//
// Lifetime: asio's TLS stream must outlive its pending operations (their continuations
// use its engine). Owners either outlive every handler (each holds the owner), or hold
// the Stream by shared_ptr and let each handler hold it too.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <utility>
#include <variant>

namespace readthru::tls {

class Stream {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using TlsSocket = boost::asio::ssl::stream<Socket>;

  explicit Stream(Socket socket) : stream_(std::in_place_type<Socket>, std::move(socket)) {}
  // TLS over `socket` (connected or not yet), with `context` (never null).
  Stream(Socket socket, std::shared_ptr<boost::asio::ssl::context> context)
      : context_(std::move(context)),
        stream_(std::in_place_type<TlsSocket>, std::move(socket), *context_) {}

  bool isTls() const { return std::holds_alternative<TlsSocket>(stream_); }
  // The TLS layer, or null for a plain stream (for the handshake and its settings).
  TlsSocket* tls() { return std::get_if<TlsSocket>(&stream_); }

  // The TCP socket underneath (connect, options, endpoints, close).
  Socket& socket() {
    if (auto* t = tls()) return t->next_layer();
    return std::get<Socket>(stream_);
  }
  Socket::executor_type get_executor() { return socket().get_executor(); }

  // As the socket's async_read_some / asio::async_write, through TLS when it is on.
  template <class Buffers, class Handler>
  void asyncReadSome(const Buffers& buffers, Handler&& handler) {
    std::visit([&](auto& s) { s.async_read_some(buffers, std::forward<Handler>(handler)); },
               stream_);
  }
  template <class Buffers, class Handler>
  void asyncWrite(const Buffers& buffers, Handler&& handler) {
    std::visit(
        [&](auto& s) { boost::asio::async_write(s, buffers, std::forward<Handler>(handler)); },
        stream_);
  }

  // Closes the socket; pending operations complete with operation_aborted. No TLS
  // close_notify is sent: that would be one more wait on a peer that may never answer.
  void close() {
    boost::system::error_code ignored;
    socket().shutdown(Socket::shutdown_both, ignored);
    socket().close(ignored);
  }

 private:
  std::shared_ptr<boost::asio::ssl::context> context_;  // before stream_: its SSL uses it
  std::variant<Socket, TlsSocket> stream_;
};

// Whether a read error only means the peer is done sending: a clean end, or (TLS) the
// peer closed the TCP connection without close_notify, as most Redis clients do.
inline bool isEndOfStream(const boost::system::error_code& ec) {
  return ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated;
}

}  // namespace readthru::tls
