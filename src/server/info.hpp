#pragma once
// INFO as Redis writes it: Redis 7.0's sections, in its order, with its line formats, so
// that tools built for Redis (redis-cli, prometheus-redis-exporter, client libraries'
// parsers) read readthru unchanged. readthru's own figures are in a section of its own
// ("# Readthru"). Memory, hits and keys are the backend nodes' sums (backend_info.hpp).
// Pure: the caller gathers the inputs.

#include <string>
#include <string_view>
#include <vector>

#include "metrics/snapshot.hpp"
#include "server/backend_info.hpp"

namespace readthru::server {

struct ServerContext;

// The sections `INFO args...` asks for, in Redis's order. No argument or "default": the
// default set; "all": the default and commandstats; "everything": the same (readthru has
// no modules). Names are case-insensitive; unknown ones add nothing, as in Redis.
std::vector<std::string_view> infoSections(const std::vector<std::string>& args);

// Whether any of `sections` shows backend sums.
bool needsBackendTotals(const std::vector<std::string_view>& sections);

struct InfoInputs {
  const ServerContext& ctx;
  const metrics::Snapshot& snap;
  const BackendTotals& backend;  // empty when no section needs it
};

std::string renderInfoText(const std::vector<std::string_view>& sections, const InfoInputs& in);

// Redis's bytesToHuman: "512B", "1.50K", "12.00M".
std::string bytesToHuman(std::uint64_t bytes);

}  // namespace readthru::server
