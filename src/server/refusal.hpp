#pragma once
// A client turned away at accept (max_clients reached) is told why before it is closed, as
// Redis does: "-ERR max number of clients reached". Over TLS that needs the handshake
// first, bounded by listen.tls.handshake_timeout so a refused client that never speaks
// holds its file descriptor no longer than an accepted one would.

#include <chrono>

#include "tls/stream.hpp"

namespace readthru::server {

void refuseClient(tls::Stream stream, std::chrono::milliseconds handshake_limit);

}  // namespace readthru::server
