#pragma once
// Redis Cluster hash slots: slot = CRC16(key) mod 16384, where only the part between the first
// '{' and the next '}' is hashed when that part is non-empty (a "hash tag"), so that
// {user1000}.following and {user1000}.followers land in the same slot. Pure.

#include <cstdint>
#include <optional>
#include <string_view>

namespace readthru::command {

constexpr std::uint16_t kSlotCount = 16384;

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection, no final xor.
// crc16("123456789") == 0x31C3.
std::uint16_t crc16(std::string_view data);

// The slot of `key`, as Redis's keyHashSlot() and CLUSTER KEYSLOT compute it.
std::uint16_t keyHashSlot(std::string_view key);

// The one slot of every key that the glob `pattern` (SCAN MATCH syntax) can match, when
// there is one: the glob up to the first '}' after its first '{' holds no glob syntax
// (* ? [ \) and the tag between them is not empty, as in "user:{1234}:*". nullopt
// otherwise: matching keys may be anywhere.
std::optional<std::uint16_t> globSlot(std::string_view pattern);

}  // namespace readthru::command
