#include "backend/redis/sentinel_messages.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace readthru::backend::redis {
namespace {

using resp::Value;
using namespace std::chrono_literals;

config::Endpoint ep(const std::string& host, std::uint16_t port) { return {host, port}; }

// ---------------------------------------------------------------------------------------
// +switch-master payloads

TEST(ParseSwitchMaster, ReadsTheFiveFields) {
  const auto s = parseSwitchMaster("mymaster 127.0.0.1 6390 127.0.0.1 6391");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, "mymaster");
  EXPECT_EQ(s->from, ep("127.0.0.1", 6390));
  EXPECT_EQ(s->to, ep("127.0.0.1", 6391));
}

TEST(ParseSwitchMaster, TakesHostNamesAndIpv6) {
  const auto s = parseSwitchMaster("cache-1 redis-a.internal 6379 ::1 7000");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->from, ep("redis-a.internal", 6379));
  EXPECT_EQ(s->to, ep("::1", 7000));
}

TEST(ParseSwitchMaster, RefusesMalformedPayloads) {
  const std::vector<std::string> bad = {
      "",
      "mymaster",
      "mymaster 127.0.0.1 6390 127.0.0.1",            // four fields
      "mymaster 127.0.0.1 6390 127.0.0.1 6391 more",  // six
      "mymaster 127.0.0.1 6390 127.0.0.1 0",          // port 0
      "mymaster 127.0.0.1 6390 127.0.0.1 65536",      // past 65535
      "mymaster 127.0.0.1 63x0 127.0.0.1 6391",       // not a number
      "mymaster 127.0.0.1 6390 127.0.0.1 -1",
      "mymaster  127.0.0.1 6390 127.0.0.1 6391",  // an empty field
      "mymaster 127.0.0.1 6390 127.0.0.1 6391 ",  // a trailing space
  };
  for (const auto& payload : bad) {
    EXPECT_FALSE(parseSwitchMaster(payload).has_value()) << "'" << payload << "'";
  }
}

// The payload arrives whole (a RESP bulk string), but a cut one must still not pass: every
// prefix short of the fifth field is refused.
TEST(ParseSwitchMaster, EveryPrefixShortOfTheFifthFieldIsRefused) {
  const std::string full = "mymaster 127.0.0.1 6390 127.0.0.1 6391";
  for (std::size_t n = 0; n <= full.rfind(' ') + 1; ++n) {
    EXPECT_FALSE(parseSwitchMaster(full.substr(0, n)).has_value()) << n;
  }
  EXPECT_TRUE(parseSwitchMaster(full).has_value());
}

// ---------------------------------------------------------------------------------------
// Messages on the subscribed connection

TEST(ClassifyPush, SubscribeConfirmationMessageAndPong) {
  const auto sub = classifyPush(Value::array(
      {Value::bulk("subscribe"), Value::bulk("+switch-master"), Value::fromInteger(1)}));
  EXPECT_EQ(sub.kind, PushMessage::Kind::kSubscribed);
  EXPECT_EQ(sub.channel, "+switch-master");

  const auto msg = classifyPush(Value::array({Value::bulk("message"), Value::bulk("+switch-master"),
                                              Value::bulk("m 1.1.1.1 1 2.2.2.2 2")}));
  EXPECT_EQ(msg.kind, PushMessage::Kind::kMessage);
  EXPECT_EQ(msg.channel, "+switch-master");
  EXPECT_EQ(msg.payload, "m 1.1.1.1 1 2.2.2.2 2");

  EXPECT_EQ(classifyPush(Value::array({Value::bulk("pong"), Value::bulk("")})).kind,
            PushMessage::Kind::kPong);
}

TEST(ClassifyPush, AnythingElseIsOther) {
  const std::vector<Value> other = {
      Value::simple("PONG"),
      Value::error("ERR unknown command"),
      Value::array({}),
      Value::array({Value::fromInteger(1)}),
      Value::array({Value::bulk("message"), Value::bulk("only-a-channel")}),
      Value::array({Value::bulk("pmessage"), Value::bulk("*"), Value::bulk("c"), Value::bulk("p")}),
  };
  for (const auto& v : other) EXPECT_EQ(classifyPush(v).kind, PushMessage::Kind::kOther);
}

// ---------------------------------------------------------------------------------------
// +promoted-slave payloads, and the channel table

