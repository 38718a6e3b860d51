#pragma once
// Redis Cluster hash slots: slot = CRC16(key) mod 16384, where only the part between the first
// '{' and the next '}' is hashed when that part is non-empty (a "hash tag"), so that
// {user1000}.following and {user1000}.followers land in the same slot. Pure.

#include <cstdint>
#include <string_view>

namespace readthru::command {

constexpr std::uint16_t kSlotCount = 16384;

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection, no final xor.
// crc16("123456789") == 0x31C3.
std::uint16_t crc16(std::string_view data);

// The slot of `key`, as Redis's keyHashSlot() and CLUSTER KEYSLOT compute it.
std::uint16_t keyHashSlot(std::string_view key);

}  // namespace readthru::command
