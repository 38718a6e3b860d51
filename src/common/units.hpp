#pragma once
// Durations ("500ms", "2s", "1h") and sizes ("64kb", "512mb") as written in the config.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace readthru {

using Millis = std::chrono::milliseconds;

// Accepts a non-negative integer followed by one of: us, ms, s, m, h, d. A bare "0" is
// allowed (it means "off" where the config says so). Sub-millisecond values round up.
std::optional<Millis> parseDuration(std::string_view text);
// The same, kept in microseconds ("500us" stays 500us): for thresholds finer than 1 ms.
std::optional<std::chrono::microseconds> parseDurationMicros(std::string_view text);

// Accepts a non-negative integer with an optional unit: b, kb, mb, gb (powers of 1024,
// case-insensitive, as redis.conf reads them).
std::optional<std::uint64_t> parseSize(std::string_view text);

}  // namespace readthru
