#pragma once
// Logging setup. Logs are for state changes (a node down, a failover, a reload), not for
// every request; per-request detail lives at debug level or in a counter.

#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/log_format.hpp"

namespace readthru {

bool isLogLevel(std::string_view level);

// Sets the global level and format, at start and on a reload. spdlog's default sink is
// its thread-safe (_mt) one: the formatter is swapped under the sink's lock, the level is
// an atomic, so io threads may log meanwhile. False (and nothing changed) for an unknown
// level name.
bool setupLogging(std::string_view level, LogFormat format);

// One JSON log line with its newline: {"ts":"2026-12-02T06:56:36.123Z","level":"warn",
// "thread":4242,"msg":"..."}. ts is UTC with milliseconds; level is the config's name for
// it (warn, not spdlog's "warning"); msg is escaped by appendJsonString, so the line is
// valid JSON and valid UTF-8 whatever bytes the message held. Pure, for the formatter
// and its tests.
std::string jsonLogLine(std::int64_t unix_millis, std::string_view level, std::uint64_t thread,
                        std::string_view msg);

}  // namespace readthru
