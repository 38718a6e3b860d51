#pragma once
// The Lua script that ends every fill (loaded with SCRIPT LOAD, run with EVALSHA on the
// key's node). It writes only while the fill's own lease is still in the state key, so a
// load that an invalidation overtook (the invalidation UNLINKs the state key with the
// data key) can never put its older value back: the memcache "lease" idea on stock Redis.
//
// KEYS[1] the data key, KEYS[2] its state key, KEYS[3] (stale-ladder keyspaces only) its
// meta key, all on one slot. ARGV[1] the mode, ARGV[2] the fill's lease, ARGV[3] a TTL in
// ms, then (with KEYS[3], modes v and h) the meta text, then the value (v) or field/value
// pairs (h).
//   v: SET data value PX ttl, drop the lease      h: the same as a hash
//   n: the state key becomes the "no row" marker  r: drop the lease
//   x: no row, nothing to remember: drop the lease
// With KEYS[3], v and h also SET the meta key PX ttl, and n and x delete the data and meta
// keys: a background reload that finds the row gone must not leave its stale copy.
// Returns 1 when it wrote, 0 when the lease was no longer ours.

#include <string_view>

namespace readthru::cache {

inline constexpr std::string_view kFillScript = R"lua(
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
local mode = ARGV[1]
local first = 4
if KEYS[3] then
  if mode == 'v' or mode == 'h' then
    redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[3])
    first = 5
  elseif mode == 'n' or mode == 'x' then
    redis.call('DEL', KEYS[1], KEYS[3])
  end
end
if mode == 'v' then
  redis.call('SET', KEYS[1], ARGV[first], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
elseif mode == 'h' then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(ARGV, first))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('DEL', KEYS[2])
elseif mode == 'n' then
  redis.call('SET', KEYS[2], 'none', 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[2])
end
return 1
)lua";

}  // namespace readthru::cache
