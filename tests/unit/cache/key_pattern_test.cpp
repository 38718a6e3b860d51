#include "cache/key_pattern.hpp"

#include <gtest/gtest.h>

namespace readthru::cache {
namespace {

KeyPattern compiled(std::string_view text) {
  auto p = KeyPattern::compile(text);
  EXPECT_TRUE(p.ok()) << text << ": " << (p.ok() ? "" : p.error().message);
  return p.ok() ? *p : *KeyPattern::compile("unused");
}

std::string compileError(std::string_view text) {
  auto p = KeyPattern::compile(text);
  return p.ok() ? "" : p.error().message;
}

// The captures of `key`, joined with '|', or "no match".
std::string matchOf(const KeyPattern& p, std::string_view key) {
  std::vector<std::string_view> captures;
  if (!p.match(key, captures)) return "no match";
  std::string out;
  for (std::size_t i = 0; i < captures.size(); ++i)
    out += (i ? "|" : "") + std::string(captures[i]);
  return out;
}

TEST(KeyPattern, CompilesCapturesInOrder) {
  const KeyPattern p = compiled("order:{<customer>}:<id>");
  ASSERT_EQ(p.captureNames().size(), 2u);
  EXPECT_EQ(p.captureNames()[0], "customer");
  EXPECT_EQ(p.captureNames()[1], "id");
  EXPECT_EQ(p.text(), "order:{<customer>}:<id>");
  EXPECT_TRUE(compiled("config:global").captureNames().empty());
}

TEST(KeyPattern, MatchesOneSegmentPerCapture) {
  const KeyPattern p = compiled("user:profile:<id>");
  EXPECT_EQ(matchOf(p, "user:profile:42"), "42");
  EXPECT_EQ(matchOf(p, "user:profile:"), "no match");     // a capture is never empty
  EXPECT_EQ(matchOf(p, "user:profile:4:2"), "no match");  // nor crosses a ':'
  EXPECT_EQ(matchOf(p, "user:profiles:42"), "no match");
  EXPECT_EQ(matchOf(p, "xuser:profile:42"), "no match");
  EXPECT_EQ(matchOf(compiled("order:{<customer>}:<id>"), "order:{c7}:991"), "c7|991");
  EXPECT_EQ(matchOf(compiled("<a>-<b>"), "x-y-z"), "x|y-z");  // shortest first capture
  EXPECT_EQ(matchOf(compiled("item:<id>:v2"), "item:9:v2"), "9");
  EXPECT_EQ(matchOf(compiled("item:<id>:v2"), "item:9:v3"), "no match");
  EXPECT_EQ(matchOf(compiled("config:global"), "config:global"), "");
  EXPECT_EQ(matchOf(compiled("config:global"), "config:globals"), "no match");
}

TEST(KeyPattern, RejectsMalformedPatterns) {
  EXPECT_EQ(compileError(""), "pattern is empty");
  EXPECT_EQ(compileError("user:<id"), "'<' without '>' at column 6");
  EXPECT_EQ(compileError("user:id>"), "'>' without '<' at column 8");
  EXPECT_EQ(compileError("user:<>"), "capture name missing at column 6");
  EXPECT_NE(compileError("user:<1d>").find("must be letters, digits and '_'"), std::string::npos);
  EXPECT_NE(compileError("user:<i-d>").find("must be letters, digits and '_'"), std::string::npos);
  EXPECT_EQ(compileError("<id>:<id>"), "capture <id> used twice at column 6");
  EXPECT_EQ(compileError("user:<a><b>"),
            "two captures touch; put literal text between them at column 9");
}

TEST(KeyPattern, OverlapWhenSomeKeyMatchesBoth) {
  auto overlap = [](std::string_view a, std::string_view b) {
    const bool ab = KeyPattern::overlaps(compiled(a), compiled(b));
    EXPECT_EQ(ab, KeyPattern::overlaps(compiled(b), compiled(a))) << a << " / " << b;
    return ab;
  };
  EXPECT_TRUE(overlap("user:<id>", "user:<uid>"));
  EXPECT_TRUE(overlap("user:<id>", "user:42"));
  EXPECT_TRUE(overlap("a<x>", "<y>b"));  // "ab"
  EXPECT_TRUE(overlap("<t>:<id>", "user:<id>"));
  EXPECT_TRUE(overlap("p<x>q", "pq<y>q"));                  // "pqxq"
  EXPECT_FALSE(overlap("user:<id>", "user:profile:<id>"));  // one segment vs two
  EXPECT_FALSE(overlap("user:<id>:v", "user:<id>:w"));
  EXPECT_FALSE(overlap("user:<id>", "team:<id>"));
  EXPECT_FALSE(overlap("user:<id>", "user:"));  // a capture is never empty
  EXPECT_FALSE(overlap("x:<a>", "x:<a>:<b>"));
  EXPECT_FALSE(overlap("<a>", "<a>:<b>"));
  EXPECT_TRUE(overlap("<a>", "k<b>"));
  EXPECT_FALSE(overlap("config:global", "config:local"));
}

// overlaps() against brute force: every key of up to 6 characters over {a, b, :} that
// matches both patterns proves an overlap, and none may exist when overlaps() says no.
TEST(KeyPattern, OverlapAgreesWithBruteForce) {
  const std::vector<std::string> patterns = {"a:<x>", "<x>:b",   "<x>",     "a<x>",    "<x>b",
                                             "a:b",   "<x>:<y>", "a:<x>:b", "<x>a<y>", "ab"};
  std::vector<std::string> keys = {""};
  for (std::size_t len = 1; len <= 6; ++len) {
    std::vector<std::string> longer;
    for (const auto& k : keys) {
      if (k.size() + 1 != len) continue;
      for (char c : {'a', 'b', ':'}) longer.push_back(k + c);
    }
    keys.insert(keys.end(), longer.begin(), longer.end());
  }
  std::vector<std::string_view> captures;
  for (const auto& a : patterns) {
    for (const auto& b : patterns) {
      const KeyPattern pa = compiled(a);
      const KeyPattern pb = compiled(b);
      bool witness = false;
      for (const auto& k : keys)
        witness = witness || (pa.match(k, captures) && pb.match(k, captures));
      // Every pair here that overlaps has a witness of 6 characters or fewer.
      EXPECT_EQ(KeyPattern::overlaps(pa, pb), witness) << a << " / " << b;
    }
  }
}

}  // namespace
}  // namespace readthru::cache
