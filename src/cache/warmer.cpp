#include "cache/warmer.hpp"

#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "cache/lease_scripts.hpp"
#include "cache/load_batcher.hpp"
#include "common/log.hpp"

namespace readthru::cache {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Millis kReadyPoll{100};
constexpr auto kProgressEvery = std::chrono::seconds(5);

using metrics::Family;
using metrics::Kind;
constexpr Family kKeys{"readthru_warm_keys_total", Kind::kCounter,
                       "Keys a warm-up loaded or found cached, by keyspace.", "warm_keys"};
constexpr Family kErrors{"readthru_warm_errors_total", Kind::kCounter,
                         "Keys a warm-up could not load, by keyspace.", "warm_errors"};
constexpr Family kRuns{"readthru_warm_runs_total", Kind::kCounter,
                       "Warm-ups this instance ran to their end, by keyspace.", "warm_runs"};
constexpr Family kInProgress{"readthru_warm_in_progress", Kind::kGauge,
                             "Warm-ups running in this instance.", "warm_in_progress"};
constexpr Family kPending{"readthru_warm_pending", Kind::kGauge,
                          "Keyspaces with ready_after_warm whose first warm-up has not ended.",
                          "warm_pending"};

std::int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

}  // namespace

// One warm-up of one keyspace. Held by the handlers in flight; its timers die with it.
struct Warmer::Job {
  Job(boost::asio::io_context& io) : renew_timer(io), timer(io) {}
  std::shared_ptr<KeyspaceRules> rules;  // keeps `ks` alive across a reload
  const Keyspace* ks = nullptr;
  config::WarmConfig cfg;
  bool at_start = false;
  bool holds_lease = false;
  bool done = false;
  std::string lease_key;
  ReplyCallback reply;  // empty at start
  boost::asio::steady_timer renew_timer, timer;
  Clock::time_point started = Clock::now(), waiting_since{}, batch_started{}, last_log{};
  std::vector<std::string> keys;
  std::size_t next = 0;          // first key of the next batch
  std::size_t in_batch = 0;      // keys of the running batch not answered yet
  std::size_t finished = 0;      // keys answered
  std::size_t batch_keys = 0;    // keys in the running batch
  std::size_t warmed = 0;        // keys now cached (loaded, or found there)
  std::size_t errors = 0;        // rows skipped and keys whose load failed
  std::size_t logged_tenth = 0;  // progress lines are at each tenth
  std::string first_error;
};

Warmer::Warmer(boost::asio::io_context& io, Backend& redis, ReadThrough& read_through,
               QueryRunner run_query, Options options)
    : io_(io),
      redis_(redis),
      read_through_(read_through),
      run_query_(std::move(run_query)),
      options_(std::move(options)) {}

Warmer::~Warmer() { stop(); }

Warmer::KeyspaceCounts& Warmer::counts(const std::string& name) {
  std::lock_guard lock(counts_mutex_);
  auto& c = counts_[name];
  if (!c) c = std::make_unique<KeyspaceCounts>();
  return *c;
}

void Warmer::collect(metrics::Sink& sink) const {
  sink.add(kInProgress, in_progress_);
  sink.add(kPending, pending_gauge_);
  std::lock_guard lock(counts_mutex_);
  for (const auto& [name, c] : counts_) {
    sink.add(kKeys, c->keys, {{"keyspace", name}});
    sink.add(kErrors, c->errors, {{"keyspace", name}});
    sink.add(kRuns, c->runs, {{"keyspace", name}});
  }
}

void Warmer::start(const std::shared_ptr<KeyspaceRules>& rules) {
  if (stopped_) return;
  for (const auto& ks : rules->keyspaces()) {
    const config::KeyspaceConfig& c = ks->cfg();
    if (!c.warm || !c.warm->on_start) continue;
    if (c.ready_after_warm) pending_.insert(c.name);
    counts(c.name);  // the series exist from the start, at 0
    takeLease(makeJob(rules, *ks, /*at_start=*/true, nullptr));
  }
  pending_gauge_.set(static_cast<std::int64_t>(pending_.size()));
}

void Warmer::warm(const std::shared_ptr<KeyspaceRules>& rules, const std::string& name,
                  ReplyCallback done) {
  if (stopped_) {
    done(resp::Value::error("ERR readthru: stopping"));
    return;
  }
  const Keyspace* ks = nullptr;
  for (const auto& k : rules->keyspaces()) {
    if (k->name() == name) ks = k.get();
  }
  if (ks == nullptr) {
    done(resp::Value::error("ERR readthru: no keyspace named '" + name + "'"));
    return;
  }
  if (!ks->cfg().warm) {
    done(resp::Value::error("ERR readthru: keyspace '" + name + "' has no warm query"));
    return;
  }
  if (running_.count(name) != 0) {
    done(resp::Value::error("ERR readthru: keyspace '" + name + "' is already warming"));
    return;
  }
  takeLease(makeJob(rules, *ks, /*at_start=*/false, std::move(done)));
}

