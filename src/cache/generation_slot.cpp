#include "cache/generation_slot.hpp"

#include <algorithm>

namespace readthru::cache {
GenerationSlot::GenerationSlot(boost::asio::io_context& io, std::shared_ptr<KeyspaceRules> rules,
                               std::shared_ptr<SourceLoader> db, int threads)
    : io_(io),
      threads_(threads),
      current_(std::make_shared<Generation>(io, std::move(rules), std::move(db), stats_, threads_)),
      sweep_timer_(io) {}

void GenerationSlot::install(std::shared_ptr<KeyspaceRules> rules,
                             std::shared_ptr<SourceLoader> db) {
  auto next = std::make_shared<Generation>(io_, std::move(rules), std::move(db), stats_, threads_);
  {
    const std::lock_guard lock(mutex_);
    old_.push_back(std::exchange(current_, std::move(next)));
  }
  armSweep();
}

void GenerationSlot::armSweep() {
  if (sweep_armed_ || stopped_ || old_.empty()) return;
  sweep_armed_ = true;
  sweep_timer_.expires_after(kSweepEvery);
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    sweep_armed_ = false;
    if (ec) return;
    sweep();
    armSweep();
  });
}

// Every holder of a generation is on this thread, so use_count() is exact here: 1 means
// only old_ still has it. Under the mutex throughout, so that INFO sees a loader that goes
// either still running or folded into retired_, never neither.
void GenerationSlot::sweep() {
  const std::lock_guard lock(mutex_);
  for (auto it = old_.begin(); it != old_.end();) {
    if (it->use_count() > 1) {
      ++it;
      continue;
    }
    std::shared_ptr<SourceLoader> db = (*it)->loader();
    it = old_.erase(it);
    // A loader another generation still uses stays; the last one to use it stops it.
    if (db && !inUse(*db)) {
      db->stop();
      metrics::Sink into(retired_);
      db->collect(into);
    }
  }
}

bool GenerationSlot::inUse(const SourceLoader& db) const {
  if (current_->loader().get() == &db) return true;
  return std::any_of(old_.begin(), old_.end(),
                     [&](const GenerationPtr& g) { return g->loader().get() == &db; });
}

void GenerationSlot::stop() {
  stopped_ = true;
  sweep_timer_.cancel();
  if (current_->loader()) current_->loader()->stop();
  for (const GenerationPtr& gen : old_) {
    if (gen->loader()) gen->loader()->stop();
  }
}

void GenerationSlot::collect(metrics::Sink& sink) const {
  stats_.collect(sink);
  const std::lock_guard lock(mutex_);
  // Each loader once: generations that share one count it once.
  std::vector<const SourceLoader*> seen;
  auto add = [&](const GenerationPtr& gen) {
    const SourceLoader* db = gen->loader().get();
    if (db == nullptr || std::find(seen.begin(), seen.end(), db) != seen.end()) return;
    seen.push_back(db);
    db->collect(sink);
  };
  add(current_);
  for (const GenerationPtr& gen : old_) add(gen);
  sink.add(retired_);
}

}  // namespace readthru::cache
