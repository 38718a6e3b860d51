#include "server/slow_ring.hpp"

#include <algorithm>

namespace readthru::server {

std::vector<std::string> slowLogArgv(std::span<const std::string> args) {
  const std::size_t kept = std::min(args.size(), kSlowMaxArgs);
  std::vector<std::string> out;
  out.reserve(kept);
  for (std::size_t i = 0; i < kept; ++i) {
    if (kept != args.size() && i == kept - 1) {
      out.push_back("... (" + std::to_string(args.size() - kept + 1) + " more arguments)");
    } else if (args[i].size() > kSlowMaxArgBytes) {
      out.push_back(args[i].substr(0, kSlowMaxArgBytes) + "... (" +
                    std::to_string(args[i].size() - kSlowMaxArgBytes) + " more bytes)");
    } else {
      out.push_back(args[i]);
    }
  }
  return out;
}

void SlowRing::push(SlowEntry entry) {
  if (max_len_ == 0) return;
  entries_.push_front(std::move(entry));
  if (entries_.size() > max_len_) entries_.pop_back();
}

void SlowRing::setMaxLen(std::size_t max_len) {
  max_len_ = max_len;
  while (entries_.size() > max_len_) entries_.pop_back();
}

std::vector<SlowEntry> newestOf(std::span<const SlowRing* const> rings, std::size_t count) {
  std::vector<SlowEntry> all;
  for (const SlowRing* ring : rings) {
    all.insert(all.end(), ring->entries().begin(), ring->entries().end());
  }
  // Ids are handed out process-wide in the order entries were made.
  std::sort(all.begin(), all.end(),
            [](const SlowEntry& a, const SlowEntry& b) { return a.id > b.id; });
  if (all.size() > count) all.resize(count);
  return all;
}

}  // namespace readthru::server
