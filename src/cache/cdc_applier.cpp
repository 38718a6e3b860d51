#include "cache/cdc_applier.hpp"

#include "cache/lease_scripts.hpp"
#include "common/log.hpp"

namespace readthru::cache {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Millis kRetry{1000};

// One line per change of a retried step's outage (common/outage.hpp), debug otherwise.
void tell(Outage::Say say, const Outage& outage, Clock::time_point now, std::string_view what,
          const std::string& error) {
  switch (say) {
    case Outage::Say::kDown:
      spdlog::warn("cdc: {}, retrying every {} ms: {}", what, kRetry.count(), error);
      break;
    case Outage::Say::kStillDown:
      spdlog::warn("cdc: {}: still failing after {} attempt(s) in {} s: {}", what,
                   outage.failures(), outage.downFor(now).count() / 1000, error);
      break;
    case Outage::Say::kBack:
      spdlog::info("cdc: {} works again after {} failed attempt(s) in {} ms", what,
                   outage.failures(), outage.downFor(now).count());
      break;
    case Outage::Say::kNothing:
      if (!error.empty()) spdlog::debug("cdc: {}: {}", what, error);
  }
}

constexpr std::size_t kMaxMerged = 1000;  // transactions applied in one go

constexpr const char* kRenewScript = kRenewLeaseScript;
constexpr const char* kReleaseScript = kReleaseLeaseScript;

using metrics::Family;
using metrics::Kind;
constexpr Family kLeader{"readthru_cdc_leader", Kind::kGauge,
                         "1 while this instance holds the CDC leader lease.", "cdc_leader"};
constexpr Family kTerms{"readthru_cdc_leader_terms_total", Kind::kCounter,
                        "Times this instance became the CDC leader.", "cdc_leader_terms"};
constexpr Family kApplied{"readthru_cdc_transactions_applied_total", Kind::kCounter,
                          "Committed transactions whose invalidations were applied.",
                          "cdc_transactions_applied"};
constexpr Family kApplyErrors{"readthru_cdc_apply_errors_total", Kind::kCounter,
                              "Failed attempts to apply a transaction's invalidations.",
                              "cdc_apply_errors"};
constexpr Family kRuleProblems{"readthru_cdc_rule_problems", Kind::kGauge,
                               "Keyspace rules CDC cannot follow (see the log).",
                               "cdc_rule_problems"};
constexpr Family kQueued{"readthru_cdc_queued_transactions", Kind::kGauge,
                         "Transactions waiting to be applied.", "cdc_queued_transactions"};
constexpr Family kQueuedBytes{"readthru_cdc_queued_bytes", Kind::kGauge,
                              "Bytes of invalidations waiting to be applied.", "cdc_queued_bytes"};
constexpr Family kPaused{"readthru_cdc_paused", Kind::kGauge,
                         "1 while the change stream is paused because the queue is full.",
                         "cdc_paused"};
constexpr Family kPauses{"readthru_cdc_pauses_total", Kind::kCounter,
                         "Times the change stream was paused for a full queue.", "cdc_pauses"};

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
  leader_.set(1);
  terms_.add();
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
    const auto now = Clock::now();
    if (!r) {
      tell(describe_outage_.failed(now), describe_outage_, now,
           "cannot read the tables' definitions", r.error().message);
      retry_timer_.expires_after(kRetry);
      retry_timer_.async_wait([this, term](boost::system::error_code ec) {
        if (!ec && term == term_ && leading_) describe(term);
      });
      return;
    }
    tell(describe_outage_.succeeded(now), describe_outage_, now, "read the tables' definitions",
         "");
    mapper_.resolve(*r);
    const auto problems = mapper_.check(*r);
    rule_problems_.set(problems.size());
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
  leader_.set(0);
  queue_.clear();  // not confirmed: the next leader is sent them again
  queued_bytes_ = 0;
  paused_ = false;  // the source goes with the term
  publishQueue();
  applying_ = false;
  retry_timer_.cancel();
  std::lock_guard lock(source_mutex_);
  if (!source_) return;
  source_->stop();
  // Keep the counts of this term; gauges describe the current source only.
  metrics::Snapshot term;
  metrics::Sink into(term);
  source_->collect(into);
  metrics::Sink keep(retired_);
  for (const metrics::FamilySamples& f : term.families()) {
    if (f.family->kind != Kind::kCounter) continue;
    for (const metrics::Series& series : f.series) keep.add(*f.family, series.value, series.labels);
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
    pauses_.add();
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
  queued_gauge_.set(queue_.size());
  queued_bytes_gauge_.set(queued_bytes_);
  paused_gauge_.set(paused_ ? 1 : 0);
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
    const auto now = Clock::now();
    if (!gather->error.empty()) {
      apply_errors_.add();
      tell(apply_outage_.failed(now), apply_outage_, now, "invalidation failed", gather->error);
      retry_timer_.expires_after(kRetry);
      retry_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) applyQueued();
      });
      return;
    }
    tell(apply_outage_.succeeded(now), apply_outage_, now, "invalidation", "");
    source_->confirm(confirm);
    applied_.add(n);
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

void CdcApplier::collect(metrics::Sink& sink) const {
  sink.add(kLeader, leader_);
  sink.add(kTerms, terms_);
  sink.add(kApplied, applied_);
  sink.add(kApplyErrors, apply_errors_);
  sink.add(kRuleProblems, rule_problems_);
  sink.add(kQueued, queued_gauge_);
  sink.add(kQueuedBytes, queued_bytes_gauge_);
  sink.add(kPaused, paused_gauge_);
  sink.add(kPauses, pauses_);
  std::lock_guard lock(source_mutex_);
  if (source_) source_->collect(sink);
  sink.add(retired_);
}

}  // namespace readthru::cache
