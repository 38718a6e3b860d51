#pragma once
// The wait before a reconnect, for every connection readthru makes (Redis nodes, the
// sentinels' subscription, the database): 100 ms after the first failure, doubling to
// 2 s, each wait jittered (jittered(): between half and all of it) so that the threads
// and instances that lost a server together do not all knock again at the same moment.

#include <algorithm>

#include "common/breaker.hpp"
#include "common/units.hpp"

namespace readthru {

class Backoff {
 public:
  static constexpr Millis kFirst{100};
  static constexpr Millis kMax{2000};

  // The wait after one more failure in a row.
  Millis next() {
    period_ = period_.count() == 0 ? kFirst : std::min(period_ * 2, kMax);
    return jittered(period_);
  }
  // A success: the next failure waits kFirst again.
  void reset() { period_ = Millis{0}; }

 private:
  Millis period_{0};
};

}  // namespace readthru
