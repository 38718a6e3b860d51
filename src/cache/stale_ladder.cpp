#include "cache/stale_ladder.hpp"

#include <charconv>
#include <cmath>

namespace readthru::cache {

std::string encodeMeta(const FreshnessMeta& meta) {
  return std::to_string(meta.fresh_until_ms) + " " + std::to_string(meta.delta_ms);
}

std::optional<FreshnessMeta> parseMeta(std::string_view text) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  FreshnessMeta meta;
  auto whole = [](std::string_view part, std::int64_t& out) {
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc{} && p == part.data() + part.size() && !part.empty();
  };
  if (!whole(text.substr(0, space), meta.fresh_until_ms)) return std::nullopt;
  if (!whole(text.substr(space + 1), meta.delta_ms) || meta.delta_ms < 0) return std::nullopt;
  return meta;
}

LadderPolicy LadderPolicy::of(const config::KeyspaceConfig& cfg) {
  LadderPolicy p;
  p.refresh_ahead = cfg.refresh_ahead;
  p.beta = cfg.refresh_beta;
  p.stale_while_revalidate = cfg.stale_while_revalidate;
  p.stale_if_error = cfg.stale_if_error;
  return p;
}

LadderStep ladderStep(const LadderPolicy& policy, const std::optional<FreshnessMeta>& meta,
                      std::int64_t now_ms, double u) {
  if (!meta) return LadderStep::kServe;
  const std::int64_t fresh_until = meta->fresh_until_ms;
  if (now_ms < fresh_until) {
    if (!policy.refresh_ahead) return LadderStep::kServe;
    // XFetch (Vattani et al.): the earlier, the less likely; a slow load starts earlier.
    const double early = -static_cast<double>(meta->delta_ms) * policy.beta * std::log(u);
    return static_cast<double>(now_ms) + early >= static_cast<double>(fresh_until)
               ? LadderStep::kRefreshAhead
               : LadderStep::kServe;
  }
  const std::int64_t stale_for = now_ms - fresh_until;
  if (stale_for < policy.stale_while_revalidate.count()) return LadderStep::kServeStale;
  if (stale_for < policy.stale_if_error.count()) return LadderStep::kReloadOrServeOnError;
  return LadderStep::kReload;
}

}  // namespace readthru::cache
