#include "cache/gutter.hpp"

namespace readthru::cache {
namespace {

// What an entry costs: its key and its value, plus a fixed overhead for the map node.
std::size_t costOf(const std::string& key, const Loaded& l) {
  std::size_t n = key.size() + l.value.size() + 64;
  for (const auto& [f, v] : l.fields) n += f.size() + v.size() + 32;
  return n;
}

}  // namespace

LoadedPtr Gutter::get(const std::string& key, Clock::time_point now) {
  if (!enabled()) return nullptr;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  if (now - it->second.stored >= options_.ttl) {
    removeLocked(it);
    return nullptr;
  }
  ++hits_;
  return it->second.value;
}

void Gutter::put(const std::string& key, LoadedPtr value, Clock::time_point now) {
  if (!enabled() || !value || value->kind == Loaded::Kind::kError) return;
  const std::size_t bytes = costOf(key, *value);
  if (bytes > options_.max_bytes) return;
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(key); it != entries_.end()) removeLocked(it);
  // Oldest first: the expired ones, then as many as the new entry needs room for.
  while (!order_.empty()) {
    auto oldest = entries_.find(order_.front());
    const bool expired = now - oldest->second.stored >= options_.ttl;
    if (!expired && bytes_ + bytes <= options_.max_bytes) break;
    if (!expired) ++evictions_;
    removeLocked(oldest);
  }
  order_.push_back(key);
  entries_.emplace(key, Entry{std::move(value), now, bytes, std::prev(order_.end())});
  bytes_ += bytes;
  ++stores_;
}

void Gutter::erase(const std::string& key) {
  if (!enabled()) return;
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(key); it != entries_.end()) removeLocked(it);
}

void Gutter::removeLocked(std::unordered_map<std::string, Entry>::iterator it) {
  bytes_ -= it->second.bytes;
  order_.erase(it->second.age);
  entries_.erase(it);
}

std::vector<Counter> Gutter::counters() const {
  std::lock_guard lock(mutex_);
  return {{"gutter_hits", hits_},
          {"gutter_stores", stores_},
          {"gutter_evictions", evictions_},
          {"gutter_entries", entries_.size()},
          {"gutter_bytes", bytes_}};
}

}  // namespace readthru::cache
