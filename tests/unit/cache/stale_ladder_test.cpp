#include "cache/stale_ladder.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace readthru::cache {
namespace {

LadderPolicy policy(bool ahead, Millis swr, Millis sie, double beta = 1.0) {
  LadderPolicy p;
  p.refresh_ahead = ahead;
  p.beta = beta;
  p.stale_while_revalidate = swr;
  p.stale_if_error = sie;
  return p;
}

TEST(StaleLadder, MetaRoundTripsAndRejectsOtherText) {
  const FreshnessMeta m{1733100000123, 42};
  EXPECT_EQ(encodeMeta(m), "1733100000123 42");
  auto back = parseMeta(encodeMeta(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->fresh_until_ms, m.fresh_until_ms);
  EXPECT_EQ(back->delta_ms, 42);
  for (const char* bad : {"", "12", "12 ", " 12", "a 1", "1 b", "1 -5", "1 2 3", "1  2"}) {
    EXPECT_FALSE(parseMeta(bad)) << bad;
  }
}

TEST(StaleLadder, EnabledAndGrace) {
  EXPECT_FALSE(policy(false, Millis(0), Millis(0)).enabled());
  EXPECT_TRUE(policy(true, Millis(0), Millis(0)).enabled());
  EXPECT_EQ(policy(false, Millis(30000), Millis(600000)).grace(), Millis(600000));
  EXPECT_EQ(policy(false, Millis(30000), Millis(0)).grace(), Millis(30000));
}

TEST(StaleLadder, NoMetaIsServedAsItIs) {
  EXPECT_EQ(ladderStep(policy(true, Millis(1000), Millis(1000)), std::nullopt, 5, 0.5),
            LadderStep::kServe);
}

TEST(StaleLadder, TheWindowsInOrder) {
  const auto p = policy(false, Millis(1000), Millis(5000));
  const FreshnessMeta m{10000, 10};
  EXPECT_EQ(ladderStep(p, m, 9999, 0.5), LadderStep::kServe);
  EXPECT_EQ(ladderStep(p, m, 10000, 0.5), LadderStep::kServeStale);  // expiry is stale
  EXPECT_EQ(ladderStep(p, m, 10999, 0.5), LadderStep::kServeStale);
  EXPECT_EQ(ladderStep(p, m, 11000, 0.5), LadderStep::kReloadOrServeOnError);
  EXPECT_EQ(ladderStep(p, m, 14999, 0.5), LadderStep::kReloadOrServeOnError);
  EXPECT_EQ(ladderStep(p, m, 15000, 0.5), LadderStep::kReload);
}

TEST(StaleLadder, StaleIfErrorAloneReloadsAtOnceAfterExpiry) {
  const auto p = policy(false, Millis(0), Millis(60000));
  EXPECT_EQ(ladderStep(p, FreshnessMeta{100, 1}, 100, 0.5), LadderStep::kReloadOrServeOnError);
}

// XFetch: refresh when now + δ·β·(−ln u) ≥ fresh_until. With u = e^-1, −ln u = 1.
TEST(StaleLadder, RefreshAheadFollowsXFetch) {
  const double u = std::exp(-1.0);
  const FreshnessMeta m{10000, 200};  // the last load took 200 ms
  const auto p = policy(true, Millis(0), Millis(0));
  EXPECT_EQ(ladderStep(p, m, 9799, u), LadderStep::kServe);         // 9799 + 200 < 10000
  EXPECT_EQ(ladderStep(p, m, 9800, u), LadderStep::kRefreshAhead);  // 9800 + 200 = 10000
  // β scales the horizon; u = 1 (−ln u = 0) never refreshes early.
  EXPECT_EQ(ladderStep(policy(true, Millis(0), Millis(0), 3.0), m, 9400, u),
            LadderStep::kRefreshAhead);
  EXPECT_EQ(ladderStep(p, m, 9999, 1.0), LadderStep::kServe);
  // Without refresh_ahead a fresh value is just served.
  EXPECT_EQ(ladderStep(policy(false, Millis(0), Millis(1)), m, 9999, 1e-9), LadderStep::kServe);
  // Past expiry with no windows: a reload, as a miss.
  EXPECT_EQ(ladderStep(p, m, 10000, u), LadderStep::kReload);
}

}  // namespace
}  // namespace readthru::cache
