#pragma once
// Logging setup. Logs are for state changes (a node down, a failover, a reload), not for
// every request; per-request detail lives at debug level or in a counter.

#include <spdlog/spdlog.h>

#include <string_view>

namespace readthru {

// Sets the global spdlog level and format. `json` prints one JSON object a line.
// Returns false for an unknown level name.
bool setupLogging(std::string_view level, bool json);

bool isLogLevel(std::string_view level);

// Changes the level alone (a reload): the format stays. False for an unknown name.
bool setLogLevel(std::string_view level);

}  // namespace readthru
