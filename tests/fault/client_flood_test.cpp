// Clients that send more than they read: one that pipelines GETs and never reads a reply,
// and `redis-cli --pipe` pushing a million commands (ten million by hand, with
// READTHRU_PIPE_COMMANDS). readthru's memory must stay bounded: it stops reading a client
// whose replies wait unsent (half of listen.output_limit), and drops one whose backlog
// passes listen.output_limit; every other client is served meanwhile. The keys live on the
// stack's cluster and are deleted at the end.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "eventually.hpp"
#include "raw_conn.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"
#include "resp/writer.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kTag = "fl" + std::to_string(::getpid());

std::string encode(const std::vector<std::string>& args) {
  std::string out;
  resp::appendCommand(out, args);
  return out;
}

long long ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// The highest VmRSS of `pid` seen by a thread that samples it every 20 ms while alive.
class RssSampler {
 public:
  explicit RssSampler(long long pid)
      : pid_(pid), thread_([this] {
          while (!stop_.load()) {
            const long long now = memoryKib(pid_, "VmRSS").value_or(0);
            if (now > peak_.load()) peak_ = now;
            std::this_thread::sleep_for(20ms);
          }
        }) {}
  ~RssSampler() { stopNow(); }
  long long stopNow() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_.load();
  }

 private:
  long long pid_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> peak_{0};
  std::thread thread_;
};

struct Flood {
  RawConn::SendResult outcome = RawConn::SendResult::kSent;
  std::size_t sent = 0;  // bytes of whole chunks written
  Clock::duration took{};
};

// Writes pipelined `GET key` without reading, until readthru stops taking them (a send
// blocked for 2 s), closes the connection, or `max_bytes` are sent.
Flood floodGets(RawConn& conn, const std::string& key, std::size_t max_bytes) {
  std::string chunk;
  while (chunk.size() < 64 * 1024) chunk += encode({"GET", key});
  Flood f;
  const auto start = Clock::now();
  while (f.outcome == RawConn::SendResult::kSent && f.sent < max_bytes) {
    f.outcome = conn.send(chunk, 2s);
    if (f.outcome == RawConn::SendResult::kSent) f.sent += chunk.size();
  }
  f.took = Clock::now() - start;
  return f;
}

class ClientFlood : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::make_unique<ReadthruProcess>(clusterBackend());
    admin_ = std::make_unique<Client>(rt_->port());
    pid_ = infoField(*admin_, "server", "process_id").value_or(0);
    ASSERT_GT(pid_, 0);
  }
  void TearDown() override {
    if (admin_) {
      for (const auto& k : keys_) admin_->call({"DEL", k});
    }
  }

  // A plain key holding `size` bytes, deleted at the end.
  std::string bigKey(const std::string& name, std::size_t size) {
    const std::string k = kTag + ":" + name;
    keys_.push_back(k);
    EXPECT_EQ(show(admin_->call({"SET", k, std::string(size, 'x')})), "OK");
    return k;
  }

  // Another client is served, quickly, while the flood stands.
  void expectOthersServed() {
    const auto start = Clock::now();
    Client other(rt_->port());
    EXPECT_EQ(show(other.call({"SET", kTag + ":other", "fine"})), "OK");
    EXPECT_EQ(show(other.call({"GET", kTag + ":other"})), "fine");
    EXPECT_LT(Clock::now() - start, 1s);
    other.call({"DEL", kTag + ":other"});
  }

  std::unique_ptr<ReadthruProcess> rt_;
  std::unique_ptr<Client> admin_;
  long long pid_ = 0;
  std::vector<std::string> keys_;
};

TEST_F(ClientFlood, AClientThatNeverReadsIsPausedAndOthersAreServed) {
  // 4 KiB replies: the unsent backlog reaches half of output_limit (32 MiB) after some
  // 8,000 GETs, a few reads' worth; readthru stops reading, the client's sends block.
  const std::string k = bigKey("4k", 4096);
  const long long rss_before = memoryKib(pid_, "VmRSS").value_or(0);
  RssSampler rss(pid_);
  RawConn flooder(rt_->port());
  const Flood f = floodGets(flooder, k, 2048u * 1024 * 1024);
  EXPECT_EQ(f.outcome, RawConn::SendResult::kBlocked) << "after " << f.sent << " bytes";
  expectOthersServed();
  EXPECT_EQ(infoField(*admin_, "readthru", "output_limit_disconnects").value_or(-1), 0);
  EXPECT_EQ(infoField(*admin_, "clients", "connected_clients").value_or(0), 2);  // admin, flooder
  const long long peak = rss.stopNow();
  std::cout << "never-reading client, 4 KiB replies: blocked after " << f.sent << " bytes of GETs ("
            << ms(f.took) << " ms); readthru RSS " << rss_before << " KiB, peak " << peak
            << " KiB\n";
  EXPECT_LT(peak - rss_before, rssBoundKib(128 * 1024));
}

