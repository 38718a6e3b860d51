#pragma once
// The Lua scripts of readthru's process-wide leases in Redis (the CDC leader lease, the
// warm-up lease): one key holding the holder's id, taken with SET NX PX. Renewing or
// releasing must act only while the key still holds our id, else an instance whose lease
// ran out would extend or end the lease of the one that took over.

namespace readthru::cache {

// KEYS[1] the lease key, ARGV[1] our id, ARGV[2] its new life in ms. 1 when renewed.
inline constexpr const char* kRenewLeaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
// KEYS[1] the lease key, ARGV[1] our id. 1 when released.
inline constexpr const char* kReleaseLeaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

}  // namespace readthru::cache
