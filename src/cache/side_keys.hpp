#pragma once
// The key readthru keeps beside a cached key: its state key, which holds either the lease
// of a load in progress ("lease:<token>") or the negative marker ("none": the database has
// no row). One key for both lets one `SET state lease NX PX GET` take the lease and read
// the marker at once, and lets a negative fill replace its own lease in one write.
//
// It must live in the data key's own hash slot, so that one node answers for the key and
// everything about it and a fill's pipeline never crosses nodes. A key's own hash tag
// cannot be reused in general (a key may have none, or a '}' that would cut ours short),
// so the state key carries a short tag chosen for the slot: "readthru:state:{<tag>}:<key>",
// where crc16(<tag>) lands on the key's slot. The table is a pure function of the slot, so
// every readthru instance derives the same names.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "resp/value.hpp"

namespace readthru::cache {

std::string stateKey(std::string_view key);
// The freshness of a stale-ladder keyspace's value (stale_ladder.hpp), on the same slot:
// "readthru:meta:{<tag>}:<key>".
std::string metaKey(std::string_view key);

// The set that lists the keys carrying `tag` (physical key names):
// "readthru:tag:{<slot tag>}:<tag>", on the slot of the tag's text. A tag invalidation first
// RENAMEs it to tagGoneKey() (same slot), so keys tagged while it runs land in a fresh set
// and are not lost.
std::string tagKey(std::string_view tag);
std::string tagGoneKey(std::string_view tag, std::string_view token);
// Set by a tag invalidation before its RENAME, for two lease times, to the tag epoch it
// drew (see tag_recorder.cpp).
std::string tagMarkKey(std::string_view tag);
// One counter for the whole cluster: every tag invalidation draws the next value.
inline constexpr std::string_view kTagEpochKey = "readthru:tag-epoch";
// The integer a GET of kTagEpochKey or a mark answered (0 for nil); nullopt on an error.
std::optional<std::int64_t> tagEpoch(const resp::Value& v);

// The data key a state key belongs to, or nullopt when `state` is not a state key.
std::optional<std::string_view> dataKeyOfState(std::string_view state);

// A SCAN glob for the state keys of the keys `glob` matches (on `slot` only, when given).
std::string stateGlob(std::string_view glob, int slot = -1);

inline constexpr std::string_view kNegativeMarker = "none";
inline constexpr std::string_view kLeasePrefix = "lease:";

// The shortest base-36 text that hashes to `slot` (exposed for tests).
const std::string& slotTag(std::uint16_t slot);

}  // namespace readthru::cache
