#pragma once
// GET / on the admin port: one self-contained HTML page (no scripts, styles inline, no
// external assets) with what an operator looks at first: per-keyspace hit ratio and
// loads, each node's breaker and redirects, CDC lag, clients. Built from the same
// snapshot as /metrics. Pure.

#include <string>

#include "admin/readiness.hpp"
#include "metrics/snapshot.hpp"

namespace readthru::admin {

struct PageHeader {
  std::string version;
  std::string listen;  // "127.0.0.1:6380"
  long long uptime_seconds = 0;
  Readiness readiness;
};

std::string renderStatusPage(const metrics::Snapshot& snap, const PageHeader& header);

// Text made safe inside HTML (keys and node names may hold anything).
std::string htmlEscape(std::string_view text);

}  // namespace readthru::admin
