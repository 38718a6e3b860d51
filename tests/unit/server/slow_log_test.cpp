#include "server/slow_log.hpp"

#include <gtest/gtest.h>

#include "command/command_table.hpp"
#include "metrics/snapshot.hpp"
#include "server/slow_ring.hpp"

namespace readthru::server {
namespace {

using namespace std::chrono_literals;

SlowEntry entry(std::uint64_t id) {
  SlowEntry e;
  e.id = id;
  e.argv = {"GET", "k" + std::to_string(id)};
  return e;
}

TEST(SlowLogArgv, KeptAsItIsWhenSmall) {
  const std::vector<std::string> args{"SET", "k", "v"};
  EXPECT_EQ(slowLogArgv(args), args);
}

TEST(SlowLogArgv, LongArgumentsCutAt128BytesAsRedis) {
  const std::vector<std::string> args{"SET", "k", std::string(128, 'a'), std::string(130, 'b')};
  const auto out = slowLogArgv(args);
  EXPECT_EQ(out[2], std::string(128, 'a'));  // exactly 128: untouched
  EXPECT_EQ(out[3], std::string(128, 'b') + "... (2 more bytes)");
}

TEST(SlowLogArgv, AtMost32ArgumentsTheLastSayingHowManyMore) {
  std::vector<std::string> args{"DEL"};
  for (int i = 0; i < 40; ++i) args.push_back("k" + std::to_string(i));  // 41 in all
  const auto out = slowLogArgv(args);
  ASSERT_EQ(out.size(), 32u);
  EXPECT_EQ(out[30], "k29");
  EXPECT_EQ(out[31], "... (10 more arguments)");  // 41 - 32 + 1, as Redis counts
  args.resize(32);
  EXPECT_EQ(slowLogArgv(args).back(), "k30");  // 32 exactly: all kept
}

using Argv = std::vector<std::string>;

Argv redacted(std::string_view command, Argv argv) {
  redactSecrets(command, argv);
  return argv;
}

TEST(SlowLogRedaction, SecretsBecomeRedactedAsRedisShowsThem) {
  EXPECT_EQ(redacted("auth", {"AUTH", "app", "pw"}), (Argv{"AUTH", "(redacted)", "(redacted)"}));
  EXPECT_EQ(redacted("hello", {"HELLO", "2", "auth", "app", "pw", "SETNAME", "n"}),
            (Argv{"HELLO", "2", "auth", "(redacted)", "(redacted)", "SETNAME", "n"}));
  EXPECT_EQ(redacted("migrate", {"MIGRATE", "h", "1", "", "0", "5", "AUTH", "pw", "KEYS", "a"}),
            (Argv{"MIGRATE", "h", "1", "", "0", "5", "AUTH", "(redacted)", "KEYS", "a"}));
  EXPECT_EQ(redacted("migrate", {"MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "u", "pw"}),
            (Argv{"MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "(redacted)", "(redacted)"}));
  EXPECT_EQ(redacted("acl|setuser", {"ACL", "SETUSER", "bob", "on", ">pw"}),
            (Argv{"ACL", "SETUSER", "bob", "(redacted)", "(redacted)"}));
  EXPECT_EQ(redacted("config|set", {"CONFIG", "SET", "maxmemory", "1mb", "REQUIREPASS", "pw",
                                    "masterauth", "pw2"}),
            (Argv{"CONFIG", "SET", "maxmemory", "1mb", "REQUIREPASS", "(redacted)", "masterauth",
                  "(redacted)"}));
}

TEST(SlowLogRedaction, OtherCommandsAndPositionsUntouched) {
  const Argv get{"GET", "auth", "pw"};
  EXPECT_EQ(redacted("get", get), get);
  // A key named like the token before the token's own position is not a token.
  const Argv migrate{"MIGRATE", "h", "1", "auth", "0", "5", "KEYS", "x"};
  EXPECT_EQ(redacted("migrate", migrate), migrate);
  const Argv hello{"HELLO", "3"};
  EXPECT_EQ(redacted("hello", hello), hello);
}

TEST(SlowRing, NewestFirstAndBounded) {
  SlowRing ring(3);
  for (std::uint64_t id = 0; id < 5; ++id) ring.push(entry(id));
  ASSERT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.entries().front().id, 4u);
  EXPECT_EQ(ring.entries().back().id, 2u);
  ring.setMaxLen(1);
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring.entries().front().id, 4u);
  ring.setMaxLen(0);
  ring.push(entry(9));
  EXPECT_EQ(ring.size(), 0u);
}

TEST(SlowRing, NewestOfSeveralRingsByIdDescending) {
  SlowRing a(10), b(10);
  for (std::uint64_t id : {0, 3, 4}) a.push(entry(id));
  for (std::uint64_t id : {1, 2, 5}) b.push(entry(id));
  const SlowRing* rings[] = {&a, &b};
  const auto top = newestOf(rings, 4);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0].id, 5u);
  EXPECT_EQ(top[1].id, 4u);
  EXPECT_EQ(top[2].id, 3u);
  EXPECT_EQ(top[3].id, 2u);
  EXPECT_EQ(newestOf(rings, 100).size(), 6u);
}

config::LogConfig logConfig(std::chrono::microseconds threshold, std::uint32_t max_len = 128) {
  config::LogConfig cfg;
  cfg.slow_threshold = threshold;
  cfg.slow_log_max_len = max_len;
  return cfg;
}

TEST(SlowLog, OffAtZeroThreshold) {
  SlowLog log;
  log.addThread();
  log.configure(logConfig(0us));
  EXPECT_FALSE(log.slow(std::chrono::hours(1)));
  const std::vector<std::string> args{"GET", "k"};
  EXPECT_EQ(log.sample(*command::lookup(args), args).spec, nullptr);  // nothing kept
}

TEST(SlowLog, RecordsPastTheThresholdAcrossThreads) {
  SlowLog log;
  log.addThread();
  log.addThread();
  log.configure(logConfig(10ms, 2));
  EXPECT_FALSE(log.slow(10ms));  // "longer than": equal is not slow
  EXPECT_TRUE(log.slow(10ms + 1ns));
  const std::vector<std::string> get{"GET", std::string("bin\0\xff", 5)};
  const std::vector<std::string> mget{"MGET", "a", "b"};
  log.record(0, 12ms, log.sample(*command::lookup(get), get), "127.0.0.1:5000", "");
  log.record(1, 15'500us, log.sample(*command::lookup(mget), mget), "127.0.0.1:5001", "app");
  log.record(0, 20ms, log.sample(*command::lookup(get), get), "127.0.0.1:5000", "");
  EXPECT_EQ(log.size(), 2u);  // at most slow_log_max_len, whatever the threads hold
  const auto top = log.newest(10);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].id, 2u);
  EXPECT_EQ(top[0].micros, 20'000u);
  EXPECT_EQ(top[0].argv, get);
  EXPECT_EQ(top[1].id, 1u);
  EXPECT_EQ(top[1].micros, 15'500u);
  EXPECT_EQ(top[1].peer, "127.0.0.1:5001");
  EXPECT_EQ(top[1].name, "app");
  EXPECT_GT(top[1].unix_seconds, 1'700'000'000);

  metrics::Snapshot snap;
  metrics::Sink sink(snap);
  log.collect(sink);
  ASSERT_EQ(snap.families().size(), 1u);
  EXPECT_EQ(snap.families()[0].family->name, "readthru_slow_requests_total");
  EXPECT_EQ(snap.families()[0].series.at(0).value, 3);

  log.reset();
  EXPECT_EQ(log.size(), 0u);
  EXPECT_TRUE(log.newest(10).empty());
}

TEST(SlowLog, SampleTakenWhileOffIsNotRecorded) {
  SlowLog log;
  log.addThread();
  log.configure(logConfig(0us));
  const std::vector<std::string> args{"GET", "k"};
  SlowSample sample = log.sample(*command::lookup(args), args);
  log.configure(logConfig(1us));  // a reload turned it on while the command ran
  log.record(0, 1s, std::move(sample), "127.0.0.1:1", "");
  EXPECT_EQ(log.size(), 0u);
}

TEST(SlowLog, HelpIsRedisText) {
  const auto help = slowlogHelp();
  ASSERT_EQ(help.size(), 12u);
  EXPECT_EQ(help.front(), "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  EXPECT_EQ(help.back(), "    Prints this help.");
}

TEST(SlowLogRedaction, SampleRedacts) {
  SlowLog log;
  log.addThread();
  log.configure(logConfig(1ms));
  const Argv args{"AUTH", "secret"};
  const SlowSample s = log.sample(*command::lookup(args), args);
  EXPECT_EQ(s.argv, (Argv{"AUTH", "(redacted)"}));
}

}  // namespace
}  // namespace readthru::server
