#include "metrics/cells.hpp"

#include <gtest/gtest.h>

namespace readthru::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

TEST(Buckets, BoundsDoubleFrom25MicrosecondsToAboutTwoSeconds) {
  EXPECT_EQ(bucketBoundNanos(0), 25'000);
  EXPECT_EQ(bucketBoundNanos(1), 50'000);
  EXPECT_EQ(bucketBoundNanos(kFiniteBuckets - 1), 1'638'400'000);
}

TEST(Buckets, ADurationFallsInTheFirstBucketWhoseBoundHoldsIt) {
  EXPECT_EQ(bucketOf(0), 0);
  EXPECT_EQ(bucketOf(1), 0);
  EXPECT_EQ(bucketOf(25'000), 0);  // bounds are inclusive (le)
  EXPECT_EQ(bucketOf(25'001), 1);
  EXPECT_EQ(bucketOf(50'000), 1);
  EXPECT_EQ(bucketOf(50'001), 2);
  EXPECT_EQ(bucketOf(75'000), 2);
  EXPECT_EQ(bucketOf(100'000), 2);
  EXPECT_EQ(bucketOf(100'001), 3);
  EXPECT_EQ(bucketOf(1'638'400'000), kFiniteBuckets - 1);
  EXPECT_EQ(bucketOf(1'638'400'001), kFiniteBuckets);  // +Inf
  EXPECT_EQ(bucketOf(3'600'000'000'000), kFiniteBuckets);
}

TEST(Buckets, EveryBoundIsInItsOwnBucketAndOneNanosecondMoreIsInTheNext) {
  for (int i = 0; i < kFiniteBuckets; ++i) {
    EXPECT_EQ(bucketOf(bucketBoundNanos(i)), i) << i;
    EXPECT_EQ(bucketOf(bucketBoundNanos(i) + 1), i + 1) << i;
  }
}

TEST(Histogram, CountsSumsAndBuckets) {
  Histogram h;
  h.observe(microseconds(10));
  h.observe(microseconds(30));
  h.observe(microseconds(30));
  h.observe(nanoseconds(-5));  // a clock step: counted as 0, never negative
  const HistogramCounts c = h.counts();
  EXPECT_EQ(c.count, 4u);
  EXPECT_EQ(c.sum_nanos, 70'000u);
  EXPECT_EQ(c.buckets[0], 2u);
  EXPECT_EQ(c.buckets[1], 2u);
}

TEST(Cells, CounterAndGauge) {
  Counter c;
  c.add();
  c.add(41);
  EXPECT_EQ(c.value(), 42u);
  Gauge g;
  g.set(5);
  g.add(-7);
  EXPECT_EQ(g.value(), -2);
}

}  // namespace
}  // namespace readthru::metrics
