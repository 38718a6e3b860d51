#pragma once
// The stale ladder, as HTTP caches climb it (RFC 5861, Varnish grace, nginx
// proxy_cache_use_stale), for keyspaces that ask for it:
//
//   fresh, far from expiry ........... serve
//   fresh, near expiry (refresh_ahead) serve, and one background reload replaces it; "near"
//                                      is drawn per read by XFetch: reload when
//                                      now − δ·β·ln(u) ≥ fresh_until, u uniform in (0, 1],
//                                      δ the last load's duration
//   stale, within stale_while_revalidate  serve at once, and one background reload
//   stale, within stale_if_error      reload now; serve the stale value if the reload fails
//   stale, past both ................. a miss
//
// Such a keyspace's value lives in Redis for ttl + max(stale_while_revalidate,
// stale_if_error), next to a meta key (side_keys.hpp: same slot, same life, written by the
// same fill script) that holds "<fresh_until> <delta>": the Unix time in ms at which the
// value stops being fresh and how long its load took. A plain GET still returns only the
// value; a keyspace without these options has no meta key and keeps the one-command hit.
//
// Pure code: the clock and the random draw are arguments.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/units.hpp"
#include "config/config.hpp"

namespace readthru::cache {

struct FreshnessMeta {
  std::int64_t fresh_until_ms = 0;  // Unix time, ms
  std::int64_t delta_ms = 0;        // the load's duration
};

std::string encodeMeta(const FreshnessMeta& meta);
// nullopt for anything but "<int> <int>" (a value some other writer left): no ladder.
std::optional<FreshnessMeta> parseMeta(std::string_view text);

struct LadderPolicy {
  bool refresh_ahead = false;
  double beta = 1.0;
  Millis stale_while_revalidate{0};
  Millis stale_if_error{0};

  static LadderPolicy of(const config::KeyspaceConfig& cfg);
  bool enabled() const {
    return refresh_ahead || stale_while_revalidate.count() > 0 || stale_if_error.count() > 0;
  }
  // How long past its TTL a value is kept in Redis.
  Millis grace() const { return std::max(stale_while_revalidate, stale_if_error); }
};

enum class LadderStep : std::uint8_t {
  kServe,                 // fresh (or no meta: someone else's value)
  kRefreshAhead,          // fresh but near expiry: serve it, reload in the background
  kServeStale,            // stale_while_revalidate: serve it, reload in the background
  kReloadOrServeOnError,  // stale_if_error: reload now; on failure serve it
  kReload,                // past every window: reload now, as a miss would
};

// What a read of a value with `meta` (nullopt: none) does at `now_ms` (Unix ms); `u` is a
// uniform draw in (0, 1] for XFetch.
LadderStep ladderStep(const LadderPolicy& policy, const std::optional<FreshnessMeta>& meta,
                      std::int64_t now_ms, double u);

}  // namespace readthru::cache
