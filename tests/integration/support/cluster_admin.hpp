#pragma once
// Direct views of the local Redis Cluster (scripts/stack, ports 7000-7005) for tests that
// check what readthru did against the nodes themselves: who owns a slot, which replica
// serves it, node ids for CLUSTER SETSLOT, and INFO fields. Header-only; every call opens
// its own short-lived Client, so these are safe from any thread.

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "client.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {

inline constexpr std::uint16_t kClusterPorts[] = {7000, 7001, 7002, 7003, 7004, 7005};

// One line of CLUSTER NODES.
struct ClusterNode {
  std::string id;
  std::uint16_t port = 0;
  bool master = false;
  std::string master_id;  // for a replica
};

// The node owning each slot range, with its replicas, from CLUSTER SLOTS on `port`.
struct SlotOwner {
  std::int64_t first = 0;
  std::int64_t last = 0;
  std::uint16_t master = 0;
  std::vector<std::uint16_t> replicas;
};

inline std::vector<SlotOwner> clusterSlots(std::uint16_t port = kClusterFirstPort) {
  Client c(port);
  const auto v = c.call({"CLUSTER", "SLOTS"});
  if (!v.isArray()) throw std::runtime_error("CLUSTER SLOTS: " + show(v));
  std::vector<SlotOwner> out;
  for (const auto& range : v.elements) {
    SlotOwner o;
    o.first = range.elements.at(0).integer;
    o.last = range.elements.at(1).integer;
    o.master = static_cast<std::uint16_t>(range.elements.at(2).elements.at(1).integer);
    for (std::size_t i = 3; i < range.elements.size(); ++i) {
      o.replicas.push_back(static_cast<std::uint16_t>(range.elements[i].elements.at(1).integer));
    }
    out.push_back(o);
  }
  return out;
}

inline SlotOwner slotOwner(std::int64_t slot, std::uint16_t port = kClusterFirstPort) {
  for (const auto& o : clusterSlots(port)) {
    if (slot >= o.first && slot <= o.last) return o;
  }
  throw std::runtime_error("slot " + std::to_string(slot) + " is not served");
}

inline std::int64_t keySlot(const std::string& key) {
  Client c(kClusterFirstPort);
  return c.call({"CLUSTER", "KEYSLOT", key}).integer;
}

inline std::vector<ClusterNode> clusterNodes(std::uint16_t port = kClusterFirstPort) {
  Client c(port);
  std::istringstream in(show(c.call({"CLUSTER", "NODES"})));
  std::vector<ClusterNode> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, addr, flags, master_id;
    if (!(fields >> id >> addr >> flags >> master_id)) continue;
    ClusterNode n;
    n.id = id;
    const auto colon = addr.find(':');
    const auto at = addr.find('@');
    n.port = static_cast<std::uint16_t>(std::stoi(addr.substr(colon + 1, at - colon - 1)));
    n.master = flags.find("master") != std::string::npos;
    n.master_id = master_id == "-" ? "" : master_id;
    out.push_back(n);
  }
  return out;
}

inline std::string nodeId(std::uint16_t port) {
  for (const auto& n : clusterNodes()) {
    if (n.port == port) return n.id;
  }
  throw std::runtime_error("no cluster node on port " + std::to_string(port));
}

// The masters that serve slots (a failed master left in CLUSTER NODES is not one).
inline std::vector<std::uint16_t> masterPorts() {
  std::vector<std::uint16_t> out;
  for (const auto& o : clusterSlots()) {
    if (std::find(out.begin(), out.end(), o.master) == out.end()) out.push_back(o.master);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The integer after "<field>:" (or after "<field>=" inside an INFO line such as
// "cmdstat_get:calls=12,..." when `field` is "cmdstat_get:calls"); nullopt when absent.
inline std::optional<std::int64_t> infoInteger(std::string_view info, std::string_view field) {
  std::size_t at = 0;
  while ((at = info.find(field, at)) != std::string_view::npos) {
    const bool line_start = at == 0 || info[at - 1] == '\n';
    const std::size_t end = at + field.size();
    if (line_start && end < info.size() && (info[end] == ':' || info[end] == '=')) {
      std::int64_t value = 0;
      const char* first = info.data() + end + 1;
      const auto [p, ec] = std::from_chars(first, info.data() + info.size(), value);
      if (ec == std::errc{}) return value;
    }
    at = end;
  }
  return std::nullopt;
}

}  // namespace readthru::testing
