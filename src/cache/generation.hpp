#pragma once
// One version of the keyspace rules as one io thread runs them: the compiled rules
// (shared by every thread), the loader that runs their statements, and a LoadBatcher per
// keyspace. A reload builds a new generation for each thread and swaps it in there
// (GenerationSlot). A request keeps the generation it started under (a GenerationPtr in
// its callbacks), so its load finishes with that generation's query, TTL and tags, and
// the Keyspace it points at stays alive until it is done.
//
// Used only on its io thread; the rules are shared read-only (see keyspace_rules.hpp).

#include <boost/asio/io_context.hpp>
#include <memory>
#include <unordered_map>

#include "cache/keyspace_rules.hpp"
#include "cache/keyspace_stats.hpp"
#include "cache/load_batcher.hpp"
#include "cache/source_loader.hpp"

namespace readthru::cache {

class Generation {
 public:
  // `db` runs rules->statements() by index; it may be shared with the generation before
  // (a reload that left the SQL as it was keeps its pools). `stats` outlives this.
  // `threads`: io threads in the process; each batcher takes its share of its keyspace's
  // load limits.
  Generation(boost::asio::io_context& io, std::shared_ptr<KeyspaceRules> rules,
             std::shared_ptr<SourceLoader> db, KeyspaceStatsTable& stats, int threads);

  const KeyspaceRules& rules() const { return *rules_; }
  const std::shared_ptr<KeyspaceRules>& sharedRules() const { return rules_; }
  const std::shared_ptr<SourceLoader>& loader() const { return db_; }
  // `ks` is one of rules()'s keyspaces.
  LoadBatcher& batcher(const Keyspace& ks) { return *batchers_.at(&ks); }
  // This thread's counts for `ks`, one of rules()'s keyspaces.
  KeyspaceStats& stats(const Keyspace& ks) { return *stats_.at(&ks); }

  // The keyspace of this name, or nullptr.
  const Keyspace* keyspace(const std::string& name) const;

 private:
  std::shared_ptr<KeyspaceRules> rules_;
  std::shared_ptr<SourceLoader> db_;
  std::unordered_map<const Keyspace*, KeyspaceStats*> stats_;
  // After db_: destroyed first, they use it.
  std::unordered_map<const Keyspace*, std::unique_ptr<LoadBatcher>> batchers_;
};

using GenerationPtr = std::shared_ptr<Generation>;

}  // namespace readthru::cache
