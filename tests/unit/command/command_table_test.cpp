#include "command/command_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace readthru::command {
namespace {

using Args = std::vector<std::string>;

const CommandSpec* find(const Args& argv) { return lookup(argv); }

TEST(CommandTable, HoldsRedisCommandsSortedByName) {
  const auto all = allCommands();
  EXPECT_GT(all.size(), 200u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
  const CommandSpec* get = lookupName("get");
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->arity, 2);
  EXPECT_EQ(get->flags, kReadonly | kFast);
  EXPECT_EQ(get->first_key, 1);
  EXPECT_EQ(get->last_key, 1);
  EXPECT_EQ(get->step, 1);
  EXPECT_EQ(get->group, "string");
  EXPECT_EQ(get->summary, "Get the value of a key");
  EXPECT_EQ(get->since, "1.0.0");
  EXPECT_EQ(get->route, Route::kKeyed);
}

TEST(CommandTable, EveryEntryIsConsistent) {
  for (const auto& spec : allCommands()) {
    EXPECT_NE(spec.arity, 0) << spec.name;
    EXPECT_FALSE(spec.route_note.empty()) << spec.name;
    EXPECT_EQ(lookupName(spec.name), &spec) << spec.name;
    EXPECT_TRUE(std::none_of(spec.name.begin(), spec.name.end(), [](char c) {
      return c >= 'A' && c <= 'Z';
    })) << spec.name;
    const auto bar = spec.name.find('|');
    if (bar != std::string_view::npos) {
      EXPECT_NE(lookupName(spec.name.substr(0, bar)), nullptr) << spec.name;
    }
    if (spec.route == Route::kKeyed) {
      EXPECT_TRUE(spec.first_key > 0 || spec.has(kMovableKeys)) << spec.name;
    }
    if (spec.route == Route::kFanOut) {
      EXPECT_EQ(spec.first_key, 0) << spec.name;
    }
  }
}

TEST(Lookup, IsCaseInsensitive) {
  for (const char* name : {"get", "GET", "Get", "gEt"}) {
    const CommandSpec* spec = find({name, "k"});
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(spec->name, "get");
  }
  EXPECT_EQ(lookupName("CONFIG|Set"), lookupName("config|set"));
}

TEST(Lookup, UnknownAndEmpty) {
  EXPECT_EQ(find({"FOO"}), nullptr);
  EXPECT_EQ(find({"gett", "k"}), nullptr);
  EXPECT_EQ(find({"ge", "k"}), nullptr);
  EXPECT_EQ(find({""}), nullptr);
  EXPECT_EQ(find({}), nullptr);
  EXPECT_EQ(find({"config|set", "a", "b"}), nullptr);  // Redis rejects it as a name too
  EXPECT_EQ(lookupName("config|bogus"), nullptr);
  EXPECT_EQ(lookupName("get\0x"), lookupName("get"));  // C string: stops at the NUL
  EXPECT_EQ(lookupName(std::string_view("get\0x", 5)), nullptr);
}

TEST(Lookup, FindsSubcommands) {
  const CommandSpec* set = find({"CONFIG", "SET", "maxmemory", "1"});
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->name, "config|set");
  EXPECT_EQ(set->route, Route::kFanOut);
  EXPECT_TRUE(set->has(kAdmin));

  const CommandSpec* get = find({"config", "get", "maxmemory"});
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->name, "config|get");
  EXPECT_EQ(get->route, Route::kAnyNode);

  const CommandSpec* setname = find({"CLIENT", "SETNAME", "app"});
  ASSERT_NE(setname, nullptr);
  EXPECT_EQ(setname->name, "client|setname");
  EXPECT_EQ(setname->route, Route::kLocal);

  const CommandSpec* encoding = find({"Object", "Encoding", "k"});
  ASSERT_NE(encoding, nullptr);
  EXPECT_EQ(encoding->name, "object|encoding");
  EXPECT_EQ(encoding->route, Route::kKeyed);
}

TEST(Lookup, FallsBackToTheContainer) {
  const CommandSpec* bogus = find({"config", "BOGUS"});
  ASSERT_NE(bogus, nullptr);
  EXPECT_EQ(bogus->name, "config");

  const CommandSpec* bare = find({"config"});
  ASSERT_NE(bare, nullptr);
  EXPECT_EQ(bare->name, "config");
  EXPECT_FALSE(arityOk(*bare, 1));

  // CLIENT SETINFO is Redis 7.2: the 7.0 table has no entry, readthru answers it locally.
  const CommandSpec* setinfo = find({"client", "setinfo", "lib-name", "x"});
  ASSERT_NE(setinfo, nullptr);
  EXPECT_EQ(setinfo->name, "client");
  EXPECT_EQ(setinfo->route, Route::kLocal);

  // Not a container: the second argument is never taken for a subcommand.
  const CommandSpec* get = find({"get", "set"});
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->name, "get");
}

