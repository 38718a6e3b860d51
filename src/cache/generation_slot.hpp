#pragma once
// The generation one io thread serves new requests with, and the older ones that requests
// still hold. A reload install()s a new generation on the thread; the one it replaces is
// kept in a list until no request holds it any more (checked every kSweepEvery, from a
// handler of its own, so that a loader is never destroyed inside one of its own
// callbacks), then its loader is stopped, unless the new generation shares it, and it
// goes.
//
// current() and install() only on the owning thread. collect() (any thread) gives the
// per-keyspace counts and the loaders' metrics: the current loader's, plus what the
// retired ones had counted. Its mutex is taken by a scrape and when a generation comes or
// goes, never on the request path.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <mutex>
#include <vector>

#include "cache/generation.hpp"

namespace readthru::cache {

class GenerationSlot : public metrics::Source {
 public:
  static constexpr std::chrono::milliseconds kSweepEvery{500};

  // `db` may be null when `rules` has no keyspaces. `threads`: see Generation.
  GenerationSlot(boost::asio::io_context& io, std::shared_ptr<KeyspaceRules> rules,
                 std::shared_ptr<SourceLoader> db, int threads = 1);

  const GenerationPtr& current() const { return current_; }

  // From now on new requests use `rules` and `db` (`db` may be the current loader). On
  // the owning thread.
  void install(std::shared_ptr<KeyspaceRules> rules, std::shared_ptr<SourceLoader> db);

  // Stops every loader, current and retired (readthru stops). On the owning thread.
  void stop();

  void collect(metrics::Sink& sink) const override;

 private:
  void armSweep();
  void sweep();
  // Whether the current generation or a retired one still loads through `db`.
  bool inUse(const SourceLoader& db) const;

  boost::asio::io_context& io_;
  const int threads_;
  KeyspaceStatsTable stats_;  // before the generations, which point into it
  GenerationPtr current_;
  std::vector<GenerationPtr> old_;  // replaced, maybe still held by requests
  boost::asio::steady_timer sweep_timer_;
  bool sweep_armed_ = false;
  bool stopped_ = false;
  mutable std::mutex mutex_;   // collect() against install() and sweep()
  metrics::Snapshot retired_;  // of loaders stopped and gone
};

}  // namespace readthru::cache
