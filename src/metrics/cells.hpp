#pragma once
// The cells a metric is counted in. Each has exactly one writing thread: an io thread's
// objects own their cells (grouped in structs aligned to a cache line), so the request
// path never takes a lock or shares a cache line, and a write is a relaxed load and store,
// not a locked add. Any thread may read a cell (a scrape, INFO).

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>

namespace readthru::metrics {

// Only ever goes up (until the process restarts).
class Counter {
 public:
  void add(std::uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// A level that goes up and down (connections open, bytes queued).
class Gauge {
 public:
  void set(std::int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// Bucket upper bounds: 25 µs doubling to 1.6384 s, then +Inf. A cache hit takes tens of
// microseconds; the usual client-library buckets start at 5 ms and cannot tell one hit
// from another.
inline constexpr std::int64_t kFirstBucketNanos = 25'000;
inline constexpr int kFiniteBuckets = 17;            // 25 µs · 2^0 … 2^16
inline constexpr int kBuckets = kFiniteBuckets + 1;  // and +Inf
constexpr std::int64_t bucketBoundNanos(int i) { return kFirstBucketNanos << i; }

// The bucket a duration falls in: the first whose bound is >= it.
constexpr int bucketOf(std::int64_t nanos) {
  if (nanos <= kFirstBucketNanos) return 0;
  const auto q = static_cast<std::uint64_t>((nanos - 1) / kFirstBucketNanos);
  const int i = std::bit_width(q);
  return i < kFiniteBuckets ? i : kFiniteBuckets;
}

// A latency distribution (non-cumulative bucket counts; the renderer accumulates them).
struct HistogramCounts {
  std::array<std::uint64_t, kBuckets> buckets{};
  std::uint64_t count = 0;
  std::uint64_t sum_nanos = 0;

  void addFrom(const HistogramCounts& o) {
    for (int i = 0; i < kBuckets; ++i) buckets[i] += o.buckets[i];
    count += o.count;
    sum_nanos += o.sum_nanos;
  }
};

class Histogram {
 public:
  void observe(std::chrono::nanoseconds d) {
    const std::int64_t ns = d.count() < 0 ? 0 : d.count();
    bump(buckets_[bucketOf(ns)], 1);
    bump(count_, 1);
    bump(sum_nanos_, static_cast<std::uint64_t>(ns));
  }
  HistogramCounts counts() const {
    HistogramCounts c;
    for (int i = 0; i < kBuckets; ++i) c.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    c.count = count_.load(std::memory_order_relaxed);
    c.sum_nanos = sum_nanos_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_nanos_{0};
};

}  // namespace readthru::metrics
