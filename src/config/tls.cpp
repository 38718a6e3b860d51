// The TLS settings: listen.tls, backend.tls, and postgres.ssl*. Only their shape is checked
// here; the files are read when the TLS contexts are built (tls/context.hpp), at start and
// on every reload, so that an error names the file and OpenSSL's reason.

#include <array>

#include "config/reader.hpp"

namespace readthru::config {

void readListenTls(const Reader& r, const YAML::Node& node, ListenTlsConfig& out) {
  r.requireMap(node, "listen.tls");
  r.allowOnly(node, "listen.tls",
              {"cert", "key", "ca", "require_client_cert", "handshake_timeout"});
  out.enabled = true;
  if (!node["cert"]) r.fail(node, "listen.tls.cert", "is required (a PEM certificate file)");
  if (!node["key"]) r.fail(node, "listen.tls.key", "is required (a PEM private key file)");
  out.cert = r.scalar(node["cert"], "listen.tls.cert");
  out.key = r.scalar(node["key"], "listen.tls.key");
  if (auto n = node["ca"]) out.ca = r.scalar(n, "listen.tls.ca");
  if (auto n = node["require_client_cert"]) {
    out.require_client_cert = r.boolean(n, "listen.tls.require_client_cert");
    if (out.require_client_cert && out.ca.empty()) {
      r.fail(n, "listen.tls.require_client_cert", "needs listen.tls.ca (the clients' CA)");
    }
  }
  if (auto n = node["handshake_timeout"]) {
    out.handshake_timeout = r.duration(n, "listen.tls.handshake_timeout");
    if (out.handshake_timeout.count() == 0) {
      r.fail(n, "listen.tls.handshake_timeout", "must be more than 0");
    }
  }
}

void readBackendTls(const Reader& r, const YAML::Node& node, BackendTlsConfig& out) {
  r.requireMap(node, "backend.tls");
  r.allowOnly(node, "backend.tls", {"ca", "cert", "key", "server_name", "verify"});
  out.enabled = true;
  if (auto n = node["ca"]) out.ca = r.scalar(n, "backend.tls.ca");
  if (auto n = node["cert"]) out.cert = r.scalar(n, "backend.tls.cert");
  if (auto n = node["key"]) out.key = r.scalar(n, "backend.tls.key");
  if (out.cert.empty() != out.key.empty()) {
    r.fail(node, out.cert.empty() ? "backend.tls.cert" : "backend.tls.key",
           "cert and key go together (a client certificate and its key)");
  }
  if (auto n = node["server_name"]) out.server_name = r.scalar(n, "backend.tls.server_name");
  if (auto n = node["verify"]) out.verify = r.boolean(n, "backend.tls.verify");
}

// postgres.sslmode, sslrootcert, sslcert, sslkey: libpq's own keywords and values.
void readPostgresTls(const Reader& r, const YAML::Node& node, PostgresTlsConfig& out) {
  if (auto n = node["sslmode"]) {
    out.sslmode = r.scalar(n, "postgres.sslmode");
    constexpr std::array<std::string_view, 6> kModes{"disable", "allow",     "prefer",
                                                     "require", "verify-ca", "verify-full"};
    bool known = false;
    for (auto m : kModes) known = known || out.sslmode == m;
    if (!known) {
      r.fail(n, "postgres.sslmode",
             "must be disable, allow, prefer, require, verify-ca or verify-full, got '" +
                 out.sslmode + "'");
    }
  }
  if (auto n = node["sslrootcert"]) out.sslrootcert = r.scalar(n, "postgres.sslrootcert");
  if (auto n = node["sslcert"]) out.sslcert = r.scalar(n, "postgres.sslcert");
  if (auto n = node["sslkey"]) out.sslkey = r.scalar(n, "postgres.sslkey");
}

}  // namespace readthru::config
