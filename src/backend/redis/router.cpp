#include "backend/redis/router.hpp"

#include <charconv>
#include <stdexcept>

#include "command/key_slot.hpp"
#include "common/log.hpp"

namespace readthru::backend::redis {
namespace {

using metrics::Family;
using metrics::Kind;
constexpr Family kMoved{"readthru_backend_moved_total", Kind::kCounter,
                        "MOVED redirects, by the node that answered them.",
                        "backend_moved_redirects"};
constexpr Family kAsk{"readthru_backend_ask_total", Kind::kCounter,
                      "ASK redirects, by the node that answered them.", "backend_ask_redirects"};
constexpr Family kTryAgain{"readthru_backend_tryagain_retries_total", Kind::kCounter,
                           "Requests retried after TRYAGAIN.", "backend_tryagain_retries"};
constexpr Family kTopologyRefreshes{"readthru_backend_slot_map_refreshes_total", Kind::kCounter,
                                    "Slot map (or Sentinel master) refreshes.",
                                    "backend_topology_refreshes"};
constexpr Family kLateReplies{"readthru_backend_late_replies_total", Kind::kCounter,
                              "Replies that came after their request had timed out.",
                              "backend_late_replies_discarded"};
constexpr Family kStalls{"readthru_backend_connections_stalled_total", Kind::kCounter,
                         "Connections dropped for no reply within node_timeout.",
                         "backend_connections_stalled"};
constexpr Family kFailed{"readthru_backend_failed_requests_total", Kind::kCounter,
                         "Requests that failed without a reply from Redis, by fault.",
                         "backend_failed", /*info_by_label=*/true};
constexpr Family kSlotMapKnown{"readthru_backend_slot_map_known", Kind::kGauge,
                               "Io threads whose router has a slot map (/readyz waits for all)."};
constexpr Family kCommandDuration{"readthru_backend_command_duration_seconds", Kind::kHistogram,
                                  "Redis commands, from routing to reply."};
constexpr Family kSentinelSwitches{"readthru_sentinel_switches_total", Kind::kCounter,
                                   "New-master events heard for our master.",
                                   "backend_sentinel_switches"};
constexpr Family kSentinelSubscribes{"readthru_sentinel_subscribes_total", Kind::kCounter,
                                     "Sentinel subscriptions made.", "backend_sentinel_subscribes"};
constexpr Family kSentinelStalePolls{"readthru_sentinel_stale_polls_total", Kind::kCounter,
                                     "Sentinel poll answers older than the event followed.",
                                     "backend_sentinel_stale_polls"};
constexpr Family kSentinelSubscribed{"readthru_sentinel_subscribed", Kind::kGauge,
                                     "1 while subscribed to Sentinel's events.",
                                     "backend_sentinel_subscriptions"};
constexpr int kMaxRedirects = 5;
constexpr Millis kTryAgainDelay{25};

struct Redirect {
  bool ask = false;
  std::uint16_t slot = 0;
  config::Endpoint target;
};

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381". Redis 7 may leave the host
// empty (":6381") when it does not know it: the node that answered is then meant.
std::optional<Redirect> parseRedirect(std::string_view error, const config::Endpoint& from) {
  Redirect r;
  r.ask = error.starts_with("ASK ");
  std::string_view rest = error.substr(r.ask ? 4 : 6);
  const auto space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  unsigned slot = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + space, slot);
  if (ec != std::errc{} || slot >= command::kSlotCount) return std::nullopt;
  r.slot = static_cast<std::uint16_t>(slot);
  std::string_view addr = rest.substr(space + 1);
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  unsigned port = 0;
  auto [q, ec2] = std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port);
  if (ec2 != std::errc{} || port == 0 || port > 65535) return std::nullopt;
  r.target.host = colon == 0 ? from.host : std::string(addr.substr(0, colon));
  r.target.port = static_cast<std::uint16_t>(port);
  return r;
}

}  // namespace

