#include "admin/routes.hpp"

#include <gtest/gtest.h>

#include "admin/readiness.hpp"
#include "admin/status_page.hpp"
#include "metrics/registry.hpp"

namespace readthru::admin {
namespace {

Handlers fixed(bool ready) {
  Handlers h;
  h.metrics = [] { return std::string("readthru_up 1\n"); };
  h.readiness = [ready] { return Readiness{ready, ready ? "ready" : "PostgreSQL unreachable"}; };
  h.status_page = [] { return std::string("<!doctype html>"); };
  return h;
}

TEST(Routes, EachPathItsAnswer) {
  const Handlers h = fixed(true);
  EXPECT_EQ(route("GET", "/metrics", h).body, "readthru_up 1\n");
  EXPECT_EQ(route("GET", "/metrics", h).content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(route("GET", "/metrics?name[]=x", h).status, 200);  // the query is not the path
  EXPECT_EQ(route("GET", "/healthz", h).body, "ok\n");
  EXPECT_EQ(route("GET", "/readyz", h).status, 200);
  EXPECT_EQ(route("GET", "/", h).content_type, "text/html; charset=utf-8");
  EXPECT_EQ(route("HEAD", "/", h).status, 200);
}

TEST(Routes, NotReadyIs503WithTheReason) {
  const Response r = route("GET", "/readyz", fixed(false));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "PostgreSQL unreachable\n");
  EXPECT_EQ(route("GET", "/healthz", fixed(false)).status, 200);
}

TEST(Routes, OtherPathsAndMethods) {
  const Handlers h = fixed(true);
  EXPECT_EQ(route("GET", "/metrics/", h).status, 404);
  EXPECT_EQ(route("GET", "/nope", h).status, 404);
  const Response post = route("POST", "/metrics", h);
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.allow, "GET, HEAD");
}

constexpr metrics::Family kKnown{"readthru_backend_slot_map_known", metrics::Kind::kGauge, "t"};
constexpr metrics::Family kUp{"readthru_pg_connections_up", metrics::Kind::kGauge, "t"};
constexpr metrics::Family kOpen{"readthru_pg_breaker_open", metrics::Kind::kGauge, "t"};

struct State : metrics::Source {
  double known = 2, up = 1, open = 0;
  void collect(metrics::Sink& sink) const override {
    sink.add(kKnown, known);
    sink.add(kUp, up);
    sink.add(kOpen, open);
  }
};

TEST(Readiness, EachReasonInItsTurn) {
  State s;
  const ReadinessInputs in{2, true, false};
  EXPECT_TRUE(judgeReadiness(metrics::snapshotOf(s), in).ready);
  s.known = 1;
  Readiness r = judgeReadiness(metrics::snapshotOf(s), in);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "slot map not known yet (1 of 2 io threads have one)");
  s.known = 2;
  s.up = 0;
  r = judgeReadiness(metrics::snapshotOf(s), in);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason.rfind("PostgreSQL unreachable", 0), 0u);
  EXPECT_TRUE(judgeReadiness(metrics::snapshotOf(s), {2, false, false}).ready)
      << "without keyspaces the database does not matter";
  s.up = 1;
  s.open = 1;
  EXPECT_EQ(judgeReadiness(metrics::snapshotOf(s), in).reason.rfind("PostgreSQL breaker", 0), 0u);
  s.open = 0;
  r = judgeReadiness(metrics::snapshotOf(s), {2, true, true});
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason.rfind("draining", 0), 0u);
}

constexpr metrics::Family kWarmPending{"readthru_warm_pending", metrics::Kind::kGauge, "t"};

struct Warming : State {
  double pending = 1;
  void collect(metrics::Sink& sink) const override {
    State::collect(sink);
    sink.add(kWarmPending, pending);
  }
};

TEST(Readiness, WaitsForTheFirstWarmUp) {
  Warming s;
  Readiness r = judgeReadiness(metrics::snapshotOf(s), {2, true, false});
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "warming: 1 keyspace(s) with ready_after_warm not warmed yet");
  s.pending = 0;
  EXPECT_TRUE(judgeReadiness(metrics::snapshotOf(s), {2, true, false}).ready);
}

constexpr metrics::Family kHits{"readthru_cache_hits_total", metrics::Kind::kCounter, "t"};
constexpr metrics::Family kMisses{"readthru_cache_misses_total", metrics::Kind::kCounter, "t"};
constexpr metrics::Family kBreaker{"readthru_backend_breaker_open", metrics::Kind::kGauge, "t"};

struct Page : metrics::Source {
  void collect(metrics::Sink& sink) const override {
    sink.add(kHits, 3, {{"keyspace", "users<b>"}});
    sink.add(kMisses, 1, {{"keyspace", "users<b>"}});
    sink.add(kBreaker, 1, {{"node", "10.0.0.1:7000"}});
  }
};

TEST(StatusPage, EscapedFiguresAndHitRatio) {
  Page p;
  PageHeader header{"1.2.3", "127.0.0.1:6380", 42, {true, "ready"}};
  const std::string html = renderStatusPage(metrics::snapshotOf(p), header);
  EXPECT_NE(html.find("<td>users&lt;b&gt;</td><td>75.0%</td><td>3</td><td>1</td>"),
            std::string::npos)
      << html;
  EXPECT_EQ(html.find("users<b>"), std::string::npos);
  EXPECT_NE(html.find("<tr class=bad><td>10.0.0.1:7000</td><td>open</td>"), std::string::npos)
      << html;
  EXPECT_NE(html.find("up 42 s"), std::string::npos);
  EXPECT_EQ(htmlEscape("a&\"'"), "a&amp;&quot;&#39;");
}

}  // namespace
}  // namespace readthru::admin
