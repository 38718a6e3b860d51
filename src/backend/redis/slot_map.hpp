#pragma once
// Which node serves each of the 16,384 hash slots. Built from CLUSTER SLOTS in cluster
// mode, or as one node owning every slot in standalone and sentinel mode. A plain value:
// the router replaces it whole on refresh and patches single slots on -MOVED.

#include <array>
#include <cstdint>
#include <vector>

#include "command/key_slot.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "resp/value.hpp"

namespace readthru::backend::redis {

struct Shard {
  config::Endpoint master;
  std::vector<config::Endpoint> replicas;
  std::uint16_t first_slot = 0;  // lowest slot served; orders shards for SCAN
};

class SlotMap {
 public:
  SlotMap();

  // Parses a CLUSTER SLOTS reply. `queried` stands in for nodes that report an empty
  // address (a node that does not know its own IP says "").
  static Result<SlotMap> fromClusterSlots(const resp::Value& reply,
                                          const config::Endpoint& queried);
  // One node owns every slot (standalone and sentinel mode).
  static SlotMap single(const config::Endpoint& node);

  bool empty() const { return shards_.empty(); }
  // Index into shards(), or -1 when no node serves the slot.
  int shardOf(std::uint16_t slot) const { return slots_[slot]; }
  const Shard& shard(int index) const { return shards_[static_cast<std::size_t>(index)]; }
  const std::vector<Shard>& shards() const { return shards_; }

  // -MOVED: the slot now lives on `master` (a new shard is added if it is a new node).
  void moveSlot(std::uint16_t slot, const config::Endpoint& master);

  std::size_t assignedSlots() const;
  // Masters and replicas named by the map.
  std::size_t nodeCount() const;

 private:
  int shardIndexFor(const config::Endpoint& master);

  std::array<std::int16_t, command::kSlotCount> slots_;
  std::vector<Shard> shards_;
};

}  // namespace readthru::backend::redis
