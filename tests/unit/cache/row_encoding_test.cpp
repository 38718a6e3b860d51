#include "cache/row_encoding.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace readthru::cache {
namespace {

using Cell = std::optional<std::string>;

RowSet rowSet(std::vector<Column> columns, std::vector<std::vector<Cell>> rows) {
  RowSet rs;
  rs.columns = std::move(columns);
  rs.rows = std::move(rows);
  return rs;
}

// The JSON one cell of `kind` encodes to (the object {"v":...} minus its wrapping).
std::string jsonOf(ColumnKind kind, Cell value) {
  const std::string object = encodeJsonObject(rowSet({{"v", kind}}, {{std::move(value)}}), 0);
  const std::string prefix = "{\"v\":";
  EXPECT_EQ(object.substr(0, prefix.size()), prefix);
  EXPECT_EQ(object.back(), '}');
  return object.substr(prefix.size(), object.size() - prefix.size() - 1);
}

std::string jsonString(std::string_view text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

// ---------------------------------------------------------------------------------------
// Objects and arrays
// ---------------------------------------------------------------------------------------

TEST(RowEncoding, ObjectKeepsColumnOrderWithoutWhitespace) {
  const RowSet rs = rowSet({{"id", ColumnKind::kInteger}, {"name", ColumnKind::kText}},
                           {{"1", "a"}, {"2", std::nullopt}});
  EXPECT_EQ(encodeJsonObject(rs, 0), R"({"id":1,"name":"a"})");
  EXPECT_EQ(encodeJsonObject(rs, 1), R"({"id":2,"name":null})");
  const RowSet reversed =
      rowSet({{"z", ColumnKind::kText}, {"a", ColumnKind::kText}}, {{"1", "2"}});
  EXPECT_EQ(encodeJsonObject(reversed, 0), R"({"z":"1","a":"2"})");
}

TEST(RowEncoding, EveryKind) {
  const RowSet rs =
      rowSet({{"t", ColumnKind::kText},
              {"i", ColumnKind::kInteger},
              {"n", ColumnKind::kNumber},
              {"b", ColumnKind::kBool},
              {"j", ColumnKind::kJson},
              {"ts", ColumnKind::kTimestamp},
              {"by", ColumnKind::kBytes}},
             {{"hi", "-12", "3.5", "true", R"({"a": [1, 2]})", "2024-05-01T12:00:00+00:00", "foo"},
              {std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
               std::nullopt}});
  EXPECT_EQ(encodeJsonObject(rs, 0), R"({"t":"hi","i":-12,"n":3.5,"b":true,"j":{"a": [1, 2]},)"
                                     R"("ts":"2024-05-01T12:00:00+00:00","by":"Zm9v"})");
  EXPECT_EQ(encodeJsonObject(rs, 1),
            R"({"t":null,"i":null,"n":null,"b":null,"j":null,"ts":null,"by":null})");
}

TEST(RowEncoding, KeysAreEscaped) {
  const RowSet rs = rowSet({{"a\"b\\c\n", ColumnKind::kText}}, {{"x"}});
  EXPECT_EQ(encodeJsonObject(rs, 0), R"({"a\"b\\c\n":"x"})");
}

TEST(RowEncoding, ShortRowReadsAsNull) {
  const RowSet rs = rowSet({{"a", ColumnKind::kText}, {"b", ColumnKind::kText}}, {{"x"}});
  EXPECT_EQ(encodeJsonObject(rs, 0), R"({"a":"x","b":null})");
  EXPECT_EQ(encodeHash(rs, 0).size(), 1u);
}

TEST(RowEncoding, RowsIsAnArrayOfObjects) {
  EXPECT_EQ(encodeJsonRows(rowSet({{"id", ColumnKind::kInteger}}, {})), "[]");
  EXPECT_EQ(encodeJsonRows(RowSet{}), "[]");
  const RowSet rs = rowSet({{"id", ColumnKind::kInteger}, {"ok", ColumnKind::kBool}},
                           {{"1", "true"}, {"2", "false"}, {"3", std::nullopt}});
  EXPECT_EQ(encodeJsonRows(rs), R"([{"id":1,"ok":true},{"id":2,"ok":false},{"id":3,"ok":null}])");
  EXPECT_EQ(encodeJsonRows(rowSet({}, {{}, {}})), "[{},{}]");
}

// ---------------------------------------------------------------------------------------
// Strings: escapes and UTF-8
// ---------------------------------------------------------------------------------------

TEST(RowEncoding, EscapesEveryControlCharacter) {
  const char* const expected[0x20] = {
      R"(\u0000)", R"(\u0001)", R"(\u0002)", R"(\u0003)", R"(\u0004)", R"(\u0005)", R"(\u0006)",
      R"(\u0007)", R"(\b)",     R"(\t)",     R"(\n)",     R"(\u000b)", R"(\f)",     R"(\r)",
      R"(\u000e)", R"(\u000f)", R"(\u0010)", R"(\u0011)", R"(\u0012)", R"(\u0013)", R"(\u0014)",
      R"(\u0015)", R"(\u0016)", R"(\u0017)", R"(\u0018)", R"(\u0019)", R"(\u001a)", R"(\u001b)",
      R"(\u001c)", R"(\u001d)", R"(\u001e)", R"(\u001f)"};
  for (int c = 0; c < 0x20; ++c) {
    const std::string in = std::string("a").append(1, static_cast<char>(c)).append("b");
    const std::string want = std::string("\"a").append(expected[c]).append("b\"");
    EXPECT_EQ(jsonString(in), want) << "byte " << c;
    EXPECT_EQ(jsonOf(ColumnKind::kText, in), jsonString(in));
  }
}

TEST(RowEncoding, EscapesQuotesAndBackslashOnly) {
  EXPECT_EQ(jsonString(""), R"("")");
  EXPECT_EQ(jsonString(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(jsonString(R"(C:\dir\)"), R"("C:\\dir\\")");
  EXPECT_EQ(jsonString("a/b\x7f~"), "\"a/b\x7f~\"");  // '/' and DEL need no escape
  EXPECT_EQ(jsonString("\"\\\"\\"), R"("\"\\\"\\")");
}

TEST(RowEncoding, EscapesJavaScriptLineBreaks) {
  EXPECT_EQ(jsonString("a\xe2\x80\xa8z"), R"("a\u2028z")");
  EXPECT_EQ(jsonString("\xe2\x80\xa9"), R"("\u2029")");
  EXPECT_EQ(jsonString("\xe2\x80\xa7\xe2\x80\xaa"), "\"\xe2\x80\xa7\xe2\x80\xaa\"");  // neighbours
}

TEST(RowEncoding, CopiesValidUtf8) {
  const std::string valid[] = {
      "\xc2\x80",          // U+0080, smallest 2-byte
      "\xc3\xa9",          // é
      "\xdf\xbf",          // U+07FF
      "\xe0\xa0\x80",      // U+0800, smallest 3-byte
      "\xe2\x82\xac",      // €
      "\xed\x9f\xbf",      // U+D7FF, just below the surrogates
      "\xee\x80\x80",      // U+E000, just above them
      "\xef\xbf\xbf",      // U+FFFF
      "\xf0\x90\x80\x80",  // U+10000, smallest 4-byte
      "\xf0\x9f\x98\x80",  // 😀
      "\xf4\x8f\xbf\xbf",  // U+10FFFF, the last code point
  };
  for (const std::string& s : valid) {
    EXPECT_EQ(jsonString(s), "\"" + s + "\"");
    EXPECT_EQ(jsonString("x" + s + "y"), "\"x" + s + "y\"");
  }
  EXPECT_EQ(jsonString("na\xc3\xafve caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"),
            "\"na\xc3\xafve caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\"");
}

TEST(RowEncoding, ReplacesEachMaximalIllFormedSubpart) {
  const std::string r = R"(\ufffd)";
  // Stray continuation bytes and bytes that never start a sequence.
  EXPECT_EQ(jsonString("\x80"), "\"" + r + "\"");
  EXPECT_EQ(jsonString("a\xbf\x80z"), "\"a" + r + r + "z\"");
  for (int lead : {0xc0, 0xc1, 0xf5, 0xf8, 0xfc, 0xfe, 0xff}) {
    EXPECT_EQ(jsonString(bytes({lead})), "\"" + r + "\"") << lead;
  }
  // Overlongs: C0/C1 are bad leads; E0 and F0 reject the second byte.
  EXPECT_EQ(jsonString("\xc0\xaf"), "\"" + r + r + "\"");
  EXPECT_EQ(jsonString("\xe0\x80\xaf"), "\"" + r + r + r + "\"");
  EXPECT_EQ(jsonString("\xf0\x80\x80\xaf"), "\"" + r + r + r + r + "\"");
  // Surrogates D800..DFFF (ED A0..BF ..).
  EXPECT_EQ(jsonString("\xed\xa0\x80"), "\"" + r + r + r + "\"");
  EXPECT_EQ(jsonString("\xed\xbf\xbf"), "\"" + r + r + r + "\"");
  // Above U+10FFFF.
  EXPECT_EQ(jsonString("\xf4\x90\x80\x80"), "\"" + r + r + r + r + "\"");
  // Truncated sequences: one replacement for the whole prefix, at the end or before ASCII.
  EXPECT_EQ(jsonString("\xc3"), "\"" + r + "\"");
  EXPECT_EQ(jsonString("\xe2\x82"), "\"" + r + "\"");
  EXPECT_EQ(jsonString("\xf0\x9f\x98"), "\"" + r + "\"");
  EXPECT_EQ(jsonString("a\xf0\x9f\x98z"), "\"a" + r + "z\"");
  EXPECT_EQ(jsonString("\xe2\x82\""), "\"" + r + "\\\"\"");
  // A truncated sequence followed by a valid one keeps the valid one.
  EXPECT_EQ(jsonString("\xe2\x82\xc3\xa9"), "\"" + r + "\xc3\xa9\"");
  // The Unicode standard's own example (section 3.9, U+FFFD substitution):
  // 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d.
  EXPECT_EQ(jsonString("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64"),
            "\"a" + r + r + r + "b" + r + "c" + r + r + "d\"");
}

// ---------------------------------------------------------------------------------------
// Numbers, booleans, json, bytes
// ---------------------------------------------------------------------------------------

TEST(RowEncoding, IntegersAreNumbersOnlyWhenJsonAllowsThem) {
  for (const char* n :
       {"0", "-0", "7", "-7", "42", "9223372036854775807", "-9223372036854775808"}) {
    EXPECT_EQ(jsonOf(ColumnKind::kInteger, n), n);
  }
  for (const char* s : {"007", "-01", "+1", "1.0", "1e3", "", "-", " 1", "1 ", "12a", "0x10"}) {
    EXPECT_EQ(jsonOf(ColumnKind::kInteger, s), jsonString(s)) << s;
  }
}

TEST(RowEncoding, NumbersFollowTheJsonGrammar) {
  for (const char* n : {"0", "-0", "1e+300", "-0.5", "3.14", "1E5", "2.5e-3", "1e400", "123.4500",
                        "-1.7976931348623157e+308", "0.0", "10"}) {
    EXPECT_EQ(jsonOf(ColumnKind::kNumber, n), n);
  }
  for (const char* s : {"NaN", "Infinity", "-Infinity", "inf", "007", ".5", "5.", "-.5", "1e",
                        "1e+", "+1", "", "-", "0x10", "1.5 ", "1,5", "1.2.3", "1e5e5"}) {
    EXPECT_EQ(jsonOf(ColumnKind::kNumber, s), jsonString(s)) << s;
  }
}

TEST(RowEncoding, BooleansAreLiterals) {
  EXPECT_EQ(jsonOf(ColumnKind::kBool, "true"), "true");
  EXPECT_EQ(jsonOf(ColumnKind::kBool, "false"), "false");
  EXPECT_EQ(jsonOf(ColumnKind::kBool, "t"), R"("t")");
  EXPECT_EQ(jsonOf(ColumnKind::kBool, "TRUE"), R"("TRUE")");
  EXPECT_EQ(jsonOf(ColumnKind::kBool, std::nullopt), "null");
}

TEST(RowEncoding, JsonIsEmbeddedVerbatim) {
  EXPECT_EQ(jsonOf(ColumnKind::kJson, R"({"a": "\u00e9", "b": [1, null]})"),
            R"({"a": "\u00e9", "b": [1, null]})");
  EXPECT_EQ(jsonOf(ColumnKind::kJson, "[]"), "[]");
  EXPECT_EQ(jsonOf(ColumnKind::kJson, "\"s\""), "\"s\"");
  EXPECT_EQ(jsonOf(ColumnKind::kJson, "null"), "null");
  EXPECT_EQ(jsonOf(ColumnKind::kJson, ""), "null");
  EXPECT_EQ(jsonOf(ColumnKind::kJson, " \n"), "null");
}

TEST(RowEncoding, TimestampsAreStrings) {
  EXPECT_EQ(jsonOf(ColumnKind::kTimestamp, "2024-05-01T12:00:00+00:00"),
            R"("2024-05-01T12:00:00+00:00")");
  EXPECT_EQ(jsonOf(ColumnKind::kTimestamp, "infinity"), R"("infinity")");
}

TEST(RowEncoding, BytesAreBase64) {
  // RFC 4648 section 10.
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, ""), R"("")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, "f"), R"("Zg==")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, "fo"), R"("Zm8=")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, "foo"), R"("Zm9v")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, "foob"), R"("Zm9vYg==")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, "fooba"), R"("Zm9vYmE=")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, "foobar"), R"("Zm9vYmFy")");
  // Bytes a text encoder would mangle, and the '+' '/' end of the alphabet.
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, bytes({0x00})), R"("AA==")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, bytes({0xff})), R"("/w==")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, bytes({0x00, 0x00, 0x00})), R"("AAAA")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, bytes({0xff, 0xff, 0xff})), R"("////")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, bytes({0x00, 0xff, 0xfe})), R"("AP/+")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, bytes({0xfb, 0xff})), R"("+/8=")");
  EXPECT_EQ(jsonOf(ColumnKind::kBytes, bytes({0xde, 0xad, 0xbe, 0xef, 0x00})), R"("3q2+7wA=")");
}

