#pragma once
// The gutter: a small in-process store of values loaded while Redis could not take them
// (the idea of Facebook memcache's Gutter pool). During a cache outage every read of a
// managed key would otherwise be a database load; with the gutter, N reads of one key cost
// about one load per `ttl`, and the database is not stampeded while Redis is down.
//
// Entries are only ever written on the outage path and read on it, so a mutex is cheap
// here: the hit path never touches the gutter. Shared by the io threads (one per process);
// bounded by bytes (oldest evicted first) and by age. Values in it are at most `ttl` old:
// an invalidation cannot reach them, which is why `ttl` is seconds, not minutes.

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cache/single_flight.hpp"
#include "common/units.hpp"
#include "metrics/cells.hpp"
#include "metrics/snapshot.hpp"

namespace readthru::cache {

class Gutter : public metrics::Source {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::uint64_t max_bytes = 16 * 1024 * 1024;  // 0: off
    Millis ttl{5000};
  };

  explicit Gutter(Options options) : options_(options) {}

  bool enabled() const { return options_.max_bytes > 0; }

  // The value stored under `key` less than `ttl` ago, or null.
  LoadedPtr get(const std::string& key, Clock::time_point now = Clock::now());
  // Stores a load's outcome (found or not found; errors are never kept), replacing an older
  // one, and evicts the oldest entries past max_bytes. A value bigger than max_bytes is not
  // kept.
  void put(const std::string& key, LoadedPtr value, Clock::time_point now = Clock::now());
  // An invalidation of `key` that reached this process: its entry goes too.
  void erase(const std::string& key);

  // gutter_hits, gutter_stores, gutter_evictions, gutter_entries, gutter_bytes.
  void collect(metrics::Sink& sink) const override;

 private:
  struct Entry {
    LoadedPtr value;
    Clock::time_point stored;
    std::size_t bytes = 0;
    std::list<std::string>::iterator age;  // position in order_
  };

  void removeLocked(std::unordered_map<std::string, Entry>::iterator it);

  const Options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // keys, oldest first (one ttl for all: also expiry order)
  std::uint64_t bytes_ = 0;
  std::uint64_t hits_ = 0, stores_ = 0, evictions_ = 0;
};

}  // namespace readthru::cache
