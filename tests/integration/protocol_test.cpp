// readthru's client side over the wire, in cluster mode: malformed requests get Redis's
// exact error and a close (checked against the real Redis on 6390 for the same bytes),
// inline commands, requests cut into single bytes or slow pieces, and the listener limits
// (max_clients, output_limit, idle_timeout, a thousand connections).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "eventually.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "resp/writer.hpp"
#include "shared_readthru.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string encode(const std::vector<std::string>& args) {
  std::string out;
  resp::appendCommand(out, args);
  return out;
}

// Polls `read` until it returns `want` or `timeout` passes; returns the last value read.
template <typename Read>
long long pollUntil(Read read, long long want, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  long long last = read();
  while (last != want && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    last = read();
  }
  return last;
}

long long connectedClients(Client& c) {
  return infoField(c, "clients", "connected_clients").value_or(-1);
}

class Protocol : public SharedClusterReadthru {};

// ---------------------------------------------------------------------------------------
// Malformed requests

struct Malformed {
  const char* what;
  std::string bytes;
  std::string reply;  // the whole answer before the close
};

std::vector<Malformed> malformedRequests() {
  const auto err = [](const std::string& text) { return "-ERR Protocol error: " + text + "\r\n"; };
  return {
      {"count not a number", "*x\r\n", err("invalid multibulk length")},
      {"bulk length not a number", "*1\r\n$x\r\n", err("invalid bulk length")},
      {"element without $", "*1\r\nfoo\r\n", err("expected '$', got 'f'")},
      {"count above INT_MAX", "*3000000000\r\n", err("invalid multibulk length")},
      {"600 MB bulk declared", "*1\r\n$600000000\r\n", err("invalid bulk length")},
      {"inline line over 64 KiB", std::string(70'000, 'a'), err("too big inline request")},
      {"70 KB count line", "*" + std::string(70'000, '1'), err("too big mbulk count string")},
      {"70 KB bulk length line", "*1\r\n$" + std::string(70'000, '1'),
       err("too big bulk count string")},
      {"unbalanced quotes", "SET k \"unbalanced\r\n", err("unbalanced quotes in request")},
      {"70,000 NUL bytes", std::string(70'000, '\0'), err("too big inline request")},
  };
}

// Sends `bytes` on a fresh connection and returns what comes back until the close.
RawConn::Received answerTo(std::uint16_t port, const std::string& bytes) {
  RawConn conn(port);
  // The server may close before it has read everything: the rest may fail to send.
  conn.send(bytes);
  return conn.readUntilClosed(10s);
}

TEST_F(Protocol, MalformedRequestsGetRedisErrorThenClose) {
  Client bystander(proc_->port());
  ASSERT_EQ(show(bystander.call({"PING"})), "PONG");
  const auto cases = malformedRequests();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto ours = answerTo(proc_->port(), c.bytes);
    EXPECT_EQ(ours.bytes, c.reply);
    EXPECT_TRUE(ours.closed);
    // Real Redis answers the same bytes with the same text.
    const auto redis = answerTo(kStandalonePort, c.bytes);
    EXPECT_EQ(redis.bytes, c.reply);
    EXPECT_TRUE(redis.closed);
  }
  // readthru still serves clients, old and new, and counted every error.
  EXPECT_EQ(show(bystander.call({"PING"})), "PONG");
  Client fresh(proc_->port());
  EXPECT_EQ(show(fresh.call({"ECHO", "still here"})), "still here");
  EXPECT_GE(infoField(fresh, "readthru", "protocol_errors").value_or(0),
            static_cast<long long>(cases.size()));
}

TEST_F(Protocol, ProtocolErrorAfterGoodRequestsAnswersThemFirst) {
  RawConn conn(proc_->port());
  conn.send("PING\r\n" + encode({"ECHO", "x"}) + "*1\r\n$x\r\n" + "PING\r\n");
  const auto got = conn.readUntilClosed(10s);
  EXPECT_EQ(got.bytes, "+PONG\r\n$1\r\nx\r\n-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_TRUE(got.closed);
}

// ---------------------------------------------------------------------------------------
// Inline commands and odd framing

TEST_F(Protocol, InlineCommands) {
  Client c(proc_->port());
  c.sendRaw("PING\r\n");
  EXPECT_EQ(show(c.read()), "PONG");
  c.sendRaw("SET {proto}k \"a b\"\r\nGET {proto}k\r\n");
  EXPECT_EQ(show(c.read()), "OK");
  EXPECT_EQ(show(c.read()), "a b");
  // '\n' alone ends a line too; empty lines are skipped.
  c.sendRaw("PING\n\n\r\nECHO 'single quoted'\nGET {proto}k\n");
  EXPECT_EQ(show(c.read()), "PONG");
  EXPECT_EQ(show(c.read()), "single quoted");
  EXPECT_EQ(show(c.read()), "a b");
  // Escapes inside double quotes, as redis-cli and sdssplitargs read them.
  c.sendRaw("SET {proto}k2 \"x\\ty\\x41\"\r\nGET {proto}k2\r\n");
  EXPECT_EQ(show(c.read()), "OK");
  EXPECT_EQ(show(c.read()), "x\tyA");
  // A nil multibulk and an empty one are skipped, as Redis does.
  c.sendRaw("*-1\r\n*0\r\nPING\r\n");
  EXPECT_EQ(show(c.read()), "PONG");
  EXPECT_EQ(show(c.call({"DEL", "{proto}k", "{proto}k2"})), "(integer) 2");
}

TEST_F(Protocol, PipelineFedOneByteAtATime) {
  Client setup(proc_->port());
  setup.call({"DEL", "proto:bytes:1", "proto:bytes:ctr"});
  const std::string binary("a\r\nb\0c", 6);
  std::string pipeline =
      encode({"SET", "proto:bytes:1", "hello"}) + encode({"GET", "proto:bytes:1"}) + "PING\r\n" +
      encode({"INCR", "proto:bytes:ctr"}) + encode({"INCR", "proto:bytes:ctr"}) +
      encode({"MGET", "proto:bytes:1", "proto:bytes:missing", "proto:bytes:ctr"}) +
      encode({"ECHO", binary}) + "ECHO \"two words\"\n" +
      encode({"DEL", "proto:bytes:1", "proto:bytes:ctr"});
  Client c(proc_->port());
  for (char byte : pipeline) c.sendRaw(std::string_view(&byte, 1));
  EXPECT_EQ(show(c.read()), "OK");
  EXPECT_EQ(show(c.read()), "hello");
  EXPECT_EQ(show(c.read()), "PONG");
  EXPECT_EQ(show(c.read()), "(integer) 1");
  EXPECT_EQ(show(c.read()), "(integer) 2");
  EXPECT_EQ(show(c.read()), "[hello, (nil), 2]");
  EXPECT_EQ(c.read().str, binary);
  EXPECT_EQ(show(c.read()), "two words");
  EXPECT_EQ(show(c.read()), "(integer) 2");
}

TEST_F(Protocol, RequestSplitAcrossManyWritesWithPauses) {
  std::string big(300'000, 'x');
  for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
  const std::string bytes =
      encode({"SET", "proto:split", big}) + encode({"GET", "proto:split"}) + "PING\r\n";
  // Cut inside the count line, inside the bulk header, just before the payload's CRLF and
  // through the payload in uneven pieces, pausing between writes.
  std::vector<std::size_t> cuts = {1, 2, 5, 9, 14, 20, 27};
  for (std::size_t at = 40; at < bytes.size(); at += 9'973) cuts.push_back(at);
  const std::size_t payload_end = bytes.find("\r\n", 40 + big.size() - 10);
  cuts.push_back(payload_end);
  cuts.push_back(payload_end + 1);
  std::sort(cuts.begin(), cuts.end());
  Client c(proc_->port());
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    if (cut <= from || cut >= bytes.size()) continue;
    c.sendRaw(std::string_view(bytes).substr(from, cut - from));
    from = cut;
    std::this_thread::sleep_for(5ms);
  }
  c.sendRaw(std::string_view(bytes).substr(from));
  EXPECT_EQ(show(c.read()), "OK");
  const auto value = c.read();
  EXPECT_EQ(value.type, resp::Type::kBulk);
  EXPECT_TRUE(value.str == big) << "GET returned " << value.str.size() << " bytes";
  EXPECT_EQ(show(c.read()), "PONG");
  EXPECT_EQ(show(c.call({"DEL", "proto:split"})), "(integer) 1");
}

// ---------------------------------------------------------------------------------------
// Connection commands, compared with Redis where Redis answers the same way

TEST_F(Protocol, ClientHelloEchoAndGetkeysMatchRedis) {
  Client ours(proc_->port());
  Client redis(kStandalonePort);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"CLIENT", "SETNAME", "a b"},
       "(error) ERR Client names cannot contain spaces, newlines or special characters."},
      {{"CLIENT", "SETNAME", "line\nbreak"},
       "(error) ERR Client names cannot contain spaces, newlines or special characters."},
      {{"CLIENT", "SETNAME", "proto-tester"}, "OK"},
      {{"CLIENT", "GETNAME"}, "proto-tester"},
      {{"CLIENT", "SETNAME"}, "(error) ERR wrong number of arguments for 'client|setname' command"},
      {{"HELLO", "2", "SETNAME", "a b"},
       "(error) ERR Client names cannot contain spaces, newlines or special characters."},
      {{"CLIENT", "GETNAME"}, "proto-tester"},  // a refused HELLO changes nothing
      {{"HELLO", "foo"}, "(error) ERR Protocol version is not an integer or out of range"},
      {{"HELLO", "02"}, "(error) ERR Protocol version is not an integer or out of range"},
      {{"HELLO", "1"}, "(error) NOPROTO unsupported protocol version"},
      {{"HELLO", "-1"}, "(error) NOPROTO unsupported protocol version"},
      {{"HELLO", "4"}, "(error) NOPROTO unsupported protocol version"},
      {{"HELLO", "99999999999"}, "(error) NOPROTO unsupported protocol version"},
      {{"HELLO", "2", "SETNAME", "x", "SETNAME"},
       "(error) ERR Syntax error in HELLO option 'SETNAME'"},
      {{"ECHO"}, "(error) ERR wrong number of arguments for 'echo' command"},
      {{"ECHO", "a", "b"}, "(error) ERR wrong number of arguments for 'echo' command"},
      {{"COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"}, "[a, b]"},
      {{"COMMAND", "GETKEYS", "MSET", "a", "1", "b"}, "[a, b]"},
      {{"COMMAND", "GETKEYS", "EVAL", "return 1", "2", "k1", "k2", "arg"}, "[k1, k2]"},
      {{"COMMAND", "GETKEYS", "EVAL", "return 1", "0"}, "[]"},
      {{"COMMAND", "GETKEYS", "EVAL", "return 1", "5", "k1"}, "[]"},
      {{"COMMAND", "GETKEYS", "PING", "x"}, "(error) ERR The command has no key arguments"},
      {{"COMMAND", "GETKEYS", "NOSUCH", "x"}, "(error) ERR Invalid command specified"},
      {{"COMMAND", "GETKEYS", "GET", "a", "b"},
       "(error) ERR Invalid number of arguments specified for command"},
  };
  for (const auto& [args, want] : cases) {
    std::string line;
    for (const auto& a : args) line += a + " ";
    SCOPED_TRACE(line);
    EXPECT_EQ(show(ours.call(args)), want);
    EXPECT_EQ(show(redis.call(args)), want);
  }
  // HELLO 2 with SETNAME: the usual 14-element map, and the name is set.
  const auto hello = ours.call({"HELLO", "2", "SETNAME", "renamed"});
  ASSERT_TRUE(hello.isArray());
  ASSERT_EQ(hello.elements.size(), 14u);
  EXPECT_EQ(show(hello.elements[0]), "server");
  EXPECT_EQ(show(hello.elements[4]), "proto");
  EXPECT_EQ(show(hello.elements[5]), "(integer) 2");
  EXPECT_EQ(show(ours.call({"CLIENT", "GETNAME"})), "renamed");
  // RESP3 is not served: HELLO 3 is refused and the connection stays on RESP2.
  EXPECT_EQ(show(ours.call({"HELLO", "3"})), "(error) NOPROTO unsupported protocol version");
  EXPECT_EQ(show(ours.call({"PING"})), "PONG");
}

// ---------------------------------------------------------------------------------------
// Listener limits, each with its own readthru

TEST(ProtocolLimits, MaxClients) {
  ReadthruProcess proc(clusterBackend(), "  max_clients: 5\n");
  std::vector<std::unique_ptr<Client>> clients;
  clients.push_back(std::make_unique<Client>(proc.port()));
  // The start-up probe's connection is released asynchronously: wait until we are alone.
  ASSERT_EQ(pollUntil([&] { return connectedClients(*clients[0]); }, 1, 10s), 1);
  for (int i = 1; i < 5; ++i) {
    clients.push_back(std::make_unique<Client>(proc.port()));
    ASSERT_EQ(show(clients.back()->call({"PING"})), "PONG") << "client " << i;
  }
  Client sixth(proc.port());
  EXPECT_EQ(show(sixth.read()), "(error) ERR max number of clients reached");
  EXPECT_TRUE(sixth.closedByPeer());

  // After one leaves, a new client gets in (the count drops once its session is gone).
  clients.pop_back();
  std::string answer;
  const auto deadline = Clock::now() + 10s;
  while (answer != "PONG" && Clock::now() < deadline) {
    try {
      Client next(proc.port());
      answer = show(next.call({"PING"}));
    } catch (const std::exception& e) {
      answer = e.what();
    }
    if (answer != "PONG") std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(answer, "PONG");
  EXPECT_GE(infoField(*clients[0], "stats", "rejected_connections").value_or(0), 1);
  EXPECT_EQ(infoField(*clients[0], "clients", "maxclients").value_or(0), 5);
}

TEST(ProtocolLimits, OutputLimitStopsAClientThatNeverReads) {
  ReadthruProcess proc(clusterBackend(), "  output_limit: 1mb\n");
  Client c(proc.port());
  const std::string value(100 * 1024, 'v');
  ASSERT_EQ(show(c.call({"SET", "proto:big", value})), "OK");
  const long long pid = infoField(c, "server", "process_id").value_or(0);
  ASSERT_GT(pid, 0);
  const long long peak_before = memoryKib(pid).value_or(0);

  // A client that pipelines GETs of it and reads nothing. It keeps sending until its
  // writes fail (readthru dropped it) or block (readthru stopped reading it). Which comes
  // first depends on timing: readthru stops reading a client that owes 1,024 replies or
  // half of output_limit, and drops it when the replies it already asked for pass
  // output_limit. Either bounds what readthru holds for it; sending without end would not.
  RawConn greedy(proc.port(), /*recv_buffer=*/64 * 1024);
  std::string batch;
  for (int i = 0; i < 100; ++i) batch += encode({"GET", "proto:big"});
  auto outcome = RawConn::SendResult::kSent;
  const auto give_up = Clock::now() + 20s;
  while (outcome == RawConn::SendResult::kSent && Clock::now() < give_up) {
    outcome = greedy.send(batch, 2s);
  }
  ASSERT_NE(outcome, RawConn::SendResult::kSent)
      << "readthru kept reading a client that reads nothing";
  // Dropped: by the limit, and counted. Stopped: and it stays stopped (more sends block).
  if (outcome == RawConn::SendResult::kClosed) {
    Client counter(proc.port());
    EXPECT_GE(infoField(counter, "readthru", "output_limit_disconnects").value_or(0), 1);
  } else {
    EXPECT_EQ(greedy.send(batch, 1s), RawConn::SendResult::kBlocked);
  }
  const long long peak = memoryKib(pid).value_or(0);
  // ASan parks freed memory in a quarantine (256 MB by default) before reusing it, so in a
  // sanitizer build RSS also holds up to that much of already freed replies.
#if defined(__SANITIZE_ADDRESS__)
  constexpr long long kQuarantineKib = 256 * 1024;
#else
  constexpr long long kQuarantineKib = 0;
#endif
  EXPECT_LT(peak, 200 * 1024 + kQuarantineKib) << "readthru's RSS peaked at " << peak << " KiB";
  std::cout << "output limit: "
            << (outcome == RawConn::SendResult::kClosed ? "dropped" : "stopped reading")
            << ", peak RSS " << peak_before << " -> " << peak << " KiB\n";

  // Others are still served. The GETs the greedy client had already sent are still
  // answered by Redis (and discarded, once it is gone) on the backend connection the other
  // client shares, so its GET may time out while that backlog drains; it is not failed
  // with it, and it is answered once the backlog is gone.
  greedy.close();
  Client other(proc.port());
  EXPECT_EQ(show(other.call({"PING"})), "PONG");
  EXPECT_TRUE(eventually(
      [&] {
        return other.call({"GET", "proto:big"}).str.size() == value.size();
      },
      30s));
  other.call({"DEL", "proto:big"});
}

// The master port serving `key`'s slot, read from the cluster itself.
std::uint16_t masterOf(const std::string& key) {
  Client node(kClusterFirstPort);
  const auto slot = node.call({"CLUSTER", "KEYSLOT", key}).integer;
  for (const auto& range : node.call({"CLUSTER", "SLOTS"}).elements) {
    if (range.elements.size() >= 3 && range.elements[0].integer <= slot &&
        slot <= range.elements[1].integer) {
      return static_cast<std::uint16_t>(range.elements[2].elements[1].integer);
    }
  }
  throw std::runtime_error("no master serves " + key);
}

// Replies that are ready but wait behind a slow one are backlog too: a client whose
// pipeline has one slow command and a flood of big fast ones must not make readthru hold
// them all.
TEST(ProtocolLimits, OutputLimitCountsRepliesHeldBehindASlowOne) {
  ReadthruProcess proc(clusterBackend(), "  output_limit: 1mb\n");
  Client c(proc.port());
  const std::string big_key = "{proto:fast}big";
  ASSERT_EQ(show(c.call({"SET", big_key, std::string(100 * 1024, 'v')})), "OK");
  const std::uint16_t fast_node = masterOf(big_key);
  std::string slow_key;
  for (int i = 0; slow_key.empty() && i < 100; ++i) {
    const std::string k = "{proto:slow" + std::to_string(i) + "}k";
    if (masterOf(k) != fast_node) slow_key = k;
  }
  ASSERT_FALSE(slow_key.empty());
  const long long pid = infoField(c, "server", "process_id").value_or(0);
  ASSERT_GT(pid, 0);
  const long long peak_before = memoryKib(pid).value_or(0);

  // Writes on the slow key's node wait 800 ms; the GETs behind it answer at once.
  Client pauser(masterOf(slow_key));
  ASSERT_EQ(show(pauser.call({"CLIENT", "PAUSE", "800", "WRITE"})), "OK");
  std::string pipeline = encode({"SET", slow_key, "1"});
  for (int i = 0; i < 1000; ++i) pipeline += encode({"GET", big_key});
  Client victim(proc.port());
  victim.sendRaw(pipeline);
  EXPECT_TRUE(victim.closedByPeer(10s));
  pauser.call({"CLIENT", "UNPAUSE"});
  const long long peak = memoryKib(pid).value_or(0);
  // 1000 replies of 100 KB would be 100 MB; the limit is 1 MB.
  EXPECT_LT(peak - peak_before, 50 * 1024)
      << "readthru's RSS peaked at " << peak << " KiB, from " << peak_before;
  EXPECT_GE(infoField(c, "readthru", "output_limit_disconnects").value_or(0), 1);
  c.call({"DEL", big_key, slow_key});
}

TEST(ProtocolLimits, IdleTimeoutClosesOnlyIdleClients) {
  ReadthruProcess proc(clusterBackend(), "  idle_timeout: 1s\n");
  Client idle(proc.port());
  Client active(proc.port());
  // 3 seconds of a PING every 200 ms: never idle for a whole second.
  for (int i = 0; i < 15; ++i) {
    ASSERT_EQ(show(active.call({"PING"})), "PONG") << "ping " << i;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(idle.closedByPeer(5s));
  EXPECT_EQ(show(active.call({"PING"})), "PONG");
}

TEST(ProtocolLimits, ThousandConcurrentConnections) {
  ReadthruProcess proc(clusterBackend());
  Client watcher(proc.port());
  ASSERT_EQ(pollUntil([&] { return connectedClients(watcher); }, 1, 10s), 1);
  constexpr int kConnections = 1000;
  {
    std::vector<std::unique_ptr<Client>> many;
    many.reserve(kConnections);
    for (int i = 0; i < kConnections; ++i) many.push_back(std::make_unique<Client>(proc.port()));
    for (auto& c : many) c->send({"PING"});
    int pongs = 0;
    for (auto& c : many) pongs += show(c->read()) == "PONG" ? 1 : 0;
    EXPECT_EQ(pongs, kConnections);
    EXPECT_EQ(connectedClients(watcher), kConnections + 1);
  }
  EXPECT_EQ(pollUntil([&] { return connectedClients(watcher); }, 1, 10s), 1);
  EXPECT_GE(infoField(watcher, "stats", "total_connections_received").value_or(0),
            kConnections + 1);
}

}  // namespace
}  // namespace readthru::testing
