#include "backend/redis/breaker.hpp"

#include <random>

#include "common/log.hpp"

namespace readthru::backend::redis {
Millis jittered(Millis d) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> pick(d.count() / 2, d.count());
  return Millis(pick(rng));
}

Breaker::Breaker(std::string node, BreakerOptions options)
    : node_(std::move(node)), options_(options) {}

void Breaker::onSuccess() {
  // Only the first success after failures writes: healthy traffic only reads the line.
  if (consecutive_.load(std::memory_order_relaxed) != 0) {
    consecutive_.store(0, std::memory_order_relaxed);
  }
}

void Breaker::onFailure() {
  const int n = consecutive_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (options_.consecutive_failures > 0 && n >= options_.consecutive_failures) {
    trip("consecutive failures");
  }
}

void Breaker::trip(const char* why) {
  State expected = State::kClosed;
  if (state_.compare_exchange_strong(expected, State::kOpen)) open(State::kClosed, why);
}

// Sets the open period; the caller has already moved state_ to kOpen.
void Breaker::open(State from, const char* why) {
  const int n = reopens_.fetch_add(1, std::memory_order_relaxed);
  Millis period = options_.open_time;
  for (int i = 0; i < n && period < options_.max_open_time; ++i) period *= 2;
  period = jittered(std::min(period, options_.max_open_time));
  open_until_.store((Clock::now() + period).time_since_epoch().count(), std::memory_order_relaxed);
  opened_.fetch_add(1, std::memory_order_relaxed);
  if (from == State::kClosed) {
    spdlog::warn("redis node {}: circuit breaker open ({}); requests fail at once for {}ms", node_,
                 why, period.count());
  } else {
    spdlog::debug("redis node {}: probe failed, breaker open for {}ms more", node_, period.count());
  }
}

bool Breaker::takeProbe(Clock::time_point now) {
  if (state_.load(std::memory_order_relaxed) != State::kOpen) return false;
  if (now.time_since_epoch().count() < open_until_.load(std::memory_order_relaxed)) return false;
  State expected = State::kOpen;
  return state_.compare_exchange_strong(expected, State::kHalfOpen);
}

void Breaker::onProbe(bool ok) {
  State expected = State::kHalfOpen;
  if (ok) {
    if (state_.compare_exchange_strong(expected, State::kClosed)) {
      consecutive_.store(0, std::memory_order_relaxed);
      reopens_.store(0, std::memory_order_relaxed);
      spdlog::info("redis node {}: circuit breaker closed (probe answered)", node_);
    }
    return;
  }
  if (state_.compare_exchange_strong(expected, State::kOpen)) open(State::kHalfOpen, "probe");
}

// ---------------------------------------------------------------------------------------

std::shared_ptr<Breaker> BreakerTable::get(const std::string& node) {
  std::lock_guard lock(mutex_);
  auto& b = breakers_[node];
  if (!b) b = std::make_shared<Breaker>(node, options_);
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