std::shared_ptr<Warmer::Job> Warmer::makeJob(const std::shared_ptr<KeyspaceRules>& rules,
                                             const Keyspace& ks, bool at_start,
                                             ReplyCallback done) {
  auto job = std::make_shared<Job>(io_);
  job->rules = rules;
  job->ks = &ks;
  job->cfg = *ks.cfg().warm;
  job->at_start = at_start;
  job->lease_key = "readthru:warm:{" + ks.name() + "}";
  job->reply = std::move(done);
  running_[ks.name()] = job;
  in_progress_.add(1);
  return job;
}

void Warmer::takeLease(const std::shared_ptr<Job>& job) {
  const std::string ms = std::to_string(options_.lease.count());
  redis_.send(
      {"SET", job->lease_key, options_.instance, "NX", "PX", ms}, [this, job](resp::Value v) {
        if (job->done) return;
        if (v.type == resp::Type::kSimple) {
          job->holds_lease = true;
          renew(job);
          waitReady(job);
        } else if (v.isError()) {
          finish(job, "cannot take the warm lease: " + v.str);
        } else if (job->at_start) {
          spdlog::info("warm '{}': another instance holds the warm lease; waiting for it",
                       job->ks->name());
          job->waiting_since = Clock::now();
          waitForOther(job);
        } else {
          finish(job, "keyspace '" + job->ks->name() + "' is being warmed by another instance");
        }
      });
}

// At start, without the lease: the keyspace counts as warm once the holder lets it go.
void Warmer::waitForOther(const std::shared_ptr<Job>& job) {
  redis_.send({"EXISTS", job->lease_key}, [this, job](resp::Value v) {
    if (job->done) return;
    if (v.type == resp::Type::kInteger && v.integer == 0) {
      spdlog::info("warm '{}': warmed by another instance", job->ks->name());
      finish(job, "");
      return;
    }
    if (Clock::now() - job->waiting_since > options_.other_wait) {
      finish(job, "the other instance's warm-up did not end within " +
                      std::to_string(options_.other_wait.count()) + " ms");
      return;
    }
    job->timer.expires_after(options_.lease / 3);
    job->timer.async_wait([this, job](boost::system::error_code ec) {
      if (!ec && !job->done) waitForOther(job);
    });
  });
}

void Warmer::renew(const std::shared_ptr<Job>& job) {
  job->renew_timer.expires_after(options_.lease / 3);
  job->renew_timer.async_wait([this, job](boost::system::error_code ec) {
    if (ec || job->done) return;
    redis_.send({"EVAL", kRenewLeaseScript, "1", job->lease_key, options_.instance,
                 std::to_string(options_.lease.count())},
                [this, job](resp::Value v) {
                  if (job->done) return;
                  if (v.type == resp::Type::kInteger && v.integer == 0) {
                    job->holds_lease = false;
                    finish(job, "the warm lease went to another instance");
                    return;
                  }
                  renew(job);  // an error: the next renewal may get through
                });
  });
}

// The loads need the keyspace's statements prepared; at start the pools may still connect.
void Warmer::waitReady(const std::shared_ptr<Job>& job) {
  const auto state = read_through_.keyspaceState(job->ks->name());
  if (!state) {
    finish(job, "the keyspace is gone (reloaded away)");
    return;
  }
  if (*state == Keyspace::State::kReady) {
    query(job);
    return;
  }
  if (*state == Keyspace::State::kFailed) {
    finish(job, "the keyspace is disabled: " + job->ks->failure());
    return;
  }
  if (Clock::now() - job->started > options_.ready_wait) {
    finish(job, "the keyspace's statements were not prepared within " +
                    std::to_string(options_.ready_wait.count()) + " ms");
    return;
  }
  job->timer.expires_after(kReadyPoll);
  job->timer.async_wait([this, job](boost::system::error_code ec) {
    if (!ec && !job->done) waitReady(job);
  });
}

void Warmer::query(const std::shared_ptr<Job>& job) {
  run_query_(job->cfg.query, [this, job](Result<RowSet> rows) {
    if (job->done) return;
    if (!rows) {
      finish(job, "warm query failed: " + rows.error().message);
      return;
    }
    const KeyPattern& pattern = job->ks->pattern();
    const std::size_t captures = pattern.captureNames().size();
    const std::size_t width = rows->rows.empty() ? captures : rows->rows.front().size();
    if (width != captures) {
      finish(job, "warm query returns " + std::to_string(width) + " column(s); the pattern " +
                      pattern.text() + " has " + std::to_string(captures) + " capture(s)");
      return;
    }
    std::vector<std::string_view> values(captures);
    std::vector<std::string_view> check;
    for (const auto& row : rows->rows) {
      bool ok = true;
      for (std::size_t i = 0; i < captures && ok; ++i) {
        ok = row[i].has_value();
        if (ok) values[i] = *row[i];
      }
      std::string key = ok ? pattern.render(values) : std::string();
      // A value that does not fit the pattern (a ':' inside one) would name another key.
      if (!ok || !pattern.match(key, check)) {
        ++job->errors;
        continue;
      }
      job->keys.push_back(std::move(key));
    }
    counts(job->ks->name()).errors.add(job->errors);
    job->last_log = Clock::now();
    spdlog::info(
        "warm '{}': {} keys to load{}, batches of {}{}", job->ks->name(), job->keys.size(),
        job->errors > 0 ? " (" + std::to_string(job->errors) +
                              " rows skipped: NULL or "
                              "not fitting the pattern)"
                        : "",
        job->cfg.batch > 0 ? static_cast<std::size_t>(job->cfg.batch) : LoadBatcher::kMaxBatch,
        job->cfg.rate > 0 ? ", at most " + std::to_string(job->cfg.rate) + "/s" : "");
    nextBatch(job);
  });
}

