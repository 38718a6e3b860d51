// Logging against a real readthru: JSON lines that stay valid with binary keys in them
// (read back by python3's json module), the slow log through SLOWLOG in Redis 7.0's
// format, and a reload that changes the format and the threshold. Commands are made slow
// by a threshold of 1us: any GET through the proxy takes longer.

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

// Every byte class the JSON escaping treats apart: NUL, a quote, a backslash, a newline,
// an invalid UTF-8 byte (0xff), a valid é (C3 A9), DEL.
const std::string kBinaryKey = std::string("logtest:\0\"\\\n\xff\xc3\xa9\x7f", 16);
// How that key reads in the decoded msg (a JSON literal for the checker): 0xff is written
// \u00ff, its Latin-1 reading.
constexpr const char* kBinaryKeyAsJson = R"("key 'logtest:\u0000\"\\\n\u00ff\u00e9\u007f'")";

std::string logSection(const std::string& format, const std::string& threshold,
                       int lines_per_second = 1000) {
  return "log:\n  format: " + format + "\n  slow_threshold: " + threshold +
         "\n  slow_log_lines_per_second: " + std::to_string(lines_per_second) + "\n";
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto i = text.find(what); i != std::string::npos; i = text.find(what, i + 1)) ++n;
  return n;
}

// Runs a command; its exit status and output.
std::pair<int, std::string> run(const std::string& command) {
  std::unique_ptr<FILE, decltype(&pclose)> p(::popen((command + " 2>&1").c_str(), "r"), &pclose);
  if (!p) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
  const int status = pclose(p.release());
  return {status, out};
}

std::string lastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

TEST(Logging, JsonLinesStayValidWithBinaryKeys) {
  ReadthruProcess proc(clusterBackend(), "", logSection("json", "1us"));
  Client c(proc.port());
  EXPECT_EQ(show(c.call({"GET", kBinaryKey})), "(nil)");
  ASSERT_TRUE(eventually([&] {
    return proc.log().find("slow request: GET key") != std::string::npos;
  })) << proc.log();
  const std::string wanted = proc.logPath() + ".wanted.json";
  std::ofstream(wanted) << kBinaryKeyAsJson;
  const auto [status, out] = run(std::string("/usr/bin/python3 ") + READTHRU_CHECK_JSON_LOG + " " +
                                 proc.logPath() + " " + wanted);
  EXPECT_EQ(status, 0) << out;
}

// The entries of SLOWLOG GET whose command is `name` (at 1us, readthru's own commands
// may be there too, as in Redis).
std::vector<resp::Value> entriesOf(Client& c, const std::string& name) {
  std::vector<resp::Value> out;
  for (const resp::Value& e : c.call({"SLOWLOG", "GET", "-1"}).elements) {
    if (e.elements.size() == 6 && !e.elements[3].elements.empty() &&
        e.elements[3].elements[0].str == name) {
      out.push_back(e);
    }
  }
  return out;
}

long long slowLen(Client& c) { return c.call({"SLOWLOG", "LEN"}).integer; }

TEST(Logging, SlowlogAnswersFromReadthrusOwnLogInRedisFormat) {
  ReadthruProcess proc(clusterBackend(), "", logSection("text", "1us"));
  Client c(proc.port());
  EXPECT_EQ(show(c.call({"CLIENT", "SETNAME", "slowtest"})), "OK");
  EXPECT_EQ(show(c.call({"SLOWLOG", "RESET"})), "OK");
  // Only the RESET itself can be there: an entry is made once a command is done.
  EXPECT_LE(slowLen(c), 1);
  EXPECT_EQ(show(c.call({"GET", kBinaryKey})), "(nil)");

  const std::vector<resp::Value> gets = entriesOf(c, "GET");
  ASSERT_EQ(gets.size(), 1u);
  const resp::Value& e = gets[0];
  EXPECT_EQ(e.elements[0].type, resp::Type::kInteger);
  EXPECT_EQ(e.elements[1].type, resp::Type::kInteger);
  EXPECT_LE(std::abs(e.elements[1].integer - static_cast<std::int64_t>(std::time(nullptr))), 60);
  EXPECT_GE(e.elements[2].integer, 1) << "duration in microseconds";
  ASSERT_EQ(e.elements[3].elements.size(), 2u);
  EXPECT_EQ(e.elements[3].elements[1].str, kBinaryKey);  // the bytes, as sent
  EXPECT_EQ(e.elements[4].str.rfind("127.0.0.1:", 0), 0u) << e.elements[4].str;
  EXPECT_EQ(e.elements[5].str, "slowtest");

  EXPECT_EQ(c.call({"SLOWLOG", "GET", "0"}).elements.size(), 0u);
  EXPECT_EQ(c.call({"SLOWLOG", "GET", "1"}).elements.size(), 1u);
  EXPECT_EQ(show(c.call({"SLOWLOG", "GET", "x"})),
            "(error) ERR count should be greater than or equal to -1");
  EXPECT_EQ(show(c.call({"SLOWLOG", "GET", "-2"})),
            "(error) ERR count should be greater than or equal to -1");
  EXPECT_EQ(show(c.call({"SLOWLOG", "NOPE"})),
            "(error) ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.");
  EXPECT_EQ(c.call({"SLOWLOG", "HELP"}).elements.size(), 12u);
  const resp::Value info = c.call({"INFO", "readthru"});
  const auto at = info.str.find("slow_requests:");
  ASSERT_NE(at, std::string::npos) << info.str;
  EXPECT_GE(std::stoll(info.str.substr(at + 14)), 1) << info.str;
  EXPECT_EQ(show(c.call({"SLOWLOG", "RESET"})), "OK");
  EXPECT_LE(slowLen(c), 1);
  EXPECT_NE(proc.log().find("slow request: GET key 'logtest:"), std::string::npos) << proc.log();
}