TEST(ParsePromotedSlave, ReadsThePromotedReplicaAndItsMaster) {
  const auto s =
      parsePromotedSlave("slave 127.0.0.1:6391 127.0.0.1 6391 @ mymaster 127.0.0.1 6390");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, "mymaster");
  EXPECT_EQ(s->from, ep("127.0.0.1", 6390));
  EXPECT_EQ(s->to, ep("127.0.0.1", 6391));
}

TEST(ParsePromotedSlave, RefusesOtherShapes) {
  const std::vector<std::string> bad = {
      "",
      "master mymaster 127.0.0.1 6390",                                  // another event's
      "sentinel 1.1.1.1:26390 1.1.1.1 26390 @ mymaster 127.0.0.1 6390",  // not a slave
      "slave 127.0.0.1:6391 127.0.0.1 6391 # mymaster 127.0.0.1 6390",   // no '@'
      "slave 127.0.0.1:6391 127.0.0.1 0 @ mymaster 127.0.0.1 6390",
      "slave 127.0.0.1:6391 127.0.0.1 6391 @ mymaster 127.0.0.1",
      "slave 127.0.0.1:6391 127.0.0.1 6391 @ mymaster 127.0.0.1 6390 x",
  };
  for (const auto& payload : bad) {
    EXPECT_FALSE(parsePromotedSlave(payload).has_value()) << "'" << payload << "'";
  }
}

TEST(ParseMasterEvent, EachChannelHasItsParser) {
  EXPECT_EQ(parseMasterEvent("+switch-master", "m 1.1.1.1 1 2.2.2.2 2")->to, ep("2.2.2.2", 2));
  EXPECT_EQ(parseMasterEvent("+promoted-slave", "slave 2.2.2.2:2 2.2.2.2 2 @ m 1.1.1.1 1")->to,
            ep("2.2.2.2", 2));
  // A payload read with the other channel's parser does not pass.
  EXPECT_FALSE(parseMasterEvent("+promoted-slave", "m 1.1.1.1 1 2.2.2.2 2").has_value());
  EXPECT_FALSE(parseMasterEvent("+sdown", "master m 1.1.1.1 1").has_value());
  EXPECT_EQ(std::size(kMasterEventChannels), 2u);
}

// ---------------------------------------------------------------------------------------
// The poll: get-master-addr-by-name, then SENTINEL MASTER

Value masterReply(const std::string& epoch) {
  std::vector<Value> e;
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"name", "mymaster"},
           {"ip", "127.0.0.1"},
           {"port", "6390"},  // the old address until +switch-master: not what counts
           {"flags", "master"},
           {"config-epoch", epoch},
           {"num-slaves", "1"}}) {
    e.push_back(Value::bulk(k));
    e.push_back(Value::bulk(v));
  }
  return Value::array(std::move(e));
}

Value addrReply(const std::string& ip, const std::string& port) {
  return Value::array({Value::bulk(ip), Value::bulk(port)});
}

