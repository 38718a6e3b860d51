#pragma once
// The process's metric sources, and the snapshot of them both renderers print. Sources
// are added as readthru builds itself (before the io threads run) and removed only by
// their owner's destructor; snapshot() may run on any thread at any time.

#include <algorithm>
#include <mutex>
#include <vector>

#include "metrics/snapshot.hpp"

namespace readthru::metrics {

class Registry {
 public:
  void add(const Source* s) {
    std::lock_guard lock(mutex_);
    sources_.push_back(s);
  }
  void remove(const Source* s) {
    std::lock_guard lock(mutex_);
    sources_.erase(std::remove(sources_.begin(), sources_.end(), s), sources_.end());
  }
  Snapshot snapshot() const {
    Snapshot out;
    Sink sink(out);
    std::lock_guard lock(mutex_);
    for (const Source* s : sources_) s->collect(sink);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<const Source*> sources_;
};

}  // namespace readthru::metrics