// Commands readthru answers itself are timed too; one that waits (INFO's backend sums)
// until its reply. AUTH's password is never kept or logged.
TEST(Logging, LocalCommandsReachTheSlowLogWithSecretsRedacted) {
  ReadthruProcess proc(clusterBackend(), "", logSection("text", "1us"));
  Client c(proc.port());
  c.call({"INFO", "memory"});  // asks every node: far past 1us
  const std::vector<resp::Value> infos = entriesOf(c, "INFO");
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_GE(infos[0].elements[2].integer, 1);
  const std::string secret = "hunter2-" + std::to_string(::getpid());
  for (int i = 0; i < 20; ++i) c.call({"AUTH", "someone", secret});
  for (const resp::Value& e : entriesOf(c, "AUTH")) {
    ASSERT_EQ(e.elements[3].elements.size(), 3u);
    EXPECT_EQ(e.elements[3].elements[1].str, "(redacted)");
    EXPECT_EQ(e.elements[3].elements[2].str, "(redacted)");
  }
  EXPECT_EQ(show(c.call({"SLOWLOG", "GET", "-1"})).find(secret), std::string::npos);
  EXPECT_EQ(proc.log().find(secret), std::string::npos) << proc.log();
}

TEST(Logging, SlowLinesAreRateLimitedAndSayHowManyWereHeldBack) {
  ReadthruProcess proc(clusterBackend(), "", logSection("text", "1us", 1));
  Client c(proc.port());
  constexpr int kBurst = 50;
  for (int i = 0; i < kBurst; ++i) c.send({"GET", "logtest:burst"});
  for (int i = 0; i < kBurst; ++i) EXPECT_EQ(show(c.read()), "(nil)");
  // Every one is kept and counted, whatever was logged.
  EXPECT_EQ(entriesOf(c, "GET").size(), static_cast<std::size_t>(kBurst));
  // The next slow request in a later second is logged after a line that counts the rest.
  ASSERT_TRUE(eventually([&] {
    c.call({"GET", "logtest:burst"});
    return proc.log().find("more slow request(s) not logged") != std::string::npos;
  })) << proc.log();
  EXPECT_LT(count(proc.log(), "slow request: GET"), static_cast<std::size_t>(kBurst));
}

TEST(Logging, ReloadAppliesFormatAndThreshold) {
  ReadthruProcess proc(clusterBackend(), "", logSection("text", "1us"));
  Client c(proc.port());
  EXPECT_EQ(show(c.call({"GET", "logtest:a"})), "(nil)");
  EXPECT_EQ(entriesOf(c, "GET").size(), 1u);

  proc.rewriteConfig(clusterBackend(), "", logSection("json", "0"));
  EXPECT_EQ(show(c.call({"READTHRU.RELOAD"})), "OK");
  EXPECT_EQ(show(c.call({"SLOWLOG", "RESET"})), "OK");
  EXPECT_EQ(show(c.call({"GET", "logtest:a"})), "(nil)");
  EXPECT_EQ(show(c.call({"SLOWLOG", "LEN"})), "(integer) 0") << "slow_threshold: 0 is off";
  // The reload's own line was written in the old format; the next one is JSON.
  EXPECT_EQ(show(c.call({"READTHRU.RELOAD"})), "OK");
  ASSERT_TRUE(eventually([&] {
    return lastLine(proc.log()).find("nothing changed") != std::string::npos;
  })) << proc.log();
  const std::string line = lastLine(proc.log());
  EXPECT_EQ(line.rfind(R"({"ts":")", 0), 0u) << line;
  EXPECT_NE(line.find(R"("level":"info")"), std::string::npos) << line;
}

}  // namespace
}  // namespace readthru::testing
