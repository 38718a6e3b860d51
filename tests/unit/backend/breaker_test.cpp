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
  const metrics::Snapshot snap = metrics::snapshotOf(table);
  auto value = [&](const std::string& name) -> std::uint64_t {
    const auto v = snap.info(name);
    return v ? static_cast<std::uint64_t>(*v) : ~std::uint64_t{0};
  };
  EXPECT_EQ(value("backend_breakers_open"), 1u);
  EXPECT_EQ(value("backend_breaker_opened"), 1u);
  EXPECT_EQ(value("backend_breaker_rejected"), 1u);
  // Per node in Prometheus.
  EXPECT_EQ(snap.value("readthru_backend_breaker_open", {"node", "h:1"}), 1);
  EXPECT_EQ(snap.value("readthru_backend_breaker_open", {"node", "h:2"}), 0);
}

}  // namespace
}  // namespace readthru::backend::redis
