#include "backend/redis/breaker.hpp"

namespace readthru::backend::redis {

// ---------------------------------------------------------------------------------------

std::shared_ptr<Breaker> BreakerTable::get(const std::string& node) {
  std::lock_guard lock(mutex_);
  auto& b = breakers_[node];
  if (!b) b = std::make_shared<Breaker>("redis node " + node, options_);
  return b;
}

std::vector<cache::Counter> BreakerTable::counters() const {
  std::uint64_t open = 0, opened = 0, rejected = 0;
  std::lock_guard lock(mutex_);
  for (const auto& [node, b] : breakers_) {
    open += b->state() == Breaker::State::kClosed ? 0 : 1;
    opened += b->opened();
    rejected += b->rejected();
  }
  return {{"backend_breakers_open", open},
          {"backend_breaker_opened", opened},
          {"backend_breaker_rejected", rejected}};
}

}  // namespace readthru::backend::redis