// All of a batch's keys go in one turn of the loop, so the keyspace's batcher sends the
// ones not cached as one batch query. The next batch starts when this one has been
// answered and the rate allows.
void Warmer::nextBatch(const std::shared_ptr<Job>& job) {
  if (job->next >= job->keys.size()) {
    finish(job, "");
    return;
  }
  const std::size_t size =
      job->cfg.batch > 0 ? static_cast<std::size_t>(job->cfg.batch) : LoadBatcher::kMaxBatch;
  const std::size_t end = std::min(job->keys.size(), job->next + size);
  job->batch_started = Clock::now();
  job->in_batch = end - job->next;
  job->batch_keys = job->in_batch;
  KeyspaceCounts& c = counts(job->ks->name());
  for (; job->next < end; ++job->next) {
    read_through_.warm(job->ks->name(), job->keys[job->next],
                       [this, job, &c](const LoadedPtr& loaded) {
                         if (job->done) return;
                         ++job->finished;
                         if (loaded->kind == Loaded::Kind::kError) {
                           ++job->errors;
                           c.errors.add();
                           if (job->first_error.empty()) job->first_error = loaded->error;
                         } else {
                           ++job->warmed;
                           c.keys.add();
                         }
                         if (--job->in_batch > 0) return;
                         progress(*job, false);
                         job->timer.expires_after(pauseBefore(*job));
                         job->timer.async_wait([this, job](boost::system::error_code ec) {
                           if (!ec && !job->done) nextBatch(job);
                         });
                       });
  }
}

// What `rate` asks to wait after a batch: a batch of n keys may take n/rate seconds.
Millis Warmer::pauseBefore(const Job& job) {
  if (job.cfg.rate <= 0) return Millis(0);
  const auto budget = std::chrono::microseconds(static_cast<std::int64_t>(job.batch_keys) *
                                                1'000'000 / job.cfg.rate);
  const auto spent = Clock::now() - job.batch_started;
  if (spent >= budget) return Millis(0);
  return std::chrono::ceil<Millis>(budget - spent);
}

void Warmer::progress(Job& job, bool force) {
  const std::size_t total = job.keys.size();
  const std::size_t tenth = total == 0 ? 10 : job.finished * 10 / total;
  const bool due = tenth > job.logged_tenth || Clock::now() - job.last_log >= kProgressEvery;
  if (!force && (!due || job.finished == total)) return;
  job.logged_tenth = tenth;
  job.last_log = Clock::now();
  spdlog::info("warm '{}': {} of {} keys ({}%), {} errors, {} ms", job.ks->name(), job.finished,
               total, total == 0 ? 100 : job.finished * 100 / total, job.errors,
               msSince(job.started));
}

void Warmer::finish(const std::shared_ptr<Job>& job, std::string error) {
  if (job->done) return;
  job->done = true;
  job->renew_timer.cancel();
  job->timer.cancel();
  if (job->holds_lease) {
    redis_.send({"EVAL", kReleaseLeaseScript, "1", job->lease_key, options_.instance},
                [](resp::Value) {});
  }
  const std::string& name = job->ks->name();
  running_.erase(name);
  in_progress_.add(-1);
  // The first warm-up counts as ended even when it failed: readiness waits for the
  // attempt, not for a database that may never answer (the failure is logged).
  if (job->at_start && pending_.erase(name) > 0) {
    pending_gauge_.set(static_cast<std::int64_t>(pending_.size()));
  }
  const std::int64_t ms = msSince(job->started);
  if (!error.empty()) {
    spdlog::warn("warm '{}': failed after {} ms: {}", name, ms, error);
    if (job->reply) job->reply(resp::Value::error("ERR readthru: warm-up failed: " + error));
    return;
  }
  if (!job->holds_lease) {
    if (job->reply) job->reply(resp::Value::bulk("keyspace '" + name + "' warmed elsewhere"));
    return;
  }
  counts(name).runs.add();
  const std::string summary = "warmed " + std::to_string(job->warmed) + " keys of keyspace '" +
                              name + "' in " + std::to_string(ms) + " ms, " +
                              std::to_string(job->errors) + " errors";
  spdlog::info("warm '{}': done: {}{}", name, summary,
               job->first_error.empty() ? "" : " (first: " + job->first_error + ")");
  if (job->reply) job->reply(resp::Value::bulk(summary));
}

void Warmer::stop() {
  if (stopped_) return;
  stopped_ = true;
  auto jobs = running_;
  for (auto& [name, job] : jobs) finish(job, "readthru is stopping");
}

}  // namespace readthru::cache
