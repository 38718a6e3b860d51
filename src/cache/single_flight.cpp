#include "cache/single_flight.hpp"

#include <atomic>
#include <boost/asio/post.hpp>

namespace readthru::cache {

struct SingleFlight::Flight {
  struct Waiter {
    boost::asio::any_io_executor executor;
    LoadedCallback callback;
  };
  std::string key;
  std::vector<Waiter> waiters;  // guarded by SingleFlight::mutex_
  std::atomic<bool> invalidated{false};
};

SingleFlight::FlightPtr SingleFlight::join(const std::string& key,
                                           boost::asio::any_io_executor executor,
                                           LoadedCallback waiter) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = flights_.try_emplace(key);
  if (fresh) {
    it->second = std::make_shared<Flight>();
    it->second->key = key;
  }
  it->second->waiters.push_back({std::move(executor), std::move(waiter)});
  return fresh ? it->second : nullptr;
}

SingleFlight::FlightPtr SingleFlight::lead(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = flights_.try_emplace(key);
  if (!fresh) return nullptr;
  it->second = std::make_shared<Flight>();
  it->second->key = key;
  return it->second;
}

void SingleFlight::finish(const FlightPtr& flight, LoadedPtr result) {
  std::vector<Flight::Waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    waiters = std::move(flight->waiters);
    flight->waiters.clear();
    // Still the key's current flight unless an invalidation detached it.
    auto it = flights_.find(flight->key);
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
  }
  for (Flight::Waiter& w : waiters) {
    boost::asio::post(w.executor, [cb = std::move(w.callback), result] { cb(result); });
  }
}

void SingleFlight::invalidate(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = flights_.find(key);
  if (it == flights_.end()) return;
  it->second->invalidated.store(true, std::memory_order_release);
  flights_.erase(it);
}

bool SingleFlight::invalidated(const FlightPtr& flight) {
  return flight->invalidated.load(std::memory_order_acquire);
}

std::size_t SingleFlight::inFlight() const {
  std::lock_guard lock(mutex_);
  return flights_.size();
}

}  // namespace readthru::cache
