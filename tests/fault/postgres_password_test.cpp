// postgres.password / password_env reach libpq: the stack's role app_pw must give its
// password (SCRAM, scripts/stack), unlike the trusted app. A wrong or missing password is
// refused by the database and readthru says so; the password never reaches the log.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"

namespace readthru::testing {
namespace {

constexpr const char* kSecret = "stack-app-pw";  // scripts/stack: PG_PW_SECRET

std::string standalone(std::uint16_t port) {
  return "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(port) + "\"]\n";
}

std::string withPassword(const std::string& password_line) {
  return "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app_pw\"\n" +
         password_line + "keyspaces:\n" +
         keyspaceRule("users", "pw:user:<id>", "SELECT 'row-' || $1 || '-' || current_user AS v",
                      "    params: [id]\n    format: value\n    ttl: 30s\n");
}

TEST(PostgresPassword, PasswordEnvIsSentAndNeverLogged) {
  RedisServer node;
  ::setenv("READTHRU_TEST_PG_PW", kSecret, 1);
  ReadthruProcess rt(standalone(node.port()), "",
                     withPassword("  password_env: READTHRU_TEST_PG_PW\n"));
  ::unsetenv("READTHRU_TEST_PG_PW");
  Client c(rt.port());
  EXPECT_TRUE(eventually([&] {
    return show(c.call({"GET", "pw:user:7"})) == "row-7-app_pw";
  })) << rt.log();
  EXPECT_EQ(rt.log().find(kSecret), std::string::npos) << rt.log();
}

TEST(PostgresPassword, AWrongOrMissingPasswordIsRefusedByTheDatabase) {
  RedisServer node;
  for (const std::string line : {"  password: not-the-password\n", ""}) {
    ReadthruProcess rt(standalone(node.port()), "", withPassword(line));
    EXPECT_TRUE(eventually([&] {
      const std::string log = rt.log();
      return log.find("password authentication failed for user \"app_pw\"") != std::string::npos ||
             log.find("no password supplied") != std::string::npos;
    })) << rt.log();
    Client c(rt.port());
    const std::string failed = show(c.call({"GET", "pw:user:7"}));
    EXPECT_EQ(failed.rfind("(error)", 0), 0u) << failed;
    EXPECT_EQ(rt.log().find("not-the-password"), std::string::npos) << rt.log();
  }
}

}  // namespace
}  // namespace readthru::testing
