#include "server/refusal.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string_view>

namespace readthru::server {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";

// Owns the stream and the handshake's deadline until the error is written: every handler
// holds it (the TLS stream must outlive its operations).
struct Refusal : std::enable_shared_from_this<Refusal> {
  Refusal(tls::Stream s) : stream(std::move(s)), deadline(stream.get_executor()) {}

  void writeAndClose() {
    stream.asyncWrite(asio::buffer(kFull.data(), kFull.size()),
                      [self = shared_from_this()](boost::system::error_code, std::size_t) {
                        self->stream.close();
                      });
  }

  tls::Stream stream;
  asio::steady_timer deadline;
};

}  // namespace

void refuseClient(tls::Stream stream, std::chrono::milliseconds handshake_limit) {
  auto refusal = std::make_shared<Refusal>(std::move(stream));
  auto* tls = refusal->stream.tls();
  if (tls == nullptr) {
    refusal->writeAndClose();
    return;
  }
  refusal->deadline.expires_after(handshake_limit);
  refusal->deadline.async_wait([refusal](boost::system::error_code ec) {
    if (!ec) refusal->stream.close();  // the handshake completes with an error
  });
  tls->async_handshake(asio::ssl::stream_base::server, [refusal](boost::system::error_code ec) {
    refusal->deadline.cancel();
    if (ec) {
      refusal->stream.close();
      return;
    }
    refusal->writeAndClose();
  });
}

}  // namespace readthru::server
