#include "cache/cdc_applier.hpp"

#include "common/log.hpp"

namespace readthru::cache {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Millis kRetry{1000};
constexpr std::size_t kMaxMerged = 1000;  // transactions applied in one go

// Renews the lease only while it is still ours.
constexpr const char* kRenewScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
constexpr const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

bool isCumulative(const std::string& name) {
  // Gauges describe the current source only; counts add up across terms.
  return name != "cdc_connected" && name != "cdc_confirmed_lsn" && name != "cdc_lag_bytes" &&
         name != "cdc_lag_ms";
}

// What a queued transaction weighs: the names it invalidates.
std::size_t nameBytes(const Invalidations& inv) {
  std::size_t n = 0;
  for (const auto* names : {&inv.keys, &inv.tags, &inv.keyspaces}) {
    for (const std::string& name : *names) n += name.size();
  }
  return n;
}

}  // namespace

CdcApplier::CdcApplier(boost::asio::io_context& io, Backend& redis, ReadThrough& read_through,
                       std::shared_ptr<const KeyspaceRules> rules, SourceFactory make_source,
                       Options options)
    : io_(io),
      redis_(redis),
      read_through_(read_through),
      mapper_(std::move(rules)),
      make_source_(std::move(make_source)),
      options_(std::move(options)),
      leader_key_("readthru:cdc:leader:{" + options_.slot + "}"),
      tick_timer_(io),
      retry_timer_(io) {}

CdcApplier::~CdcApplier() { stop(); }

void CdcApplier::start() {
  spdlog::info("cdc: tables {}; competing for the leader lease '{}'",
               fmt::join(mapper_.tables(), ", "), leader_key_);
  tick();
}

void CdcApplier::stop() {
  if (stopped_) return;
  stopped_ = true;
  tick_timer_.cancel();
  retry_timer_.cancel();
  {
    std::lock_guard lock(source_mutex_);
    if (source_) source_->stop();
  }
  if (leading_) {
    // Another instance may lead now rather than when the lease runs out: what we applied
    // is confirmed, and what we did not the database sends the next leader again.
    redis_.send({"EVAL", kReleaseScript, "1", leader_key_, options_.instance}, [](resp::Value) {});
  }
}

// Every third of the lease: renew it while leading, else try to take it.
void CdcApplier::tick() {
  if (stopped_) return;
  const std::string ms = std::to_string(options_.lease.count());
  const auto sent = Clock::now();
  if (leading_ && source_ && source_->streaming()) last_streaming_ = sent;
  if (leading_ && sent - last_streaming_ > 3 * options_.lease) {
    stepDown("no change stream from the database for " +
             std::to_string(3 * options_.lease.count()) + " ms; letting another instance try");
    redis_.send({"EVAL", kReleaseScript, "1", leader_key_, options_.instance}, [](resp::Value) {});
    compete_after_ = sent + 2 * options_.lease;
  }
  if (leading_) {
    redis_.send({"EVAL", kRenewScript, "1", leader_key_, options_.instance, ms},
                [this, sent](resp::Value v) {
                  if (stopped_ || !leading_) return;
                  if (v.type == resp::Type::kInteger && v.integer == 1) {
                    lease_until_ = sent + options_.lease;
                  } else if (v.type == resp::Type::kInteger) {
                    stepDown("the lease went to another instance");
                  } else if (Clock::now() >= lease_until_) {
                    stepDown("the lease could not be renewed: " + v.str);
                  }
                });
  } else if (sent >= compete_after_) {
    redis_.send({"SET", leader_key_, options_.instance, "NX", "PX", ms},
                [this, sent](resp::Value v) {
                  if (stopped_ || leading_ || v.type != resp::Type::kSimple) return;
                  lease_until_ = sent + options_.lease;
                  lead();
                });
  }
  tick_timer_.expires_after(options_.lease / 3);
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

void CdcApplier::lead() {
  leading_ = true;
  ++term_;
  leader_.store(1, std::memory_order_relaxed);
  terms_.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("cdc: leading (this instance reads the change stream)");
  {
    std::lock_guard lock(source_mutex_);
    source_ = make_source_();
  }
  last_streaming_ = Clock::now();  // the grace period to get streaming starts now
  describe(term_);
}

// The database's view of the tables before streaming: names resolve through its
// search_path, and a rule that cannot see some changes is reported once per term. Until
// the names are resolved the changes could not be matched to rules, so nothing streams
// (and nothing is confirmed) before then.
void CdcApplier::describe(std::uint64_t term) {
  source_->describeTables(mapper_.tables(), [this, term](Result<std::vector<TableInfo>> r) {
    if (stopped_ || term != term_ || !leading_) return;
    if (!r) {
      spdlog::warn("cdc: cannot read the tables' definitions yet: {}", r.error().message);
      retry_timer_.expires_after(kRetry);
      retry_timer_.async_wait([this, term](boost::system::error_code ec) {
        if (!ec && term == term_ && leading_) describe(term);
      });
      return;
    }
    mapper_.resolve(*r);
    const auto problems = mapper_.check(*r);
    rule_problems_.store(problems.size(), std::memory_order_relaxed);
    for (const auto& p : problems) spdlog::error("cdc: {}", p);
    source_->start([this, term](Transaction txn) {
      if (term == term_ && leading_) onCommit(std::move(txn));
    });
  });
}

void CdcApplier::stepDown(const std::string& why) {
  spdlog::warn("cdc: no longer leading: {}", why);
  leading_ = false;
  ++term_;
  leader_.store(0, std::memory_order_relaxed);
  queue_.clear();  // not confirmed: the next leader is sent them again
  queued_bytes_ = 0;
  paused_ = false;  // the source goes with the term
  publishQueue();
  applying_ = false;
  retry_timer_.cancel();
  std::lock_guard lock(source_mutex_);
  if (!source_) return;
  source_->stop();
  // Keep the counts of this term in INFO.
  for (const Counter& c : source_->counters()) {
    if (!isCumulative(c.name)) continue;
    auto it = std::find_if(retired_.begin(), retired_.end(),
                           [&](const Counter& r) { return r.name == c.name; });
    if (it == retired_.end()) {
      retired_.push_back(c);
    } else {
      it->value += c.value;
    }
  }
  source_.reset();
}

// Mapped on arrival: the queue holds what the transaction invalidates, not its rows.
void CdcApplier::onCommit(Transaction txn) {
  Queued q;
  q.end_lsn = txn.end_lsn;
  for (const RowChange& c : txn.changes) mapper_.map(c, q.inv);
  q.bytes = nameBytes(q.inv);
  queued_bytes_ += q.bytes;
  queue_.push_back(std::move(q));
  // One transaction over the byte bound is still taken: it could never be applied else.
  if (!paused_ && (queue_.size() >= options_.max_queued_transactions ||
                   queued_bytes_ >= options_.max_queued_bytes)) {
    paused_ = true;
    pauses_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("cdc: {} transactions ({} bytes of keys) wait for Redis; pausing the stream",
                 queue_.size(), queued_bytes_);
    source_->pause();
  }
  publishQueue();
  if (!applying_) applyQueued();
}

void CdcApplier::dequeue(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) queued_bytes_ -= queue_[i].bytes;
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  // Half of both bounds, so that a queue at the edge does not pause and resume per commit.
  if (paused_ && queue_.size() <= options_.max_queued_transactions / 2 &&
      queued_bytes_ <= options_.max_queued_bytes / 2) {
    paused_ = false;
    spdlog::info("cdc: Redis caught up ({} transactions wait); resuming the stream", queue_.size());
    source_->resume();
  }
  publishQueue();
}