TEST_F(ClientFlood, AClientWhoseBacklogPassesTheOutputLimitIsDropped) {
  // 256 KiB replies: one read of GETs (16 KiB, some 450 of them) asks for more than
  // output_limit (64 MiB) at once, so the backlog passes it before reading can pause, and
  // the client is dropped.
  const std::string k = bigKey("256k", 256 * 1024);
  const long long rss_before = memoryKib(pid_, "VmRSS").value_or(0);
  RssSampler rss(pid_);
  RawConn flooder(rt_->port());
  const Flood f = floodGets(flooder, k, 256u * 1024 * 1024);
  EXPECT_TRUE(eventually(
      [&] { return infoField(*admin_, "readthru", "output_limit_disconnects").value_or(0) >= 1; },
      10s));
  const auto rest = flooder.readUntilClosed(10s, 0);
  EXPECT_TRUE(rest.closed);
  expectOthersServed();
  EXPECT_TRUE(eventually(
      [&] { return infoField(*admin_, "clients", "connected_clients").value_or(0) == 1; }));
  const long long peak = rss.stopNow();
  std::cout << "never-reading client, 256 KiB replies: " << f.sent << " bytes of GETs sent ("
            << (f.outcome == RawConn::SendResult::kClosed ? "then closed" : "then blocked") << ", "
            << ms(f.took) << " ms); readthru RSS " << rss_before << " KiB, peak " << peak
            << " KiB\n";
  EXPECT_LT(peak - rss_before, rssBoundKib(512 * 1024));
}

TEST_F(ClientFlood, RedisCliPipeOfAMillionCommands) {
  long long commands = 1000000;
  if (const char* n = std::getenv("READTHRU_PIPE_COMMANDS")) commands = std::atoll(n);
  constexpr int kKeys = 1000;
  for (int i = 0; i < kKeys; ++i) keys_.push_back(kTag + ":p:" + std::to_string(i));
  // The input: SET <tag>:p:<i mod 1000> <i>, in RESP, in a file of the test's own.
  char tmpl[] = "/tmp/readthru-pipe-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  {
    std::ofstream out(dir / "input.resp", std::ios::binary);
    std::string buf;
    for (long long i = 0; i < commands; ++i) {
      buf += encode({"SET", keys_[i % kKeys], std::to_string(i)});
      if (buf.size() > (1 << 20)) {
        out << buf;
        buf.clear();
      }
    }
    out << buf;
  }
  const auto input_bytes = std::filesystem::file_size(dir / "input.resp");
  const long long rss_before = memoryKib(pid_, "VmRSS").value_or(0);
  RssSampler rss(pid_);
  const auto start = Clock::now();
  const std::string cmd = "redis-cli -h 127.0.0.1 -p " + std::to_string(rt_->port()) +
                          " --pipe --pipe-timeout 30 < " + (dir / "input.resp").string() + " > " +
                          (dir / "output.txt").string() + " 2>&1";
  const pid_t pid = spawnProgram("bash", {"-c", cmd});
  const auto status = reapChild(pid, 600s);
  const auto took = Clock::now() - start;
  const long long peak = rss.stopNow();
  std::stringstream output;
  output << std::ifstream(dir / "output.txt").rdbuf();
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(status.has_value()) << "redis-cli --pipe still running after 600 s";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << output.str();
  EXPECT_NE(output.str().find("errors: 0, replies: " + std::to_string(commands)), std::string::npos)
      << output.str();
  // The last SET of each key won: the value is the last i with that remainder.
  for (int i : {0, 1, kKeys - 1}) {
    const long long last = (commands - 1) - (commands - 1 - i) % kKeys;
    EXPECT_EQ(show(admin_->call({"GET", keys_[i]})), std::to_string(last)) << keys_[i];
  }
  EXPECT_EQ(show(admin_->call({"PING"})), "PONG");
  const double secs = std::chrono::duration<double>(took).count();
  std::cout << "redis-cli --pipe, " << commands << " SETs (" << input_bytes / (1024 * 1024)
            << " MiB of RESP): " << ms(took) << " ms, "
            << static_cast<long long>(static_cast<double>(commands) / secs)
            << " commands/s; readthru RSS " << rss_before << " KiB, peak " << peak << " KiB\n";
  EXPECT_LT(peak - rss_before, rssBoundKib(128 * 1024));
}

}  // namespace
}  // namespace readthru::testing
