// Stopping readthru with SIGTERM: the requests it had read when the signal came are
// answered, each client is closed after its last reply, new connections are refused, and
// the process exits 0. A second signal, or listen.drain_timeout passing with a request
// stuck on the database, ends the drain without waiting for it.
//
// Slow requests are misses whose keyspace query sleeps in PostgreSQL; stuck ones are
// misses sent to a TcpProxy that swallows them (a hung database).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "client.hpp"
#include "eventually.hpp"
#include "pg.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "resp/writer.hpp"
#include "tcp_proxy.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "drn" + std::to_string(::getpid());

std::string key(const std::string& name, int id) {
  return kTag + ":" + name + ":" + std::to_string(id);
}

// A postgres: section on `port` (the database or a proxy in front of it) and one keyspace
// `name` whose query is `query`.
std::string readThrough(std::uint16_t port, const std::string& name, const std::string& query) {
  return "postgres:\n  dsn: \"host=127.0.0.1 port=" + std::to_string(port) +
         " dbname=app user=app\"\n  connect_timeout: 1s\n  statement_timeout: 60s\n" +
         "keyspaces:\n" +
         keyspaceRule(name, kTag + ":" + name + ":<id>", query, "    params: [id]\n    ttl: 20s\n");
}

std::string encode(const std::vector<std::string>& args) {
  std::string out;
  resp::appendCommand(out, args);
  return out;
}

bool exitedWith(const std::optional<int>& status, int code) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

// Waits until readthru has read (dispatched) `sent` more commands than when `observer`
// took `baseline`, counting the observer's own INFO calls. So a test knows its requests
// were read before it sends a signal.
class ReadCounter {
 public:
  explicit ReadCounter(Client& observer) : observer_(observer), baseline_(processed()) {}

  bool waitFor(long long sent) {
    return eventually(
        [&] {
          const long long now = processed();  // counts its own INFO too
          ++infos_;
          return now - baseline_ - infos_ >= sent;
        },
        20s);
  }

 private:
  long long processed() {
    return infoField(observer_, "stats", "total_commands_processed").value_or(0);
  }

  Client& observer_;
  long long baseline_;   // includes the INFO that read it
  long long infos_ = 0;  // INFO calls after the baseline's
};

// True once a new connection to `port` is refused (the listener is closed).
bool refusesConnections(std::uint16_t port) {
  return eventually(
      [&] {
        try {
          RawConn probe(port);
          return false;
        } catch (const std::exception&) {
          return true;
        }
      },
      10s, 20ms);
}

TEST(Drain, SigtermAnswersEveryRequestReadThenClosesAndExitsZero) {
  ReadthruProcess proc(clusterBackend(), "  drain_timeout: 60s\n",
                       readThrough(kPgPort, "slow", "SELECT $1::int AS id FROM pg_sleep(2)"));
  Client observer(proc.port());
  ReadCounter read(observer);

  // Four clients, each with a pipeline in flight in which two misses take 2 s to load and
  // the fast requests around them wait behind them for their turn in the reply order.
  constexpr int kClients = 4;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::vector<std::string>> expected(kClients);
  long long sent = 0;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::make_unique<Client>(proc.port()));
    const std::string plain = key("plain", c);
    const std::string value = "value-" + std::to_string(c);
    const std::vector<std::vector<std::string>> pipeline = {
        {"SET", plain, value, "EX", "20"},      {"GET", key("slow", c * 10 + 1)}, {"GET", plain},
        {"ECHO", "after-" + std::to_string(c)}, {"GET", key("slow", c * 10 + 2)}, {"PING"},
    };
    expected[c] = {"OK",
                   "{\"id\":" + std::to_string(c * 10 + 1) + "}",
                   value,
                   "after-" + std::to_string(c),
                   "{\"id\":" + std::to_string(c * 10 + 2) + "}",
                   "PONG"};
    std::string bytes;
    for (const auto& args : pipeline) bytes += encode(args);
    clients.back()->sendRaw(bytes);
    sent += static_cast<long long>(pipeline.size());
  }
  ASSERT_TRUE(read.waitFor(sent));

  proc.signal(SIGTERM);
  // The listener closes at once, while the loads still keep the process draining.
  EXPECT_TRUE(refusesConnections(proc.port()));
  EXPECT_FALSE(proc.waitExit(0ms)) << "exited before the loads could have finished";

  for (int c = 0; c < kClients; ++c) {
    for (std::size_t i = 0; i < expected[c].size(); ++i) {
      EXPECT_EQ(show(clients[c]->read(20s)), expected[c][i]) << "client " << c << " reply " << i;
    }
    EXPECT_TRUE(clients[c]->closedByPeer(10s)) << "client " << c;
  }
  EXPECT_TRUE(observer.closedByPeer(10s));  // idle: closed at the start of the drain

  const auto status = proc.waitExit(30s);
  ASSERT_TRUE(status) << "still running; log " << proc.logPath();
  EXPECT_TRUE(exitedWith(status, 0)) << "status " << *status;
  const std::string log = proc.log();
  EXPECT_NE(log.find("SIGTERM: draining "), std::string::npos) << log;
  EXPECT_NE(log.find(" client(s) for up to 60000ms (listen.drain_timeout)"), std::string::npos)
      << log;
  EXPECT_NE(log.find("drain done in"), std::string::npos) << log;
}

