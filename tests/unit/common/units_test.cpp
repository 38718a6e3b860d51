#include "common/units.hpp"

#include <gtest/gtest.h>

namespace readthru {
namespace {

TEST(ParseDuration, AcceptsEachUnit) {
  EXPECT_EQ(parseDuration("500ms"), Millis(500));
  EXPECT_EQ(parseDuration("2s"), Millis(2000));
  EXPECT_EQ(parseDuration("3m"), Millis(180'000));
  EXPECT_EQ(parseDuration("1h"), Millis(3'600'000));
  EXPECT_EQ(parseDuration("1d"), Millis(86'400'000));
  EXPECT_EQ(parseDuration("1500us"), Millis(2));  // rounds up, never to zero
  EXPECT_EQ(parseDuration("0"), Millis(0));
  EXPECT_EQ(parseDuration("2S"), Millis(2000));
}

TEST(ParseDuration, RejectsMalformed) {
  EXPECT_FALSE(parseDuration(""));
  EXPECT_FALSE(parseDuration("5"));  // no unit: ambiguous
  EXPECT_FALSE(parseDuration("ms"));
  EXPECT_FALSE(parseDuration("-1s"));
  EXPECT_FALSE(parseDuration("1.5s"));
  EXPECT_FALSE(parseDuration("1 s"));
  EXPECT_FALSE(parseDuration("2w"));
  EXPECT_FALSE(parseDuration("99999999999999999999s"));
  EXPECT_FALSE(parseDuration("9999999999999999d"));  // overflows milliseconds
}

TEST(ParseSize, AcceptsEachUnit) {
  EXPECT_EQ(parseSize("100"), 100u);
  EXPECT_EQ(parseSize("100b"), 100u);
  EXPECT_EQ(parseSize("64kb"), 64u * 1024);
  EXPECT_EQ(parseSize("512mb"), 512u * 1024 * 1024);
  EXPECT_EQ(parseSize("2GB"), 2ull * 1024 * 1024 * 1024);
}

TEST(ParseSize, RejectsMalformed) {
  EXPECT_FALSE(parseSize(""));
  EXPECT_FALSE(parseSize("kb"));
  EXPECT_FALSE(parseSize("1tb"));
  EXPECT_FALSE(parseSize("-1kb"));
  EXPECT_FALSE(parseSize("1.5mb"));
  EXPECT_FALSE(parseSize("99999999999999999gb"));
}

}  // namespace
}  // namespace readthru
