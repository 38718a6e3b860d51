#include "metrics/render.hpp"

#include <gtest/gtest.h>

#include "metrics/registry.hpp"

namespace readthru::metrics {
namespace {

constexpr Family kHits{"readthru_cache_hits_total", Kind::kCounter, "Reads served from Redis.",
                       "readthru_hits"};
constexpr Family kOpen{"readthru_connections", Kind::kGauge, "Client connections open.",
                       "connected"};
constexpr Family kLatency{"readthru_request_duration_seconds", Kind::kHistogram,
                          "Client request latency."};
constexpr Family kHidden{"readthru_hidden_total", Kind::kCounter, "Not in INFO."};

// Two io threads' worth of cells, as the real sources hold them.
struct ThreadCells : Source {
  Counter users, orders;
  Gauge open;
  Histogram latency;
  void collect(Sink& sink) const override {
    sink.add(kHits, users, {{"keyspace", "user"}});
    sink.add(kHits, orders, {{"keyspace", "order"}});
    sink.add(kOpen, open);
    sink.add(kLatency, latency);
  }
};

TEST(Snapshot, SumsOneSeriesOverItsSources) {
  ThreadCells a, b;
  a.users.add(3);
  b.users.add(4);
  b.orders.add(1);
  a.open.set(2);
  b.open.set(5);
  Registry reg;
  reg.add(&a);
  reg.add(&b);
  const Snapshot snap = reg.snapshot();
  EXPECT_EQ(snap.value("readthru_cache_hits_total", {"keyspace", "user"}), 7);
  EXPECT_EQ(snap.value("readthru_cache_hits_total", {"keyspace", "order"}), 1);
  EXPECT_EQ(snap.total("readthru_cache_hits_total"), 8);
  EXPECT_EQ(snap.total("readthru_connections"), 7);
  ASSERT_NE(snap.find("readthru_cache_hits_total"), nullptr);
  EXPECT_EQ(snap.find("readthru_cache_hits_total")->series.size(), 2u);
  reg.remove(&b);
  EXPECT_EQ(reg.snapshot().total("readthru_cache_hits_total"), 3);
}

TEST(Prometheus, TextFormatWithHelpTypeLabelsAndCumulativeBuckets) {
  ThreadCells a;
  a.users.add(3);
  a.open.set(2);
  a.latency.observe(std::chrono::microseconds(20));
  a.latency.observe(std::chrono::microseconds(40));
  Registry reg;
  reg.add(&a);
  const std::string text = renderPrometheus(reg.snapshot());
  EXPECT_NE(text.find("# HELP readthru_cache_hits_total Reads served from Redis.\n"
                      "# TYPE readthru_cache_hits_total counter\n"
                      "readthru_cache_hits_total{keyspace=\"user\"} 3\n"
                      "readthru_cache_hits_total{keyspace=\"order\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE readthru_connections gauge\nreadthru_connections 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE readthru_request_duration_seconds histogram\n"
                      "readthru_request_duration_seconds_bucket{le=\"2.5e-05\"} 1\n"
                      "readthru_request_duration_seconds_bucket{le=\"5e-05\"} 2\n"
                      "readthru_request_duration_seconds_bucket{le=\"0.0001\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("readthru_request_duration_seconds_bucket{le=\"1.6384\"} 2\n"
                      "readthru_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"
                      "readthru_request_duration_seconds_sum 6e-05\n"
                      "readthru_request_duration_seconds_count 2\n"),
            std::string::npos)
      << text;
}

struct Escaped : Source {
  void collect(Sink& sink) const override { sink.add(kHidden, 1, {{"node", "a\"b\\c\nd"}}); }
};

TEST(Prometheus, LabelValuesAreEscaped) {
  Escaped e;
  Registry reg;
  reg.add(&e);
  EXPECT_NE(
      renderPrometheus(reg.snapshot()).find("readthru_hidden_total{node=\"a\\\"b\\\\c\\nd\"} 1\n"),
      std::string::npos);
}

TEST(Info, FamiliesWithAnInfoNameSummedOverLabels) {
  ThreadCells a, b;
  a.users.add(3);
  b.orders.add(4);
  a.open.set(1);
  a.latency.observe(std::chrono::microseconds(5));
  Escaped e;
  Registry reg;
  reg.add(&a);
  reg.add(&b);
  reg.add(&e);
  EXPECT_EQ(renderInfo(reg.snapshot()), "readthru_hits:7\r\nconnected:1\r\n");
  EXPECT_EQ(renderInfoFor(reg.snapshot(), {"keyspace", "order"}), "readthru_hits:4\r\n");
}

TEST(Numbers, IntegersWithoutAPointOthersShort) {
  EXPECT_EQ(formatNumber(0), "0");
  EXPECT_EQ(formatNumber(-3), "-3");
  EXPECT_EQ(formatNumber(1.5), "1.5");
  EXPECT_EQ(formatNumber(123456789012.0), "123456789012");
}

}  // namespace
}  // namespace readthru::metrics
