#include "common/breaker.hpp"

#include <random>

#include "common/log.hpp"

namespace readthru {

Millis jittered(Millis d) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> pick(d.count() / 2, d.count());
  return Millis(pick(rng));
}

Breaker::Breaker(std::string subject, BreakerOptions options)
    : subject_(std::move(subject)), options_(options) {}

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
    spdlog::warn("{}: circuit breaker open ({}); requests fail at once for {}ms", subject_, why,
                 period.count());
  } else {
    spdlog::debug("{}: probe failed, breaker open for {}ms more", subject_, period.count());
  }
}

bool Breaker::takeProbe(Clock::time_point now) {
  const std::int64_t ticks = now.time_since_epoch().count();
  const std::int64_t next = (now + options_.probe_timeout).time_since_epoch().count();
  switch (state_.load(std::memory_order_relaxed)) {
    case State::kClosed:
      return false;
    case State::kOpen: {
      if (ticks < open_until_.load(std::memory_order_relaxed)) return false;
      State expected = State::kOpen;
      if (!state_.compare_exchange_strong(expected, State::kHalfOpen)) return false;
      probe_until_.store(next, std::memory_order_relaxed);
      return true;
    }
    case State::kHalfOpen: {
      std::int64_t until = probe_until_.load(std::memory_order_relaxed);
      if (ticks < until) return false;
      return probe_until_.compare_exchange_strong(until, next);
    }
  }
  return false;
}

void Breaker::onProbe(bool ok) {
  State expected = State::kHalfOpen;
  if (ok) {
    if (state_.compare_exchange_strong(expected, State::kClosed)) {
      consecutive_.store(0, std::memory_order_relaxed);
      reopens_.store(0, std::memory_order_relaxed);
      spdlog::info("{}: circuit breaker closed (probe answered)", subject_);
    }
    return;
  }
  if (state_.compare_exchange_strong(expected, State::kOpen)) open(State::kHalfOpen, "probe");
}

}  // namespace readthru
