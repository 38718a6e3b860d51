#include "resp/writer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace readthru::resp {
namespace {

using namespace std::string_literals;

TEST(Writer, Simple) {
  std::string out;
  appendSimple(out, "OK");
  EXPECT_EQ(out, "+OK\r\n");
  appendSimple(out, "");
  EXPECT_EQ(out, "+OK\r\n+\r\n");
}

TEST(Writer, SimpleReplacesLineBreaks) {
  std::string out;
  appendSimple(out, "a\r\nb\nc\rd");
  EXPECT_EQ(out, "+a  b c d\r\n");
}

TEST(Writer, Error) {
  std::string out;
  appendError(out, "ERR unknown command");
  EXPECT_EQ(out, "-ERR unknown command\r\n");
}

TEST(Writer, ErrorReplacesLineBreaksOnlyInItsOwnLine) {
  std::string out = "+kept\r\n";
  appendError(out, "ERR Protocol error: expected '$', got '\r'\n");
  EXPECT_EQ(out, "+kept\r\n-ERR Protocol error: expected '$', got ' ' \r\n");
}

TEST(Writer, Integer) {
  std::string out;
  appendInteger(out, 0);
  appendInteger(out, 42);
  appendInteger(out, -7);
  EXPECT_EQ(out, ":0\r\n:42\r\n:-7\r\n");
  out.clear();
  appendInteger(out, std::numeric_limits<std::int64_t>::min());
  appendInteger(out, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(out, ":-9223372036854775808\r\n:9223372036854775807\r\n");
}

TEST(Writer, Bulk) {
  std::string out;
  appendBulk(out, "foo");
  appendBulk(out, "");
  EXPECT_EQ(out, "$3\r\nfoo\r\n$0\r\n\r\n");
}

TEST(Writer, BulkIsBinarySafe) {
  std::string out;
  appendBulk(out, "a\r\n\0b"s);
  EXPECT_EQ(out, "$5\r\na\r\n\0b\r\n"s);
}

TEST(Writer, NilsAndArrayHeader) {
  std::string out;
  appendNil(out);
  appendNilArray(out);
  appendArrayHeader(out, 0);
  appendArrayHeader(out, 12);
  EXPECT_EQ(out, "$-1\r\n*-1\r\n*0\r\n*12\r\n");
}

TEST(Writer, ValueOfEachType) {
  EXPECT_EQ(encode(Value::simple("PONG")), "+PONG\r\n");
  EXPECT_EQ(encode(Value::error("ERR x\ny")), "-ERR x y\r\n");
  EXPECT_EQ(encode(Value::fromInteger(-1)), ":-1\r\n");
  EXPECT_EQ(encode(Value::bulk("v")), "$1\r\nv\r\n");
  EXPECT_EQ(encode(Value::nil()), "$-1\r\n");
  EXPECT_EQ(encode(Value{Type::kNilArray, 0, {}, {}, {}}), "*-1\r\n");
  EXPECT_EQ(encode(Value::array({})), "*0\r\n");
}

TEST(Writer, NestedArray) {
  const Value v = Value::array(
      {Value::bulk("a"), Value::fromInteger(1), Value::array({Value::nil(), Value::simple("OK")})});
  EXPECT_EQ(encode(v), "*3\r\n$1\r\na\r\n:1\r\n*2\r\n$-1\r\n+OK\r\n");
}

TEST(Writer, AppendValueAppends) {
  std::string out = "prefix";
  appendValue(out, Value::simple("OK"));
  EXPECT_EQ(out, "prefix+OK\r\n");
}

TEST(Writer, Command) {
  std::string out;
  const std::vector<std::string> args = {"SET", "k", "", "a\r\nb"};
  appendCommand(out, args);
  EXPECT_EQ(out, "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n$4\r\na\r\nb\r\n");
  out.clear();
  appendCommand(out, std::vector<std::string>{});
  EXPECT_EQ(out, "*0\r\n");
}

}  // namespace
}  // namespace readthru::resp
