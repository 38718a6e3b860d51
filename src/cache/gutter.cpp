#include "cache/gutter.hpp"

namespace readthru::cache {
namespace {

using metrics::Family;
using metrics::Kind;
constexpr Family kHits{"readthru_gutter_hits_total", Kind::kCounter,
                       "Reads the gutter answered while Redis was down.", "gutter_hits"};
constexpr Family kStores{"readthru_gutter_stores_total", Kind::kCounter,
                         "Loads kept in the gutter.", "gutter_stores"};
constexpr Family kEvictions{"readthru_gutter_evictions_total", Kind::kCounter,
                            "Gutter entries dropped for room.", "gutter_evictions"};
constexpr Family kEntries{"readthru_gutter_entries", Kind::kGauge, "Entries in the gutter now.",
                          "gutter_entries"};
constexpr Family kBytes{"readthru_gutter_bytes", Kind::kGauge, "Bytes the gutter holds now.",
                        "gutter_bytes"};

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

void Gutter::collect(metrics::Sink& sink) const {
  std::lock_guard lock(mutex_);
  sink.add(kHits, static_cast<double>(hits_));
  sink.add(kStores, static_cast<double>(stores_));
  sink.add(kEvictions, static_cast<double>(evictions_));
  sink.add(kEntries, static_cast<double>(entries_.size()));
  sink.add(kBytes, static_cast<double>(bytes_));
}

}  // namespace readthru::cache
