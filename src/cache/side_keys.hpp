#pragma once
// Keys readthru keeps beside a cached key: its load lease and its negative ("no row")
// marker. Each must live in the data key's own hash slot, so that one node answers for the
// key and everything about it, and a pipeline of the three never crosses nodes.
//
// A key's own hash tag cannot be reused in general (a key may have none, or a '}' that
// would cut ours short), so side keys carry a short tag chosen for the slot:
// "readthru:lease:{<tag>}:<key>", where crc16(<tag>) lands on the key's slot. The table is
// a pure function of the slot, so every readthru instance derives the same names.

#include <cstdint>
#include <string>
#include <string_view>

namespace readthru::cache {

std::string leaseKey(std::string_view key);
std::string negativeKey(std::string_view key);

// The shortest base-36 text that hashes to `slot` (exposed for tests).
const std::string& slotTag(std::uint16_t slot);

}  // namespace readthru::cache
