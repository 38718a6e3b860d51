#include "backend/redis/slot_map.hpp"

#include <algorithm>

namespace readthru::backend::redis {
namespace {

Result<config::Endpoint> parseNode(const resp::Value& v, const config::Endpoint& queried) {
  if (!v.isArray() || v.elements.size() < 2 || v.elements[0].type != resp::Type::kBulk ||
      v.elements[1].type != resp::Type::kInteger) {
    return Error{"malformed node entry in CLUSTER SLOTS"};
  }
  config::Endpoint ep;
  ep.host =
      v.elements[0].str.empty() || v.elements[0].str == "?" ? queried.host : v.elements[0].str;
  if (v.elements[1].integer <= 0 || v.elements[1].integer > 65535) {
    return Error{"bad port in CLUSTER SLOTS"};
  }
  ep.port = static_cast<std::uint16_t>(v.elements[1].integer);
  return ep;
}

}  // namespace

SlotMap::SlotMap() { slots_.fill(-1); }

Result<SlotMap> SlotMap::fromClusterSlots(const resp::Value& reply,
                                          const config::Endpoint& queried) {
  if (reply.isError()) return Error{reply.str};
  if (!reply.isArray()) return Error{"CLUSTER SLOTS did not answer an array"};
  SlotMap map;
  for (const resp::Value& range : reply.elements) {
    if (!range.isArray() || range.elements.size() < 3 ||
        range.elements[0].type != resp::Type::kInteger ||
        range.elements[1].type != resp::Type::kInteger) {
      return Error{"malformed range in CLUSTER SLOTS"};
    }
    const std::int64_t first = range.elements[0].integer;
    const std::int64_t last = range.elements[1].integer;
    if (first < 0 || last >= command::kSlotCount || first > last) {
      return Error{"slot range out of bounds in CLUSTER SLOTS"};
    }
    auto master = parseNode(range.elements[2], queried);
    if (!master.ok()) return master.error();
    const int index = map.shardIndexFor(*master);
    Shard& shard = map.shards_[static_cast<std::size_t>(index)];
    if (shard.replicas.empty()) {
      for (std::size_t i = 3; i < range.elements.size(); ++i) {
        auto replica = parseNode(range.elements[i], queried);
        if (!replica.ok()) return replica.error();
        shard.replicas.push_back(*replica);
      }
    }
    for (std::int64_t s = first; s <= last; ++s)
      map.slots_[static_cast<std::size_t>(s)] = static_cast<std::int16_t>(index);
  }
  if (map.shards_.empty()) return Error{"the cluster serves no slots"};
  for (Shard& shard : map.shards_) shard.first_slot = command::kSlotCount - 1;
  for (std::size_t s = command::kSlotCount; s-- > 0;) {
    if (map.slots_[s] >= 0)
      map.shards_[static_cast<std::size_t>(map.slots_[s])].first_slot =
          static_cast<std::uint16_t>(s);
  }
  return map;
}

SlotMap SlotMap::single(const config::Endpoint& node) {
  SlotMap map;
  map.shards_.push_back({node, {}, 0});
  map.slots_.fill(0);
  return map;
}

int SlotMap::shardIndexFor(const config::Endpoint& master) {
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i].master == master) return static_cast<int>(i);
  }
  shards_.push_back({master, {}, 0});
  return static_cast<int>(shards_.size() - 1);
}

void SlotMap::moveSlot(std::uint16_t slot, const config::Endpoint& master) {
  const int index = shardIndexFor(master);
  slots_[slot] = static_cast<std::int16_t>(index);
}

std::size_t SlotMap::assignedSlots() const {
  return static_cast<std::size_t>(
      std::count_if(slots_.begin(), slots_.end(), [](std::int16_t s) { return s >= 0; }));
}

std::size_t SlotMap::nodeCount() const {
  std::size_t n = 0;
  for (const Shard& s : shards_) n += 1 + s.replicas.size();
  return n;
}

}  // namespace readthru::backend::redis
