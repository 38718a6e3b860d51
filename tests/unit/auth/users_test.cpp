#include "auth/users.hpp"

#include <gtest/gtest.h>

namespace readthru::auth {
namespace {

config::AuthConfig withUsers() {
  config::AuthConfig cfg;
  cfg.enabled = true;
  cfg.default_password = "defpw";
  config::UserConfig app;
  app.name = "app";
  app.origin = "t.yaml:7";
  app.password = "apppw";
  app.commands = {"+@read"};
  app.keys = {"user:*"};
  cfg.users.push_back(app);
  return cfg;
}

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals("secret", "secret"));
  EXPECT_FALSE(constantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(constantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(constantTimeEquals("secret", ""));
  EXPECT_FALSE(constantTimeEquals(std::string("a\0b", 3), "a"));
}

TEST(UserTable, WithoutAuthEveryoneIsTheDefaultUser) {
  auto table = UserTable::build(config::AuthConfig{});
  ASSERT_TRUE(table.ok());
  const UserTable& t = **table;
  EXPECT_FALSE(t.authRequired());
  EXPECT_TRUE(t.defaultUser().nopass);
  EXPECT_TRUE(t.defaultUser().admin);
  EXPECT_NE(t.authenticate("default", "anything"), nullptr);  // nopass, as Redis
  EXPECT_EQ(t.authenticate("app", "x"), nullptr);
}

TEST(UserTable, DefaultAndNamedUsers) {
  auto table = UserTable::build(withUsers());
  ASSERT_TRUE(table.ok());
  const UserTable& t = **table;
  EXPECT_TRUE(t.authRequired());
  EXPECT_NE(t.authenticate("default", "defpw"), nullptr);
  EXPECT_EQ(t.authenticate("default", "apppw"), nullptr);
  const User* app = t.authenticate("app", "apppw");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->name, "app");
  EXPECT_FALSE(app->admin);
  EXPECT_TRUE(app->permissions.allows(*command::lookupName("get")));
  EXPECT_FALSE(app->permissions.allows(*command::lookupName("set")));
  EXPECT_EQ(t.authenticate("app", "defpw"), nullptr);
  EXPECT_EQ(t.authenticate("nobody", "apppw"), nullptr);
  EXPECT_TRUE(t.defaultUser().admin);
  EXPECT_TRUE(t.defaultUser().permissions.allows(*command::lookupName("flushall")));
}

TEST(UserTable, DefaultUserOffWithoutPasswordAndNotAdminWhenSaid) {
  auto cfg = withUsers();
  cfg.default_password.reset();
  auto table = UserTable::build(cfg);
  ASSERT_TRUE(table.ok());
  EXPECT_TRUE((*table)->authRequired());
  EXPECT_EQ((*table)->authenticate("default", ""), nullptr);

  cfg = withUsers();
  cfg.default_admin = false;
  table = UserTable::build(cfg);
  ASSERT_TRUE(table.ok());
  const User& def = (*table)->defaultUser();
  EXPECT_FALSE(def.admin);
  EXPECT_FALSE(def.permissions.allows(*command::lookupName("flushall")));
  EXPECT_TRUE(def.permissions.allows(*command::lookupName("set")));
}

TEST(UserTable, RuleErrorsNameTheUserAndLineButNoSecret) {
  auto cfg = withUsers();
  cfg.users[0].commands = {"+@read", "+gett"};
  auto table = UserTable::build(cfg);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.error().message,
            "t.yaml:7: auth.users[0] 'app': unknown command 'gett' in rule '+gett'");
  EXPECT_EQ(table.error().message.find("apppw"), std::string::npos);
}

}  // namespace
}  // namespace readthru::auth
