#include "cache/generation.hpp"

namespace readthru::cache {

Generation::Generation(boost::asio::io_context& io, std::shared_ptr<KeyspaceRules> rules,
                       std::shared_ptr<SourceLoader> db, LoadBatcher::Counts& counts)
    : rules_(std::move(rules)), db_(std::move(db)) {
  for (const auto& ks : rules_->keyspaces()) {
    batchers_.emplace(ks.get(), std::make_unique<LoadBatcher>(io, *ks, *db_, counts));
  }
}

const Keyspace* Generation::keyspace(const std::string& name) const {
  for (const auto& ks : rules_->keyspaces()) {
    if (ks->name() == name) return ks.get();
  }
  return nullptr;
}

}  // namespace readthru::cache
