#include "backend/redis/breaker.hpp"

namespace readthru::backend::redis {
namespace {

using metrics::Family;
using metrics::Kind;
constexpr Family kOpen{"readthru_backend_breaker_open", Kind::kGauge,
                       "1 while the node's breaker is open or half-open.", "backend_breakers_open"};
constexpr Family kHalfOpen{"readthru_backend_breaker_half_open", Kind::kGauge,
                           "1 while the node's breaker lets its probe through."};
constexpr Family kOpened{"readthru_backend_breaker_opened_total", Kind::kCounter,
                         "Times the node's breaker opened.", "backend_breaker_opened"};
constexpr Family kRejected{"readthru_backend_breaker_rejected_total", Kind::kCounter,
                           "Requests failed at once because the node's breaker was open.",
                           "backend_breaker_rejected"};

}  // namespace

// ---------------------------------------------------------------------------------------

std::shared_ptr<Breaker> BreakerTable::get(const std::string& node) {
  std::lock_guard lock(mutex_);
  auto& b = breakers_[node];
  if (!b) b = std::make_shared<Breaker>("redis node " + node, options_);
  return b;
}

void BreakerTable::collect(metrics::Sink& sink) const {
  std::lock_guard lock(mutex_);
  for (const auto& [node, b] : breakers_) {
    const metrics::Labels l{{"node", node}};
    sink.add(kOpen, b->state() == Breaker::State::kClosed ? 0.0 : 1.0, l);
    sink.add(kHalfOpen, b->state() == Breaker::State::kHalfOpen ? 1.0 : 0.0, l);
    sink.add(kOpened, static_cast<double>(b->opened()), l);
    sink.add(kRejected, static_cast<double>(b->rejected()), l);
  }
}

}  // namespace readthru::backend::redis
