// listen.query_buffer_limit: a client whose request still arriving holds more than the
// limit in readthru's parser is closed (Redis's client-query-buffer-limit), without
// readthru's memory following the length the client declared. The limit bounds one
// partial request, not the stream: a long pipeline of small complete commands passes.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "client.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "resp/writer.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "qbl" + std::to_string(::getpid());
std::string encode(const std::vector<std::string>& args) {
  std::string out;
  resp::appendCommand(out, args);
  return out;
}

constexpr const char* kLimitError =
    "-ERR readthru: query buffer limit reached (listen.query_buffer_limit)\r\n";

TEST(QueryBufferLimit, ClosesAClientSendingA100MbArgument) {
  ReadthruProcess proc(clusterBackend(), "  query_buffer_limit: 1mb\n");
  Client c(proc.port());
  const long long pid = infoField(c, "server", "process_id").value_or(0);
  ASSERT_GT(pid, 0);
  const long long peak_before = memoryKib(pid).value_or(0);

  // SET key <100 MB>: the header declares it all, then the bytes stream in. The client
  // sends until the connection breaks, 100 MB at most.
  RawConn big(proc.port());
  ASSERT_EQ(big.send("*3\r\n$3\r\nSET\r\n$" + std::to_string(kTag.size() + 4) + "\r\n" + kTag +
                     ":big\r\n$104857600\r\n"),
            RawConn::SendResult::kSent);
  const std::string chunk(64 * 1024, 'x');
  std::size_t sent = 0;
  auto outcome = RawConn::SendResult::kSent;
  while (outcome == RawConn::SendResult::kSent && sent < 100u * 1024 * 1024) {
    outcome = big.send(chunk, 10s);
    if (outcome == RawConn::SendResult::kSent) sent += chunk.size();
  }
  EXPECT_EQ(outcome, RawConn::SendResult::kClosed) << "after " << sent << " bytes";
  EXPECT_LT(sent, 100u * 1024 * 1024);
  // The error is written before the close, but a close with unread bytes resets the
  // connection, and a reset may discard it on the client's side.
  const auto rest = big.readUntilClosed(10s);
  EXPECT_TRUE(rest.closed);
  EXPECT_TRUE(rest.bytes.empty() || rest.bytes == kLimitError) << rest.bytes;

  const long long peak = memoryKib(pid).value_or(0);
  EXPECT_LT(peak - peak_before, 32 * 1024)
      << "readthru's RSS peaked at " << peak << " KiB, from " << peak_before;
  std::cout << "query buffer limit 1mb: closed after the client sent " << sent
            << " payload bytes; peak RSS " << peak_before << " -> " << peak << " KiB\n";

  // Everyone else is served; the key was never written; the close was counted.
  Client other(proc.port());
  EXPECT_EQ(show(other.call({"PING"})), "PONG");
  EXPECT_EQ(show(other.call({"SET", kTag + ":small", "v", "EX", "20"})), "OK");
  EXPECT_EQ(show(other.call({"GET", kTag + ":small"})), "v");
  EXPECT_EQ(show(other.call({"EXISTS", kTag + ":big"})), "(integer) 0");
  EXPECT_EQ(infoField(other, "readthru", "query_buffer_limit_disconnects").value_or(-1), 1);
  EXPECT_EQ(infoField(other, "readthru", "protocol_errors").value_or(-1), 0);
  other.call({"DEL", kTag + ":small"});
}

TEST(QueryBufferLimit, PipelineOfSmallCommandsIsNotCut) {
  ReadthruProcess proc(clusterBackend(), "  query_buffer_limit: 1mb\n");
  Client c(proc.port());
  // 20,000 ECHOs of 200 bytes and a few keyed commands, in one write: about 4.4 MB on the
  // wire, four times the limit, but never more than one partial command in the parser.
  constexpr int kEchoes = 20000;
  std::string bytes = encode({"SET", kTag + ":flood", "start", "EX", "20"});
  for (int i = 0; i < kEchoes; ++i) {
    std::string payload = std::to_string(i) + ":";
    payload.resize(200, 'p');
    bytes += encode({"ECHO", payload});
  }
  bytes += encode({"GET", kTag + ":flood"});
  ASSERT_GT(bytes.size(), 4u * 1024 * 1024);
  c.sendRaw(bytes);

  EXPECT_EQ(show(c.read(20s)), "OK");
  int mismatches = 0;
  for (int i = 0; i < kEchoes; ++i) {
    const std::string reply = show(c.read(20s));
    std::string want = std::to_string(i) + ":";
    want.resize(200, 'p');
    if (reply != want && ++mismatches <= 3) ADD_FAILURE() << "echo " << i << ": " << reply;
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(show(c.read(20s)), "start");
  EXPECT_EQ(show(c.call({"PING"})), "PONG");  // still connected
  EXPECT_EQ(infoField(c, "readthru", "query_buffer_limit_disconnects").value_or(-1), 0);
  c.call({"DEL", kTag + ":flood"});
}

}  // namespace
}  // namespace readthru::testing
