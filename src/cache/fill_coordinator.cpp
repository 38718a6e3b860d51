#include "cache/fill_coordinator.hpp"

#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <random>

#include "cache/fill_script.hpp"
#include "cache/row_encoding.hpp"
#include "cache/side_keys.hpp"
#include "cache/stale_ladder.hpp"
#include "common/fault.hpp"

namespace readthru::cache {
namespace {

using Clock = std::chrono::steady_clock;

using metrics::Family;
using metrics::Kind;
constexpr Family kLeaseWaits{"readthru_lease_waits_total", Kind::kCounter,
                             "Fills that waited for another instance's load of the key.",
                             "readthru_lease_waits"};
constexpr Family kLeaseTakeovers{"readthru_lease_takeovers_total", Kind::kCounter,
                                 "Fills that loaded after another instance's lease ran out.",
                                 "readthru_lease_takeovers"};
constexpr Family kStoreErrors{"readthru_store_errors_total", Kind::kCounter,
                              "Loaded values Redis failed to store.", "readthru_store_errors"};
constexpr Family kValuesTooBig{"readthru_values_too_big_total", Kind::kCounter,
                               "Loaded values over max_value_bytes, served and not stored.",
                               "readthru_values_too_big"};
constexpr Family kFillsCancelled{"readthru_fills_cancelled_total", Kind::kCounter,
                                 "Fills not stored because the key was invalidated meanwhile.",
                                 "readthru_fills_cancelled"};
constexpr Family kFillsRejected{"readthru_fills_rejected_total", Kind::kCounter,
                                "Fills the fill script refused (the lease was lost).",
                                "readthru_fills_rejected"};
constexpr Millis kFirstPoll{2};
constexpr Millis kMaxPoll{50};

// The stored form of a load's rows, by the keyspace's format. No row (or, for value and
// hash, nothing but NULL) is "not found".
LoadedPtr encode(const Keyspace& ks, const RowSet& rs) {
  auto out = std::make_shared<Loaded>();
  out->kind = Loaded::Kind::kNotFound;
  if (rs.rows.empty()) return out;
  switch (ks.cfg().format) {
    case config::KeyspaceFormat::kJson:
      out->value = encodeJsonObject(rs, 0);
      break;
    case config::KeyspaceFormat::kRows:
      out->value = encodeJsonRows(rs);
      break;
    case config::KeyspaceFormat::kValue: {
      auto v = encodeValue(rs, 0);
      if (!v) return out;
      out->value = std::move(*v);
      break;
    }
    case config::KeyspaceFormat::kHash:
      out->fields = encodeHash(rs, 0);
      if (out->fields.empty()) return out;
      break;
  }
  out->kind = Loaded::Kind::kFound;
  return out;
}

std::size_t storedSize(const Loaded& l) {
  std::size_t n = l.value.size();
  for (const auto& [f, v] : l.fields) n += f.size() + v.size();
  return n;
}

bool found(const resp::Value& read) {
  return read.type == resp::Type::kBulk || (read.isArray() && !read.elements.empty());
}

// A hit seen during the lease step, as a Loaded (GET gives the value, HGETALL the pairs).
LoadedPtr fromRead(resp::Value read) {
  auto out = std::make_shared<Loaded>();
  out->kind = Loaded::Kind::kFound;
  if (read.type == resp::Type::kBulk) {
    out->value = std::move(read.str);
    return out;
  }
  for (std::size_t i = 0; i + 1 < read.elements.size(); i += 2) {
    out->fields.emplace_back(std::move(read.elements[i].str), std::move(read.elements[i + 1].str));
  }
  return out;
}

}  // namespace

// One leader's load of one key; shared by the callbacks of its steps.
struct FillCoordinator::Fill {
  SingleFlight::FlightPtr flight;
  GenerationPtr gen;     // keeps *ks and its batcher alive across a reload
  std::string meta_key;  // with a ladder: the value's freshness, written with it
  bool reload = false;   // replaces a value Redis still holds (refresh ahead, stale)
  Clock::time_point load_started;
  const Keyspace* ks = nullptr;
  std::string logical;  // as the client named it: its captures feed the query
  std::string key;      // as Redis holds it (Keyspace::physicalKey)
  std::string state_key;
  std::string lease;  // "lease:<instance>:<n>", our value for the state key
  bool redis_ok = true;
  bool leased = false;
  bool no_store = false;  // serve the result, store nothing (its tags were not recorded)
  Clock::time_point wait_until;
  Millis poll = kFirstPoll;
  int replies = 0;
  resp::Value step[3];  // SET state NX GET, read, and the tag epoch when it is needed
  // The tag epoch when the lease step ran (keyspaces with result-column tags; see
  // tag_recorder.cpp).
  std::optional<std::int64_t> tag_epoch;
  std::optional<boost::asio::steady_timer> timer;
};

FillCoordinator::FillCoordinator(boost::asio::io_context& io, SingleFlight& flights, Backend& redis,
                                 Options options)
    : io_(io),
      flights_(flights),
      redis_(redis),
      options_(std::move(options)),
      tags_(redis, options_.lease_time) {}

void FillCoordinator::forget(const std::string& key) {
  flights_.invalidate(key);
  if (options_.gutter != nullptr) options_.gutter->erase(key);
}

// The reader's own end of a miss: whichever comes first, the load's outcome or the
// keyspace's request_deadline, answers it, once. The load goes on regardless (its result
// is stored for the next reader, and other waiters may still be in time).
LoadedCallback FillCoordinator::withDeadline(const GenerationPtr& gen, const Keyspace& ks,
                                             const std::string& logical, LoadedCallback done) {
  struct Reader {
    explicit Reader(boost::asio::io_context& io) : timer(io) {}
    boost::asio::steady_timer timer;
    LoadedCallback done;
  };
  auto reader = std::make_shared<Reader>(io_);
  reader->done = std::move(done);
  const Millis limit = ks.cfg().request_deadline;
  reader->timer.expires_after(limit);
  // `gen` keeps `ks` alive for a reader that joined another fill (of any generation).
  reader->timer.async_wait([this, reader, limit, gen, &ks, logical](boost::system::error_code ec) {
    if (ec || !reader->done) return;
    gen->stats(ks).deadlines.add();
    auto answer = std::move(reader->done);
    reader->done = nullptr;
    answer(Loaded::failed(
        faultText(Fault::kDeadline, "read of '" + logical + "' in keyspace '" + ks.name() + "'",
                  "request_deadline " + std::to_string(limit.count()) + "ms"),
        Fault::kDeadline));
  });
  return [reader](const LoadedPtr& loaded) {
    if (!reader->done) return;  // the deadline answered already
    reader->timer.cancel();
    auto answer = std::move(reader->done);
    reader->done = nullptr;
    answer(loaded);
  };
}

// A background reload: led only when no load of the key runs in this process (a hot key
// near its expiry is read many times before the reload ends), and nobody waits for it.
void FillCoordinator::refresh(const GenerationPtr& gen, const Keyspace& ks, std::string logical) {
  std::string key = ks.physicalKey(logical);
  SingleFlight::FlightPtr flight = flights_.lead(key);
  if (!flight) return;
  gen->stats(ks).background_refreshes.add();
  start(std::move(flight), gen, ks, std::move(logical), std::move(key), true, Fetch::kReload);
}

void FillCoordinator::fetch(const GenerationPtr& gen, const Keyspace& ks, std::string logical,
                            bool redis_ok, LoadedCallback done, Fetch kind) {
  done = withDeadline(gen, ks, logical, std::move(done));
  std::string key = ks.physicalKey(logical);
  SingleFlight::FlightPtr flight = flights_.join(key, io_.get_executor(), std::move(done));
  if (!flight) {
    gen->stats(ks).coalesced.add();
    return;
  }
  start(std::move(flight), gen, ks, std::move(logical), std::move(key), redis_ok, kind);
}

void FillCoordinator::start(SingleFlight::FlightPtr flight, const GenerationPtr& gen,
                            const Keyspace& ks, std::string logical, std::string key, bool redis_ok,
                            Fetch kind) {
  auto fill = std::make_shared<Fill>();
  fill->flight = std::move(flight);
  fill->gen = gen;
  fill->ks = &ks;
  fill->state_key = stateKey(key);
  if (ks.ladder().enabled()) fill->meta_key = metaKey(key);
  fill->reload = kind == Fetch::kReload;
  fill->key = std::move(key);
  fill->logical = std::move(logical);
  fill->lease = std::string(kLeasePrefix) + options_.instance + ":" + std::to_string(++next_token_);
  fill->redis_ok = redis_ok;
  // A lease that outlives its holder expires; waiting a little longer lets us take over.
  fill->wait_until = Clock::now() + options_.lease_time + Millis(500);
  fill->gen->batcher(ks).expect();
  if (!redis_ok) {
    load(fill);
    return;
  }
  leaseStep(fill);
}

// Everything below goes through Backend::send with affinity 0: a fill's pipeline (SET state,
// GET; then the fill script) runs on one connection per node, in the order sent.
void FillCoordinator::leaseStep(const std::shared_ptr<Fill>& fill) {
  fill->replies = 0;
  const bool epoch = fill->ks->hasColumnTags();
  auto collect = [this, fill, epoch](int i) {
    return [this, fill, i, epoch](resp::Value v) {
      fill->step[i] = std::move(v);
      if (++fill->replies == (epoch ? 3 : 2)) afterLease(fill);
    };
  };
  // Read before the load, in parallel with the lease step (another node, usually).
  if (epoch) redis_.send({"GET", std::string(kTagEpochKey)}, collect(2));
  // nil: the lease is ours; "none": the database had no row; "lease:...": another load.
  redis_.send({"SET", fill->state_key, fill->lease, "NX", "PX",
               std::to_string(options_.lease_time.count()), "GET"},
              collect(0));
  redis_.send({fill->ks->isHash() ? "HGETALL" : "GET", fill->key}, collect(1));
}

void FillCoordinator::afterLease(const std::shared_ptr<Fill>& fill) {
  resp::Value& state = fill->step[0];
  resp::Value& read = fill->step[1];
  fill->leased = state.type == resp::Type::kNil;
  fill->tag_epoch = tagEpoch(fill->step[2]);
  // Filled by someone else since our first read; or, for a reload that did not get the
  // lease, what Redis holds while another instance reloads it.
  if (found(read) && !(fill->reload && fill->leased)) {
    fill->gen->batcher(*fill->ks).unexpect();
    release(*fill);
    flights_.finish(fill->flight, fromRead(std::move(read)));
    return;
  }
  if (state.type == resp::Type::kBulk && state.str == kNegativeMarker) {
    fill->gen->stats(*fill->ks).negative_hits.add();
    fill->gen->batcher(*fill->ks).unexpect();
    release(*fill);
    flights_.finish(fill->flight, std::make_shared<Loaded>());
    return;
  }
  if (fill->leased) {
    // Tags that need only the key are recorded before the load: a tag invalidation from
    // now on finds this key and drops our lease, so an older row can never be stored.
    tags_.record(*fill->ks, fill->logical, fill->key, nullptr, std::nullopt, [this, fill](bool ok) {
      fill->no_store = !ok;
      load(fill);
    });
    return;
  }
  if (state.isError() || read.isError()) {  // Redis in trouble: load, don't store
    fill->redis_ok = false;
    load(fill);
    return;
  }
  if (Clock::now() >= fill->wait_until) {  // the holder neither filled nor let go
    stats_.lease_takeovers.add();
    load(fill);
    return;
  }
  // Another instance is loading this key: wait for its fill, polling with back-off.
  stats_.lease_waits.add();
  fill->gen->batcher(*fill->ks).unexpect();
  if (!fill->timer) fill->timer.emplace(io_);
  fill->timer->expires_after(fill->poll);
  fill->poll = std::min(fill->poll * 2, kMaxPoll);
  fill->timer->async_wait([this, fill](boost::system::error_code ec) {
    if (ec) return;
    fill->gen->batcher(*fill->ks).expect();
    leaseStep(fill);
  });
}

void FillCoordinator::load(const std::shared_ptr<Fill>& fill) {
  fill->gen->stats(*fill->ks).loads.add();
  fill->load_started = Clock::now();
  const Keyspace& ks = *fill->ks;
  std::vector<std::string_view> caps;
  ks.pattern().match(fill->logical, caps);
  std::vector<std::string> params;
  params.reserve(ks.paramCaptures().size());
  for (std::size_t i : ks.paramCaptures()) params.emplace_back(caps[i]);
  fill->gen->batcher(ks).add(std::move(params), [this, fill](Result<RowSet> rows) {
    if (!rows) {
      // Nothing is stored; the lease goes so that the next reader may try again.
      fill->gen->stats(*fill->ks).load_errors.add();
      release(*fill);
      const auto& fallback = fill->ks->cfg().fallback_value;
      if (!fill->redis_ok && fallback) {
        // Neither the cache nor the database could answer: the keyspace's stand-in value,
        // served and never stored.
        fill->gen->stats(*fill->ks).fallbacks_served.add();
        auto stand_in = std::make_shared<Loaded>();
        stand_in->kind = Loaded::Kind::kFound;
        stand_in->value = *fallback;
        flights_.finish(fill->flight, std::move(stand_in));
        return;
      }
      flights_.finish(fill->flight,
                      Loaded::failed("ERR readthru: load failed for keyspace '" + fill->ks->name() +
                                     "': " + rows.error().message));
      return;
    }
    LoadedPtr loaded = encode(*fill->ks, *rows);
    if (loaded->kind != Loaded::Kind::kFound || !fill->redis_ok || !fill->leased ||
        !fill->ks->hasColumnTags()) {
      store(fill, std::move(loaded));
      return;
    }
    auto shared_rows = std::make_shared<RowSet>(std::move(*rows));
    tags_.record(*fill->ks, fill->logical, fill->key, shared_rows.get(), fill->tag_epoch,
                 [this, fill, shared_rows, loaded = std::move(loaded)](bool ok) {
                   fill->no_store = fill->no_store || !ok;
                   store(fill, loaded);
                 });
  });
}

void FillCoordinator::store(const std::shared_ptr<Fill>& fill, LoadedPtr loaded) {
  const Keyspace& ks = *fill->ks;
  auto finish = [this, fill, loaded](resp::Value v) {
    if (v.isError()) stats_.store_errors.add();
    flights_.finish(fill->flight, loaded);
  };
  if (!fill->redis_ok) {
    // Redis could not take it: the gutter keeps it a few seconds for the next reads.
    if (options_.gutter != nullptr && !SingleFlight::invalidated(fill->flight)) {
      options_.gutter->put(fill->key, loaded);
    }
    flights_.finish(fill->flight, loaded);
    return;
  }
  if (fill->no_store) {
    release(*fill);
    flights_.finish(fill->flight, loaded);
    return;
  }
  if (SingleFlight::invalidated(fill->flight)) {
    // Invalidated while loading: what we read may be older than the change behind the
    // invalidation. The clients that asked get it; the cache does not.
    stats_.fills_cancelled.add();
    release(*fill);
    flights_.finish(fill->flight, loaded);
    return;
  }
  if (loaded->kind == Loaded::Kind::kFound) {
    if (storedSize(*loaded) > ks.cfg().max_value_size) {
      stats_.values_too_big.add();
      release(*fill);
      flights_.finish(fill->flight, loaded);
      return;
    }
    // The script writes only while our lease is still there (fill_script.hpp), and drops it.
    // With a stale ladder the value outlives its freshness by the grace, and its meta key
    // says until when it is fresh and how long this load took.
    const Millis ttl = ttlWithJitter(ks);
    std::vector<std::string> args{std::string(ks.isHash() ? "h" : "v"), fill->lease,
                                  std::to_string((ttl + ks.ladder().grace()).count())};
    if (!fill->meta_key.empty()) {
      const auto delta =
          std::chrono::duration_cast<Millis>(Clock::now() - fill->load_started).count();
      args.push_back(encodeMeta({unixMillis() + ttl.count(), std::max<std::int64_t>(delta, 1)}));
    }
    if (ks.isHash()) {
      for (const auto& [f, v] : loaded->fields) {
        args.push_back(f);
        args.push_back(v);
      }
    } else {
      args.push_back(loaded->value);
    }
    fillScript(*fill, std::move(args), std::move(finish));
  } else if (ks.cfg().negative_ttl.count() > 0) {
    // The marker replaces our lease in the same key: one write, no moment without either.
    fillScript(*fill, {"n", fill->lease, std::to_string(ks.cfg().negative_ttl.count())},
               std::move(finish));
  } else if (!fill->meta_key.empty()) {
    // The row is gone: a stale copy of it must not stay to be served.
    fillScript(*fill, {"x", fill->lease, "0"}, std::move(finish));
  } else {
    release(*fill);
    flights_.finish(fill->flight, loaded);
  }
}

// Drops our lease, if it is still ours: an expired lease may already belong to another
// instance's load, or have become its "no row" marker.
void FillCoordinator::release(const Fill& fill) {
  if (!fill.leased) return;
  fillScript(fill, {"r", fill.lease, "0"}, [](resp::Value) {});
}

// EVALSHA once the script's digest is known (the first call sends SCRIPT LOAD to every
// master), EVAL until then and after NOSCRIPT (a new node, a failover, SCRIPT FLUSH):
// EVAL caches the script on that node for the next EVALSHA.
void FillCoordinator::fillScript(const Fill& fill, std::vector<std::string> args,
                                 ReplyCallback done) {
  // A release that finds its lease gone is normal (expired, or invalidated); a store is not.
  const bool store = args.front() != "r";
  auto counted = [this, store, done = std::move(done)](resp::Value v) {
    if (store && v.type == resp::Type::kInteger && v.integer == 0) stats_.fills_rejected.add();
    done(std::move(v));
  };
  std::vector<std::string> call{"EVALSHA", script_sha_, fill.meta_key.empty() ? "2" : "3", fill.key,
                                fill.state_key};
  if (!fill.meta_key.empty()) call.push_back(fill.meta_key);
  call.insert(call.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  if (script_sha_.empty()) {
    if (!script_load_sent_) {
      script_load_sent_ = true;
      redis_.send({"SCRIPT", "LOAD", std::string(kFillScript)}, [this](resp::Value v) {
        if (v.type == resp::Type::kBulk)
          script_sha_ = std::move(v.str);
        else
          script_load_sent_ = false;  // try again with the next fill
      });
    }
    call[0] = "EVAL";
    call[1] = std::string(kFillScript);
    redis_.send(std::move(call), std::move(counted));
    return;
  }
  auto retry = call;  // the same call as EVAL, for NOSCRIPT
  retry[0] = "EVAL";
  retry[1] = std::string(kFillScript);
  redis_.send(std::move(call), [this, retry = std::move(retry),
                                counted = std::move(counted)](resp::Value v) mutable {
    if (v.isError() && v.str.starts_with("NOSCRIPT")) {
      redis_.send(std::move(retry), std::move(counted));
      return;
    }
    counted(std::move(v));
  });
}

std::int64_t FillCoordinator::unixMillis() {
  return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Millis FillCoordinator::ttlWithJitter(const Keyspace& ks) {
  const auto ttl = ks.cfg().ttl.count();
  const int jitter = ks.cfg().ttl_jitter_percent;
  if (jitter == 0) return ks.cfg().ttl;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto spread = static_cast<std::uint64_t>(ttl) * static_cast<std::uint64_t>(jitter) / 100;
  const auto cut = spread == 0 ? 0 : rng() % (spread + 1);
  return Millis(std::max<std::int64_t>(1, ttl - static_cast<std::int64_t>(cut)));
}

void FillCoordinator::collect(metrics::Sink& sink) const {
  sink.add(kLeaseWaits, stats_.lease_waits);
  sink.add(kLeaseTakeovers, stats_.lease_takeovers);
  sink.add(kStoreErrors, stats_.store_errors);
  sink.add(kValuesTooBig, stats_.values_too_big);
  sink.add(kFillsCancelled, stats_.fills_cancelled);
  sink.add(kFillsRejected, stats_.fills_rejected);
  tags_.collect(sink);
}

}  // namespace readthru::cache
