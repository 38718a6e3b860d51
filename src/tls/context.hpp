#pragma once
// The TLS contexts, built from the config's file names: one for the clients' listener
// (listen.tls) and one for the connections to Redis (backend.tls). Building reads the
// files now; an error names the setting, the file and OpenSSL's reason, never a key's
// bytes. Built at start (an error stops readthru) and, for the listener, by every reload
// (an error rejects the reload and the running context keeps serving).

#include <memory>
#include <string>

#include "common/result.hpp"
#include "config/config.hpp"
#include "tls/stream.hpp"

namespace readthru::tls {

using Context = boost::asio::ssl::context;

// TLS 1.2 or later. Client certificates: with require_client_cert, a client without one
// signed by `ca` fails its handshake; with only `ca`, one is asked for and checked if
// given.
Result<std::shared_ptr<Context>> serverContext(const config::ListenTlsConfig& cfg);

// "CN=readthru, serial 1A2B, expires Jan  1 00:00:00 2030 GMT" of the certificate a
// server context presents, for the log.
std::string describeCertificate(Context& context);

// backend.tls, shared (read-only) by every io thread's connections.
struct ClientTls {
  std::shared_ptr<Context> context;
  std::string server_name;  // empty: each node's host
  bool verify = true;
};
Result<std::shared_ptr<const ClientTls>> clientContext(const config::BackendTlsConfig& cfg);

// What the config asks for: null where it has no TLS (listen.tls, backend.tls).
struct Contexts {
  std::shared_ptr<Context> listen;
  std::shared_ptr<const ClientTls> backend;
};
Result<Contexts> contexts(const config::Config& cfg);

// Before the handshake of a new connection to `host`: SNI (for a name; never an IP
// address, RFC 6066) and, with verify, the check that the certificate names server_name,
// or else `host` (a DNS name or an IP address in its subjectAltName). An error only when
// OpenSSL cannot take the settings.
boost::system::error_code prepareClient(Stream::TlsSocket& stream, const ClientTls& tls,
                                        const std::string& host);

}  // namespace readthru::tls
