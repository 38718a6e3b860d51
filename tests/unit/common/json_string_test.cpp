#include "common/json_string.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/log.hpp"

namespace readthru {
namespace {

std::string escaped(std::string_view bytes) {
  std::string out;
  appendJsonString(out, bytes);
  return out;
}

// What RFC 8259 allows unescaped inside a string: no control byte, no lone quote or
// backslash; and what the line must be for a UTF-8 reader: valid UTF-8 throughout.
void expectValidJsonStringBody(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    ASSERT_GE(c, 0x20) << "raw control byte at " << i << " in " << s;
    ASSERT_NE(c, '"') << "unescaped quote at " << i;
    if (c == '\\') {
      ASSERT_LT(i + 1, s.size());
      const char e = s[i + 1];
      ASSERT_NE(std::string_view("\"\\nrtu").find(e), std::string_view::npos) << s;
      i += e == 'u' ? 6 : 2;
      continue;
    }
    const std::size_t len = utf8SequenceLength(std::string_view(s).substr(i));
    ASSERT_GT(len, 0u) << "invalid UTF-8 at " << i;
    i += len;
  }
}

TEST(JsonString, EscapesWhatJsonRequires) {
  EXPECT_EQ(escaped(R"(say "hi" \ bye)"), R"(say \"hi\" \\ bye)");
  EXPECT_EQ(escaped("a\nb\rc\td"), R"(a\nb\rc\td)");
  EXPECT_EQ(escaped(std::string("\0\x01\x1f\x7f", 4)), R"(\u0000\u0001\u001f\u007f)");
}

TEST(JsonString, KeepsValidUtf8) {
  EXPECT_EQ(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(escaped("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");  // U+10FFFF, the last
}

TEST(JsonString, InvalidUtf8BytesBecomeLatin1Escapes) {
  EXPECT_EQ(escaped("\xff"), R"(\u00ff)");
  EXPECT_EQ(escaped("\xc0\xaf"), R"(\u00c0\u00af)");            // overlong '/'
  EXPECT_EQ(escaped("\xed\xa0\x80"), R"(\u00ed\u00a0\u0080)");  // a surrogate
  EXPECT_EQ(escaped("\xe2\x82"), R"(\u00e2\u0082)");            // cut short
  EXPECT_EQ(escaped("\xe2\x82x"), R"(\u00e2\u0082x)");
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), R"(\u00f4\u0090\u0080\u0080)");  // past U+10FFFF
  EXPECT_EQ(escaped("\x80\xc3\xa9"), "\\u0080\xc3\xa9");  // a stray continuation, then é
}

TEST(JsonString, EveryByteAlone) {
  for (int b = 0; b < 256; ++b) {
    const std::string in(1, static_cast<char>(b));
    const std::string out = escaped(in);
    expectValidJsonStringBody(out);
    const bool plain = b >= 0x20 && b < 0x7f && b != '"' && b != '\\';
    if (plain) {
      EXPECT_EQ(out, in) << b;
    } else {
      EXPECT_EQ(out.front(), '\\') << b;
    }
  }
}

TEST(JsonString, EveryPairOfBytes) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string in{static_cast<char>(a), static_cast<char>(b)};
      expectValidJsonStringBody(escaped(in));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(JsonString, ByteAtATimeEqualsWholeForAscii) {
  // A message cut anywhere escapes the same piece by piece when no UTF-8 sequence is cut:
  // the escaping keeps no state between bytes but the sequence it is in.
  const std::string msg = "key \"a\\b\"\n\t\x01 end";
  std::string pieces;
  for (char c : msg) appendJsonString(pieces, std::string_view(&c, 1));
  EXPECT_EQ(pieces, escaped(msg));
}

TEST(JsonLogLine, FieldsInOrder) {
  EXPECT_EQ(jsonLogLine(1764658596123, "warn", 42, "slow \"GET\"\n"),
            R"({"ts":"2025-12-02T06:56:36.123Z","level":"warn","thread":42,"msg":"slow \"GET\"\n"})"
            "\n");
  EXPECT_EQ(jsonLogLine(951782400007, "info", 1, "").substr(0, 33),
            R"({"ts":"2000-02-29T00:00:00.007Z",)");
}

TEST(LogFormat, Names) {
  LogFormat f = LogFormat::kText;
  EXPECT_TRUE(parseLogFormat("json", f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_TRUE(parseLogFormat("text", f));
  EXPECT_EQ(f, LogFormat::kText);
  EXPECT_FALSE(parseLogFormat("JSON", f));
  EXPECT_EQ(logFormatName(LogFormat::kJson), "json");
  EXPECT_TRUE(isLogLevel("warn"));
  EXPECT_FALSE(isLogLevel("warning"));
}

}  // namespace
}  // namespace readthru
