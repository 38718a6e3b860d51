#pragma once
// Error replies sent to clients, by kind: the reply's first word ("ERR", "WRONGTYPE",
// "MOVED"…), as Redis's INFO errorstats counts them (errorstat_ERR:count=3) and
// prometheus-redis-exporter reads them. Prometheus: readthru_error_replies_total{error=…}.
//
// The kinds are a fixed table, Redis 7.0's own error codes, registered up front: a cell
// has one writing thread and is read by others, so no cell is added while it runs. A
// first word outside the table (a script's own error_reply code, say) counts as "OTHER".

#include <array>
#include <string>
#include <string_view>

#include "metrics/cells.hpp"
#include "metrics/snapshot.hpp"

namespace readthru::server {

inline constexpr std::array<std::string_view, 27> kErrorKinds{
    "ERR",       "WRONGTYPE", "NOAUTH",      "WRONGPASS", "NOPERM",     "NOPROTO",    "MOVED",
    "ASK",       "TRYAGAIN",  "CLUSTERDOWN", "CROSSSLOT", "LOADING",    "BUSY",       "BUSYKEY",
    "BUSYGROUP", "NOGROUP",   "NOSCRIPT",    "NOTBUSY",   "READONLY",   "MASTERDOWN", "MISCONF",
    "OOM",       "EXECABORT", "NOREPLICAS",  "UNBLOCKED", "UNKILLABLE", "OTHER"};

// The kind of an error reply's text (without the leading '-'): an index in kErrorKinds.
std::size_t errorKind(std::string_view text);

// One io thread's counts (single writer).
class ErrorCounts;
// Appends the error reply `text` (Redis's text, without '-') to `out`, counted by kind.
void appendCountedError(ErrorCounts& counts, std::string& out, std::string_view text);

class ErrorCounts {
 public:
  void count(std::string_view text) { by_kind_[errorKind(text)].add(); }
  std::uint64_t total() const;
  // Every kind seen, and ERR always (so the family exists before the first error).
  void collect(metrics::Sink& sink) const;

 private:
  std::array<metrics::Counter, kErrorKinds.size()> by_kind_;
};

}  // namespace readthru::server
