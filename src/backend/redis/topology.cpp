// Router: learning and following the topology (CLUSTER SLOTS, Sentinel), and the periodic
// sweep that enforces deadlines.

#include <algorithm>

#include "backend/redis/router.hpp"
#include "common/log.hpp"

namespace readthru::backend::redis {
namespace {

constexpr Millis kSweepInterval{100};
constexpr Millis kRefreshDelay{100};  // coalesces a burst of MOVED/broken connections
// Sentinel is asked for the master this often while no subscription (SentinelWatch)
// stands: after a failover, writes still go to the old master (which accepts them until it
// is demoted, and then loses them) for at most this long. While subscribed, the message
// moves us at once and the poll is only the fallback (a sentinel cut off from its peers
// announces nothing), so it can be slower.
constexpr Millis kSentinelPoll{100};
constexpr Millis kSentinelPollSubscribed{1000};
// The slot map is also re-read this often in cluster mode, so changes that cause no
// redirect (a replica added or promoted, a node that came back) are seen too.
constexpr Millis kClusterRefresh{5000};

}  // namespace

void Router::start() {
  stopped_ = false;
  switch (cfg_.mode) {
    case config::BackendMode::kStandalone:
      applyMap(SlotMap::single(cfg_.seeds.front()));
      break;
    case config::BackendMode::kCluster:
      refresh();
      break;
    case config::BackendMode::kSentinel:
      watchSentinels();
      refresh();
      break;
  }
  sweep();
}

void Router::stop() {
  stopped_ = true;
  sweep_timer_.cancel();
  refresh_timer_.cancel();
  if (sentinel_watch_) sentinel_watch_->stop();
  stats_.sentinel_subscribed.set(0);
  waiting_.clear();
  for (auto& [name, pool] : pools_) {
    for (auto& conn : pool) conn->close(/*silent=*/true);
  }
}

void Router::sweep() {
  if (stopped_) return;
  const auto now = Clock::now();
  for (auto& [name, pool] : pools_) {
    for (auto& conn : pool) conn->checkDeadline(now);
    // An open breaker is probed whether or not requests come: recovery needs no traffic.
    pool.front()->probeIfDue(now);
  }
  // Requests that waited for a topology that never came.
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->deadline < now) {
      auto done = std::move(it->done);
      it = waiting_.erase(it);
      done(resp::Value::failure(
          Fault::kNoNode,
          faultText(Fault::kNoNode, "no Redis topology yet",
                    last_refresh_error_.empty() ? "still discovering" : last_refresh_error_)));
    } else {
      ++it;
    }
  }
  const bool subscribed = sentinel_watch_ && sentinel_watch_->subscribed();
  stats_.sentinel_subscribed.set(subscribed ? 1 : 0);
  if (cfg_.mode != config::BackendMode::kStandalone && now >= next_refresh_) {
    next_refresh_ = now + (cfg_.mode == config::BackendMode::kCluster ? kClusterRefresh
                           : subscribed                               ? kSentinelPollSubscribed
                                                                      : kSentinelPoll);
    refresh();
  }
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) sweep();
  });
}

void Router::refreshSoon() {
  if (refresh_timer_armed_ || stopped_ || cfg_.mode == config::BackendMode::kStandalone) return;
  refresh_timer_armed_ = true;
  refresh_timer_.expires_after(kRefreshDelay);
  refresh_timer_.async_wait([this](boost::system::error_code ec) {
    refresh_timer_armed_ = false;
    if (!ec && !stopped_) refresh();
  });
}

void Router::refresh() {
  if (refreshing_ || stopped_) return;
  if (cfg_.mode == config::BackendMode::kStandalone) return;
  refreshing_ = true;
  stats_.topology_refreshes.add();
  if (cfg_.mode == config::BackendMode::kSentinel) {
    resolveSentinelMaster(0);
    return;
  }
  // Known masters first (they know the newest map), then the configured seeds.
  auto candidates = std::make_shared<std::vector<config::Endpoint>>();
  auto add = [&](const config::Endpoint& ep) {
    for (const auto& c : *candidates) {
      if (c == ep) return;
    }
    candidates->push_back(ep);
  };
  for (const Shard& shard : map_.shards()) add(shard.master);
  for (const auto& seed : cfg_.seeds) add(seed);
  tryRefreshFrom(std::move(candidates), 0);
}

void Router::tryRefreshFrom(std::shared_ptr<std::vector<config::Endpoint>> candidates,
                            std::size_t i) {
  if (stopped_) return;
  if (i >= candidates->size()) {
    refreshing_ = false;
    // Retried every 100 ms while requests wait: log when the failure starts or changes,
    // not on every attempt.
    if (last_refresh_error_ != logged_refresh_error_) {
      spdlog::warn("redis cluster: could not read the slot map from any node ({})",
                   last_refresh_error_);
      logged_refresh_error_ = last_refresh_error_;
    }
    if (!waiting_.empty()) refreshSoon();
    return;
  }
  static const std::string kClusterSlots[] = {"CLUSTER", "SLOTS"};
  const config::Endpoint node = (*candidates)[i];
  connection(node, NodeKind::kMaster, 0)
      .send(kClusterSlots, [this, candidates, i, node](resp::Value v) {
        if (stopped_) return;
        auto map = SlotMap::fromClusterSlots(v, node);
        if (!map.ok()) {
          last_refresh_error_ = node.str() + ": " + map.error().message;
          tryRefreshFrom(candidates, i + 1);
          return;
        }
        refreshing_ = false;
        if (!logged_refresh_error_.empty()) {
          spdlog::info("redis cluster: slot map read from {} again", node.str());
          logged_refresh_error_.clear();
        }
        applyMap(std::move(*map));
      });
}

