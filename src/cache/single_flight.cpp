#include "cache/single_flight.hpp"

#include <boost/asio/post.hpp>

namespace readthru::cache {

bool SingleFlight::join(const std::string& key, boost::asio::any_io_executor executor,
                        LoadedCallback waiter) {
  std::lock_guard lock(mutex_);
  auto [it, leader] = flights_.try_emplace(key);
  it->second.waiters.push_back({std::move(executor), std::move(waiter)});
  return leader;
}

void SingleFlight::finish(const std::string& key, LoadedPtr result) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    auto it = flights_.find(key);
    if (it == flights_.end()) return;
    waiters = std::move(it->second.waiters);
    flights_.erase(it);
  }
  for (Waiter& w : waiters) {
    boost::asio::post(w.executor, [cb = std::move(w.callback), result] { cb(result); });
  }
}

void SingleFlight::invalidate(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = flights_.find(key);
  if (it != flights_.end()) it->second.invalidated = true;
}

bool SingleFlight::invalidated(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = flights_.find(key);
  return it != flights_.end() && it->second.invalidated;
}

std::size_t SingleFlight::inFlight() const {
  std::lock_guard lock(mutex_);
  return flights_.size();
}

}  // namespace readthru::cache
