#pragma once
// The database's circuit breaker: one for the process, shared by every io thread's Pool
// (common/breaker.hpp). A failure is a session lost or not made, or a statement timeout;
// a success is any answer, an error the database sent included. While it is open, loads
// fail at once with Fault::kDatabaseDown instead of waiting behind a database that does
// not answer; after the open time one query goes through as the probe.

#include <vector>

#include "common/breaker.hpp"
#include "config/config.hpp"
#include "metrics/cells.hpp"
#include "metrics/snapshot.hpp"

namespace readthru::backend::postgres {

class DatabaseBreaker : public metrics::Source {
 public:
  explicit DatabaseBreaker(const config::DatabaseBreakerConfig& cfg)
      : breaker_("postgres", options(cfg)) {}

  Breaker& breaker() { return breaker_; }

  void collect(metrics::Sink& sink) const override {
    static constexpr metrics::Family kOpen{"readthru_pg_breaker_open", metrics::Kind::kGauge,
                                           "1 while the database breaker is open or half-open.",
                                           "pg_breaker_open"};
    static constexpr metrics::Family kOpened{
        "readthru_pg_breaker_opened_total", metrics::Kind::kCounter,
        "Times the database breaker opened.", "pg_breaker_opened"};
    static constexpr metrics::Family kRejected{
        "readthru_pg_breaker_rejected_total", metrics::Kind::kCounter,
        "Loads failed at once because the database breaker was open.", "pg_breaker_rejected"};
    sink.add(kOpen, breaker_.state() == Breaker::State::kClosed ? 0.0 : 1.0);
    sink.add(kOpened, static_cast<double>(breaker_.opened()));
    sink.add(kRejected, static_cast<double>(breaker_.rejected()));
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
