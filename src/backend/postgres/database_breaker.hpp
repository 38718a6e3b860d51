#pragma once
// The database's circuit breaker: one for the process, shared by every io thread's Pool
// (common/breaker.hpp). A failure is a session lost or not made, or a statement timeout;
// a success is any answer, an error the database sent included. While it is open, loads
// fail at once with Fault::kDatabaseDown instead of waiting behind a database that does
// not answer; after the open time one query goes through as the probe.

#include <vector>

#include "cache/counters.hpp"
#include "common/breaker.hpp"
#include "config/config.hpp"

namespace readthru::backend::postgres {

class DatabaseBreaker : public cache::CounterSource {
 public:
  explicit DatabaseBreaker(const config::DatabaseBreakerConfig& cfg)
      : breaker_("postgres", options(cfg)) {}

  Breaker& breaker() { return breaker_; }

  // pg_breaker_open (now, 0 or 1), pg_breaker_opened, pg_breaker_rejected.
  std::vector<cache::Counter> counters() const override {
    return {{"pg_breaker_open", breaker_.state() == Breaker::State::kClosed ? 0u : 1u},
            {"pg_breaker_opened", breaker_.opened()},
            {"pg_breaker_rejected", breaker_.rejected()}};
  }

 private:
  static BreakerOptions options(const config::DatabaseBreakerConfig& cfg) {
    BreakerOptions o;
    o.consecutive_failures = cfg.consecutive_failures;
    o.failure_rate = 0;  // no rate rule: the pool judges runs of failures only
    o.open_time = cfg.open_time;
    o.max_open_time = cfg.max_open_time;
    return o;
  }

  Breaker breaker_;
};

}  // namespace readthru::backend::postgres