// The stuck request: a miss whose load the hung database never answers (the statement
// timeout is 60 s, longer than the test waits for anything).
struct StuckLoad {
  TcpProxy proxy{kPgPort};
  std::unique_ptr<ReadthruProcess> proc;
  std::unique_ptr<RawConn> client;

  explicit StuckLoad(const std::string& drain_timeout) {
    proc = std::make_unique<ReadthruProcess>(
        clusterBackend(), "  drain_timeout: " + drain_timeout + "\n",
        readThrough(proxy.port(), "stuck", "SELECT $1::int AS id"));
    Client warm(proc->port());
    EXPECT_EQ(show(warm.call({"GET", key("stuck", 1)})), "{\"id\":1}");  // the pool is up
    warm.call({"DEL", key("stuck", 1)});
    proxy.setMode(TcpProxy::Mode::kBlackhole);
    Client observer(proc->port());
    ReadCounter read(observer);
    client = std::make_unique<RawConn>(proc->port());
    EXPECT_EQ(client->send(encode({"GET", key("stuck", 2)})), RawConn::SendResult::kSent);
    EXPECT_TRUE(read.waitFor(1));
  }
};

TEST(Drain, SecondSignalStopsAtOnce) {
  StuckLoad stuck("60s");
  stuck.proc->signal(SIGTERM);
  EXPECT_TRUE(refusesConnections(stuck.proc->port()));
  ASSERT_FALSE(stuck.proc->waitExit(0ms)) << "the stuck load should hold the drain";

  stuck.proc->signal(SIGTERM);
  // Well before drain_timeout (60 s) and before the load's statement timeout (60 s).
  const auto status = stuck.proc->waitExit(15s);
  ASSERT_TRUE(status) << "still running after the second SIGTERM";
  EXPECT_TRUE(exitedWith(status, 1)) << "status " << *status;
  const auto rest = stuck.client->readUntilClosed(5s);
  EXPECT_TRUE(rest.closed);
  EXPECT_EQ(rest.bytes, "");  // its reply never came
  const std::string log = stuck.proc->log();
  EXPECT_NE(log.find("drain ended by a second signal after"), std::string::npos) << log;
  EXPECT_NE(log.find("closed 1 client(s) with 1 reply(ies) unanswered"), std::string::npos) << log;
}

TEST(Drain, TimeoutClosesAStuckClientAndExitsZero) {
  StuckLoad stuck("1s");
  stuck.proc->signal(SIGTERM);
  // The drain gives up after 1 s; the load itself would take 60 s to time out.
  const auto status = stuck.proc->waitExit(30s);
  ASSERT_TRUE(status) << "still running; log " << stuck.proc->logPath();
  EXPECT_TRUE(exitedWith(status, 0)) << "status " << *status;
  const auto rest = stuck.client->readUntilClosed(5s);
  EXPECT_TRUE(rest.closed);
  EXPECT_EQ(rest.bytes, "");
  const std::string log = stuck.proc->log();
  EXPECT_NE(log.find("drain ended when listen.drain_timeout passed after"), std::string::npos)
      << log;
  EXPECT_NE(log.find("closed 1 client(s) with 1 reply(ies) unanswered"), std::string::npos) << log;
}

}  // namespace
}  // namespace readthru::testing
