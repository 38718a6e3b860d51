#pragma once
// Counters for INFO's readthru section. Each io thread's objects keep their own; INFO sums
// them by name.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace readthru::cache {

// A named counter for INFO, e.g. {"cluster_moved", 3}.
struct Counter {
  std::string name;
  std::uint64_t value = 0;
};

// Anything with counters for INFO's readthru section: the Redis backend, the read-through
// service, the database pool. counters() is safe to call from any thread.
class CounterSource {
 public:
  virtual ~CounterSource() = default;
  virtual std::vector<Counter> counters() const = 0;
};

// Counters are written by their owner's thread and read by INFO from any thread.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}
inline std::uint64_t counterValue(const std::atomic<std::uint64_t>& c) {
  return c.load(std::memory_order_relaxed);
}

}  // namespace readthru::cache
