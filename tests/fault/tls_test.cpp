// TLS on both sides: clients -> readthru (listen.tls, with and without client
// certificates, certificates re-read on SIGHUP), readthru -> Redis (backend.tls, to a
// redis-server of the test's own on --tls-port), and postgres.sslmode against the stack's
// PostgreSQL, which has no TLS. Certificates come from a throwaway CA made with the
// openssl CLI; clients are redis-cli --tls and the test's own TlsClient.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <optional>
#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"
#include "tls_support.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

std::string standalone(std::uint16_t port, const std::string& extra = "") {
  return "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(port) + "\"]\n" + extra;
}

std::string listenTls(const TestPki& pki, const std::string& extra = "") {
  return "  tls:\n    cert: " + pki.path("server.crt") + "\n    key: " + pki.path("server.key") +
         "\n" + extra;
}

// redis-cli over TLS against readthru; `args` go after the connection options.
std::string cli(const TestPki& pki, std::uint16_t port, const std::string& args,
                const std::string& auth = "") {
  return shell("redis-cli --tls --cacert " + pki.path("ca.crt") + auth + " -p " +
               std::to_string(port) + " " + args);
}

// A counter of INFO's readthru section, read over TLS; -1 when missing.
long long counter(const TestPki& pki, std::uint16_t port, const std::string& name) {
  const std::string info = cli(pki, port, "INFO readthru");
  const auto at = info.find("\n" + name + ":");
  return at == std::string::npos ? -1 : std::stoll(info.substr(at + name.size() + 2));
}

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_.issue("server", "1001");
    pki_.issue("client", "2001");
  }
  TestPki pki_;
  RedisServer node_;  // plain: these tests are about the client side
};

TEST_F(Tls, RedisCliSpeaksTlsToTheListener) {
  ReadthruProcess rt(standalone(node_.port()), listenTls(pki_));
  EXPECT_EQ(cli(pki_, rt.port(), "PING"), "PONG\n");
  EXPECT_EQ(cli(pki_, rt.port(), "SET tls:k hello"), "OK\n");
  EXPECT_EQ(cli(pki_, rt.port(), "GET tls:k"), "hello\n");
  // It went through to the node.
  Client direct(node_.port());
  EXPECT_EQ(show(direct.call({"GET", "tls:k"})), "hello");

  TlsClient own(rt.port(), pki_.path("ca.crt"));
  EXPECT_EQ(own.call("PING\r\n"), "+PONG");
  EXPECT_EQ(own.peerSerial(), "1001");
}

TEST_F(Tls, APlainClientOnTheTlsPortIsClosedAndReadthruKeepsServing) {
  ReadthruProcess rt(standalone(node_.port()), listenTls(pki_, "    handshake_timeout: 500ms\n"));
  // The start-up probe (a plain PING, see ReadthruProcess) may have failed one already.
  const long long failures = counter(pki_, rt.port(), "tls_handshake_failures");
  const long long timeouts = counter(pki_, rt.port(), "tls_handshake_timeouts");
  ASSERT_GE(failures, 0);
  RawConn plain(rt.port());
  ASSERT_EQ(plain.send("PING\r\n"), RawConn::SendResult::kSent);
  const auto got = plain.readUntilClosed(5s);
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(got.bytes.find("PONG"), std::string::npos);

  // One that connects and says nothing is dropped after the handshake timeout.
  RawConn silent(rt.port());
  EXPECT_TRUE(silent.readUntilClosed(5s).closed);

  EXPECT_EQ(cli(pki_, rt.port(), "PING"), "PONG\n");
  EXPECT_EQ(counter(pki_, rt.port(), "tls_handshake_failures"), failures + 1);
  EXPECT_EQ(counter(pki_, rt.port(), "tls_handshake_timeouts"), timeouts + 1);
}

TEST_F(Tls, AClientPastMaxClientsIsToldWhyAfterTheHandshake) {
  ReadthruProcess rt(standalone(node_.port()), "  max_clients: 2\n" + listenTls(pki_));
  TlsClient first(rt.port(), pki_.path("ca.crt"));
  EXPECT_EQ(first.call("PING\r\n"), "+PONG");
  // The start-up probe (a plain client) may hold a place a little longer.
  std::optional<TlsClient> second;
  ASSERT_TRUE(eventually([&] {
    second.emplace(rt.port(), pki_.path("ca.crt"));
    return second->call("PING\r\n") == "+PONG";
  }));
  TlsClient third(rt.port(), pki_.path("ca.crt"));
  EXPECT_EQ(third.call(""), "-ERR max number of clients reached");
  EXPECT_EQ(first.call("PING\r\n"), "+PONG") << "the clients inside are untouched";
}

TEST_F(Tls, RequireClientCertRefusesClientsWithoutOne) {
  ReadthruProcess rt(
      standalone(node_.port()),
      listenTls(pki_, "    ca: " + pki_.path("ca.crt") + "\n    require_client_cert: true\n"));
  const std::string refused = cli(pki_, rt.port(), "PING");
  EXPECT_EQ(refused.find("PONG"), std::string::npos) << refused;
  // With TLS 1.3 the client's handshake ends before the server has judged it: the refusal
  // is an alert on the first read, so either may fail.
  std::string reply = "not tried";
  try {
    reply = TlsClient(rt.port(), pki_.path("ca.crt")).call("PING\r\n");
  } catch (const std::runtime_error&) {
    reply = "";
  }
  EXPECT_EQ(reply, "");
  const std::string with_cert =
      cli(pki_, rt.port(), "PING",
          " --cert " + pki_.path("client.crt") + " --key " + pki_.path("client.key"));
  EXPECT_EQ(with_cert, "PONG\n");
}

