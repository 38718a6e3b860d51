// The TLS settings as read (config/tls.cpp) and how a reload takes them (config_diff.cpp).

#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "config/config_diff.hpp"

namespace readthru::config {
namespace {

Config load(const std::string& listen_tls, const std::string& backend_tls = "",
            const std::string& postgres_extra = "") {
  return loadString("listen:\n  port: 6380\n" + listen_tls +
                        "backend:\n  seeds: [\"127.0.0.1:7000\"]\n" + backend_tls +
                        "postgres:\n  dsn: \"host=db\"\n" + postgres_extra,
                    "t.yaml");
}

std::string error(const std::string& listen_tls, const std::string& backend_tls = "",
                  const std::string& postgres_extra = "") {
  try {
    load(listen_tls, backend_tls, postgres_extra);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const std::string kTls = "  tls:\n    cert: /c.pem\n    key: /k.pem\n";

TEST(TlsConfig, ListenTlsReadsItsFilesAndDefaults) {
  const Config off = load("");
  EXPECT_FALSE(off.listen.tls.enabled);
  const Config on = load(kTls);
  EXPECT_TRUE(on.listen.tls.enabled);
  EXPECT_EQ(on.listen.tls.cert, "/c.pem");
  EXPECT_EQ(on.listen.tls.key, "/k.pem");
  EXPECT_FALSE(on.listen.tls.require_client_cert);
  EXPECT_EQ(on.listen.tls.handshake_timeout, Millis(10000));
}

TEST(TlsConfig, ListenTlsErrorsNameTheKey) {
  EXPECT_NE(error("  tls:\n    cert: /c.pem\n").find("listen.tls.key: is required"),
            std::string::npos);
  EXPECT_NE(error(kTls + "    require_client_cert: true\n").find("needs listen.tls.ca"),
            std::string::npos);
  EXPECT_NE(error(kTls + "    port: 6390\n").find("listen.tls.port: unknown key"),
            std::string::npos);
}

TEST(TlsConfig, BackendTlsNeedsCertAndKeyTogether) {
  const Config c = load("", "  tls:\n    ca: /ca.pem\n    server_name: redis.internal\n");
  EXPECT_TRUE(c.backend.tls.enabled);
  EXPECT_TRUE(c.backend.tls.verify);
  EXPECT_EQ(c.backend.tls.server_name, "redis.internal");
  EXPECT_NE(error("", "  tls:\n    cert: /c.pem\n").find("cert and key go together"),
            std::string::npos);
}

TEST(TlsConfig, PostgresSslmodeIsOneOfLibpqs) {
  const Config c = load("", "", "  sslmode: verify-full\n  sslrootcert: /root.crt\n");
  EXPECT_EQ(c.postgres.tls.sslmode, "verify-full");
  EXPECT_EQ(c.postgres.tls.sslrootcert, "/root.crt");
  EXPECT_NE(error("", "", "  sslmode: always\n").find("postgres.sslmode: must be disable"),
            std::string::npos);
}

TEST(TlsConfig, AReloadAppliesNewFilesButNotTurningTlsOnOrOff) {
  using Names = std::vector<std::string>;
  const Config running = load(kTls);
  const ConfigDiff files = diff(running, load("  tls:\n    cert: /c2.pem\n    key: /k2.pem\n"));
  EXPECT_EQ(files.applied, Names{"listen.tls.*"});
  EXPECT_TRUE(files.restart.empty());

  const Config off = load("");
  const ConfigDiff turned_off = diff(running, off);
  EXPECT_EQ(turned_off.restart, Names{"listen.tls"});
  EXPECT_TRUE(turned_off.applied.empty());
  EXPECT_TRUE(keepRestartOnly(running, off).listen.tls.enabled);

  const ConfigDiff backend = diff(running, load(kTls, "  tls:\n    verify: false\n"));
  EXPECT_EQ(backend.restart, Names{"backend.tls"});
  const ConfigDiff pg = diff(running, load(kTls, "", "  sslmode: require\n"));
  EXPECT_EQ(pg.restart, Names{"postgres.ssl*"});
}

}  // namespace
}  // namespace readthru::config
