#pragma once
// State the server shares across io threads: read-only settings plus counters that any
// thread may read (for INFO) and only their own thread writes (relaxed atomics).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/backend.hpp"
#include "config/config.hpp"
#include "metrics/registry.hpp"
#include "server/auth_state.hpp"
#include "server/error_counts.hpp"
#include "server/session_list.hpp"
#include "server/slow_log.hpp"

namespace boost::asio::ssl {
class context;
}

namespace readthru::server {

// The Redis version readthru speaks for (its command table comes from Redis 7.0). Clients
// read it from HELLO and INFO to choose features.
inline constexpr std::string_view kRedisVersion = "7.0.0";

// What one io thread counted, padded so threads never share a cache line. Written only
// by its thread (the acceptor's two by thread 0).
struct alignas(64) ThreadStats : metrics::Source {
  metrics::Counter connections_received, rejected_connections, commands_processed, net_input_bytes,
      net_output_bytes, protocol_errors, output_limit_disconnects, query_buffer_limit_disconnects,
      tls_handshake_failures, tls_handshake_timeouts;
  // Commands by name (index in command::allCommands()) and result: "ok" or "error" for
  // those sent on to Redis or the read-through service, "local" for those readthru
  // answers itself.
  struct CommandCounts {
    metrics::Counter ok, error, local;
    metrics::Counter nanos;  // time to reply, of those sent on
  };
  std::vector<CommandCounts> by_command;
  ErrorCounts errors;  // error replies by kind
  // Commands sent on (not those readthru answers itself), from dispatch to reply.
  metrics::Histogram request_duration;

  ThreadStats();
  void collect(metrics::Sink& sink) const override;
};

struct ServerContext;

// The process-wide figures of the context: clients connected, uptime, version.
class ContextGauges : public metrics::Source {
 public:
  explicit ContextGauges(const ServerContext& ctx) : ctx_(ctx) {}
  void collect(metrics::Sink& sink) const override;

 private:
  const ServerContext& ctx_;
};

// The listen.* limits a reload may change, read by every io thread as it goes (relaxed:
// each value stands alone). Written on io thread 0 by a reload.
struct Limits {
  std::atomic<int> max_clients{0};
  std::atomic<std::int64_t> idle_timeout_ms{0};
  std::atomic<std::uint64_t> output_limit{0};
  std::atomic<std::uint64_t> query_buffer_limit{0};  // for connections made from now on
  std::atomic<std::int64_t> tls_handshake_timeout_ms{0};

  void set(const config::ListenConfig& listen) {
    max_clients.store(listen.max_clients, std::memory_order_relaxed);
    idle_timeout_ms.store(listen.idle_timeout.count(), std::memory_order_relaxed);
    output_limit.store(listen.output_limit, std::memory_order_relaxed);
    query_buffer_limit.store(listen.query_buffer_limit, std::memory_order_relaxed);
    tls_handshake_timeout_ms.store(listen.tls.handshake_timeout.count(), std::memory_order_relaxed);
  }
};

// READTHRU.RELOAD: re-reads the config file. `done` runs later on `reply_on` (the asking
// connection's thread) with "" when the new config runs, or why it was rejected.
using ReloadHook = std::function<void(boost::asio::io_context& reply_on,
                                      std::function<void(std::string error)> done)>;

// READTHRU.DOCTOR and READTHRU.WARM: `args` are the command's; the work runs on io thread
// 0, and `done` runs later on `reply_on` (the asking connection's thread) with the reply.
using CommandHook =
    std::function<void(boost::asio::io_context& reply_on, std::vector<std::string> args,
                       std::function<void(resp::Value)> done)>;

struct ServerContext {
  // As readthru started. Its limits (max_clients, idle_timeout, output_limit,
  // query_buffer_limit) are read from `limits`, which a reload changes.
  config::ListenConfig listen;
  Limits limits;
  AuthState auth;  // the users; a reload installs new ones
  // With listen.tls: the context new client connections get (each keeps the one it was
  // made with). A reload replaces it. Read and written on io thread 0 only (the acceptor's).
  std::shared_ptr<boost::asio::ssl::context> tls;
  config::BackendMode backend_mode = config::BackendMode::kCluster;
  std::string config_path;
  std::string run_id;   // 40 hex characters, new at each start
  std::string node_id;  // 40 hex characters for the emulated CLUSTER commands
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  std::atomic<int> connected_clients{0};
  std::atomic<bool> draining{false};  // set when a drain starts (/readyz answers 503)
  std::atomic<std::uint64_t> next_client_id{1};
  std::vector<std::unique_ptr<ThreadStats>> stats;  // one per io thread
  // One per io thread, used only on it. Here rather than in the Server because sessions
  // still queued in an io_context are destroyed with it, after the Server.
  std::vector<std::unique_ptr<SessionList>> sessions;
  // Every metric source, for INFO, /metrics and READTHRU.STATS (all io threads).
  metrics::Registry metrics;
  SlowLog slow_log;          // one ring per io thread; SLOWLOG reads them all
  ReloadHook reload;         // set before the io threads run
  CommandHook doctor, warm;  // set before the io threads run; warm only with keyspaces
};

}  // namespace readthru::server
