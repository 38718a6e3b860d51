#pragma once
// Single-flight across io threads: concurrent misses for one key share one load. The
// first caller leads (it runs the load and calls finish()); later callers are parked with
// their own executor and get the leader's result posted back to their own thread.
//
// This is one of the few tables shared between io threads (docs/architecture.md): one
// mutex, held only to insert or remove a key's waiter list, never while a callback runs.

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace readthru::cache {

// The outcome of one load, shared by every client waiting for it.
struct Loaded {
  enum class Kind : std::uint8_t { kFound, kNotFound, kError };
  Kind kind = Kind::kNotFound;
  std::string value;                                        // string formats
  std::vector<std::pair<std::string, std::string>> fields;  // format hash
  std::string error;  // kError: the client's error text, e.g. "ERR readthru: load failed ..."

  static std::shared_ptr<const Loaded> failed(std::string text) {
    auto l = std::make_shared<Loaded>();
    l->kind = Kind::kError;
    l->error = std::move(text);
    return l;
  }
};

using LoadedPtr = std::shared_ptr<const Loaded>;
using LoadedCallback = std::function<void(const LoadedPtr&)>;

class SingleFlight {
 public:
  // Parks `waiter` under `key`. Returns true when the caller is the leader: it must run the
  // load and call finish(key, ...) exactly once. The waiter runs (posted to `executor`)
  // when the load finishes; a leader's own waiter too.
  bool join(const std::string& key, boost::asio::any_io_executor executor, LoadedCallback waiter);

  // Hands `result` to everyone parked under `key` and forgets the key.
  void finish(const std::string& key, LoadedPtr result);

  // Marks the load of `key` in flight, if any, as overtaken by an invalidation: its
  // result still answers the clients that asked, but must not be stored.
  void invalidate(const std::string& key);
  bool invalidated(const std::string& key) const;

  std::size_t inFlight() const;

 private:
  struct Waiter {
    boost::asio::any_io_executor executor;
    LoadedCallback callback;
  };
  struct Flight {
    std::vector<Waiter> waiters;
    bool invalidated = false;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Flight> flights_;
};

}  // namespace readthru::cache
