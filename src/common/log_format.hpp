#pragma once
// The log's format as the config names it; apart from log.hpp so that the config's
// structs do not pull in spdlog.

#include <cstdint>
#include <string_view>

namespace readthru {

enum class LogFormat : std::uint8_t {
  kText,  // "2026-12-02 06:56:36.123 info [4242] message"
  kJson,  // one JSON object a line: ts, level, thread, msg (log.hpp: jsonLogLine)
};

// "text" or "json"; false for any other name.
bool parseLogFormat(std::string_view name, LogFormat& out);
std::string_view logFormatName(LogFormat format);

}  // namespace readthru
