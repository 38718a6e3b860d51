#pragma once
// A small blocking RESP client for integration tests: plain POSIX sockets, replies parsed
// with readthru's own ReplyReader. Every wait has a deadline; failures throw.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backend/redis/reply_reader.hpp"
#include "resp/value.hpp"

namespace readthru::testing {

class Client {
 public:
  explicit Client(std::uint16_t port, const std::string& host = "127.0.0.1");
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one command and returns its reply.
  resp::Value call(const std::vector<std::string>& args);
  // Sends bytes as they are (pipelines, inline commands, malformed input).
  void sendRaw(std::string_view bytes);
  void send(const std::vector<std::string>& args);
  // The next reply; throws on timeout or when the server closes.
  resp::Value read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True when the server closes the connection within `timeout` (data before it is
  // discarded).
  bool closedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  int fd_ = -1;
  backend::redis::ReplyReader reader_;
};

// Convenience for assertions: the reply as text ("OK", "bar", "(nil)", "(integer) 3",
// "(error) ERR ...", arrays as "[a, b]").
std::string show(const resp::Value& v);

}  // namespace readthru::testing
