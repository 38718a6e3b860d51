#include "backend/redis/breaker.hpp"

#include <gtest/gtest.h>

#include <string>

namespace readthru::backend::redis {
namespace {

TEST(BreakerTable, OneBreakerPerNodeAndCounters) {
  BreakerOptions one_failure_opens;
  one_failure_opens.consecutive_failures = 1;
  BreakerTable table(one_failure_opens);
  auto a = table.get("h:1");
  EXPECT_EQ(a, table.get("h:1"));
  EXPECT_NE(a, table.get("h:2"));
  a->onFailure();
  a->countRejected();
  auto counters = table.counters();
  auto value = [&](const std::string& name) -> std::uint64_t {
    for (const auto& c : counters) {
      if (c.name == name) return c.value;
    }
    return ~std::uint64_t{0};
  };
  EXPECT_EQ(value("backend_breakers_open"), 1u);
  EXPECT_EQ(value("backend_breaker_opened"), 1u);
  EXPECT_EQ(value("backend_breaker_rejected"), 1u);
}

}  // namespace
}  // namespace readthru::backend::redis
