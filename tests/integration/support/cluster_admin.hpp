#pragma once
// Direct views of the local Redis Cluster (scripts/stack, ports 7000-7005) for tests that
// check what readthru did against the nodes themselves: who owns a slot, which replica
// serves it, node ids for CLUSTER SETSLOT, and INFO fields; and for tests that change the
// topology, a slot migration and the health check scripts/stack makes. Header-only; every
// call opens its own short-lived Client, so these are safe from any thread.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "client.hpp"
#include "eventually.hpp"
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

// ---------------------------------------------------------------------------------------
// Changing the topology (tests that hold the redis_cluster lock), and checking it is whole

// What scripts/stack calls healthy: six nodes that agree, three masters with a replica each.
inline bool clusterHealthy() {
  try {
    int masters = 0, replicas = 0;
    for (std::uint16_t p : kClusterPorts) {
      Client c(p);
      const std::string info = show(c.call({"CLUSTER", "INFO"}));
      if (info.find("cluster_state:ok") == std::string::npos) return false;
      if (info.find("cluster_known_nodes:6") == std::string::npos) return false;
      std::size_t listed = 0;
      for (const auto& o : clusterSlots(p)) listed += 1 + o.replicas.size();
      if (listed != 6) return false;
      const std::string repl = show(c.call({"INFO", "replication"}));
      if (repl.find("role:master") != std::string::npos) ++masters;
      if (repl.find("master_link_status:up") != std::string::npos) ++replicas;
    }
    return masters == 3 && replicas == 3;
  } catch (const std::exception&) {
    return false;
  }
}

// Every replica has everything its master acknowledged (offsets equal).
inline bool replicasCaughtUp() {
  for (const auto& o : clusterSlots()) {
    Client m(o.master);
    const auto master_offset =
        infoInteger(show(m.call({"INFO", "replication"})), "master_repl_offset");
    for (std::uint16_t r : o.replicas) {
      Client rc(r);
      const auto offset = infoInteger(show(rc.call({"INFO", "replication"})), "slave_repl_offset");
      if (!master_offset || !offset || *offset < *master_offset) return false;
    }
  }
  return true;
}

inline void expectOk(const resp::Value& v, const std::string& what) {
  if (v.type != resp::Type::kSimple || v.str != "OK") {
    throw std::runtime_error(what + ": " + show(v));
  }
}

// Moves every key of `slot` from `src` to `dst` (ports of masters), then assigns the
// slot to `dst` everywhere. `between_batches` runs after each MIGRATE batch.
inline void migrateSlot(
    std::int64_t slot, std::uint16_t src, std::uint16_t dst,
    const std::vector<std::string>& first_keys,
    const std::function<void()>& between_batches = [] {}, int batch_size = 10) {
  const std::string s = std::to_string(slot);
  const std::string src_id = nodeId(src);
  const std::string dst_id = nodeId(dst);
  Client source(src);
  Client target(dst);
  expectOk(target.call({"CLUSTER", "SETSLOT", s, "IMPORTING", src_id}), "SETSLOT IMPORTING");
  expectOk(source.call({"CLUSTER", "SETSLOT", s, "MIGRATING", dst_id}), "SETSLOT MIGRATING");
  auto migrate = [&](const std::vector<std::string>& keys) {
    std::vector<std::string> cmd{"MIGRATE", "127.0.0.1", std::to_string(dst), "", "0",
                                 "5000",    "KEYS"};
    cmd.insert(cmd.end(), keys.begin(), keys.end());
    const auto v = source.call(cmd);
    if (show(v) != "OK" && show(v) != "NOKEY") throw std::runtime_error("MIGRATE: " + show(v));
  };
  if (!first_keys.empty()) {
    migrate(first_keys);
    between_batches();
  }
  while (true) {
    const auto keys = source.call({"CLUSTER", "GETKEYSINSLOT", s, std::to_string(batch_size)});
    if (!keys.isArray()) throw std::runtime_error("GETKEYSINSLOT: " + show(keys));
    if (keys.elements.empty()) break;
    std::vector<std::string> batch;
    for (const auto& k : keys.elements) batch.push_back(k.str);
    migrate(batch);
    between_batches();
  }
  // The target first (it then owns the slot), then the source, then everyone else.
  expectOk(target.call({"CLUSTER", "SETSLOT", s, "NODE", dst_id}), "SETSLOT NODE on target");
  expectOk(source.call({"CLUSTER", "SETSLOT", s, "NODE", dst_id}), "SETSLOT NODE on source");
  for (std::uint16_t port : masterPorts()) {
    if (port != src && port != dst) {
      expectOk(Client(port).call({"CLUSTER", "SETSLOT", s, "NODE", dst_id}), "SETSLOT NODE");
    }
  }
}

// True once every node of the cluster reports `owner` as the slot's master.
inline bool everyNodeAgrees(std::int64_t slot, std::uint16_t owner) {
  for (std::uint16_t port : kClusterPorts) {
    try {
      if (slotOwner(slot, port).master != owner) return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

// Polls everyNodeAgrees() for up to `timeout`; throws when they do not come to agree.
inline void waitUntilEveryNodeAgrees(std::int64_t slot, std::uint16_t owner,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  if (!eventually([&] { return everyNodeAgrees(slot, owner); }, timeout)) {
    throw std::runtime_error("nodes do not agree that slot " + std::to_string(slot) + " is on " +
                             std::to_string(owner));
  }
}

}  // namespace readthru::testing
