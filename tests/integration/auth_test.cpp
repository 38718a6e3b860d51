// Client authentication and ACL (auth: in the config), and readthru's own AUTH to a backend
// that requires a password. Most tests run readthru in standalone mode in front of a
// throwaway redis-server with --requirepass (support/redis_server.hpp), so they can flush
// and reconfigure it freely; one runs against the shared cluster with a key of its own.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "client.hpp"
#include "eventually.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

// Secrets that must never show up in readthru's log.
constexpr const char* kBackendPw = "backend-Secret-7f3a";
constexpr const char* kDefaultPw = "default-Secret-91bc";
constexpr const char* kAppPw = "app-Secret-c04d";
constexpr const char* kAdminPw = "admin-Secret-55e1";

constexpr const char* kNoAuth = "(error) NOAUTH Authentication required.";
constexpr const char* kWrongPass =
    "(error) WRONGPASS invalid username-password pair or user is disabled.";
constexpr const char* kNoPermKeys =
    "(error) NOPERM this user has no permissions to access one of the keys used as arguments";

std::string noPermCommand(const std::string& name) {
  return "(error) NOPERM this user has no permissions to run the '" + name + "' command";
}

// The users of most tests; `extra_users` adds entries to auth.users.
std::string authSection(const std::string& extra_users = "") {
  return "auth:\n"
         "  password_env: READTHRU_TEST_DEFAULT_PW\n"
         "  users:\n"
         "    - name: app\n"
         "      password_env: READTHRU_TEST_APP_PW\n"
         "      commands: [\"+@read\", \"+@write\", \"+@connection\", \"-@dangerous\"]\n"
         "      keys: [\"user:*\"]\n"
         "    - name: reader\n"
         "      password: reader-pw\n"
         "      commands: [\"+@read\"]\n"
         "      keys: [\"*\"]\n"
         "    - name: admin\n"
         "      password_env: READTHRU_TEST_ADMIN_PW\n"
         "      commands: [\"+@all\"]\n"
         "      keys: [\"*\"]\n"
         "      admin: true\n" +
         extra_users;
}

class Auth : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("READTHRU_TEST_BACKEND_PW", kBackendPw, 1);
    ::setenv("READTHRU_TEST_DEFAULT_PW", kDefaultPw, 1);
    ::setenv("READTHRU_TEST_APP_PW", kAppPw, 1);
    ::setenv("READTHRU_TEST_ADMIN_PW", kAdminPw, 1);
    redis_ = std::make_unique<RedisServer>(std::vector<std::string>{"--requirepass", kBackendPw});
    readthru_ = std::make_unique<ReadthruProcess>(backendYaml(), "",
                                                  authSection() + "log:\n  level: debug\n");
  }

  std::string backendYaml() const {
    return "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(redis_->port()) +
           "\"]\n  password_env: READTHRU_TEST_BACKEND_PW\n";
  }

  // A connection logged in as `user`.
  std::unique_ptr<Client> as(const std::string& user, const std::string& password) {
    auto c = std::make_unique<Client>(readthru_->port());
    EXPECT_EQ(show(c->call({"AUTH", user, password})), "OK") << user;
    return c;
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ReadthruProcess> readthru_;
};

TEST_F(Auth, NothingRunsBeforeAuth) {
  Client c(readthru_->port());
  EXPECT_EQ(show(c.call({"PING"})), kNoAuth);
  EXPECT_EQ(show(c.call({"GET", "user:1"})), kNoAuth);
  EXPECT_EQ(show(c.call({"ACL", "WHOAMI"})), kNoAuth);
  // Unknown commands and wrong arities are answered first, as Redis 7.0 does.
  EXPECT_EQ(show(c.call({"NOSUCH"})),
            "(error) ERR unknown command 'NOSUCH', with args beginning with: ");
  EXPECT_EQ(show(c.call({"GET"})), "(error) ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(show(c.call({"HELLO", "2"})),
            "(error) NOAUTH HELLO must be called with the client already authenticated, "
            "otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the "
            "client and select the RESP protocol version at the same time");
  EXPECT_EQ(show(c.call({"AUTH", "wrong"})), kWrongPass);
  EXPECT_EQ(show(c.call({"AUTH", "app", kDefaultPw})), kWrongPass);
  EXPECT_EQ(show(c.call({"AUTH", "nobody", kAppPw})), kWrongPass);
  EXPECT_EQ(show(c.call({"AUTH", "a", "b", "c"})), "(error) ERR syntax error");
  EXPECT_EQ(show(c.call({"PING"})), kNoAuth);  // still not in

  EXPECT_EQ(show(c.call({"AUTH", kDefaultPw})), "OK");
  EXPECT_EQ(show(c.call({"PING"})), "PONG");
  EXPECT_EQ(show(c.call({"ACL", "WHOAMI"})), "default");
  // The backend connection authenticated itself (backend.password_env): data flows.
  EXPECT_EQ(show(c.call({"SET", "k", "v"})), "OK");
  EXPECT_EQ(show(c.call({"GET", "k"})), "v");
  // A wrong AUTH later leaves the connection logged in, as in Redis.
  EXPECT_EQ(show(c.call({"AUTH", "app", "wrong"})), kWrongPass);
  EXPECT_EQ(show(c.call({"ACL", "WHOAMI"})), "default");
  // RESET logs out.
  EXPECT_EQ(show(c.call({"RESET"})), "RESET");
  EXPECT_EQ(show(c.call({"GET", "k"})), kNoAuth);
}

