// readthru as a Redis endpoint in front of the local Redis Cluster: local commands,
// pass-through, Redis's error texts.

#include <gtest/gtest.h>

#include "client.hpp"
#include "readthru_process.hpp"
#include "shared_readthru.hpp"

namespace readthru::testing {
namespace {

class Basic : public SharedClusterReadthru {};

TEST_F(Basic, PingEchoAndPassThrough) {
  Client c(proc_->port());
  EXPECT_EQ(show(c.call({"PING"})), "PONG");
  EXPECT_EQ(show(c.call({"PING", "hi"})), "hi");
  EXPECT_EQ(show(c.call({"ECHO", "hello"})), "hello");
  EXPECT_EQ(show(c.call({"SET", "basic:k", "v1"})), "OK");
  EXPECT_EQ(show(c.call({"GET", "basic:k"})), "v1");
  EXPECT_EQ(show(c.call({"DEL", "basic:k"})), "(integer) 1");
  EXPECT_EQ(show(c.call({"GET", "basic:k"})), "(nil)");
}

TEST_F(Basic, RedisErrorTexts) {
  Client c(proc_->port());
  EXPECT_EQ(show(c.call({"FOO", "a", "b"})),
            "(error) ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
  EXPECT_EQ(show(c.call({"GET"})), "(error) ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(show(c.call({"HELLO", "3"})), "(error) NOPROTO unsupported protocol version");
  EXPECT_EQ(show(c.call({"SELECT", "0"})), "OK");
  EXPECT_EQ(show(c.call({"SELECT", "1"})), "(error) ERR SELECT is not allowed in cluster mode");
  // Redis's own error comes back unchanged.
  EXPECT_EQ(show(c.call({"SET", "basic:int", "x"})), "OK");
  EXPECT_EQ(show(c.call({"INCR", "basic:int"})),
            "(error) ERR value is not an integer or out of range");
  const std::string subscribe = show(c.call({"SUBSCRIBE", "ch"}));
  EXPECT_EQ(subscribe.rfind("(error) ERR readthru: 'subscribe' is not supported", 0), 0u)
      << subscribe;
}

TEST_F(Basic, HelloClientAndCommand) {
  Client c(proc_->port());
  const auto hello = c.call({"HELLO", "2", "SETNAME", "tester"});
  ASSERT_TRUE(hello.isArray());
  ASSERT_EQ(hello.elements.size(), 14u);
  EXPECT_EQ(show(hello.elements[5]), "(integer) 2");
  EXPECT_EQ(show(c.call({"CLIENT", "GETNAME"})), "tester");
  EXPECT_EQ(show(c.call({"CLIENT", "SETINFO", "lib-name", "redis-py"})), "OK");
  EXPECT_EQ(c.call({"CLIENT", "ID"}).type, resp::Type::kInteger);
  const auto count = c.call({"COMMAND", "COUNT"});
  EXPECT_GT(count.integer, 200);
  const auto info = c.call({"COMMAND", "INFO", "get", "mset"});
  ASSERT_EQ(info.elements.size(), 2u);
  EXPECT_EQ(show(info.elements[0].elements[0]), "get");
  EXPECT_EQ(show(info.elements[1].elements[5]), "(integer) 2");  // MSET: key step 2
  EXPECT_EQ(show(c.call({"COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"})), "[a, b]");
  const auto docs = c.call({"COMMAND", "DOCS", "get"});
  ASSERT_EQ(docs.elements.size(), 2u);
  EXPECT_EQ(show(docs.elements[0]), "get");
}

TEST_F(Basic, InfoSections) {
  Client c(proc_->port());
  const std::string all = show(c.call({"INFO"}));
  EXPECT_NE(all.find("# Server\r\nredis_version:"), std::string::npos);
  EXPECT_NE(all.find("# Clients\r\nconnected_clients:"), std::string::npos);
  EXPECT_NE(all.find("# Stats\r\ntotal_connections_received:"), std::string::npos);
  const std::string clients = show(c.call({"INFO", "clients"}));
  EXPECT_EQ(clients.find("# Server"), std::string::npos);
  EXPECT_NE(clients.find("maxclients:10000"), std::string::npos);
}

TEST_F(Basic, EmulatesOneNodeCluster) {
  Client c(proc_->port());
  const auto slots = c.call({"CLUSTER", "SLOTS"});
  ASSERT_EQ(slots.elements.size(), 1u);
  EXPECT_EQ(show(slots.elements[0].elements[0]), "(integer) 0");
  EXPECT_EQ(show(slots.elements[0].elements[1]), "(integer) 16383");
  EXPECT_EQ(show(slots.elements[0].elements[2].elements[1]),
            "(integer) " + std::to_string(proc_->port()));
  const std::string port = std::to_string(proc_->port());
  const std::string shards = show(c.call({"CLUSTER", "SHARDS"}));
  EXPECT_EQ(shards.rfind("[[slots, [(integer) 0, (integer) 16383], nodes, [[id, ", 0), 0u)
      << shards;
  EXPECT_NE(shards.find("port, (integer) " + port +
                        ", ip, 127.0.0.1, endpoint, 127.0.0.1, "
                        "role, master, replication-offset, (integer) 0, health, online]]]]"),
            std::string::npos)
      << shards;
  EXPECT_EQ(show(c.call({"CLUSTER", "KEYSLOT", "user:profile:42"})), "(integer) 12397");
  EXPECT_NE(show(c.call({"CLUSTER", "INFO"})).find("cluster_state:ok"), std::string::npos);
  const std::string nodes = show(c.call({"CLUSTER", "NODES"}));
  EXPECT_NE(nodes.find("myself,master - 0 0 1 connected 0-16383"), std::string::npos);
}

TEST_F(Basic, QuitClosesAfterOk) {
  Client c(proc_->port());
  EXPECT_EQ(show(c.call({"QUIT"})), "OK");
  EXPECT_TRUE(c.closedByPeer());
}

// SIGTERM while clients are connected and requests are in flight: readthru exits with
// status 0 and (in the sanitizer build) without a report.
TEST(Shutdown, CleanWithClientsConnected) {
  ReadthruProcess proc(clusterBackend());
  Client idle(proc.port());
  Client busy(proc.port());
  EXPECT_EQ(show(idle.call({"PING"})), "PONG");
  std::string pipeline;
  for (int i = 0; i < 2000; ++i) pipeline += "*2\r\n$3\r\nGET\r\n$9\r\nshutdown:\r\n";
  busy.sendRaw(pipeline);
  EXPECT_EQ(proc.stopAndCheck(), "");
}

}  // namespace
}  // namespace readthru::testing
