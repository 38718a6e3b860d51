// Fault: READTHRU.DOCTOR against a Redis node of the test's own, set up badly on purpose
// (maxmemory 0, noeviction), then fixed: the warnings name the node and then go. The
// shared stack is never configured: this node is a throwaway redis-server.

#include <gtest/gtest.h>

#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

std::string standalone(std::uint16_t port) {
  return "  mode: standalone\n  seeds: [\"127.0.0.1:" + std::to_string(port) + "\"]\n";
}

std::string doctor(ReadthruProcess& rt) {
  Client c(rt.port());
  const resp::Value v = c.call({"READTHRU.DOCTOR"});
  EXPECT_EQ(v.type, resp::Type::kBulk) << show(v);
  return v.str;
}

TEST(Doctor, WarnsOfAMisconfiguredNodeUntilItIsFixed) {
  RedisServer node;
  Client direct(node.port());
  ASSERT_EQ(show(direct.call({"CONFIG", "SET", "maxmemory", "0"})), "OK");
  ASSERT_EQ(show(direct.call({"CONFIG", "SET", "maxmemory-policy", "noeviction"})), "OK");
  ReadthruProcess rt(standalone(node.port()));
  const std::string addr = "127.0.0.1:" + std::to_string(node.port());

  // At start, once the slot map is known, the findings go to the log.
  EXPECT_TRUE(eventually([&] {
    return rt.log().find("doctor: 2 warning(s)") != std::string::npos;
  })) << rt.log();
  EXPECT_NE(rt.log().find("doctor: " + addr + ": maxmemory 0"), std::string::npos) << rt.log();

  std::string report = doctor(rt);
  EXPECT_NE(report.find("readthru doctor: 1 node(s), 2 warning(s)"), std::string::npos) << report;
  EXPECT_NE(report.find("[warn] " + addr + ": maxmemory 0: no memory limit"), std::string::npos)
      << report;
  EXPECT_NE(report.find("[warn] " + addr + ": maxmemory-policy noeviction"), std::string::npos)
      << report;
  EXPECT_NE(report.find("MEMORY DOCTOR " + addr + ":"), std::string::npos) << report;

  ASSERT_EQ(show(direct.call({"CONFIG", "SET", "maxmemory", "100mb"})), "OK");
  ASSERT_EQ(show(direct.call({"CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"})), "OK");
  report = doctor(rt);
  EXPECT_NE(report.find("1 node(s), 0 warning(s)"), std::string::npos) << report;
  EXPECT_EQ(report.find("[warn]"), std::string::npos) << report;
  EXPECT_NE(report.find("[ok] " + addr + ": maxmemory 100.0 MB"), std::string::npos) << report;
  EXPECT_NE(report.find("[ok] " + addr + ": evicted_keys 0, expired_keys 0, since the last run"),
            std::string::npos)
      << "the second run has a trend: " << report;

  ASSERT_EQ(show(direct.call({"CONFIG", "SET", "maxmemory-samples", "2"})), "OK");
  report = doctor(rt);
  EXPECT_NE(report.find("[warn] " + addr + ": maxmemory-samples 2"), std::string::npos) << report;
  ASSERT_EQ(show(direct.call({"CONFIG", "SET", "maxmemory-samples", "5"})), "OK");
}

TEST(Doctor, ANodeThatHangsIsAFindingWithinTheDeadline) {
  RedisServer node;
  ReadthruProcess rt(standalone(node.port()));
  const std::string addr = "127.0.0.1:" + std::to_string(node.port());
  ASSERT_TRUE(eventually([&] { return rt.log().find("doctor: ") != std::string::npos; }));
  node.pause();
  const auto started = std::chrono::steady_clock::now();
  const std::string report = doctor(rt);
  node.resume();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_NE(report.find("[warn] " + addr + ": did not answer"), std::string::npos) << report;
  Client c(rt.port());
  EXPECT_EQ(show(c.call({"PING"})), "PONG") << "readthru goes on";
}

}  // namespace
}  // namespace readthru::testing
