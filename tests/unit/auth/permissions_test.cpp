#include "auth/permissions.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace readthru::auth {
namespace {

using Args = std::vector<std::string>;

Permissions compiled(const Args& commands, const Args& keys, bool admin = false) {
  auto p = Permissions::compile(commands, keys, admin);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? *p : Permissions{};
}

// The refusal for argv, or "" when allowed.
std::string refusal(const Permissions& p, const Args& argv) {
  const command::CommandSpec* spec = command::lookup(argv);
  EXPECT_NE(spec, nullptr) << argv[0];
  auto r = p.check(*spec, argv);
  return r ? *r : "";
}

TEST(Permissions, CategoriesAppliedInOrder) {
  const auto p = compiled({"+@read", "+@write", "-@dangerous"}, {"*"});
  EXPECT_EQ(refusal(p, {"GET", "k"}), "");
  EXPECT_EQ(refusal(p, {"SET", "k", "v"}), "");
  EXPECT_EQ(refusal(p, {"PING"}), "NOPERM this user has no permissions to run the 'ping' command");
  EXPECT_EQ(refusal(p, {"FLUSHALL"}),
            "NOPERM this user has no permissions to run the 'flushall' command");
  // Order matters: a later + wins over an earlier -.
  const auto q = compiled({"-@all", "+@connection", "-ping"}, {"*"});
  EXPECT_NE(refusal(q, {"PING"}), "");
  EXPECT_EQ(refusal(q, {"ECHO", "x"}), "");
  EXPECT_NE(refusal(q, {"GET", "k"}), "");
}

TEST(Permissions, AllcommandsNocommandsAndPlusAll) {
  EXPECT_EQ(refusal(compiled({"allcommands"}, {"*"}), {"GET", "k"}), "");
  EXPECT_EQ(refusal(compiled({"+@all"}, {"*"}), {"HSET", "h", "f", "v"}), "");
  EXPECT_NE(refusal(compiled({"+@all", "nocommands"}, {"*"}), {"GET", "k"}), "");
  // No rules at all: no commands, as a new Redis user.
  EXPECT_NE(refusal(compiled({}, {"*"}), {"GET", "k"}), "");
}

TEST(Permissions, CommandRuleCoversSubcommandsAndSubcommandRulesAreExact) {
  const auto p = compiled({"+config", "-config|resetstat"}, {"*"}, /*admin=*/true);
  EXPECT_EQ(refusal(p, {"CONFIG", "GET", "maxmemory"}), "");
  EXPECT_EQ(refusal(p, {"CONFIG", "SET", "maxmemory", "0"}), "");
  EXPECT_EQ(refusal(p, {"CONFIG", "RESETSTAT"}),
            "NOPERM this user has no permissions to run the 'config|resetstat' command");
  const auto q = compiled({"+config|get"}, {"*"}, /*admin=*/true);
  EXPECT_EQ(refusal(q, {"CONFIG", "GET", "x"}), "");
  EXPECT_EQ(refusal(q, {"CONFIG", "SET", "x", "y"}),
            "NOPERM this user has no permissions to run the 'config|set' command");
}

TEST(Permissions, NonAdminsNeverRunAdminOnlyCommands) {
  const auto user = compiled({"+@all"}, {"*"}, /*admin=*/false);
  const auto admin = compiled({"+@all"}, {"*"}, /*admin=*/true);
  for (const Args& argv : std::vector<Args>{{"FLUSHALL"},
                                            {"FLUSHDB"},
                                            {"CONFIG", "SET", "maxmemory", "0"},
                                            {"SCRIPT", "FLUSH"},
                                            {"READTHRU.INVALIDATE", "PATTERN", "user:*"},
                                            {"READTHRU.RELOAD"}}) {
    EXPECT_NE(refusal(user, argv), "") << argv[0];
    EXPECT_EQ(refusal(admin, argv), "") << argv[0];
  }
  EXPECT_EQ(refusal(user, {"READTHRU.INVALIDATE", "KEY", "user:1"}), "");
  // CONFIG GET too: Redis marks it admin and @dangerous.
  EXPECT_NE(refusal(user, {"CONFIG", "GET", "x"}), "");
  EXPECT_EQ(refusal(user, {"TIME"}), "");
  // Reads in Redis's @dangerous are the user's rules' business.
  EXPECT_EQ(refusal(user, {"INFO"}), "");
  EXPECT_EQ(refusal(user, {"KEYS", "*"}), "");
}

TEST(Permissions, ReadthruCategory) {
  const auto p = compiled({"+@readthru"}, {"*"});
  EXPECT_EQ(refusal(p, {"READTHRU.REFRESH", "user:1"}), "");
  EXPECT_EQ(refusal(p, {"READTHRU.INVALIDATE", "TAG", "t"}), "");
  EXPECT_NE(refusal(p, {"GET", "k"}), "");
  EXPECT_NE(refusal(p, {"READTHRU.RELOAD"}), "");  // @readthru, but admin-only
}

TEST(Permissions, KeyPatterns) {
  const std::string kKeys =
      "NOPERM this user has no permissions to access one of the keys used as arguments";
  const auto p = compiled({"+@all"}, {"user:*", "session:?"});
  EXPECT_EQ(refusal(p, {"GET", "user:1"}), "");
  EXPECT_EQ(refusal(p, {"GET", "session:a"}), "");
  EXPECT_EQ(refusal(p, {"GET", "other"}), kKeys);
  EXPECT_EQ(refusal(p, {"MGET", "user:1", "other"}), kKeys);
  EXPECT_EQ(refusal(p, {"MSET", "user:1", "a", "user:2", "b"}), "");
  EXPECT_EQ(refusal(p, {"MSET", "user:1", "other", "x", "b"}), kKeys);  // values are no keys
  EXPECT_EQ(refusal(p, {"EVAL", "return 1", "1", "other"}), kKeys);     // movable keys
  EXPECT_EQ(refusal(p, {"EVAL", "return 1", "0"}), "");
  EXPECT_EQ(refusal(p, {"READTHRU.INVALIDATE", "KEY", "user:1", "other"}), kKeys);
  EXPECT_EQ(refusal(p, {"TIME"}), "");  // keyless
  // No pattern: no key at all (Redis's default), but keyless commands still run.
  const auto none = compiled({"+@all"}, {});
  EXPECT_EQ(refusal(none, {"GET", "user:1"}), kKeys);
  EXPECT_EQ(refusal(none, {"PING"}), "");
  // The command is checked before the keys, as in Redis.
  const auto reader = compiled({"+@read"}, {"user:*"});
  EXPECT_EQ(refusal(reader, {"SET", "other", "v"}),
            "NOPERM this user has no permissions to run the 'set' command");
}

TEST(Permissions, BadRulesAreErrorsThatNameThem) {
  auto unknown = Permissions::compile(Args{"+gett"}, Args{}, false);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "unknown command 'gett' in rule '+gett'");
  auto cat = Permissions::compile(Args{"+@reed"}, Args{}, false);
  ASSERT_FALSE(cat.ok());
  EXPECT_EQ(cat.error().message, "unknown category 'reed' in rule '+@reed'");
  auto sign = Permissions::compile(Args{"get"}, Args{}, false);
  ASSERT_FALSE(sign.ok());
  EXPECT_NE(sign.error().message.find("must start with + or -"), std::string::npos);
  EXPECT_FALSE(Permissions::compile(Args{"+"}, Args{}, false).ok());
  EXPECT_FALSE(Permissions::compile(Args{"+@all"}, Args{""}, false).ok());
}

TEST(Permissions, AdminOnlyFollowsTheTable) {
  EXPECT_TRUE(adminOnly(*command::lookupName("flushall")));  // a fan-out that wipes
  EXPECT_TRUE(adminOnly(*command::lookupName("readthru.invalidate|pattern")));
  EXPECT_FALSE(adminOnly(*command::lookupName("info")));  // @dangerous, but a read
  EXPECT_FALSE(adminOnly(*command::lookupName("keys")));
  EXPECT_TRUE(adminOnly(*command::lookupName("config|set")));    // admin flag
  EXPECT_TRUE(adminOnly(*command::lookupName("script|flush")));  // readthru's fan-out list
  EXPECT_TRUE(adminOnly(*command::lookupName("readthru.reload")));
  EXPECT_FALSE(adminOnly(*command::lookupName("get")));
  EXPECT_FALSE(adminOnly(*command::lookupName("readthru.invalidate|key")));
}

}  // namespace
}  // namespace readthru::auth
