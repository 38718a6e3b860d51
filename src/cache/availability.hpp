#pragma once
// Whether a reply from the Redis backend means "the cache could not answer" (so a read of
// a managed key may be answered from the database, per keyspace `on_cache_down`), as
// opposed to an answer, or a refusal that the client must see (WRONGTYPE, NOPERM, ...).

#include "resp/value.hpp"

namespace readthru::cache {

// True for readthru's own transport faults (unreachable, connection lost, timeout, breaker
// open, queue full, no node) and for the error replies by which Redis says it cannot serve
// now: CLUSTERDOWN, LOADING, MASTERDOWN, and TRYAGAIN (which the router only passes on
// after its retry window). Decided on the fault code and on the reply's error kind (its
// first word, RESP's error code), never on message text.
bool cacheUnavailable(const resp::Value& v);

}  // namespace readthru::cache