TEST(ParseSentinelAnswers, AddressFromTheFirstEpochFromTheSecond) {
  const auto m = parseSentinelAnswers(addrReply("127.0.0.1", "6391"), masterReply("7"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->master, ep("127.0.0.1", 6391));
  EXPECT_EQ(m->epoch, 7u);
}

TEST(ParseSentinelAnswers, ErrorsSayWhy) {
  const auto unknown = Value::error("ERR No such master with that name");
  EXPECT_EQ(parseSentinelAnswers(addrReply("127.0.0.1", "6391"), unknown).error().message,
            "ERR No such master with that name");
  EXPECT_EQ(parseSentinelAnswers(unknown, masterReply("7")).error().message,
            "ERR No such master with that name");
  Value nil_array;
  nil_array.type = resp::Type::kNilArray;
  EXPECT_FALSE(parseSentinelAnswers(nil_array, masterReply("7")).ok());
  EXPECT_FALSE(parseSentinelAnswers(addrReply("", "6391"), masterReply("7")).ok());
  EXPECT_FALSE(parseSentinelAnswers(addrReply("127.0.0.1", "0"), masterReply("7")).ok());
  EXPECT_FALSE(parseSentinelAnswers(addrReply("127.0.0.1", "6391"), masterReply("x")).ok());
  EXPECT_FALSE(
      parseSentinelAnswers(addrReply("127.0.0.1", "6391"), Value::array({Value::bulk("ip")})).ok());
}

// ---------------------------------------------------------------------------------------
// MasterChoice

using Clock = MasterChoice::Clock;
const Clock::time_point t0{};

TEST(MasterChoice, FirstPollIsAdoptedAndRepeatsAreNoMove) {
  MasterChoice c;
  EXPECT_EQ(c.onPoll({ep("h", 1), 3}, t0), ep("h", 1));
  EXPECT_EQ(c.onPoll({ep("h", 1), 3}, t0), std::nullopt);
  EXPECT_EQ(c.current(), ep("h", 1));
}

TEST(MasterChoice, ASwitchMovesAtOnceAndOutranksALaggingSentinel) {
  MasterChoice c;
  c.onPoll({ep("h", 1), 3}, t0);
  EXPECT_EQ(c.onSwitch(ep("h", 2)), ep("h", 2));
  // A sentinel that has not heard of the failover still names the old master, epoch 3.
  EXPECT_EQ(c.onPoll({ep("h", 1), 3}, t0 + 1s), std::nullopt);
  EXPECT_EQ(c.current(), ep("h", 2));
  // One that has names the new one with a newer epoch: no move, and from then on that
  // epoch is the one polls are measured against.
  EXPECT_EQ(c.onPoll({ep("h", 2), 4}, t0 + 2s), std::nullopt);
  EXPECT_EQ(c.onPoll({ep("h", 1), 3}, t0 + 3s), std::nullopt);
  // A newer failover, seen by a poll first, is followed.
  EXPECT_EQ(c.onPoll({ep("h", 1), 5}, t0 + 4s), ep("h", 1));
}

TEST(MasterChoice, ASwitchRepeatedOrToTheSameMasterIsNoMove) {
  MasterChoice c;
  c.onPoll({ep("h", 1), 3}, t0);
  EXPECT_EQ(c.onSwitch(ep("h", 1)), std::nullopt);
  EXPECT_EQ(c.onSwitch(ep("h", 2)), ep("h", 2));                // +promoted-slave
  EXPECT_EQ(c.onSwitch(ep("h", 2)), std::nullopt);              // +switch-master after it
  EXPECT_EQ(c.onPoll({ep("h", 1), 3}, t0 + 1s), std::nullopt);  // still stale
}

// The leading sentinel's poll may name the promoted replica (new epoch) before its
// +switch-master comes: the message then changes nothing, and stale polls stay stale.
TEST(MasterChoice, APollFirstThenTheSwitch) {
  MasterChoice c;
  c.onPoll({ep("h", 1), 3}, t0);
  EXPECT_EQ(c.onPoll({ep("h", 2), 4}, t0 + 1s), ep("h", 2));
  EXPECT_EQ(c.onSwitch(ep("h", 2)), std::nullopt);
  EXPECT_EQ(c.onPoll({ep("h", 1), 3}, t0 + 2s), std::nullopt);
  EXPECT_EQ(c.onPoll({ep("h", 2), 4}, t0 + 3s), std::nullopt);
}

// An older epoch that every sentinel keeps naming is a reset Sentinel, not a lagging one.
TEST(MasterChoice, AnOlderEpochIsFollowedOnceItPersistsPastTheHold) {
  MasterChoice c;
  c.onPoll({ep("h", 1), 9}, t0);
  const auto start = t0 + 1s;
  EXPECT_EQ(c.onPoll({ep("h", 2), 0}, start), std::nullopt);
  EXPECT_EQ(c.onPoll({ep("h", 2), 0}, start + MasterChoice::kStaleHold - 1ms), std::nullopt);
  EXPECT_EQ(c.onPoll({ep("h", 2), 0}, start + MasterChoice::kStaleHold), ep("h", 2));
  // Its epoch is the one known now.
  EXPECT_EQ(c.onPoll({ep("h", 3), 1}, start + MasterChoice::kStaleHold + 1s), ep("h", 3));
}

TEST(MasterChoice, AnAgreeingPollEndsTheHold) {
  MasterChoice c;
  c.onPoll({ep("h", 1), 9}, t0);
  EXPECT_EQ(c.onPoll({ep("h", 2), 0}, t0), std::nullopt);
  EXPECT_EQ(c.onPoll({ep("h", 1), 9}, t0 + 5s), std::nullopt);  // agrees: the hold restarts
  EXPECT_EQ(c.onPoll({ep("h", 2), 0}, t0 + MasterChoice::kStaleHold + 1s), std::nullopt);
}

}  // namespace
}  // namespace readthru::backend::redis
