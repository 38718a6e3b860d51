#pragma once
// Whether readthru should be sent traffic (/readyz), judged from the metrics snapshot so
// that the answer and the figures a scrape shows can never disagree. Pure.

#include <cstddef>
#include <string>

#include "metrics/snapshot.hpp"

namespace readthru::admin {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not, or "ready"
};

struct ReadinessInputs {
  std::size_t io_threads = 1;
  bool needs_database = false;  // keyspaces are configured
  bool draining = false;
};

// Not ready while draining, until every io thread knows a slot map, and, with keyspaces,
// while no database session is up, the database breaker is open, or a keyspace with
// ready_after_warm has not finished its first warm-up.
Readiness judgeReadiness(const metrics::Snapshot& snap, const ReadinessInputs& in);

}  // namespace readthru::admin