TEST_F(Tls, SighupRereadsTheCertificateAndABrokenOneIsRejected) {
  ReadthruProcess rt(standalone(node_.port()), listenTls(pki_));
  TlsClient old(rt.port(), pki_.path("ca.crt"));
  ASSERT_EQ(old.peerSerial(), "1001");

  // Renewed in place, as a certificate manager does: same file names, then SIGHUP.
  pki_.issue("renewed", "1002");
  std::filesystem::rename(pki_.path("renewed.key"), pki_.path("server.key"));
  std::filesystem::rename(pki_.path("renewed.crt"), pki_.path("server.crt"));
  rt.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] {
    return rt.log().find("new connections get certificate") != std::string::npos &&
           rt.log().find("serial 1002") != std::string::npos;
  })) << rt.log();
  EXPECT_EQ(TlsClient(rt.port(), pki_.path("ca.crt")).peerSerial(), "1002");
  EXPECT_EQ(old.call("PING\r\n"), "+PONG") << "a connection made before keeps working";
  EXPECT_EQ(old.peerSerial(), "1001");

  std::ofstream(pki_.path("server.crt")) << "-----BEGIN CERTIFICATE-----\nbroken\n";
  rt.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] {
    return rt.log().find("reload rejected: listen.tls.cert: " + pki_.path("server.crt")) !=
           std::string::npos;
  })) << rt.log();
  EXPECT_EQ(TlsClient(rt.port(), pki_.path("ca.crt")).peerSerial(), "1002");
  EXPECT_EQ(old.call("PING\r\n"), "+PONG");
}

// A redis-server of the test's own that speaks only TLS, and asks clients for a
// certificate (Redis's default, tls-auth-clients yes).
class TlsRedis {
 public:
  explicit TlsRedis(const TestPki& pki) : port_(freePort()) {
    pid_ = spawnRedisServer({"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file",
                             pki.path("server.crt"), "--tls-key-file", pki.path("server.key"),
                             "--tls-ca-cert-file", pki.path("ca.crt"), "--save", "", "--appendonly",
                             "no", "--bind", "127.0.0.1"});
    const std::string ping = "redis-cli --tls --cacert " + pki.path("ca.crt") + " --cert " +
                             pki.path("client.crt") + " --key " + pki.path("client.key") + " -p " +
                             std::to_string(port_) + " ";
    cli_ = ping;
    if (!eventually([&] { return shell(ping + "PING") == "PONG\n"; }, 10s)) {
      ::kill(pid_, SIGKILL);
      reapChild(pid_, 5000ms);
      throw std::runtime_error("the TLS redis-server did not answer");
    }
  }
  ~TlsRedis() {
    ::kill(pid_, SIGKILL);
    reapChild(pid_, 5000ms);
  }
  std::uint16_t port() const { return port_; }
  std::string cli(const std::string& args) const { return shell(cli_ + args); }

 private:
  std::uint16_t port_;
  pid_t pid_ = -1;
  std::string cli_;
};

TEST_F(Tls, BackendTlsRelaysToARedisThatSpeaksOnlyTls) {
  TlsRedis redis(pki_);
  const std::string tls = "  tls:\n    ca: " + pki_.path("ca.crt") +
                          "\n    cert: " + pki_.path("client.crt") +
                          "\n    key: " + pki_.path("client.key") + "\n";
  ReadthruProcess rt(standalone(redis.port(), tls));
  Client c(rt.port());
  EXPECT_TRUE(eventually([&] {
    return show(c.call({"SET", "tls:b", "over-tls"})) == "OK";
  })) << rt.log();
  EXPECT_EQ(show(c.call({"GET", "tls:b"})), "over-tls");
  EXPECT_EQ(redis.cli("GET tls:b"), "over-tls\n");

  // The name checked must be in the certificate: a wrong server_name is a failed connect.
  ReadthruProcess wrong(standalone(redis.port(), tls + "    server_name: not-this-one\n"));
  Client w(wrong.port());
  const std::string refused = show(w.call({"GET", "tls:b"}));
  EXPECT_EQ(refused.rfind("(error)", 0), 0u) << refused;
  EXPECT_TRUE(eventually([&] {
    return wrong.log().find("TLS handshake: certificate verify failed") != std::string::npos;
  })) << wrong.log();
}

// The stack's PostgreSQL has no TLS (scripts/stack).
const char* kPostgres = "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app\"\n";

std::string withKeyspace(const std::string& postgres_extra) {
  return std::string(kPostgres) + postgres_extra + "keyspaces:\n" +
         keyspaceRule("users", "tls:user:<id>", "SELECT 'row-' || $1 AS v",
                      "    params: [id]\n    format: value\n    ttl: 30s\n");
}

// readthru treats a database it cannot connect to at start as unreachable (it serves what
// Redis holds and checks the rules once it connects): libpq's refusal is what the log says
// at start, and managed reads fail with it rather than load.
TEST_F(Tls, PostgresSslmodeRequireIsRefusedByADatabaseWithoutTls) {
  ReadthruProcess refused(standalone(node_.port()), "", withKeyspace("  sslmode: require\n"));
  EXPECT_TRUE(eventually([&] {
    return refused.log().find("server does not support SSL, but SSL was required") !=
           std::string::npos;
  })) << refused.log();
  Client r(refused.port());
  const std::string failed = show(r.call({"GET", "tls:user:7"}));
  EXPECT_EQ(failed.rfind("(error)", 0), 0u) << failed;

  ReadthruProcess rt(standalone(node_.port()), "", withKeyspace("  sslmode: disable\n"));
  Client c(rt.port());
  EXPECT_EQ(show(c.call({"GET", "tls:user:7"})), "row-7") << "read through, without TLS";
}

}  // namespace
}  // namespace readthru::testing
