#include "common/units.hpp"

#include <cctype>
#include <charconv>
#include <limits>
#include <string>

#include "common/text.hpp"

namespace readthru {
namespace {

struct NumberAndUnit {
  std::uint64_t number;
  std::string unit;  // lower case
};

std::optional<NumberAndUnit> split(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return std::nullopt;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + i, n);
  if (ec != std::errc{}) return std::nullopt;
  std::string unit;
  for (char c : text.substr(i))
    unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return NumberAndUnit{n, unit};
}

bool multiply(std::uint64_t n, std::uint64_t by, std::uint64_t& out) {
  if (n != 0 && by > std::numeric_limits<std::uint64_t>::max() / n) return false;
  out = n * by;
  return true;
}

}  // namespace

std::optional<std::chrono::microseconds> parseDurationMicros(std::string_view text) {
  auto parts = split(text);
  if (parts && parts->unit == "us") return std::chrono::microseconds(parts->number);
  auto ms = parseDuration(text);
  if (!ms || ms->count() > std::numeric_limits<std::int64_t>::max() / 1000) return std::nullopt;
  return std::chrono::microseconds(*ms);
}

std::optional<Millis> parseDuration(std::string_view text) {
  auto parts = split(text);
  if (!parts) return std::nullopt;
  if (parts->unit.empty()) {
    if (parts->number == 0) return Millis{0};
    return std::nullopt;  // "5" is ambiguous: seconds or milliseconds? Ask for a unit.
  }
  if (parts->unit == "us") return Millis{(parts->number + 999) / 1000};
  std::uint64_t per_unit = 0;
  if (parts->unit == "ms")
    per_unit = 1;
  else if (parts->unit == "s")
    per_unit = 1000;
  else if (parts->unit == "m")
    per_unit = 60'000;
  else if (parts->unit == "h")
    per_unit = 3'600'000;
  else if (parts->unit == "d")
    per_unit = 86'400'000;
  else
    return std::nullopt;
  std::uint64_t ms = 0;
  if (!multiply(parts->number, per_unit, ms) ||
      ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  return Millis{static_cast<std::int64_t>(ms)};
}

std::optional<std::uint64_t> parseSize(std::string_view text) {
  auto parts = split(text);
  if (!parts) return std::nullopt;
  std::uint64_t per_unit = 0;
  if (parts->unit.empty() || parts->unit == "b")
    per_unit = 1;
  else if (parts->unit == "kb" || parts->unit == "k")
    per_unit = 1024;
  else if (parts->unit == "mb" || parts->unit == "m")
    per_unit = 1024 * 1024;
  else if (parts->unit == "gb" || parts->unit == "g")
    per_unit = 1024ULL * 1024 * 1024;
  else
    return std::nullopt;
  std::uint64_t bytes = 0;
  if (!multiply(parts->number, per_unit, bytes)) return std::nullopt;
  return bytes;
}

}  // namespace readthru
