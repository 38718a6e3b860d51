#include "command/key_slot.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace readthru::command {
namespace {

struct SlotCase {
  std::string_view key;
  std::uint16_t slot;
};

TEST(Crc16, MatchesTheXmodemCheckValue) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);
  EXPECT_EQ(crc16(""), 0);
}

// The table in docs REDIS_COMPAT.md ("Hash slots"), read from Redis 7.0's CLUSTER KEYSLOT.
TEST(KeyHashSlot, MatchesTheCompatibilityTable) {
  const SlotCase cases[] = {
      {"foo", 12182},
      {"bar", 5061},
      {"123456789", 12739},
      {"{user1000}.following", 3443},
      {"{user1000}.followers", 3443},
      {"foo{}{bar}", 8363},
      {"foo{{bar}}zap", 4015},
      {"foo{bar}{zap}", 5061},
      {"{}foo", 9500},
      {"", 0},
      {"user:profile:42", 12397},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(keyHashSlot(c.key), c.slot) << c.key;
  }
}

// Obtained from CLUSTER KEYSLOT on a throwaway redis-server 7.0.15 --cluster-enabled yes.
TEST(KeyHashSlot, MatchesRealClusterKeyslot) {
  const SlotCase cases[] = {
      {"a", 15495},
      {"b", 3300},
      {"key:1", 6657},
      {"key:2", 10850},
      {"user:{42}:profile", 8000},
      {"{a}b", 15495},
      {"a{b", 13340},
      {"a}b{c}", 7365},
      {"{", 4092},
      {"}", 12090},
      {"{}", 15257},
      {"{{}}", 4092},
      {"hello world", 15332},
      {"\xc3\x9cmlaut", 8306},
      {"session:abcdef0123456789", 13863},
      {"x{y}z{w}", 12222},
      {"{ab}{cd}", 13567},
      {"readthru", 1330},
      {"KEY", 5305},
      {"key", 12539},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(keyHashSlot(c.key), c.slot) << c.key;
  }
}

TEST(KeyHashSlot, HashesOnlyTheTag) {
  EXPECT_EQ(keyHashSlot("{tag}x"), keyHashSlot("tag"));
  EXPECT_EQ(keyHashSlot("prefix{tag}suffix{other}"), keyHashSlot("tag"));
  EXPECT_NE(keyHashSlot("{}tag"), keyHashSlot("tag"));
}

TEST(KeyHashSlot, HandlesBinaryKeys) {
  const std::string key("a\0b", 3);
  EXPECT_EQ(keyHashSlot(key), crc16(key) % kSlotCount);
  EXPECT_LT(keyHashSlot(std::string(1000, '\xff')), kSlotCount);
}

}  // namespace
}  // namespace readthru::command

TEST(GlobSlot, OnlyALiteralHashTagPinsTheSlot) {
  using readthru::command::globSlot;
  using readthru::command::keyHashSlot;
  EXPECT_EQ(globSlot("user:{1234}:*"), keyHashSlot("1234"));
  EXPECT_EQ(globSlot("{a}*"), keyHashSlot("a"));
  EXPECT_EQ(globSlot("user:*"), std::nullopt);        // no tag
  EXPECT_EQ(globSlot("user:{}:*"), std::nullopt);     // empty tag: whole key hashed
  EXPECT_EQ(globSlot("user:{12*}:x"), std::nullopt);  // glob inside the tag
  EXPECT_EQ(globSlot("*:{1234}:x"), std::nullopt);    // '{' may be elsewhere in a match
  EXPECT_EQ(globSlot("u?er:{1234}"), std::nullopt);
  EXPECT_EQ(globSlot("user:{1234"), std::nullopt);     // no closing brace
  EXPECT_EQ(globSlot("user:\\{1234}"), std::nullopt);  // an escape before the tag
}