// ---------------------------------------------------------------------------------------
// value and hash
// ---------------------------------------------------------------------------------------

TEST(RowEncoding, ValueIsTheRawText) {
  const auto value = [](ColumnKind kind, Cell cell) {
    return encodeValue(rowSet({{"v", kind}}, {{std::move(cell)}}), 0);
  };
  EXPECT_EQ(value(ColumnKind::kText, "a\"b\n"), "a\"b\n");
  EXPECT_EQ(value(ColumnKind::kInteger, "007"), "007");
  EXPECT_EQ(value(ColumnKind::kNumber, "NaN"), "NaN");
  EXPECT_EQ(value(ColumnKind::kBool, "true"), "true");
  EXPECT_EQ(value(ColumnKind::kBool, "false"), "false");
  EXPECT_EQ(value(ColumnKind::kJson, R"({"a": 1})"), R"({"a": 1})");
  EXPECT_EQ(value(ColumnKind::kTimestamp, "2024-05-01"), "2024-05-01");
  EXPECT_EQ(value(ColumnKind::kBytes, bytes({0x00, 0xff, 0x80})), bytes({0x00, 0xff, 0x80}));
  EXPECT_EQ(value(ColumnKind::kText, ""), "");
  EXPECT_EQ(value(ColumnKind::kText, std::nullopt), std::nullopt);
  EXPECT_EQ(value(ColumnKind::kBytes, std::nullopt), std::nullopt);
  EXPECT_EQ(encodeValue(rowSet({{"v", ColumnKind::kText}}, {{}}), 0), std::nullopt);
}