BreakerOptions Router::breakerOptions(const config::BreakerConfig& c) {
  BreakerOptions o;
  o.consecutive_failures = c.consecutive_failures;
  o.failure_rate = c.failure_rate_percent / 100.0;
  o.min_requests = c.min_requests;
  o.window = c.window;
  o.open_time = c.open_time;
  o.max_open_time = c.max_open_time;
  return o;
}

Router::Router(boost::asio::io_context& io, config::BackendConfig cfg, int connections_per_node,
               std::shared_ptr<BreakerTable> breakers, std::shared_ptr<const tls::ClientTls> tls)
    : io_(io),
      cfg_(std::move(cfg)),
      connections_per_node_(std::max(1, connections_per_node)),
      sweep_timer_(io),
      refresh_timer_(io),
      breakers_(breakers ? std::move(breakers)
                         : std::make_shared<BreakerTable>(breakerOptions(cfg_.breaker))),
      tls_(std::move(tls)) {
  if (cfg_.tls.enabled && !tls_) {
    auto built = tls::clientContext(cfg_.tls);
    if (!built) throw std::runtime_error(built.error().message);
    tls_ = std::move(*built);
  }
}

Router::~Router() { stop(); }

void Router::collect(metrics::Sink& sink) const {
  sink.add(kTryAgain, stats_.tryagain);
  sink.add(kTopologyRefreshes, stats_.topology_refreshes);
  sink.add(kLateReplies, connection_stats_.late_replies);
  sink.add(kStalls, connection_stats_.stalls);
  sink.add(kCommandDuration, stats_.command_duration);
  sink.add(kSlotMapKnown, stats_.slot_map_known);
  if (cfg_.mode == config::BackendMode::kSentinel) {
    sink.add(kSentinelSwitches, stats_.sentinel_switches);
    sink.add(kSentinelSubscribes, stats_.sentinel_subscribes);
    sink.add(kSentinelStalePolls, stats_.sentinel_stale_polls);
    sink.add(kSentinelSubscribed, stats_.sentinel_subscribed);
  }
  for (int f = 1; f < kFaultSlots; ++f) {
    sink.add(kFailed, stats_.faults[f], {{"fault", std::string(faultName(static_cast<Fault>(f)))}});
  }
  {
    std::lock_guard lock(redirects_mutex_);
    for (const auto& [node, r] : redirects_) {
      sink.add(kMoved, static_cast<double>(r.moved), {{"node", node}});
      sink.add(kAsk, static_cast<double>(r.ask), {{"node", node}});
    }
    // So that INFO and a scrape show them (as 0) before the first redirect.
    if (redirects_.empty()) {
      sink.add(kMoved, 0);
      sink.add(kAsk, 0);
    }
  }
}

// One count per request that failed without a Redis reply, by its fault code.
void Router::countFault(const resp::Value& v) {
  const int f = static_cast<int>(faultOf(v.fault));
  if (f > 0 && f < kFaultSlots) stats_.faults[f].add();
}

// ---------------------------------------------------------------------------------------
// Entry point

void Router::execute(cache::Command cmd, cache::ReplyCallback done) {
  if (map_.empty()) {
    waitForTopology(cmd, done);
    return;
  }
  switch (cmd.spec->route) {
    case command::Route::kSplit:
      executeSplit(std::move(cmd), std::move(done));
      return;
    case command::Route::kFanOut:
      if (cmd.spec->name == "scan") {
        executeScan(std::move(cmd), std::move(done));
      } else {
        executeFanOut(std::move(cmd), std::move(done));
      }
      return;
    default:
      break;
  }
  // Only the first key routes the command (Redis checks that the others share its slot).
  // Most commands have it at a fixed position; the others are parsed.
  std::size_t first_key = 0;  // 0: no key
  if (!cmd.spec->has(command::kMovableKeys) && cmd.spec->first_key > 0) {
    const auto at = static_cast<std::size_t>(cmd.spec->first_key);
    if (at < cmd.args.size()) first_key = at;
  } else {
    auto positions = command::keyPositions(*cmd.spec, cmd.args);
    if (!positions.ok()) {
      done(resp::Value::error(positions.error().message));
      return;
    }
    if (!positions->empty()) first_key = positions->front();
  }
  auto req = std::make_shared<Request>();
  req->affinity = cmd.client_id;
  req->read_only = (cmd.spec->flags & command::kReadonly) != 0;
  req->done = std::move(done);
  const bool keyless = first_key == 0;
  const std::uint16_t slot = keyless ? 0 : slotOf(cmd.args[first_key]);
  req->args = std::move(cmd.args);
  if (keyless) {
    sendToAnyMaster(std::move(req));
  } else {
    sendToSlot(slot, std::move(req));
  }
}

