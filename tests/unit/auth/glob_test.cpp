#include "auth/glob.hpp"

#include <gtest/gtest.h>

namespace readthru::auth {
namespace {

TEST(Glob, MatchesAsRedisStringmatch) {
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("*", "anything"));
  EXPECT_TRUE(globMatch("user:*", "user:42"));
  EXPECT_TRUE(globMatch("user:*", "user:"));
  EXPECT_FALSE(globMatch("user:*", "users:42"));
  EXPECT_FALSE(globMatch("user:*", "xuser:42"));
  EXPECT_TRUE(globMatch("h?llo", "hello"));
  EXPECT_FALSE(globMatch("h?llo", "hllo"));
  EXPECT_TRUE(globMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(globMatch("h[ae]llo", "hillo"));
  EXPECT_TRUE(globMatch("h[^e]llo", "hallo"));
  EXPECT_FALSE(globMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(globMatch("h[a-c]llo", "hbllo"));
  EXPECT_TRUE(globMatch("h[c-a]llo", "hbllo"));  // Redis swaps a reversed range
  EXPECT_TRUE(globMatch("a\\*b", "a*b"));
  EXPECT_FALSE(globMatch("a\\*b", "axb"));
  EXPECT_TRUE(globMatch("*:*:42", "user:profile:42"));
  EXPECT_FALSE(globMatch("*:*:42", "user:profile:43"));
  EXPECT_TRUE(globMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(globMatch("a*b*c", "aXXbYY"));
  EXPECT_FALSE(globMatch("", "x"));
  EXPECT_TRUE(globMatch("", ""));
}

TEST(Glob, ManyStarsStayLinearEnough) {
  // Exponential backtracking would not finish; one retry per byte does at once.
  const std::string text(5000, 'a');
  EXPECT_FALSE(globMatch("*a*a*a*a*a*a*a*a*b", text));
}

}  // namespace
}  // namespace readthru::auth
