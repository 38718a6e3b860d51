#include "command/key_slot.hpp"

#include <array>

namespace readthru::command {
namespace {

// The 256-entry table for polynomial 0x1021, computed at compile time (it equals the constant
// table in Redis's src/crc16.c).
constexpr std::array<std::uint16_t, 256> makeCrc16Table() {
  std::array<std::uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    unsigned crc = byte << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000u) != 0 ? (crc << 1) ^ 0x1021u : crc << 1;
    }
    table[byte] = static_cast<std::uint16_t>(crc & 0xFFFFu);
  }
  return table;
}

constexpr auto kCrc16Table = makeCrc16Table();

static_assert(kCrc16Table[1] == 0x1021 && kCrc16Table[255] == 0x1EF0);

}  // namespace

std::uint16_t crc16(std::string_view data) {
  std::uint16_t crc = 0;
  for (const char c : data) {
    const auto byte = static_cast<unsigned char>(c);
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ byte) & 0xFFu]);
  }
  return crc;
}

std::uint16_t keyHashSlot(std::string_view key) {
  const auto open = key.find('{');
  if (open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    // Only a non-empty tag counts: "foo{}{bar}" hashes the whole key.
    if (close != std::string_view::npos && close != open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  // kSlotCount is a power of two: the low 14 bits are the slot.
  return static_cast<std::uint16_t>(crc16(key) & (kSlotCount - 1));
}

std::optional<std::uint16_t> globSlot(std::string_view pattern) {
  const std::size_t open = pattern.find('{');
  if (open == std::string_view::npos) return std::nullopt;
  const std::size_t close = pattern.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return std::nullopt;
  // A literal prefix means every match has its first '{' at the same place, and so the
  // same tag; any glob syntax before the '}' breaks that.
  if (pattern.substr(0, close).find_first_of("*?[\\") != std::string_view::npos)
    return std::nullopt;
  return keyHashSlot(pattern.substr(open + 1, close - open - 1));
}

}  // namespace readthru::command