TEST_F(Auth, NamedUsersAndHelloAuth) {
  Client c(readthru_->port());
  EXPECT_EQ(show(c.call({"HELLO", "2", "AUTH", "app", "wrong"})), kWrongPass);
  const resp::Value hello = c.call({"HELLO", "2", "AUTH", "app", kAppPw, "SETNAME", "worker"});
  ASSERT_TRUE(hello.isArray()) << show(hello);
  EXPECT_EQ(hello.elements.size(), 14u);
  EXPECT_EQ(show(c.call({"CLIENT", "GETNAME"})), "worker");
  EXPECT_EQ(show(c.call({"SET", "user:1", "alice"})), "OK");
  EXPECT_EQ(show(c.call({"GET", "user:1"})), "alice");
  EXPECT_EQ(show(c.call({"GET", "order:1"})), kNoPermKeys);
  EXPECT_EQ(show(c.call({"MGET", "user:1", "order:1"})), kNoPermKeys);
  EXPECT_EQ(show(c.call({"ACL", "WHOAMI"})), noPermCommand("acl|whoami"));  // only @slow

  auto reader = as("reader", "reader-pw");
  EXPECT_EQ(show(reader->call({"GET", "user:1"})), "alice");
  EXPECT_EQ(show(reader->call({"SET", "user:1", "bob"})), noPermCommand("set"));
  EXPECT_EQ(show(reader->call({"CONFIG", "SET", "maxmemory", "0"})), noPermCommand("config|set"));
}

TEST_F(Auth, AdminOnlyCommandsNeedAnAdmin) {
  auto app = as("app", kAppPw);
  EXPECT_EQ(show(app->call({"SET", "user:2", "x"})), "OK");
  EXPECT_EQ(show(app->call({"FLUSHALL"})), noPermCommand("flushall"));
  EXPECT_EQ(show(app->call({"READTHRU.RELOAD"})), noPermCommand("readthru.reload"));
  EXPECT_EQ(show(app->call({"GET", "user:2"})), "x");  // nothing was flushed

  auto admin = as("admin", kAdminPw);
  EXPECT_EQ(show(admin->call({"ACL", "WHOAMI"})), "admin");
  EXPECT_EQ(show(admin->call({"FLUSHALL"})), "OK");  // the test's own redis-server
  EXPECT_EQ(show(admin->call({"GET", "user:2"})), "(nil)");
}

TEST_F(Auth, UnauthenticatedClientsGetRedisParserLimits) {
  {
    Client c(readthru_->port());
    c.sendRaw("*11\r\n");
    EXPECT_EQ(show(c.read()), "(error) ERR Protocol error: unauthenticated multibulk length");
    EXPECT_TRUE(c.closedByPeer());
  }
  {
    Client c(readthru_->port());
    c.sendRaw("*2\r\n$3\r\nGET\r\n$16385\r\n");
    EXPECT_EQ(show(c.read()), "(error) ERR Protocol error: unauthenticated bulk length");
    EXPECT_TRUE(c.closedByPeer());
  }
  // Once authenticated, the usual limits.
  auto app = as("app", kAppPw);
  std::vector<std::string> mset{"MSET"};
  for (int i = 0; i < 6; ++i) {
    mset.push_back("user:m" + std::to_string(i));
    mset.push_back(std::string(20000, 'v'));
  }
  EXPECT_EQ(show(app->call(mset)), "OK");
}