// ---------------------------------------------------------------------------------------
// Sentinel: the poll and the subscription (SentinelWatch)

// One subscription per router, like every other connection of this router: it lives on
// the router's thread, so the switch reaches the map without a post or a lock; the price
// is one idle connection to a sentinel per io thread, which Sentinel does not notice.
void Router::watchSentinels() {
  if (sentinel_watch_) {
    sentinel_watch_->start();
    return;
  }
  SentinelWatch::Options o;
  o.sentinels = cfg_.seeds;
  o.master = cfg_.sentinel_master;
  o.connect_timeout = cfg_.connect_timeout;
  o.username = cfg_.sentinel_username;
  o.password = cfg_.sentinel_password;
  o.tls = tls_;
  sentinel_watch_ = std::make_unique<SentinelWatch>(
      io_, std::move(o),
      [this](const config::Endpoint& to, std::string_view channel) {
        if (stopped_) return;
        stats_.sentinel_switches.add();
        if (auto moved = master_choice_.onSwitch(to)) followMaster(*moved, channel);
      },
      // A switch announced while we were not subscribed was missed: ask now.
      [this] {
        stats_.sentinel_subscribes.add();
        stats_.sentinel_subscribed.set(1);
        refreshSoon();
      });
  sentinel_watch_->start();
}

// Two questions back to back on one connection (sentinel_messages.hpp says why in this
// order): the address, and the config epoch that orders it against other answers.
void Router::resolveSentinelMaster(std::size_t i) {
  if (stopped_) return;
  if (i >= cfg_.seeds.size()) {
    refreshing_ = false;
    if (!waiting_.empty()) refreshSoon();
    return;
  }
  const std::vector<std::string> ask_addr{"SENTINEL", "get-master-addr-by-name",
                                          cfg_.sentinel_master};
  const std::vector<std::string> ask_epoch{"SENTINEL", "MASTER", cfg_.sentinel_master};
  const config::Endpoint sentinel = cfg_.seeds[i];
  NodeConnection& conn = connection(sentinel, NodeKind::kSentinel, 0);
  auto addr = std::make_shared<resp::Value>();
  conn.send(ask_addr, [addr](resp::Value v) { *addr = std::move(v); });
  conn.send(ask_epoch, [this, i, sentinel, addr](resp::Value v) {
    if (stopped_) return;
    auto seen = parseSentinelAnswers(*addr, v);
    if (!seen) {
      last_refresh_error_ = "sentinel " + sentinel.str() + ": " + seen.error().message;
      resolveSentinelMaster(i + 1);
      return;
    }
    refreshing_ = false;
    const auto before = master_choice_.current();
    if (auto moved = master_choice_.onPoll(*seen, Clock::now())) {
      followMaster(*moved, "poll");
    } else if (before && seen->master != *before) {
      stats_.sentinel_stale_polls.add();
    }
  });
}

void Router::followMaster(const config::Endpoint& master, std::string_view why) {
  spdlog::info("sentinel: master '{}' is at {} ({})", cfg_.sentinel_master, master.str(), why);
  applyMap(SlotMap::single(master));
}

// The masters of a map, sorted, for the log ("10.0.0.1:7000, 10.0.0.2:7000").
namespace {
std::string mastersOf(const SlotMap& map) {
  std::vector<std::string> names;
  for (const Shard& shard : map.shards()) names.push_back(shard.master.str());
  std::sort(names.begin(), names.end());
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}
}  // namespace

void Router::applyMap(SlotMap map) {
  const bool first = map_.empty();
  const std::string masters_before = mastersOf(map_);
  const std::size_t slots_before = map_.assignedSlots();
  const std::size_t nodes_before = map_.nodeCount();
  map_ = std::move(map);
  stats_.slot_map_known.set(map_.empty() ? 0 : 1);
  // A failover or a resharding: once per change of the masters or of the slots served,
  // not per refresh.
  if (const std::string masters = mastersOf(map_);
      first || masters != masters_before || slots_before != map_.assignedSlots()) {
    spdlog::info("redis {}: {} master(s) [{}], {} slots served", config::modeName(cfg_.mode),
                 map_.shards().size(), masters, map_.assignedSlots());
  }
  if (topology_listener_ && (first || nodes_before != map_.nodeCount())) {
    topology_listener_(map_.nodeCount());
  }
  // Requests that waited for a topology run now (they may queue again if it is partial).
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (Waiter& w : waiting) w.run();
}

}  // namespace readthru::backend::redis
