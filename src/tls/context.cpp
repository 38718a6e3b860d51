#include "tls/context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <fstream>

namespace readthru::tls {
namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's reason, or for a missing file the plain one ("cannot read ..."), which
// OpenSSL words as "system lib".
Result<bool> readable(const std::string& setting, const std::string& path) {
  if (!std::ifstream(path).good()) return Error{setting + ": cannot read " + path};
  return true;
}

Error failed(const std::string& setting, const std::string& path,
             const boost::system::error_code& ec) {
  ERR_clear_error();
  return Error{setting + ": " + path + ": " + ec.message()};
}

std::shared_ptr<Context> baseContext(Context::method method) {
  auto ctx = std::make_shared<Context>(method);
  ctx->set_options(Context::default_workarounds | Context::no_sslv2 | Context::no_sslv3 |
                   Context::no_tlsv1 | Context::no_tlsv1_1);
  return ctx;
}

// A certificate (chain) and its key, which must match.
Result<bool> useCertificate(Context& ctx, const std::string& prefix, const std::string& cert,
                            const std::string& key) {
  boost::system::error_code ec;
  if (auto ok = readable(prefix + ".cert", cert); !ok) return ok.error();
  if (ctx.use_certificate_chain_file(cert, ec); ec) return failed(prefix + ".cert", cert, ec);
  if (auto ok = readable(prefix + ".key", key); !ok) return ok.error();
  if (ctx.use_private_key_file(key, Context::pem, ec); ec) return failed(prefix + ".key", key, ec);
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return Error{prefix + ".key: " + key + " is not the key of " + cert};
  }
  return true;
}

Result<bool> useCa(Context& ctx, const std::string& setting, const std::string& ca) {
  boost::system::error_code ec;
  if (auto ok = readable(setting, ca); !ok) return ok.error();
  if (ctx.load_verify_file(ca, ec); ec) return failed(setting, ca, ec);
  return true;
}

}  // namespace

Result<std::shared_ptr<Context>> serverContext(const config::ListenTlsConfig& cfg) {
  auto ctx = baseContext(Context::tls_server);
  if (auto ok = useCertificate(*ctx, "listen.tls", cfg.cert, cfg.key); !ok) return ok.error();
  if (!cfg.ca.empty()) {
    if (auto ok = useCa(*ctx, "listen.tls.ca", cfg.ca); !ok) return ok.error();
    ctx->set_verify_mode(cfg.require_client_cert
                             ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert
                             : ssl::verify_peer);
    // Without one, OpenSSL refuses to resume a session whose client was verified.
    static const unsigned char kSessionContext[] = "readthru";
    SSL_CTX_set_session_id_context(ctx->native_handle(), kSessionContext,
                                   sizeof kSessionContext - 1);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

std::string describeCertificate(Context& context) {
  X509* cert = SSL_CTX_get0_certificate(context.native_handle());
  if (cert == nullptr) return "no certificate";
  std::string out;
  char name[256];
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
  out += name;
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      out += std::string(", serial ") + hex;
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (ASN1_TIME_print(bio, X509_get0_notAfter(cert)) == 1) {
      char* text = nullptr;
      const long n = BIO_get_mem_data(bio, &text);
      out += ", expires " + std::string(text, static_cast<std::size_t>(n));
    }
    BIO_free(bio);
  }
  return out;
}

Result<std::shared_ptr<const ClientTls>> clientContext(const config::BackendTlsConfig& cfg) {
  auto tls = std::make_shared<ClientTls>();
  tls->context = baseContext(Context::tls_client);
  tls->server_name = cfg.server_name;
  tls->verify = cfg.verify;
  if (!cfg.cert.empty()) {
    if (auto ok = useCertificate(*tls->context, "backend.tls", cfg.cert, cfg.key); !ok) {
      return ok.error();
    }
  }
  if (!cfg.ca.empty()) {
    if (auto ok = useCa(*tls->context, "backend.tls.ca", cfg.ca); !ok) return ok.error();
  } else {
    tls->context->set_default_verify_paths();
  }
  tls->context->set_verify_mode(cfg.verify ? ssl::verify_peer : ssl::verify_none);
  return std::shared_ptr<const ClientTls>(std::move(tls));
}

Result<Contexts> contexts(const config::Config& cfg) {
  Contexts out;
  if (cfg.listen.tls.enabled) {
    auto built = serverContext(cfg.listen.tls);
    if (!built) return built.error();
    out.listen = std::move(*built);
  }
  if (cfg.backend.tls.enabled) {
    auto built = clientContext(cfg.backend.tls);
    if (!built) return built.error();
    out.backend = std::move(*built);
  }
  return out;
}

boost::system::error_code prepareClient(Stream::TlsSocket& stream, const ClientTls& tls,
                                        const std::string& host) {
  boost::system::error_code ec;
  const std::string& name = tls.server_name.empty() ? host : tls.server_name;
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(name, not_ip);
  if (not_ip && SSL_set_tlsext_host_name(stream.native_handle(), name.c_str()) != 1) {
    ERR_clear_error();
    return boost::asio::error::invalid_argument;
  }
  if (tls.verify) stream.set_verify_callback(ssl::host_name_verification(name), ec);
  return ec;
}

}  // namespace readthru::tls