TEST_F(Auth, ReloadChangesUsers) {
  auto app = as("app", kAppPw);
  auto admin = as("admin", kAdminPw);
  // `app` removed, `ops` added.
  std::string next = authSection(
      "    - name: ops\n"
      "      password: ops-pw\n"
      "      commands: [\"+get\"]\n"
      "      keys: [\"*\"]\n");
  const auto begin = next.find("    - name: app\n");
  const auto end = next.find("    - name: reader\n");
  next.erase(begin, end - begin);
  readthru_->rewriteConfig(backendYaml(), "", next + "log:\n  level: debug\n");
  EXPECT_EQ(show(admin->call({"READTHRU.RELOAD"})), "OK");
  // The removed user's connection is closed at its next command, as Redis closes the
  // clients of a deleted user.
  app->send({"GET", "user:1"});
  EXPECT_TRUE(app->closedByPeer());
  Client c(readthru_->port());
  EXPECT_EQ(show(c.call({"AUTH", "app", kAppPw})), kWrongPass);
  EXPECT_EQ(show(c.call({"AUTH", "ops", "ops-pw"})), "OK");
  EXPECT_EQ(show(c.call({"GET", "anything"})), "(nil)");
  EXPECT_EQ(show(c.call({"SET", "anything", "x"})), noPermCommand("set"));
  EXPECT_EQ(show(admin->call({"ACL", "WHOAMI"})), "admin");  // still in

  // A rule that does not compile rejects the whole reload; the users stay as they were.
  readthru_->rewriteConfig(backendYaml(), "",
                           authSection("    - name: typo\n      password: t\n"
                                       "      commands: [\"+gett\"]\n"));
  const std::string rejected = show(admin->call({"READTHRU.RELOAD"}));
  EXPECT_EQ(rejected.rfind("(error) ERR readthru: reload rejected: ", 0), 0u) << rejected;
  EXPECT_NE(rejected.find("auth.users[3] 'typo': unknown command 'gett' in rule '+gett'"),
            std::string::npos)
      << rejected;
  EXPECT_EQ(show(Client(readthru_->port()).call({"AUTH", "app", kAppPw})), kWrongPass);
}

TEST_F(Auth, SecretsNeverReachTheLog) {
  {
    Client c(readthru_->port());
    c.call({"AUTH", "app", kAdminPw});  // a wrong one: another user's
    c.call({"AUTH", "app", kAppPw});
    c.call({"HELLO", "2", "AUTH", "admin", kAdminPw});
    c.call({"SET", "user:s", kDefaultPw});
  }
  auto admin = as("admin", kAdminPw);
  EXPECT_EQ(show(admin->call({"READTHRU.RELOAD"})), "OK");
  ASSERT_TRUE(eventually([&] { return readthru_->log().find("reload:") != std::string::npos; }));
  const std::string log = readthru_->log();
  for (const char* secret : {kBackendPw, kDefaultPw, kAppPw, kAdminPw}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in:\n" << log;
  }
}

TEST_F(Auth, BadRulesAndMissingSecretsStopTheStart) {
  const std::string head = "listen:\n  port: 1\nbackend:\n" + backendYaml();
  const ExitResult rule = runUntilExit(head +
                                           "auth:\n"
                                           "  users:\n"
                                           "    - name: app\n"
                                           "      password: " +
                                           std::string(kAppPw) +
                                           "\n"
                                           "      commands: [\"+@read\", \"+gett\"]\n",
                                       10s);
  EXPECT_EQ(rule.code, 2) << rule.log;
  EXPECT_NE(rule.log.find("readthru.yaml:9: auth.users[0] 'app': unknown command 'gett' in rule "
                          "'+gett'"),
            std::string::npos)
      << rule.log;
  EXPECT_EQ(rule.log.find(kAppPw), std::string::npos) << rule.log;

  ::unsetenv("READTHRU_TEST_UNSET_PW");
  const ExitResult env =
      runUntilExit(head + "auth:\n  password_env: READTHRU_TEST_UNSET_PW\n", 10s);
  EXPECT_EQ(env.code, 2) << env.log;
  EXPECT_NE(env.log.find("readthru.yaml:8: auth.password_env: environment variable "
                         "READTHRU_TEST_UNSET_PW is not set"),
            std::string::npos)
      << env.log;
}

// A wrong backend password: Redis refuses readthru, which says so in its log (without the
// password) and passes the backend's NOAUTH on to the client.
TEST_F(Auth, WrongBackendPasswordIsLoggedWithoutIt) {
  ::setenv("READTHRU_TEST_BACKEND_PW", "not-the-backend-Secret", 1);
  ReadthruProcess wrong(backendYaml(), "", authSection());
  auto c = std::make_unique<Client>(wrong.port());
  EXPECT_EQ(show(c->call({"AUTH", kDefaultPw})), "OK");
  EXPECT_NE(show(c->call({"GET", "k"})).find("NOAUTH"), std::string::npos);
  ASSERT_TRUE(eventually([&] { return wrong.log().find("AUTH failed") != std::string::npos; }))
      << wrong.log();
  EXPECT_EQ(wrong.log().find("not-the-backend-Secret"), std::string::npos);
}

