// Expected positions are those Redis 7.0.15's COMMAND GETKEYS reports for the same argv;
// expected errors are what the Redis command itself answers.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "command/command_table.hpp"

namespace readthru::command {
namespace {

using Args = std::vector<std::string>;
using Positions = std::vector<std::size_t>;

Positions keysOf(const Args& argv) {
  const CommandSpec* spec = lookup(argv);
  if (spec == nullptr) {
    ADD_FAILURE() << "unknown command " << argv[0];
    return {};
  }
  auto keys = keyPositions(*spec, argv);
  if (!keys) {
    ADD_FAILURE() << argv[0] << ": " << keys.error().message;
    return {};
  }
  return *keys;
}

std::string errorOf(const Args& argv) {
  const CommandSpec* spec = lookup(argv);
  if (spec == nullptr) {
    return "unknown command";
  }
  auto keys = keyPositions(*spec, argv);
  return keys ? "no error" : keys.error().message;
}

TEST(KeyPositions, FixedRanges) {
  EXPECT_EQ(keysOf({"get", "k"}), Positions({1}));
  EXPECT_EQ(keysOf({"MGET", "a", "b", "c"}), Positions({1, 2, 3}));
  EXPECT_EQ(keysOf({"del", "a", "b"}), Positions({1, 2}));
  EXPECT_EQ(keysOf({"blpop", "a", "b", "0"}), Positions({1, 2}));  // last = -2
  EXPECT_EQ(keysOf({"rename", "a", "b"}), Positions({1, 2}));
  EXPECT_EQ(keysOf({"bitop", "and", "d", "a", "b"}), Positions({2, 3, 4}));
  EXPECT_EQ(keysOf({"ping"}), Positions());
  EXPECT_EQ(keysOf({"time"}), Positions());
}

TEST(KeyPositions, KeyValuePairsUseStepTwo) {
  EXPECT_EQ(keysOf({"mset", "a", "1", "b", "2", "c", "3"}), Positions({1, 3, 5}));
  EXPECT_EQ(keysOf({"msetnx", "a", "1"}), Positions({1}));
  EXPECT_EQ(errorOf({"mset", "a", "1", "b"}), "ERR wrong number of arguments for 'mset' command");
}

TEST(KeyPositions, WrongArityIsRedisError) {
  EXPECT_EQ(errorOf({"get"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(errorOf({"object", "encoding"}),
            "ERR wrong number of arguments for 'object|encoding' command");
}

TEST(KeyPositions, Subcommands) {
  EXPECT_EQ(keysOf({"object", "encoding", "k"}), Positions({2}));
  EXPECT_EQ(keysOf({"MEMORY", "USAGE", "k", "SAMPLES", "5"}), Positions({2}));
  EXPECT_EQ(keysOf({"xinfo", "stream", "s"}), Positions({2}));
  EXPECT_EQ(keysOf({"xgroup", "create", "s", "g", "$"}), Positions({2}));
  EXPECT_EQ(keysOf({"config", "get", "maxmemory"}), Positions());
}

TEST(KeyPositions, EvalNumkeys) {
  EXPECT_EQ(keysOf({"eval", "return 1", "0"}), Positions());
  EXPECT_EQ(keysOf({"EVAL", "return 1", "2", "a", "b", "arg"}), Positions({3, 4}));
  EXPECT_EQ(keysOf({"evalsha_ro", "sha", "1", "a"}), Positions({3}));
  EXPECT_EQ(keysOf({"fcall", "f", "2", "a", "b"}), Positions({3, 4}));
  EXPECT_EQ(errorOf({"eval", "s", "3", "a", "b"}),
            "ERR Number of keys can't be greater than number of args");
  EXPECT_EQ(errorOf({"eval", "s", "-1"}), "ERR Number of keys can't be negative");
  EXPECT_EQ(errorOf({"eval", "s", "x"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(errorOf({"eval", "s", "01"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(errorOf({"eval", "s", "+1", "a"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(errorOf({"eval", "s", "99999999999999999999"}),
            "ERR value is not an integer or out of range");
  EXPECT_EQ(errorOf({"fcall", "f", "x"}), "ERR Bad number of keys provided");
  EXPECT_EQ(errorOf({"fcall_ro", "f", "2", "a"}),
            "ERR Number of keys can't be greater than number of args");
}

TEST(KeyPositions, SortedSetNumkeys) {
  EXPECT_EQ(keysOf({"zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"}), Positions({1, 3, 4}));
  EXPECT_EQ(keysOf({"zdiffstore", "d", "1", "a"}), Positions({1, 3}));
  EXPECT_EQ(keysOf({"zunion", "2", "a", "b", "withscores"}), Positions({2, 3}));
  EXPECT_EQ(keysOf({"zintercard", "2", "a", "b", "limit", "3"}), Positions({2, 3}));
  EXPECT_EQ(errorOf({"zunionstore", "d", "0", "a"}),
            "ERR at least 1 input key is needed for 'zunionstore' command");
  EXPECT_EQ(errorOf({"zinter", "0", "a"}),
            "ERR at least 1 input key is needed for 'zinter' command");
  EXPECT_EQ(errorOf({"zunionstore", "d", "3", "a"}), "ERR syntax error");
  EXPECT_EQ(errorOf({"zunionstore", "d", "x", "a"}), "ERR value is not an integer or out of range");
}

TEST(KeyPositions, SetAndListNumkeys) {
  EXPECT_EQ(keysOf({"sintercard", "2", "a", "b"}), Positions({2, 3}));
  EXPECT_EQ(errorOf({"sintercard", "0", "a"}), "ERR numkeys should be greater than 0");
  EXPECT_EQ(errorOf({"sintercard", "x", "a"}), "ERR numkeys should be greater than 0");
  EXPECT_EQ(errorOf({"sintercard", "3", "a"}),
            "ERR Number of keys can't be greater than number of args");
  EXPECT_EQ(keysOf({"lmpop", "2", "a", "b", "left", "count", "3"}), Positions({2, 3}));
  EXPECT_EQ(keysOf({"zmpop", "1", "a", "min"}), Positions({2}));
  EXPECT_EQ(keysOf({"bzmpop", "0", "2", "a", "b", "min"}), Positions({3, 4}));
  EXPECT_EQ(errorOf({"lmpop", "2", "a", "left"}), "ERR syntax error");
  EXPECT_EQ(errorOf({"lmpop", "0", "a", "left"}), "ERR numkeys should be greater than 0");
  EXPECT_EQ(errorOf({"blmpop", "0", "2", "a", "left"}), "ERR syntax error");
}

TEST(KeyPositions, XreadStreams) {
  EXPECT_EQ(keysOf({"xread", "COUNT", "1", "BLOCK", "0", "STREAMS", "a", "b", "0", "0"}),
            Positions({6, 7}));
  EXPECT_EQ(keysOf({"xreadgroup", "GROUP", "g", "c", "NOACK", "streams", "s", ">"}),
            Positions({6}));
  EXPECT_EQ(keysOf({"xread", "streams", "streams", "0"}), Positions({2}));
  EXPECT_EQ(errorOf({"xread", "streams", "a", "b", "0"}),
            "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
            "specified.");
  EXPECT_EQ(errorOf({"xread", "count", "1", "a", "0"}), "ERR syntax error");
  EXPECT_EQ(errorOf({"xread", "count", "1", "streams"}), "ERR syntax error");
  EXPECT_EQ(errorOf({"xreadgroup", "count", "1", "noack", "streams", "s", "0"}),
            "ERR Missing GROUP option for XREADGROUP");
  EXPECT_EQ(errorOf({"xread", "group", "g", "c", "streams", "s", "0"}),
            "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
  EXPECT_EQ(keysOf({"xreadgroup", "COUNT", "1", "GROUP", "streams", "c", "STREAMS", "s", ">"}),
            Positions({7}));  // a group named "streams" is not the option
}

TEST(KeyPositions, SortStore) {
  EXPECT_EQ(keysOf({"sort", "a"}), Positions({1}));
  EXPECT_EQ(keysOf({"sort", "a", "STORE", "b"}), Positions({1, 3}));
  EXPECT_EQ(keysOf({"sort", "a", "limit", "0", "store", "store", "x"}), Positions({1, 6}));
  EXPECT_EQ(keysOf({"sort", "a", "by", "store", "get", "store"}), Positions({1}));
  EXPECT_EQ(keysOf({"sort", "a", "store", "b", "store", "c"}), Positions({1, 5}));
  EXPECT_EQ(keysOf({"sort_ro", "a", "store", "b"}), Positions({1}));
}

TEST(KeyPositions, MigrateKeys) {
  EXPECT_EQ(keysOf({"migrate", "h", "1", "k", "0", "5"}), Positions({3}));
  EXPECT_EQ(keysOf({"migrate", "h", "1", "", "0", "5", "copy", "replace", "keys", "a", "b"}),
            Positions({9, 10}));
  EXPECT_EQ(keysOf({"migrate", "h", "1", "", "0", "5", "auth", "keys", "keys", "a"}),
            Positions({9}));
  EXPECT_EQ(keysOf({"migrate", "h", "1", "", "0", "5", "auth2", "u", "keys", "keys", "a"}),
            Positions({10}));
  EXPECT_EQ(errorOf({"migrate", "h", "1", "k", "0", "5", "keys", "a"}),
            "ERR When using MIGRATE KEYS option, the key argument must be set to the empty "
            "string");
}

TEST(KeyPositions, GeoradiusStore) {
  EXPECT_EQ(keysOf({"georadius", "k", "1", "2", "3", "km"}), Positions({1}));
  EXPECT_EQ(keysOf({"georadius", "k", "1", "2", "3", "km", "store", "d", "storedist", "e"}),
            Positions({1, 7, 9}));
  EXPECT_EQ(keysOf({"georadius", "k", "1", "2", "3", "km", "storedist", "d", "store", "e",
                    "storedist", "f"}),
            Positions({1, 9, 7}));
  EXPECT_EQ(keysOf({"georadiusbymember", "k", "m", "3", "km", "STORE", "d"}), Positions({1, 6}));
  EXPECT_EQ(keysOf({"georadius", "k", "1", "2", "3", "km", "store"}), Positions({1}));
}

}  // namespace
}  // namespace readthru::command