TEST(Routes, FollowTheOverrideTable) {
  auto route = [](std::string_view name) { return lookupName(name)->route; };
  for (auto name : {"ping", "echo", "quit", "hello", "select", "info", "command", "command|docs",
                    "client|id", "cluster|slots", "cluster|keyslot", "asking", "readonly"}) {
    EXPECT_EQ(route(name), Route::kLocal) << name;
  }
  for (auto name : {"mget", "mset", "del", "unlink", "exists", "touch"}) {
    EXPECT_EQ(route(name), Route::kSplit) << name;
  }
  for (auto name : {"flushall", "flushdb", "dbsize", "keys", "scan", "randomkey", "script|load",
                    "function|flush", "config|resetstat"}) {
    EXPECT_EQ(route(name), Route::kFanOut) << name;
  }
  for (auto name : {"time", "lastsave", "config|get", "publish"}) {
    EXPECT_EQ(route(name), Route::kAnyNode) << name;
  }
  for (auto name : {"set", "msetnx", "eval", "xread", "xreadgroup", "memory|usage", "spublish"}) {
    EXPECT_EQ(route(name), Route::kKeyed) << name;
  }
  for (auto name : {"auth", "acl|whoami", "slowlog", "slowlog|get", "slowlog|len", "slowlog|reset",
                    "slowlog|help"}) {
    EXPECT_EQ(route(name), Route::kLocal) << name;
  }
  for (auto name : {"subscribe", "ssubscribe", "blpop", "bzmpop", "multi", "watch", "acl",
                    "acl|setuser", "cluster|addslots", "cluster", "client|kill", "monitor",
                    "shutdown", "move", "pubsub|channels", "module|list"}) {
    EXPECT_EQ(route(name), Route::kUnsupported) << name;
  }
}

TEST(Arity, ExactAndAtLeast) {
  const CommandSpec& get = *lookupName("get");
  EXPECT_FALSE(arityOk(get, 1));
  EXPECT_TRUE(arityOk(get, 2));
  EXPECT_FALSE(arityOk(get, 3));
  const CommandSpec& mset = *lookupName("mset");  // -3
  EXPECT_FALSE(arityOk(mset, 2));
  EXPECT_TRUE(arityOk(mset, 3));
  EXPECT_TRUE(arityOk(mset, 101));
  const CommandSpec& ping = *lookupName("ping");  // -1
  EXPECT_TRUE(arityOk(ping, 1));
  EXPECT_TRUE(arityOk(ping, 2));
}

TEST(Names, FlagsAndRoutes) {
  EXPECT_EQ(flagName(kReadonly), "readonly");
  EXPECT_EQ(flagName(kMovableKeys), "movablekeys");
  EXPECT_EQ(flagName(kAllowBusy), "allow_busy");
  EXPECT_EQ(flagName(static_cast<Flag>(kWrite | kFast)), "");
  EXPECT_EQ(routeName(Route::kFanOut), "fanout");
}

TEST(CommandTable, AclCategoriesFromRedis) {
  const CommandSpec* get = lookupName("get");
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->categories, kCatRead | kCatString | kCatFast);
  EXPECT_TRUE(lookupName("flushall")->in(kCatDangerous));
  EXPECT_TRUE(lookupName("config|set")->in(kCatAdmin));
  EXPECT_TRUE(lookupName("auth")->in(kCatConnection));
  EXPECT_TRUE(lookupName("readthru.reload")->in(kCatReadthru));
  EXPECT_TRUE(lookupName("readthru.invalidate|pattern")->in(kCatDangerous));
  EXPECT_FALSE(lookupName("readthru.invalidate|key")->in(kCatDangerous));
  for (const CommandSpec& spec : allCommands()) {
    EXPECT_NE(spec.categories, 0u) << spec.name << " has no ACL category";
  }
  EXPECT_EQ(categoryByName("READ"), static_cast<std::uint32_t>(kCatRead));
  EXPECT_EQ(categoryByName("readthru"), static_cast<std::uint32_t>(kCatReadthru));
  EXPECT_EQ(categoryByName("reed"), 0u);
  EXPECT_EQ(categoryName(kCatSortedSet), "sortedset");
}

TEST(CommandTable, NoAuthCommandsAreRedisOnes) {
  std::vector<std::string_view> names;
  for (const CommandSpec& spec : allCommands()) {
    if (spec.has(kNoAuth)) names.push_back(spec.name);
  }
  EXPECT_EQ(names, (std::vector<std::string_view>{"auth", "hello", "quit", "reset"}));
}

}  // namespace
}  // namespace readthru::command