void Router::waitForTopology(cache::Command& cmd, cache::ReplyCallback& done) {
  const auto deadline = Clock::now() + cfg_.command_timeout;
  cache::ReplyCallback fail = done;
  waiting_.push_back({deadline,
                      [this, cmd = std::move(cmd), done = std::move(done)]() mutable {
                        execute(std::move(cmd), std::move(done));
                      },
                      std::move(fail)});
  refreshSoon();
}

// ---------------------------------------------------------------------------------------
// Sending and following redirects

std::uint16_t Router::slotOf(const std::string& key) const {
  // Outside cluster mode one node holds every key, so nothing needs splitting.
  return cfg_.mode == config::BackendMode::kCluster ? command::keyHashSlot(key) : 0;
}

void Router::sendToSlot(std::uint16_t slot, RequestPtr req) {
  const int index = map_.shardOf(slot);
  if (index < 0) {
    refreshSoon();
    resp::Value v = resp::Value::failure(
        Fault::kNoNode, faultText(Fault::kNoNode, "no node serves slot " + std::to_string(slot)));
    countFault(v);
    req->done(std::move(v));
    return;
  }
  const Shard& shard = map_.shard(index);
  if (req->read_only && cfg_.read_from_replicas && !shard.replicas.empty()) {
    const auto& replica = shard.replicas[req->affinity % shard.replicas.size()];
    sendTo(replica, /*replica=*/true, slot, std::move(req), /*asking=*/false);
  } else {
    sendTo(shard.master, /*replica=*/false, slot, std::move(req), /*asking=*/false);
  }
}

std::vector<cache::NodeRef> Router::nodes() const {
  std::vector<cache::NodeRef> out;
  for (const Shard& s : map_.shards()) out.push_back({s.master, false});
  for (const Shard& s : map_.shards()) {
    for (const config::Endpoint& r : s.replicas) out.push_back({r, true});
  }
  return out;
}

// Straight to the node's connection: no slot, no redirect to follow (the command is about
// the node). Affinity 0, so these queue behind nothing of a client's.
void Router::executeOn(const cache::NodeRef& node, std::vector<std::string> args,
                       cache::ReplyCallback done) {
  if (stopped_) {
    done(resp::Value::error("ERR readthru: stopping"));
    return;
  }
  connection(node.endpoint, node.replica ? NodeKind::kReplica : NodeKind::kMaster, 0)
      .send(args, [this, done = std::move(done)](resp::Value v) {
        if (v.isFault()) countFault(v);
        done(std::move(v));
      });
}

void Router::sendToAnyMaster(RequestPtr req) {
  const auto& shards = map_.shards();
  const Shard& shard = shards[any_node_rr_++ % shards.size()];
  sendTo(shard.master, /*replica=*/false, shard.first_slot, std::move(req), /*asking=*/false);
}

void Router::sendTo(const config::Endpoint& node, bool replica, std::uint16_t slot, RequestPtr req,
                    bool asking) {
  NodeConnection& conn =
      connection(node, replica ? NodeKind::kReplica : NodeKind::kMaster, req->affinity);
  auto on_reply = [this, conn = &conn, slot, req](resp::Value v) {
    onReply(conn->endpoint(), slot, req, std::move(v));
  };
  if (asking) {
    conn.sendAsking(req->args, std::move(on_reply));
  } else {
    conn.send(req->args, std::move(on_reply));
  }
}