void CdcApplier::publishQueue() {
  queued_gauge_.store(queue_.size(), std::memory_order_relaxed);
  queued_bytes_gauge_.store(queued_bytes_, std::memory_order_relaxed);
  paused_gauge_.store(paused_ ? 1 : 0, std::memory_order_relaxed);
}

void CdcApplier::applyQueued() {
  if (queue_.empty() || stopped_ || !leading_) {
    applying_ = false;
    return;
  }
  applying_ = true;
  const std::size_t n = std::min(queue_.size(), kMaxMerged);
  Invalidations inv;
  for (std::size_t i = 0; i < n; ++i) {
    const Invalidations& q = queue_[i].inv;
    inv.keys.insert(q.keys.begin(), q.keys.end());
    inv.tags.insert(q.tags.begin(), q.tags.end());
    inv.keyspaces.insert(q.keyspaces.begin(), q.keyspaces.end());
  }
  const Lsn confirm = queue_[n - 1].end_lsn;
  struct Gather {
    std::size_t remaining = 1;
    std::string error;
  };
  auto gather = std::make_shared<Gather>();
  auto finish = [this, gather, n, confirm, term = term_] {
    if (--gather->remaining > 0 || term != term_ || !leading_) return;
    if (!gather->error.empty()) {
      apply_errors_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("cdc: invalidation failed, retrying: {}", gather->error);
      retry_timer_.expires_after(kRetry);
      retry_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) applyQueued();
      });
      return;
    }
    source_->confirm(confirm);
    applied_.fetch_add(n, std::memory_order_relaxed);
    dequeue(n);
    applyQueued();
  };
  auto done = [gather, finish](resp::Value v) {
    if (v.isError() && gather->error.empty()) gather->error = v.str;
    finish();
  };
  const auto source = InvalidationSource::kCdc;
  if (!inv.keys.empty()) {
    ++gather->remaining;
    read_through_.invalidateKeys({inv.keys.begin(), inv.keys.end()}, 0, done, source);
  }
  if (!inv.tags.empty()) {
    ++gather->remaining;
    read_through_.invalidateTags({inv.tags.begin(), inv.tags.end()}, source, done);
  }
  for (const std::string& ks : inv.keyspaces) {
    ++gather->remaining;
    read_through_.invalidateKeyspace(ks, source, done);
  }
  finish();
}

std::vector<Counter> CdcApplier::counters() const {
  std::vector<Counter> out{{"cdc_leader", counterValue(leader_)},
                           {"cdc_leader_terms", counterValue(terms_)},
                           {"cdc_transactions_applied", counterValue(applied_)},
                           {"cdc_apply_errors", counterValue(apply_errors_)},
                           {"cdc_rule_problems", counterValue(rule_problems_)},
                           {"cdc_queued_transactions", counterValue(queued_gauge_)},
                           {"cdc_queued_bytes", counterValue(queued_bytes_gauge_)},
                           {"cdc_paused", counterValue(paused_gauge_)},
                           {"cdc_pauses", counterValue(pauses_)}};
  std::lock_guard lock(source_mutex_);
  std::vector<Counter> source = source_ ? source_->counters() : std::vector<Counter>{};
  for (const Counter& r : retired_) {
    auto it = std::find_if(source.begin(), source.end(),
                           [&](const Counter& c) { return c.name == r.name; });
    if (it == source.end()) {
      source.push_back(r);
    } else {
      it->value += r.value;
    }
  }
  out.insert(out.end(), source.begin(), source.end());
  return out;
}

}  // namespace readthru::cache
