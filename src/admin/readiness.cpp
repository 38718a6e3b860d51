#include "admin/readiness.hpp"

namespace readthru::admin {

Readiness judgeReadiness(const metrics::Snapshot& snap, const ReadinessInputs& in) {
  if (in.draining) return {false, "draining: readthru is stopping"};
  const auto known = static_cast<std::size_t>(snap.total("readthru_backend_slot_map_known"));
  if (known < in.io_threads) {
    return {false, "slot map not known yet (" + std::to_string(known) + " of " +
                       std::to_string(in.io_threads) + " io threads have one)"};
  }
  if (in.needs_database) {
    if (snap.total("readthru_pg_breaker_open") > 0) {
      return {false, "PostgreSQL breaker open: loads fail at once"};
    }
    if (snap.total("readthru_pg_connections_up") <= 0) {
      return {false, "PostgreSQL unreachable: no database session is connected"};
    }
    // Keyspaces with ready_after_warm: their first warm-up has not ended (cache/warmer.hpp).
    if (const double pending = snap.total("readthru_warm_pending"); pending > 0) {
      return {false, "warming: " + std::to_string(static_cast<long long>(pending)) +
                         " keyspace(s) with ready_after_warm not warmed yet"};
    }
  }
  return {true, "ready"};
}

}  // namespace readthru::admin
