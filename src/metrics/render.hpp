#pragma once
// The two ways a snapshot is printed: Prometheus's text exposition format (version
// 0.0.4), and INFO's "name:value" lines.

#include <string>

#include "metrics/snapshot.hpp"

namespace readthru::metrics {

// Every family, with # HELP and # TYPE; histograms as cumulative _bucket{le=...} series
// in seconds plus _sum and _count.
std::string renderPrometheus(const Snapshot& snap);

// "info:value\r\n" for each counter and gauge family that has an INFO name, summed over
// its labels, in the order the families were added. Histograms are not in INFO.
std::string renderInfo(const Snapshot& snap);

// "info:value\r\n" for one label value (READTHRU.STATS <keyspace>): each family with an
// INFO name that has a series with this label.
std::string renderInfoFor(const Snapshot& snap, const Label& label);

// A number as both formats want it: integers without a decimal point.
std::string formatNumber(double v);

}  // namespace readthru::metrics