// A throwaway Sentinel with a password of its own (requirepass) watching a throwaway master
// with another: readthru authenticates to both (backend.sentinel.password_env and
// backend.password_env). Killed with the test (SIGKILL, then reaped).
class OwnSentinel {
 public:
  OwnSentinel(std::uint16_t master_port, const std::string& master_pw,
              const std::string& sentinel_pw)
      : port_(freePort()) {
    char tmpl[] = "/tmp/readthru-sentinel-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    const std::string conf = dir_ + "/sentinel.conf";
    std::ofstream(conf) << "port " << port_ << "\nbind 127.0.0.1\ndaemonize no\ndir " << dir_
                        << "\nsentinel monitor authmaster 127.0.0.1 " << master_port
                        << " 1\nsentinel auth-pass authmaster " << master_pw << "\nrequirepass "
                        << sentinel_pw << "\n";
    pid_ = spawnProgram("redis-server", {conf, "--sentinel"});
  }
  ~OwnSentinel() {
    ::kill(pid_, SIGKILL);
    reapChild(pid_, 10s);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_;
  std::string dir_;
  pid_t pid_ = -1;
};

TEST_F(Auth, SentinelAndMasterWithPasswordsOfTheirOwn) {
  ::setenv("READTHRU_TEST_SENTINEL_PW", "sentinel-Secret-2b7d", 1);
  OwnSentinel sentinel(redis_->port(), kBackendPw, "sentinel-Secret-2b7d");
  // Sentinel answers (NOAUTH until AUTH) once it runs.
  ASSERT_TRUE(eventually([&] {
    try {
      Client s(sentinel.port());
      return show(s.call({"PING"})).find("NOAUTH") != std::string::npos;
    } catch (const std::exception&) {
      return false;
    }
  }));
  const std::string backend =
      "  mode: sentinel\n  seeds: [\"127.0.0.1:" + std::to_string(sentinel.port()) +
      "\"]\n  sentinel:\n    master: authmaster\n"
      "    password_env: READTHRU_TEST_SENTINEL_PW\n"
      "  password_env: READTHRU_TEST_BACKEND_PW\n";
  ReadthruProcess rt(backend, "", authSection());
  Client c(rt.port());
  EXPECT_EQ(show(c.call({"AUTH", kDefaultPw})), "OK");
  // The master was found through the authenticated Sentinel, and AUTHed itself.
  EXPECT_TRUE(eventually([&] {
    return show(c.call({"SET", "sentinel-auth", "v"})) == "OK";
  })) << rt.log();
  EXPECT_EQ(show(c.call({"GET", "sentinel-auth"})), "v");
  // The subscription for failovers authenticated too (one per io thread).
  EXPECT_TRUE(eventually([&] {
    const std::string info = show(c.call({"INFO", "readthru"}));
    return info.find("backend_sentinel_subscriptions:0") == std::string::npos &&
           info.find("backend_sentinel_subscriptions:") != std::string::npos;
  })) << show(c.call({"INFO", "readthru"}));
  EXPECT_EQ(rt.log().find("sentinel-Secret-2b7d"), std::string::npos);
  EXPECT_EQ(rt.log().find("AUTH refused"), std::string::npos) << rt.log();
}

// The shared cluster needs no password: readthru's client auth in front of it.
TEST(AuthCluster, DefaultUserInFrontOfTheCluster) {
  ::setenv("READTHRU_TEST_DEFAULT_PW", kDefaultPw, 1);
  ReadthruProcess rt(std::string("  seeds: ") + kClusterSeeds + "\n", "",
                     "auth:\n  password_env: READTHRU_TEST_DEFAULT_PW\n");
  Client c(rt.port());
  EXPECT_EQ(show(c.call({"SET", "auth-test:key", "v"})), kNoAuth);
  EXPECT_EQ(show(c.call({"AUTH", kDefaultPw})), "OK");
  EXPECT_EQ(show(c.call({"SET", "auth-test:key", "v"})), "OK");
  EXPECT_EQ(show(c.call({"GET", "auth-test:key"})), "v");
  EXPECT_EQ(show(c.call({"DEL", "auth-test:key"})), "(integer) 1");
}

}  // namespace
}  // namespace readthru::testing
