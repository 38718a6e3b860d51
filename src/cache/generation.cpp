#include "cache/generation.hpp"

#include <algorithm>

namespace readthru::cache {

Generation::Generation(boost::asio::io_context& io, std::shared_ptr<KeyspaceRules> rules,
                       std::shared_ptr<SourceLoader> db, KeyspaceStatsTable& stats, int threads)
    : rules_(std::move(rules)), db_(std::move(db)) {
  const auto share = [n = static_cast<std::size_t>(std::max(1, threads))](int total) {
    return (static_cast<std::size_t>(total) + n - 1) / n;  // rounded up: never 0 of a limit
  };
  for (const auto& ks : rules_->keyspaces()) {
    const LoadBatcher::Limits limits{share(ks->cfg().max_loads_in_flight),
                                     share(ks->cfg().max_loads_waiting)};
    KeyspaceStats& counts = stats.at(ks->name());
    stats_.emplace(ks.get(), &counts);
    batchers_.emplace(ks.get(), std::make_unique<LoadBatcher>(io, *ks, *db_, counts, limits));
  }
}

const Keyspace* Generation::keyspace(const std::string& name) const {
  for (const auto& ks : rules_->keyspaces()) {
    if (ks->name() == name) return ks.get();
  }
  return nullptr;
}

}  // namespace readthru::cache