TEST(RowEncoding, HashLeavesOutNullColumns) {
  using Fields = std::vector<std::pair<std::string, std::string>>;
  const RowSet rs = rowSet({{"id", ColumnKind::kInteger},
                            {"name", ColumnKind::kText},
                            {"avatar", ColumnKind::kBytes},
                            {"active", ColumnKind::kBool},
                            {"score", ColumnKind::kNumber}},
                           {{"1", std::nullopt, bytes({0x00, 0xff}), "true", "Infinity"},
                            {std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt},
                            {"3", "", std::nullopt, std::nullopt, "-0.5"}});
  EXPECT_EQ(encodeHash(rs, 0), (Fields{{"id", "1"},
                                       {"avatar", bytes({0x00, 0xff})},
                                       {"active", "true"},
                                       {"score", "Infinity"}}));
  EXPECT_TRUE(encodeHash(rs, 1).empty());
  EXPECT_EQ(encodeHash(rs, 2), (Fields{{"id", "3"}, {"name", ""}, {"score", "-0.5"}}));
}

// ---------------------------------------------------------------------------------------
// Randomized: whatever the bytes, the output is a strict JSON string
// ---------------------------------------------------------------------------------------

// Decodes one UTF-8 sequence at s[i] strictly (shortest form, no surrogates, <= U+10FFFF)
// into `cp`, advancing i; false when it is not well-formed. Written from the bit patterns,
// independently of the encoder's table of byte ranges.
bool decodeUtf8(std::string_view s, std::size_t& i, std::uint32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = b(i);
  int extra = 0;
  std::uint32_t min = 0;
  if (lead < 0x80) {
    cp = lead;
    ++i;
    return true;
  } else if ((lead & 0xe0) == 0xc0) {
    extra = 1, cp = lead & 0x1f, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    extra = 2, cp = lead & 0x0f, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    extra = 3, cp = lead & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (i + extra >= s.size()) return false;
  for (int k = 1; k <= extra; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return false;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  i += extra + 1;
  return true;
}

void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

bool isValidUtf8(std::string_view s) {
  std::uint32_t cp = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (!decodeUtf8(s, i, cp)) return false;
  }
  return true;
}

// Parses `json` as exactly one RFC 8259 string and returns its decoded content as UTF-8,
// or an error message. Also rejects what this encoder promises never to emit: raw
// U+2028/U+2029 and lone surrogate escapes.
std::string parseJsonString(std::string_view json, std::string& decoded) {
  if (json.size() < 2 || json.front() != '"' || json.back() != '"') return "not quoted";
  const std::string_view body = json.substr(1, json.size() - 2);
  for (std::size_t i = 0; i < body.size();) {
    const unsigned char c = static_cast<unsigned char>(body[i]);
    if (c < 0x20) return "raw control character " + std::to_string(c);
    if (c == '"') return "unescaped quote at " + std::to_string(i);
    if (c != '\\') {
      std::uint32_t cp = 0;
      if (!decodeUtf8(body, i, cp)) return "ill-formed UTF-8 at " + std::to_string(i);
      if (cp == 0x2028 || cp == 0x2029) return "raw U+2028/U+2029";
      appendUtf8(decoded, cp);
      continue;
    }
    if (i + 1 >= body.size()) return "dangling backslash";
    const char e = body[i + 1];
    const std::string_view simple = "\"\\/bfnrt";
    const std::string_view meaning = "\"\\/\b\f\n\r\t";
    if (const auto k = simple.find(e); k != std::string_view::npos) {
      decoded += meaning[k];
      i += 2;
      continue;
    }
    if (e != 'u' || i + 6 > body.size()) return "bad escape";
    std::uint32_t cp = 0;
    for (std::size_t k = i + 2; k < i + 6; ++k) {
      const char h = body[k];
      const int digit = h >= '0' && h <= '9'   ? h - '0'
                        : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                               : -1;
      if (digit < 0) return "bad \\u digits";
      cp = cp * 16 + digit;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) return "surrogate escape";
    appendUtf8(decoded, cp);
    i += 6;
  }
  return "";
}

TEST(RowEncoding, RandomBytesAlwaysGiveStrictJsonStrings) {
  std::mt19937 rng(20240501);
  // Pieces that exercise the interesting paths more often than uniform bytes would.
  const std::vector<std::string> pieces = {"\"",
                                           "\\",
                                           "\xe2\x80\xa8",
                                           "\xe2\x80\xa9",
                                           "\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80",
                                           "\xed\xa0\x80",
                                           "\xf4\x90\x80\x80",
                                           "\xe0\x80\xaf",
                                           "\xc0\xaf",
                                           "\xf0\x9f",
                                           "\xe2\x82",
                                           "\x7f",
                                           "\n"};
  std::size_t valid_inputs = 0;
  for (int n = 0; n < 10000; ++n) {
    std::string in;
    const int length = static_cast<int>(rng() % 24);
    for (int k = 0; k < length; ++k) {
      const std::uint32_t pick = rng() % 8;
      if (pick == 0) {
        in += pieces[rng() % pieces.size()];
      } else if (pick <= 2) {
        in += static_cast<char>(0x80 + rng() % 0x80);
      } else {
        in += static_cast<char>(rng() % 0x80);
      }
    }
    const std::string out = jsonOf(ColumnKind::kText, in);
    std::string decoded;
    const std::string error = parseJsonString(out, decoded);
    ASSERT_EQ(error, "") << "case " << n << ": " << testing::PrintToString(in) << " -> "
                         << testing::PrintToString(out);
    if (isValidUtf8(in)) {
      ++valid_inputs;
      EXPECT_EQ(decoded, in) << "case " << n << ": valid UTF-8 must round-trip";
    } else {
      EXPECT_NE(decoded.find("\xef\xbf\xbd"), std::string::npos) << "case " << n;
    }
  }
  EXPECT_GT(valid_inputs, 100u);  // the generator must reach both branches
}

}  // namespace
}  // namespace readthru::cache
