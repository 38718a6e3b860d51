#pragma once
// Routes client commands to Redis: a Redis Cluster (slot map from CLUSTER SLOTS, MOVED and
// ASK followed), one standalone server, or the master that Sentinel names. Implements the
// cache::Backend port.
//
// One Router per io thread: it owns that thread's node connections and its own copy of
// the slot map, so nothing on the request path is shared between threads. Multi-key
// commands are split per slot and merged in key order; keyless admin commands fan out to
// every master. Every request has a deadline (backend.command_timeout).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/redis/node_connection.hpp"
#include "backend/redis/sentinel_messages.hpp"
#include "backend/redis/sentinel_watch.hpp"
#include "backend/redis/slot_map.hpp"
#include "cache/backend.hpp"
#include "config/config.hpp"

namespace readthru::backend::redis {

class Router : public cache::Backend {
 public:
  using Clock = std::chrono::steady_clock;

  // `connections_per_node` is this router's share (per io thread). `breakers` is the
  // process's table, shared by every thread's router; null gives this router its own.
  // `tls` is backend.tls built once for the process (tls::clientContext); null with
  // backend.tls set builds this router's own, and throws std::runtime_error (a start-up
  // error) when its files cannot be used.
  Router(boost::asio::io_context& io, config::BackendConfig cfg, int connections_per_node,
         std::shared_ptr<BreakerTable> breakers = nullptr,
         std::shared_ptr<const tls::ClientTls> tls = nullptr);
  ~Router() override;

  static BreakerOptions breakerOptions(const config::BreakerConfig& c);

  // Starts topology discovery and the deadline sweeper. Requests that arrive before the
  // topology is known wait for it, up to the command timeout.
  void start();
  // Closes every connection; requests still waiting are dropped silently.
  void stop();
  // `listener` runs on this router's thread with the number of nodes (masters and
  // replicas) in the slot map: once the first map is known, then whenever that number
  // changes. For readiness reports (app/service_state.hpp). Set before start().
  void setTopologyListener(std::function<void(std::size_t nodes)> listener) {
    topology_listener_ = std::move(listener);
  }

  void execute(cache::Command cmd, cache::ReplyCallback done) override;
  std::vector<cache::NodeRef> nodes() const override;
  void executeOn(const cache::NodeRef& node, std::vector<std::string> args,
                 cache::ReplyCallback done) override;
  void collect(metrics::Sink& sink) const override;

 private:
  enum class NodeKind { kMaster, kReplica, kSentinel };
  static constexpr int kFaultSlots = 8;  // Fault values 1..7 are the transport faults

  // Written only by this router's thread; read by a scrape from any thread.
  struct alignas(64) Stats {
    metrics::Counter tryagain;
    metrics::Counter topology_refreshes;
    metrics::Counter sentinel_switches;     // new-master events heard for ours
    metrics::Counter sentinel_subscribes;   // subscriptions made (and remade)
    metrics::Counter sentinel_stale_polls;  // poll answers older than followed
    metrics::Gauge sentinel_subscribed;     // 1 while subscribed
    metrics::Gauge slot_map_known;          // 1 once this router has a slot map
    // Requests that failed without a reply from Redis, by Fault (index: the code's value).
    metrics::Counter faults[kFaultSlots];
    // From a request's arrival here to its reply (redirects and retries included).
    metrics::Histogram command_duration;
  };
  // MOVED and ASK answers, by the node that gave them. Counted on the redirect path only
  // (rare), so a map under a mutex is cheap enough and keeps the label set small.
  struct Redirects {
    std::uint64_t moved = 0, ask = 0;
  };

  struct Request {
    std::vector<std::string> args;
    std::uint64_t affinity = 0;  // keeps one client's commands on one connection, in order
    bool read_only = false;
    int redirects = 0;
    Clock::time_point retry_until{};  // TRYAGAIN retries stop here (set by the first one)
    Clock::time_point started = Clock::now();
    cache::ReplyCallback done;
  };
  using RequestPtr = std::shared_ptr<Request>;

  struct Waiter {
    Clock::time_point deadline;
    std::function<void()> run;
    cache::ReplyCallback done;
  };

  // --- routing (router.cpp)
  std::uint16_t slotOf(const std::string& key) const;
  void sendToSlot(std::uint16_t slot, RequestPtr req);
  void sendTo(const config::Endpoint& node, bool replica, std::uint16_t slot, RequestPtr req,
              bool asking);
  void onReply(const config::Endpoint& node, std::uint16_t slot, RequestPtr req, resp::Value v);
  void countFault(const resp::Value& v);
  void sendToAnyMaster(RequestPtr req);
  bool tryAgainLater(Request& req) const;
  NodeConnection& connection(const config::Endpoint& node, NodeKind kind, std::uint64_t affinity);
  void waitForTopology(cache::Command& cmd, cache::ReplyCallback& done);

  // --- topology (topology.cpp)
  void refresh();
  void refreshSoon();
  void tryRefreshFrom(std::shared_ptr<std::vector<config::Endpoint>> candidates, std::size_t i);
  void applyMap(SlotMap map);
  void resolveSentinelMaster(std::size_t i);
  void watchSentinels();
  void followMaster(const config::Endpoint& master, std::string_view why);
  void sweep();

  // --- multi-key and fan-out (multi_key.cpp)
  void executeSplit(cache::Command cmd, cache::ReplyCallback done);
  void executeFanOut(cache::Command cmd, cache::ReplyCallback done);
  void executeScan(cache::Command cmd, cache::ReplyCallback done);

  boost::asio::io_context& io_;
  config::BackendConfig cfg_;
  int connections_per_node_;
  SlotMap map_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<NodeConnection>>> pools_;
  std::vector<Waiter> waiting_;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer refresh_timer_;
  bool refreshing_ = false;
  bool refresh_timer_armed_ = false;
  bool stopped_ = false;
  Clock::time_point next_refresh_{};  // periodic topology read (Sentinel poll, slot map)
  // Sentinel mode: the +switch-master subscription (one per router, on this thread), and
  // the rule that orders what it and the polls say.
  std::unique_ptr<SentinelWatch> sentinel_watch_;
  MasterChoice master_choice_;
  std::string last_refresh_error_;
  std::string logged_refresh_error_;  // the refresh failure last logged; empty once it works
  std::size_t any_node_rr_ = 0;
  std::shared_ptr<BreakerTable> breakers_;
  std::shared_ptr<const tls::ClientTls> tls_;  // null: plain TCP
  std::function<void(std::size_t nodes)> topology_listener_;
  ConnectionStats connection_stats_;
  Stats stats_;
  mutable std::mutex redirects_mutex_;
  std::map<std::string, Redirects> redirects_;  // by node "host:port"
  void countRedirect(const config::Endpoint& node, bool ask);
};

}  // namespace readthru::backend::redis
