#pragma once
// State the server shares across io threads: read-only settings plus counters that any
// thread may read (for INFO) and only their own thread writes (relaxed atomics).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/backend.hpp"
#include "config/config.hpp"
#include "server/session_list.hpp"

namespace readthru::server {

// The Redis version readthru speaks for (its command table comes from Redis 7.0). Clients
// read it from HELLO and INFO to choose features.
inline constexpr std::string_view kRedisVersion = "7.0.0";

// Counters of one io thread, padded so threads never share a cache line.
struct alignas(64) ThreadStats {
  std::atomic<std::uint64_t> connections_received{0};
  std::atomic<std::uint64_t> rejected_connections{0};
  std::atomic<std::uint64_t> commands_processed{0};
  std::atomic<std::uint64_t> net_input_bytes{0};
  std::atomic<std::uint64_t> net_output_bytes{0};
  std::atomic<std::uint64_t> error_replies{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  std::atomic<std::uint64_t> output_limit_disconnects{0};
  std::atomic<std::uint64_t> query_buffer_limit_disconnects{0};

  void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

struct ServerContext {
  config::ListenConfig listen;
  config::BackendMode backend_mode = config::BackendMode::kCluster;
  std::string config_path;
  std::string run_id;   // 40 hex characters, new at each start
  std::string node_id;  // 40 hex characters for the emulated CLUSTER commands
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  std::atomic<int> connected_clients{0};
  std::atomic<std::uint64_t> next_client_id{1};
  std::vector<std::unique_ptr<ThreadStats>> stats;  // one per io thread
  // One per io thread, used only on it. Here rather than in the Server because sessions
  // still queued in an io_context are destroyed with it, after the Server.
  std::vector<std::unique_ptr<SessionList>> sessions;
  // Everything whose counters INFO sums into its readthru section (all io threads).
  std::vector<const cache::CounterSource*> counter_sources;
};

}  // namespace readthru::server
