#include "resp/request_parser.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace readthru::resp {
namespace {

using namespace std::string_literals;
using Args = std::vector<std::string>;

// ---------------------------------------------------------------------------------------
// Harness: a caller that appends what arrives, parses until kIncomplete and drops what
// the parser consumed, as the server's session does.
// ---------------------------------------------------------------------------------------

struct Outcome {
  std::vector<Args> requests;
  bool error = false;
  std::string error_text;
  std::size_t max_buffered = 0;  // the most the parser held between calls
  bool too_big = false;          // kTooBig: the request limit was passed
};

Outcome feed(const std::vector<std::string>& chunks, ParserLimits limits = {}) {
  RequestParser parser(limits);
  Outcome result;
  std::string buffer;
  Args out;
  for (const std::string& chunk : chunks) {
    buffer.append(chunk);
    while (true) {
      std::size_t consumed = 0;
      const ParseStatus status = parser.parse(buffer, consumed, out);
      result.max_buffered = std::max(result.max_buffered, parser.bufferedBytes());
      if (status == ParseStatus::kTooBig) {
        result.too_big = true;
        EXPECT_TRUE(out.empty());
        EXPECT_EQ(parser.bufferedBytes(), 0u) << "the arguments' memory goes at once";
        return result;
      }
      if (status == ParseStatus::kError) {
        result.error = true;
        result.error_text = parser.error();
        EXPECT_TRUE(out.empty());
        return result;
      }
      EXPECT_LE(consumed, buffer.size());
      if (status == ParseStatus::kIncomplete) {
        EXPECT_EQ(consumed, buffer.size()) << "kIncomplete must consume all of its input";
        EXPECT_TRUE(out.empty());
        buffer.erase(0, consumed);
        break;
      }
      result.requests.push_back(out);
      buffer.erase(0, consumed);
    }
  }
  return result;
}

std::vector<std::string> whole(const std::string& msg) { return {msg}; }

std::vector<std::string> inChunks(const std::string& msg, std::size_t size) {
  std::vector<std::string> chunks;
  for (std::size_t i = 0; i < msg.size(); i += size) chunks.push_back(msg.substr(i, size));
  return chunks;
}

std::vector<std::string> byteByByte(const std::string& msg) { return inChunks(msg, 1); }

// Every way of delivering `msg` must give exactly `expected`.
void expectRequests(const std::string& msg, const std::vector<Args>& expected,
                    ParserLimits limits = {}) {
  for (std::size_t size :
       {msg.size(), std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
    SCOPED_TRACE("chunk size " + std::to_string(size));
    const Outcome got = feed(size == msg.size() ? whole(msg) : inChunks(msg, size), limits);
    EXPECT_FALSE(got.error) << got.error_text;
    EXPECT_EQ(got.requests, expected);
  }
}

// A single request: whole, byte by byte, every truncated prefix, and followed by more.
void expectRequest(const std::string& msg, const Args& expected, ParserLimits limits = {}) {
  SCOPED_TRACE(::testing::PrintToString(msg));
  expectRequests(msg, {expected}, limits);

  Args out;
  std::size_t consumed = 0;
  {
    RequestParser parser(limits);
    ASSERT_EQ(parser.parse(msg + "*1\r\n$4\r\nPING\r\n", consumed, out), ParseStatus::kOk);
    EXPECT_EQ(consumed, msg.size());
    EXPECT_EQ(out, expected);
  }
  for (std::size_t n = 0; n < msg.size(); ++n) {
    RequestParser parser(limits);
    ASSERT_EQ(parser.parse(std::string_view(msg).substr(0, n), consumed, out),
              ParseStatus::kIncomplete)
        << "prefix of " << n << " bytes";
    EXPECT_EQ(consumed, n);
    EXPECT_TRUE(out.empty());
  }
}

// `msg` must fail with `text` however it is delivered, and stay failed until reset().
void expectError(const std::string& msg, const std::string& text, ParserLimits limits = {}) {
  SCOPED_TRACE(::testing::PrintToString(msg.substr(0, 64)));
  for (const auto& chunks : {whole(msg), byteByByte(msg), inChunks(msg, 5)}) {
    const Outcome got = feed(chunks, limits);
    EXPECT_TRUE(got.error);
    EXPECT_EQ(got.error_text, text);
    EXPECT_TRUE(got.requests.empty());
  }

  RequestParser parser(limits);
  Args out;
  std::size_t consumed = 0;
  ASSERT_EQ(parser.parse(msg, consumed, out), ParseStatus::kError);
  EXPECT_EQ(parser.parse("*1\r\n$4\r\nPING\r\n", consumed, out), ParseStatus::kError);
  EXPECT_EQ(parser.error(), text);
  parser.reset();
  EXPECT_EQ(parser.parse("*1\r\n$4\r\nPING\r\n", consumed, out), ParseStatus::kOk);
  EXPECT_EQ(out, Args{"PING"});
}

// ---------------------------------------------------------------------------------------
// Valid multibulk requests
// ---------------------------------------------------------------------------------------

TEST(RequestParserMultibulk, SimpleCommands) {
  expectRequest("*1\r\n$4\r\nPING\r\n", {"PING"});
  expectRequest("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", {"GET", "key"});
  expectRequest("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", {"SET", "k", ""});
  expectRequest("*1\r\n$0\r\n\r\n", {""});
}

TEST(RequestParserMultibulk, GenericWrongNumberOfArgsIsParsedAsIs) {
  // protocol.tcl "Generic wrong number of args": arity is the command table's job.
  expectRequest("*4\r\n$4\r\nping\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n", {"ping", "x", "y", "z"});
}

TEST(RequestParserMultibulk, BinarySafeBulks) {
  const std::string payload = "a\r\nb\0c\n\r"s;
  expectRequest("*2\r\n$3\r\nGET\r\n$8\r\n"s + payload + "\r\n", {"GET", payload});
  const std::string all_bytes = [] {
    std::string s;
    for (int c = 0; c < 256; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  expectRequest("*1\r\n$256\r\n" + all_bytes + "\r\n", {all_bytes});
}

TEST(RequestParserMultibulk, EmptyAndNegativeCountsAreSkipped) {
  // protocol.tcl "Negative multibulk length": no reply, the next command works.
  expectRequests("*-10\r\n", {});
  expectRequests("*0\r\n*-1\r\n", {});
  expectRequest("*-10\r\n*1\r\n$4\r\nPING\r\n", {"PING"});
  expectRequest("*0\r\n*1\r\n$4\r\nPING\r\n", {"PING"});
}

TEST(RequestParserMultibulk, Pipeline) {
  const std::string msg =
      "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
      "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"
      "PING\r\n"
      "*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$2\r\n\r\n\r\n";
  expectRequests(msg, {{"GET", "a"}, {"GET", "b"}, {"PING"}, {"SET", "c", "\r\n"}});

  // One buffer, several parse() calls, each stopping right after its request.
  RequestParser parser;
  Args out;
  std::size_t consumed = 0;
  std::string_view rest = msg;
  ASSERT_EQ(parser.parse(rest, consumed, out), ParseStatus::kOk);
  EXPECT_EQ(consumed, 20u);
  rest.remove_prefix(consumed);
  ASSERT_EQ(parser.parse(rest, consumed, out), ParseStatus::kOk);
  EXPECT_EQ(out, (Args{"GET", "b"}));
  rest.remove_prefix(consumed);
  ASSERT_EQ(parser.parse(rest, consumed, out), ParseStatus::kOk);
  EXPECT_EQ(out, Args{"PING"});
  rest.remove_prefix(consumed);
  ASSERT_EQ(parser.parse(rest, consumed, out), ParseStatus::kOk);
  EXPECT_EQ(consumed, rest.size());
}

TEST(RequestParserMultibulk, ReusesOutputCapacity) {
  RequestParser parser;
  Args out;
  std::size_t consumed = 0;
  const std::string msg = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n";
  std::set<const std::string*> buffers;
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(parser.parse(msg, consumed, out), ParseStatus::kOk);
    EXPECT_EQ(out, (Args{"GET", "a"}));
    buffers.insert(out.data());
  }
  // The parser swaps two vectors back and forth instead of allocating one per request.
  EXPECT_LE(buffers.size(), 2u);
}

TEST(RequestParserMultibulk, TrailerIsSkippedLikeRedis) {
  // Redis skips the two bytes after a payload, and the byte after a header's '\r',
  // without checking them. Be compatible, and never misparse what follows.
  expectRequests("*1\r\n$4\r\nPINGxy*1\r\n$4\r\nPING\r\n", {{"PING"}, {"PING"}});
  expectRequest("*1\rX$4\rYPING\r\n", {"PING"});
}

TEST(RequestParserMultibulk, LargeBulkInChunks) {
  std::string payload(1024 * 1024, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + 3);
  const std::string msg = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(payload.size()) +
                          "\r\n" + payload + "\r\n";
  for (std::size_t size : {std::size_t{1000}, std::size_t{4096}, std::size_t{16384}, msg.size()}) {
    const Outcome got = feed(inChunks(msg, size));
    ASSERT_FALSE(got.error) << got.error_text;
    ASSERT_EQ(got.requests.size(), 1u);
    EXPECT_EQ(got.requests[0][2], payload);
  }
}

TEST(RequestParserMultibulk, DeclaredLengthsAreNotAllocated) {
  RequestParser parser;
  Args out;
  std::size_t consumed = 0;
  const std::string msg = "*2\r\n$3\r\nSET\r\n$536870912\r\nabc";
  ASSERT_EQ(parser.parse(msg, consumed, out), ParseStatus::kIncomplete);
  EXPECT_EQ(consumed, msg.size());
  EXPECT_LT(parser.bufferedBytes(), 1024u);

  // More bytes make the partial argument grow with what arrived, not what was declared.
  const std::string chunk(100000, 'x');
  ASSERT_EQ(parser.parse(chunk, consumed, out), ParseStatus::kIncomplete);
  EXPECT_EQ(consumed, chunk.size());
  EXPECT_LT(parser.bufferedBytes(), 1024u * 1024);

  // At most 1024 argument slots are reserved up front, whatever the declared count.
  RequestParser counts;
  ASSERT_EQ(counts.parse("*2147483647\r\n$1\r\na\r\n", consumed, out), ParseStatus::kIncomplete);
  EXPECT_LE(counts.bufferedBytes(), 1024 * sizeof(std::string) + 1024);
}

TEST(RequestParserMultibulk, UnauthenticatedLimitsAsRedis) {
  ParserLimits limits;
  limits.unauthenticated = true;
  const std::string ten = "*10\r\n" + [] {
    std::string args;
    for (int i = 0; i < 10; ++i) args += "$1\r\na\r\n";
    return args;
  }();
  EXPECT_EQ(feed({ten}, limits).requests.size(), 1u);
  expectError("*11\r\n", "Protocol error: unauthenticated multibulk length", limits);
  const std::string big(16384, 'x');
  expectRequest("*1\r\n$16384\r\n" + big + "\r\n", {big}, limits);
  expectError("*1\r\n$16385\r\n", "Protocol error: unauthenticated bulk length", limits);
  // Past the general limit the general text wins, as in Redis (checked first).
  expectError("*1\r\n$-2\r\n", "Protocol error: invalid bulk length", limits);
}

TEST(RequestParserMultibulk, LimitsChangeBetweenRequests) {
  ParserLimits limits;
  limits.unauthenticated = true;
  RequestParser parser(limits);
  Args out;
  std::size_t consumed = 0;
  ASSERT_EQ(parser.parse("*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n", consumed, out), ParseStatus::kOk);
  limits.unauthenticated = false;
  parser.setLimits(limits);
  EXPECT_EQ(parser.parse("*11\r\n", consumed, out), ParseStatus::kIncomplete);
}

TEST(RequestParserMultibulk, LimitsAreInclusive) {
  ParserLimits limits;
  limits.max_bulk = 5;
  limits.max_multibulk = 2;
  expectRequest("*2\r\n$5\r\nhello\r\n$0\r\n\r\n", {"hello", ""}, limits);
  expectError("*2\r\n$6\r\nhello!\r\n", "Protocol error: invalid bulk length", limits);
  expectError("*3\r\n", "Protocol error: invalid multibulk length", limits);

  // Redis 7 with its defaults: INT_MAX arguments, 512 MB bulks.
  RequestParser parser;
  Args out;
  std::size_t consumed = 0;
  EXPECT_EQ(parser.parse("*2147483647\r\n$536870912\r\n", consumed, out), ParseStatus::kIncomplete);
}

// ---------------------------------------------------------------------------------------
// Malformed multibulk requests (Redis's tests/unit/protocol.tcl and the limits)
// ---------------------------------------------------------------------------------------

TEST(RequestParserMultibulkErrors, OutOfRangeMultibulkLength) {
  expectError("*3000000000\r\n", "Protocol error: invalid multibulk length");
  expectError("*2147483648\r\n", "Protocol error: invalid multibulk length");
  ParserLimits one_mb;
  one_mb.max_multibulk = 1024 * 1024;
  expectError("*20000000\r\n", "Protocol error: invalid multibulk length", one_mb);
}

TEST(RequestParserMultibulkErrors, NonNumberMultibulkLength) {
  for (const char* msg : {"*\r\n", "*abc\r\n", "*01\r\n", "*+1\r\n", "*1 \r\n", "* 1\r\n",
                          "*-0\r\n", "*1\n$4\r\nPING\r\n", "*99999999999999999999\r\n"}) {
    expectError(msg, "Protocol error: invalid multibulk length");
  }
}

TEST(RequestParserMultibulkErrors, WrongMultibulkPayloadHeader) {
  expectError("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "Protocol error: expected '$', got 'f'");
}

TEST(RequestParserMultibulkErrors, MultibulkNotFollowedByBulkLength) {
  expectError("*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'");
  expectError("*1\r\n:1\r\n", "Protocol error: expected '$', got ':'");
  expectError("*1\r\n\r\n", "Protocol error: expected '$', got '\r'");
}

TEST(RequestParserMultibulkErrors, NegativeMultibulkPayloadLength) {
  expectError("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", "Protocol error: invalid bulk length");
  expectError("*1\r\n$-1\r\n", "Protocol error: invalid bulk length");
}

TEST(RequestParserMultibulkErrors, OutOfRangeMultibulkPayloadLength) {
  expectError("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n",
              "Protocol error: invalid bulk length");
  expectError("*1\r\n$536870913\r\n", "Protocol error: invalid bulk length");
}

TEST(RequestParserMultibulkErrors, NonNumberMultibulkPayloadLength) {
  expectError("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", "Protocol error: invalid bulk length");
  expectError("*1\r\n$\r\n", "Protocol error: invalid bulk length");
  expectError("*1\r\n$03\r\nfoo\r\n", "Protocol error: invalid bulk length");
}

TEST(RequestParserMultibulkErrors, TooBigCountLines) {
  expectError("*" + std::string(70000, '1'), "Protocol error: too big mbulk count string");
  expectError("*1\r\n$" + std::string(70000, '1'), "Protocol error: too big bulk count string");
  // A line that fits the 64 KiB limit is read, then rejected as a number.
  expectError("*" + std::string(65535, '1') + "\r\n", "Protocol error: invalid multibulk length");
  expectError("*1\r\n$" + std::string(65535, '1') + "\r\n", "Protocol error: invalid bulk length");
}

// ---------------------------------------------------------------------------------------
// Inline requests
// ---------------------------------------------------------------------------------------

TEST(RequestParserInline, Splitting) {
  expectRequest("PING\r\n", {"PING"});
  expectRequest("PING\n", {"PING"});
  expectRequest("  GET \t key  \r\n", {"GET", "key"});
  expectRequest("a\rb\r\n", {"a", "b"});
  expectRequest("a\vb\r\n", {"a\vb"});  // '\v' skips as a blank but does not end a token
  expectRequest("\va\r\n", {"a"});
}

TEST(RequestParserInline, Quotes) {
  expectRequest("SET \"a b\" 'c d'\r\n", {"SET", "a b", "c d"});
  expectRequest("SET k \"\\x41\\x00\\n\\r\\t\\b\\a\\\"\\\\\"\r\n",
                {"SET", "k", "A\0\n\r\t\b\a\"\\"s});
  expectRequest("ECHO 'it\\'s' 'a\\nb'\r\n", {"ECHO", "it's", "a\\nb"});
  expectRequest("ECHO \"\\xZZ\" \"\\q\" \"\\x4\"\r\n", {"ECHO", "xZZ", "q", "x4"});
  expectRequest("ECHO \"\" ''\r\n", {"ECHO", "", ""});
  expectRequest("foo\"bar baz\"\r\n", {"foobar baz"});
  expectRequest("\"a\"\t\"b\"\r\n", {"a", "b"});
  expectRequest("ECHO \"\\xff\\xFE\"\n", {"ECHO", "\xff\xfe"});
}

TEST(RequestParserInline, EmptyLinesAreSkipped) {
  // protocol.tcl "Handle an empty query".
  expectRequests("\r\n", {});
  expectRequests("\n   \r\n\t\n", {});
  expectRequest("\r\n*1\r\n$4\r\nPING\r\n", {"PING"});
  expectRequest("   \r\nPING\r\n", {"PING"});
}

TEST(RequestParserInline, LineLimitIsInclusive) {
  ParserLimits limits;
  limits.max_inline = 16;
  expectRequest(std::string(15, 'a') + "\r\n", {std::string(15, 'a')}, limits);
  expectRequest(std::string(16, 'a') + "\n", {std::string(16, 'a')}, limits);
  expectError(std::string(17, 'a') + "\n", "Protocol error: too big inline request", limits);
  expectRequests(std::string(65535, 'a') + "\r\n", {{std::string(65535, 'a')}});
}

TEST(RequestParserInline, UnbalancedQuotes) {
  // protocol.tcl "Unbalanced number of quotes in inline protocol".
  const std::string text = "Protocol error: unbalanced quotes in request";
  expectError("set \"\"\"test-key\"\"\" test-value\r\nping\r\n", text);
  expectError("ECHO \"abc\r\n", text);
  expectError("ECHO 'abc\r\n", text);
  expectError("ECHO \"abc\\\"\r\n", text);
  expectError("ECHO \"a\"b\r\n", text);
  expectError("ECHO 'a'b\r\n", text);
  expectError("ECHO \"abc\\\r\n", text);
}

TEST(RequestParserInline, TooBigInlineRequest) {
  const std::string text = "Protocol error: too big inline request";
  expectError(std::string(70000, 'a'), text);
  expectError(std::string(70000, 'a') + "\r\n", text);

  // A long line is held up to the limit and no further.
  const Outcome got = feed(inChunks(std::string(70000, 'a'), 1000));
  EXPECT_TRUE(got.error);
  EXPECT_LE(got.max_buffered, 64u * 1024);
}

TEST(RequestParserInline, StreamOfNulBytes) {
  const std::string zeros(70000, '\0');
  expectError(zeros, "Protocol error: too big inline request");
  for (std::size_t size : {std::size_t{1}, std::size_t{1024}, zeros.size()}) {
    const Outcome got = feed(inChunks(zeros, size));
    EXPECT_TRUE(got.error);
    EXPECT_LE(got.max_buffered, 64u * 1024);
  }
}

TEST(RequestParserInline, NulHidesTheNewlineAsInRedis) {
  // Redis finds the line end with strchr, so a NUL makes every later newline invisible:
  // nothing runs and the bytes count towards the limit.
  RequestParser parser;
  Args out;
  std::size_t consumed = 0;
  EXPECT_EQ(parser.parse("GET k\0\r\nPING\r\n"s, consumed, out), ParseStatus::kIncomplete);
  EXPECT_EQ(parser.bufferedBytes(), 0u);
  const std::string more(65536, '\n');
  EXPECT_EQ(parser.parse(more, consumed, out), ParseStatus::kError);
  EXPECT_EQ(parser.error(), "Protocol error: too big inline request");
}

TEST(RequestParserInline, ProtocolDesyncRegression) {
  // protocol.tcl "Protocol desync regression test #1..#3": a bad first byte followed by
  // an endless stream without a line end must end in a protocol error, not in growth.
  std::string payload;
  while (payload.size() < 80000) payload += "payload";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\x00"s, "Protocol error: too big inline request"},
      {"*\x00"s, "Protocol error: too big mbulk count string"},
      {"$\x00"s, "Protocol error: too big inline request"},
      {"*1\r\n$\x00"s, "Protocol error: too big bulk count string"},
  };
  for (const auto& [seq, text] : cases) {
    const Outcome got = feed(inChunks(seq + payload, 1025));
    EXPECT_TRUE(got.error);
    EXPECT_EQ(got.error_text, text);
    EXPECT_LE(got.max_buffered, 64u * 1024);
  }
}

// ---------------------------------------------------------------------------------------
// The request limit (listen.query_buffer_limit)
// ---------------------------------------------------------------------------------------

TEST(RequestParserLimit, OneHugeArgumentIsCutNearTheLimitWhateverTheChunks) {
  ParserLimits limits;
  limits.max_request_bytes = 64 * 1024;
  const std::string msg = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$104857600\r\n" + std::string(200000, 'x');
  for (std::size_t size : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, msg.size()}) {
    SCOPED_TRACE("chunk size " + std::to_string(size));
    const Outcome got = feed(size == msg.size() ? whole(msg) : inChunks(msg, size), limits);
    EXPECT_TRUE(got.too_big);
    EXPECT_FALSE(got.error);
    EXPECT_TRUE(got.requests.empty());
    // Held at most about the limit, never twice it (an argument's buffer doubling past it).
    EXPECT_LE(got.max_buffered, limits.max_request_bytes + 1024);
  }
}

TEST(RequestParserLimit, ManyArgumentsCountToo) {
  ParserLimits limits;
  limits.max_request_bytes = 4096;
  std::string msg = "*100000\r\n";
  for (int i = 0; i < 1000; ++i) msg += "$0\r\n\r\n";
  EXPECT_TRUE(feed(whole(msg), limits).too_big);
  EXPECT_TRUE(feed(inChunks(msg, 5), limits).too_big);
}

TEST(RequestParserLimit, ItBoundsOneRequestNotTheStream) {
  ParserLimits limits;
  limits.max_request_bytes = 1024;
  // Each request is well under the limit; together they are 50 times it.
  std::string msg;
  std::vector<Args> expected;
  for (int i = 0; i < 1000; ++i) {
    msg += "*2\r\n$3\r\nGET\r\n$10\r\nkey-" + std::to_string(100000 + i) + "\r\n";
    expected.push_back({"GET", "key-" + std::to_string(100000 + i)});
  }
  expectRequests(msg, expected, limits);
  // A request exactly at the limit passes: 32 bytes of overhead per argument plus its bytes.
  limits.max_request_bytes = 2 * sizeof(std::string) + 3 + 1000;
  const std::string big = "*2\r\n$3\r\nSET\r\n$1000\r\n" + std::string(1000, 'v') + "\r\n";
  expectRequests(big, {{"SET", std::string(1000, 'v')}}, limits);
  limits.max_request_bytes -= 1;
  EXPECT_TRUE(feed(whole(big), limits).too_big);
}

TEST(RequestParser, ErrorIsStickyUntilReset) {
  RequestParser parser;
  Args out;
  std::size_t consumed = 0;
  ASSERT_EQ(parser.parse("*x\r\n", consumed, out), ParseStatus::kError);
  EXPECT_EQ(parser.parse("PING\r\n", consumed, out), ParseStatus::kError);
  EXPECT_EQ(parser.parse("", consumed, out), ParseStatus::kError);
  parser.reset();
  EXPECT_TRUE(parser.error().empty());
  EXPECT_EQ(parser.parse("", consumed, out), ParseStatus::kIncomplete);
  EXPECT_EQ(parser.parse("PING\r\n", consumed, out), ParseStatus::kOk);
  EXPECT_EQ(out, Args{"PING"});
}

TEST(RequestParser, ResetDropsPartialRequest) {
  RequestParser parser;
  Args out;
  std::size_t consumed = 0;
  ASSERT_EQ(parser.parse("*2\r\n$3\r\nGET\r\n$2\r\na", consumed, out), ParseStatus::kIncomplete);
  EXPECT_GT(parser.bufferedBytes(), 0u);
  parser.reset();
  EXPECT_EQ(parser.bufferedBytes(), 0u);
  ASSERT_EQ(parser.parse("*1\r\n$4\r\nPING\r\n", consumed, out), ParseStatus::kOk);
  EXPECT_EQ(out, Args{"PING"});
}

}  // namespace
}  // namespace readthru::resp
