#pragma once
// A tiny blocking HTTP/1.1 client for the admin port (and Prometheus's API): one request
// per connection, Connection: close, a deadline on every step. Throws nothing: a failure
// comes back as status 0 with the reason in `body`.

#include <cstdint>
#include <string>

namespace readthru::testing {

struct HttpReply {
  int status = 0;
  std::string headers;  // the header block, lines as sent
  std::string body;
};

HttpReply httpRequest(std::uint16_t port, const std::string& method, const std::string& target);
inline HttpReply httpGet(std::uint16_t port, const std::string& target) {
  return httpRequest(port, "GET", target);
}

// Runs `command` with `input` on its standard input; returns its exit status and output
// (stdout and stderr), for handing /metrics to Python's Prometheus parser.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult runWithInput(const std::string& command, const std::string& input);

}  // namespace readthru::testing
