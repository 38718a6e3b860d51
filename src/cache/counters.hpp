#pragma once
// Counters for INFO's readthru section. Each io thread's objects keep their own; INFO sums
// them by name.

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

}  // namespace readthru::cache