void Router::onReply(const config::Endpoint& node, std::uint16_t slot, RequestPtr req,
                     resp::Value v) {
  if (v.isFault()) {
    countFault(v);
  } else if (v.isError() && !stopped_) {
    const std::string_view e = v.str;
    if ((e.starts_with("MOVED ") || e.starts_with("ASK ")) && req->redirects < kMaxRedirects) {
      if (auto r = parseRedirect(e, node)) {
        ++req->redirects;
        countRedirect(node, r->ask);
        if (r->ask) {
          sendTo(r->target, /*replica=*/false, r->slot, std::move(req), /*asking=*/true);
        } else {
          map_.moveSlot(r->slot, r->target);
          refreshSoon();
          sendTo(r->target, /*replica=*/false, r->slot, std::move(req), /*asking=*/false);
        }
        return;
      }
    }
    if (e.starts_with("TRYAGAIN") && tryAgainLater(*req)) {
      // A multi-key command met a slot in the middle of a migration, its keys split
      // between the two nodes: Redis asks to retry once the rest has moved.
      stats_.tryagain.add();
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, kTryAgainDelay);
      timer->async_wait([this, timer, slot, req](boost::system::error_code ec) {
        if (!ec && !stopped_) sendToSlot(slot, req);
      });
      return;
    }
    if (e.starts_with("READONLY") && cfg_.mode == config::BackendMode::kSentinel) {
      // We wrote to a master that was demoted: Sentinel knows the new one.
      refreshSoon();
    }
  }
  stats_.command_duration.observe(Clock::now() - req->started);
  req->done(std::move(v));
}

void Router::countRedirect(const config::Endpoint& node, bool ask) {
  std::lock_guard lock(redirects_mutex_);
  Redirects& r = redirects_[node.str()];
  ++(ask ? r.ask : r.moved);
}

// Whether a request that got -TRYAGAIN may be retried. Keys stay split for as long as
// the migration of their slot takes (seconds with many keys), far longer than a few
// redirects: so retries run until command_timeout after the first -TRYAGAIN, and each
// retry gets a fresh redirect budget (a retry goes to the source again, which may answer
// -ASK before the target answers -TRYAGAIN once more). A client sees -TRYAGAIN only when
// the split outlasts the deadline.
bool Router::tryAgainLater(Request& req) const {
  const auto now = Clock::now();
  if (req.retry_until == Clock::time_point{}) req.retry_until = now + cfg_.command_timeout;
  if (now + kTryAgainDelay > req.retry_until) return false;
  req.redirects = 0;
  return true;
}

NodeConnection& Router::connection(const config::Endpoint& node, NodeKind kind,
                                   std::uint64_t affinity) {
  std::string key = node.str();
  if (kind == NodeKind::kReplica) key += "/replica";
  if (kind == NodeKind::kSentinel) key += "/sentinel";
  auto& pool = pools_[key];
  if (pool.empty()) {
    NodeOptions options;
    options.connect_timeout = cfg_.connect_timeout;
    options.command_timeout = cfg_.command_timeout;
    options.node_timeout = cfg_.node_timeout;
    options.max_queued_requests = cfg_.max_queued_requests;
    options.max_queued_bytes = cfg_.max_queued_bytes;
    options.stats = &connection_stats_;
    options.tls = tls_;
    // Sentinels have credentials of their own (backend.sentinel.*), as in Redis clients.
    options.username = kind == NodeKind::kSentinel ? cfg_.sentinel_username : cfg_.username;
    options.password = kind == NodeKind::kSentinel ? cfg_.sentinel_password : cfg_.password;
    if (kind != NodeKind::kSentinel) {
      // One breaker per node and role (a replica used for reads is judged on its own).
      options.breaker = breakers_->get(key);
    }
    options.readonly = kind == NodeKind::kReplica;
    const int count = kind == NodeKind::kSentinel ? 1 : connections_per_node_;
    for (int i = 0; i < count; ++i) {
      auto conn = std::make_shared<NodeConnection>(io_, node, options);
      if (kind != NodeKind::kSentinel) {
        conn->onBroken([this] { refreshSoon(); });
      }
      pool.push_back(std::move(conn));
    }
  }
  return *pool[affinity % pool.size()];
}

}  // namespace readthru::backend::redis
