// Real client libraries, unchanged, against readthru: redis-py's RedisCluster (Debian's
// python3-redis) reads readthru's one-node CLUSTER SLOTS and routes everything to it.

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

// Runs a shell command; returns its standard output and sets `status`.
std::string run(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  status = ::pclose(pipe);
  return out;
}

TEST(Clients, RedisPyClusterClientWorksUnchanged) {
  ReadthruProcess proc(clusterBackend());
  int status = 0;
  // Debian's interpreter, where python3-redis is installed (not a pyenv one on PATH).
  const std::string out = run(std::string("/usr/bin/python3 ") + READTHRU_TEST_CLIENTS_DIR +
                                  "/redis_py_cluster.py " + std::to_string(proc.port()),
                              status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "ok\n");
}

}  // namespace
}  // namespace readthru::testing
