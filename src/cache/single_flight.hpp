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
#include <system_error>
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
  std::string error;      // kError: the client's error text, e.g. "ERR readthru: load failed ..."
  std::error_code fault;  // kError: readthru's own failure (common/fault.hpp), if it is one

  static std::shared_ptr<const Loaded> failed(std::string text, std::error_code fault = {}) {
    auto l = std::make_shared<Loaded>();
    l->kind = Kind::kError;
    l->error = std::move(text);
    l->fault = fault;
    return l;
  }
};

using LoadedPtr = std::shared_ptr<const Loaded>;
using LoadedCallback = std::function<void(const LoadedPtr&)>;

class SingleFlight {
 public:
  struct Flight;
  using FlightPtr = std::shared_ptr<Flight>;

  // Parks `waiter` under `key`. Returns the flight when the caller is the leader: it must
  // run the load and call finish() on it exactly once. Returns nullptr when a load of the
  // key is already running; the waiter then gets its result. The waiter runs (posted to
  // `executor`) when the load finishes; a leader's own waiter too.
  FlightPtr join(const std::string& key, boost::asio::any_io_executor executor,
                 LoadedCallback waiter);

  // Leads a load of `key` that nobody waits for (a background reload), or returns nullptr
  // when a load of it is already running: that one will do.
  FlightPtr lead(const std::string& key);

  // Hands `result` to everyone parked on `flight`, and forgets it.
  void finish(const FlightPtr& flight, LoadedPtr result);

  // An invalidation of `key`: the load in flight, if any, is detached. Its result still
  // answers the clients already parked on it but must not be stored (invalidated() says
  // so), and a read that arrives from now on starts a new load instead of joining it.
  void invalidate(const std::string& key);
  static bool invalidated(const FlightPtr& flight);

  std::size_t inFlight() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, FlightPtr> flights_;
};

}  // namespace readthru::cache
