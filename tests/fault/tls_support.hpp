#pragma once
// For tls_test.cpp: a throwaway CA with certificates made by the `openssl` CLI in a temp
// directory, a small TLS client of the test's own (Asio's TLS stream, every wait with a
// deadline), and a shell runner for redis-cli with a timeout.

#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace readthru::testing {

// Runs `command` with sh, at most 15 s (timeout(1)); its stdout and stderr together.
inline std::string shell(const std::string& command) {
  const std::string full = "timeout 15 sh -c '" + command + "' 2>&1";
  std::string out;
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed");
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

// A CA and certificates it signed, each with subjectAltName IP:127.0.0.1, in a fresh
// directory removed at the end. EC keys: fast to make.
class TestPki {
 public:
  TestPki() {
    char tmpl[] = "/tmp/readthru-tls-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    std::ofstream(dir_ + "/san.cnf") << "subjectAltName=IP:127.0.0.1\n";
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -batch"
        " -keyout ca.key -out ca.crt -days 2 -subj /CN=readthru-test-ca");
  }
  ~TestPki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // <name>.crt and <name>.key, signed by the CA, with this serial (hex digits).
  void issue(const std::string& name, const std::string& serial_hex) {
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -batch -keyout " +
        name + ".key -out " + name + ".csr -subj /CN=" + name);
    run("openssl x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -set_serial 0x" +
        serial_hex + " -days 2 -extfile san.cnf -out " + name + ".crt");
  }
  std::string path(const std::string& file) const { return dir_ + "/" + file; }

 private:
  void run(const std::string& command) {
    const std::string out = shell("cd " + dir_ + " && " + command);
    if (out.find("error") != std::string::npos || out.find("Error") != std::string::npos) {
      throw std::runtime_error("openssl failed: " + command + ": " + out);
    }
  }
  std::string dir_;
};

// One TLS connection to 127.0.0.1:port that checks the server against `ca`. Throws when
// it cannot connect or finish the handshake within 5 s.
class TlsClient {
 public:
  TlsClient(std::uint16_t port, const std::string& ca)
      : ctx_(boost::asio::ssl::context::tls_client) {
    ctx_.load_verify_file(ca);
    ctx_.set_verify_mode(boost::asio::ssl::verify_peer);
    stream_.emplace(io_, ctx_);
    boost::system::error_code result = boost::asio::error::timed_out;
    const boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    stream_->next_layer().async_connect(ep, [&](boost::system::error_code ec) {
      if (ec) {
        result = ec;
        return;
      }
      stream_->async_handshake(boost::asio::ssl::stream_base::client,
                               [&](boost::system::error_code ec) { result = ec; });
    });
    wait();
    if (result) throw std::runtime_error("TLS connect failed: " + result.message());
  }

  // Sends `raw` (RESP or an inline command with its CRLF) and returns the reply's first
  // line, without its CRLF; "" when none came within 5 s or the connection broke.
  std::string call(const std::string& raw) {
    std::string reply;
    bool done = false;
    boost::asio::async_write(*stream_, boost::asio::buffer(raw),
                             [&](boost::system::error_code ec, std::size_t) {
                               if (ec) done = true;
                             });
    std::function<void()> read = [&] {
      stream_->async_read_some(boost::asio::buffer(buf_),
                               [&](boost::system::error_code ec, std::size_t n) {
                                 if (ec) {
                                   done = true;
                                   return;
                                 }
                                 reply.append(buf_, n);
                                 if (reply.find("\r\n") != std::string::npos) {
                                   done = true;
                                   return;
                                 }
                                 read();
                               });
    };
    read();
    wait([&] { return done; });
    const auto end = reply.find("\r\n");
    return end == std::string::npos ? "" : reply.substr(0, end);
  }

  // The serial number of the certificate the server presented, in hex ("1001").
  std::string peerSerial() {
    X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
    if (cert == nullptr) return "";
    std::string out;
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
      char* hex = BN_bn2hex(bn);
      out = hex;
      OPENSSL_free(hex);
      BN_free(bn);
    }
    X509_free(cert);
    return out;
  }

 private:
  void wait(const std::function<bool()>& done = nullptr) {
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline && (!done || !done())) {
      if (io_.run_one_for(std::chrono::milliseconds(100)) == 0 && io_.stopped()) break;
    }
  }

  boost::asio::io_context io_;
  boost::asio::ssl::context ctx_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> stream_;
  char buf_[4096];
};

}  // namespace readthru::testing
