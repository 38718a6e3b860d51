// The read side of ReadThrough: hits, and turning a load's outcome into the reply of the
// command that asked (GET, HGET, HGETALL, MGET). The miss side is in fill.cpp.

#include "cache/read_through.hpp"

#include <algorithm>
#include <optional>
#include <random>

#include "cache/availability.hpp"
#include "cache/side_keys.hpp"
#include "cache/stale_ladder.hpp"

namespace readthru::cache {
namespace {

using metrics::Family;
using metrics::Kind;
constexpr Family kRefreshes{"readthru_refreshes_total", Kind::kCounter,
                            "READTHRU.REFRESH commands run.", "readthru_refreshes"};

bool isWrongType(const resp::Value& v) { return v.isError() && v.str.starts_with("WRONGTYPE"); }

}  // namespace

ReadThrough::ReadThrough(boost::asio::io_context& io, std::shared_ptr<KeyspaceRules> rules,
                         std::shared_ptr<SourceLoader> db, SingleFlight& flights, Backend& redis,
                         Options options)
    : redis_(redis),
      gutter_(options.gutter),
      slot_(io, std::move(rules), std::move(db), options.threads),
      fills_(io, flights, redis, {options.lease_time, options.instance, options.gutter}),
      invalidator_(slot_, redis, fills_, options.lease_time, options.instance),
      get_(command::lookupName("get")),
      hget_(command::lookupName("hget")),
      hgetall_(command::lookupName("hgetall")),
      mget_(command::lookupName("mget")),
      del_(command::lookupName("del")),
      unlink_(command::lookupName("unlink")) {}

bool ReadThrough::owns(const command::CommandSpec& spec,
                       const std::vector<std::string>& args) const {
  std::vector<std::string_view> caps;
  const KeyspaceRules& rules = slot_.current()->rules();
  if (&spec == get_ || &spec == hget_ || &spec == hgetall_) {
    const Keyspace* ks = rules.match(args[1], caps);
    return ks != nullptr && ks->isHash() == (&spec != get_);
  }
  if (&spec == mget_ || &spec == del_ || &spec == unlink_) {
    for (std::size_t i = 1; i < args.size(); ++i) {
      const Keyspace* ks = rules.match(args[i], caps);
      if (ks != nullptr && (!ks->isHash() || &spec != mget_)) return true;
    }
  }
  return false;
}

void ReadThrough::execute(Command cmd, ReplyCallback done) {
  if (cmd.spec == mget_) {
    mget(std::move(cmd), std::move(done));
    return;
  }
  if (cmd.spec == del_ || cmd.spec == unlink_) {
    // A managed key goes with its state key, and as UNLINK: the server frees it lazily.
    invalidateKeys({cmd.args.begin() + 1, cmd.args.end()}, cmd.client_id, std::move(done));
    return;
  }
  std::vector<std::string_view> caps;
  // owns() just matched it with the same generation: nothing runs between the two.
  GenerationPtr gen = slot_.current();
  const Keyspace* ks = gen->rules().match(cmd.args[1], caps);
  const Read kind = cmd.spec == get_    ? Read::kGet
                    : cmd.spec == hget_ ? Read::kHGet
                                        : Read::kHGetAll;
  readOne(kind, std::move(gen), *ks, std::move(cmd), std::move(done));
}

resp::Value ReadThrough::disabled(KeyspaceStats& st, const Keyspace& ks) {
  st.disabled_errors.add();
  return resp::Value::error("ERR readthru: keyspace '" + ks.name() +
                            "' is disabled: " + ks.failure());
}

// A read that Redis answered with an error: true when the database should answer it
// instead (Redis cannot serve now and the keyspace says `on_cache_down: load`). Otherwise
// the error goes to the client as it is: a refusal by Redis (NOPERM, ...), or an outage
// the keyspace wants reported.
bool ReadThrough::readableWhileDown(KeyspaceStats& st, const Keyspace& ks, const resp::Value& v) {
  if (!cacheUnavailable(v)) return false;
  if (ks.cfg().on_cache_down == config::CacheDownPolicy::kError) {
    st.cache_down_errors.add();
    return false;
  }
  st.cache_down_loads.add();
  return true;
}

LoadedPtr ReadThrough::fromGutter(KeyspaceStats& st, const std::string& key) {
  if (gutter_ == nullptr) return nullptr;
  LoadedPtr kept = gutter_->get(key);
  if (kept) st.gutter_served.add();
  return kept;
}

resp::Value ReadThrough::reply(Read kind, const std::string& field, const Loaded& loaded) {
  if (loaded.kind == Loaded::Kind::kError) {
    return loaded.fault ? resp::Value::failure(loaded.fault, loaded.error)
                        : resp::Value::error(loaded.error);
  }
  const bool found = loaded.kind == Loaded::Kind::kFound;
  switch (kind) {
    case Read::kGet:
      return found ? resp::Value::bulk(loaded.value) : resp::Value::nil();
    case Read::kHGet:
      for (const auto& [f, v] : loaded.fields) {
        if (f == field) return resp::Value::bulk(v);
      }
      return resp::Value::nil();
    case Read::kHGetAll: {
      std::vector<resp::Value> out;
      out.reserve(loaded.fields.size() * 2);
      for (const auto& [f, v] : loaded.fields) {
        out.push_back(resp::Value::bulk(f));
        out.push_back(resp::Value::bulk(v));
      }
      return resp::Value::array(std::move(out));
    }
  }
  return resp::Value::nil();
}

void ReadThrough::readOne(Read kind, GenerationPtr gen, const Keyspace& ks, Command cmd,
                          ReplyCallback done) {
  if (ks.state() == Keyspace::State::kFailed) {
    done(disabled(gen->stats(ks), ks));
    return;
  }
  Target t{kind, std::move(gen), &ks, cmd.args[1],
           kind == Read::kHGet ? cmd.args[2] : std::string()};
  cmd.args[1] = ks.physicalKey(t.key);
  if (ks.ladder().enabled()) {
    readWithFreshness(std::move(t), std::move(cmd), std::move(done));
    return;
  }
  redis_.execute(std::move(cmd),
                 [this, t = std::move(t), done = std::move(done)](resp::Value v) mutable {
                   afterRead(std::move(t), std::move(v), std::move(done));
                 });
}

bool ReadThrough::isHit(Read kind, const resp::Value& v) {
  return kind == Read::kHGetAll ? v.isArray() && !v.elements.empty() : v.type == resp::Type::kBulk;
}

// What Redis answered a read: a hit, a miss to load, or an outage to fail open from.
void ReadThrough::afterRead(Target t, resp::Value v, ReplyCallback done) {
  const Keyspace& ks = *t.ks;
  KeyspaceStats& st = t.gen->stats(ks);
  if (isHit(t.kind, v) || isWrongType(v)) {
    st.hits.add();
    done(std::move(v));
    return;
  }
  if (v.isError() && !readableWhileDown(st, ks, v)) {
    done(std::move(v));
    return;
  }
  const bool redis_ok = !v.isError();
  if (!redis_ok) {
    if (LoadedPtr kept = fromGutter(st, ks.physicalKey(t.key))) {
      done(reply(t.kind, t.field, *kept));
      return;
    }
  }
  if (t.kind == Read::kHGet && redis_ok) {
    hgetMiss(std::move(t.gen), ks, std::move(t.key), std::move(t.field), std::move(done));
    return;
  }
  st.misses.add();
  fills_.fetch(t.gen, ks, std::move(t.key), redis_ok,
               [kind = t.kind, field = std::move(t.field), done = std::move(done)](
                   const LoadedPtr& loaded) { done(reply(kind, field, *loaded)); });
}

// A stale-ladder keyspace: the value and its meta key in one round trip (same node), then
// the ladder decides.
void ReadThrough::readWithFreshness(Target t, Command cmd, ReplyCallback done) {
  struct Both {
    Target t;
    ReplyCallback done;
    resp::Value data, meta;
    int replies = 0;
  };
  auto both = std::make_shared<Both>();
  const std::string meta_key = metaKey(cmd.args[1]);
  both->t = std::move(t);
  both->done = std::move(done);
  auto arrived = [this, both] {
    if (++both->replies < 2) return;
    climb(std::move(both->t), std::move(both->data), both->meta, std::move(both->done));
  };
  redis_.execute(std::move(cmd), [both, arrived](resp::Value v) {
    both->data = std::move(v);
    arrived();
  });
  redis_.send({"GET", meta_key}, [both, arrived](resp::Value v) {
    both->meta = std::move(v);
    arrived();
  });
}

void ReadThrough::climb(Target t, resp::Value data, const resp::Value& meta, ReplyCallback done) {
  if (!isHit(t.kind, data)) {
    afterRead(std::move(t), std::move(data), std::move(done));
    return;
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const double u = 1.0 - std::uniform_real_distribution<double>(0.0, 1.0)(rng);  // (0, 1]
  const auto freshness =
      meta.type == resp::Type::kBulk ? parseMeta(meta.str) : std::optional<FreshnessMeta>();
  const LadderStep step = ladderStep(t.ks->ladder(), freshness, FillCoordinator::unixMillis(), u);
  KeyspaceStats& st = t.gen->stats(*t.ks);
  switch (step) {
    case LadderStep::kServe:
      st.hits.add();
      done(std::move(data));
      return;
    case LadderStep::kRefreshAhead:
    case LadderStep::kServeStale:
      st.hits.add();
      (step == LadderStep::kServeStale ? st.stale_served : st.refreshed_ahead).add();
      done(std::move(data));
      fills_.refresh(t.gen, *t.ks, std::move(t.key));
      return;
    case LadderStep::kReloadOrServeOnError:
    case LadderStep::kReload:
      break;
  }
  st.misses.add();
  const bool serve_on_error = step == LadderStep::kReloadOrServeOnError;
  fills_.fetch(
      t.gen, *t.ks, std::move(t.key), true,
      [st = &st, serve_on_error, kind = t.kind, field = std::move(t.field), stale = std::move(data),
       done = std::move(done)](const LoadedPtr& loaded) mutable {
        if (serve_on_error && loaded->kind == Loaded::Kind::kError) {
          st->stale_if_error_served.add();
          done(std::move(stale));
          return;
        }
        done(reply(kind, field, *loaded));
      },
      FillCoordinator::Fetch::kReload);
}

// HGET answers nil both for a missing key and for a missing field: only a missing key is
// a miss.
void ReadThrough::hgetMiss(GenerationPtr gen, const Keyspace& ks, std::string key,
                           std::string field, ReplyCallback done) {
  redis_.send({"EXISTS", ks.physicalKey(key)}, [this, gen = std::move(gen), &ks, key,
                                                field = std::move(field),
                                                done = std::move(done)](resp::Value v) mutable {
    KeyspaceStats& st = gen->stats(ks);
    if (v.type == resp::Type::kInteger && v.integer == 1) {
      st.hits.add();
      done(resp::Value::nil());
      return;
    }
    if (v.isError() && !readableWhileDown(st, ks, v)) {
      done(std::move(v));
      return;
    }
    if (v.isError()) {
      if (LoadedPtr kept = fromGutter(st, ks.physicalKey(key))) {
        done(reply(Read::kHGet, field, *kept));
        return;
      }
    }
    st.misses.add();
    fills_.fetch(gen, ks, std::move(key), !v.isError(),
                 [field = std::move(field), done = std::move(done)](const LoadedPtr& loaded) {
                   done(reply(Read::kHGet, field, *loaded));
                 });
  });
}

// One MGET for every key (the backend splits it by slot), with the meta keys of
// stale-ladder keyspaces after them; then a load for each managed key that came back nil,
// and the ladder's step for each stale-ladder value. Loads of one keyspace batch together.
void ReadThrough::mget(Command cmd, ReplyCallback done) {
  struct Managed {
    std::size_t index;
    const Keyspace* ks;
    std::string key;
    std::size_t meta_index = 0;  // 0: no stale ladder
  };
  struct Gather {
    resp::Value array;
    std::size_t count = 0;  // the client's keys: the meta keys' replies are dropped
    std::size_t remaining = 0;
    ReplyCallback done;
    void oneDone() {
      if (--remaining > 0) return;
      if (array.elements.size() > count) array.elements.resize(count);
      done(std::move(array));
    }
  };
  std::vector<Managed> managed;
  std::vector<std::string_view> caps;
  GenerationPtr gen = slot_.current();
  const std::size_t count = cmd.args.size() - 1;
  std::vector<std::string> metas;
  for (std::size_t i = 1; i <= count; ++i) {
    const Keyspace* ks = gen->rules().match(cmd.args[i], caps);
    if (ks == nullptr || ks->isHash()) continue;
    Managed& m = managed.emplace_back(Managed{i - 1, ks, cmd.args[i]});
    cmd.args[i] = ks->physicalKey(cmd.args[i]);
    if (ks->ladder().enabled()) {
      m.meta_index = count + metas.size();
      metas.push_back(metaKey(cmd.args[i]));
    }
  }
  for (std::string& meta : metas) cmd.args.push_back(std::move(meta));
  redis_.execute(std::move(cmd), [this, gen = std::move(gen), managed = std::move(managed), count,
                                  done = std::move(done)](resp::Value v) mutable {
    if (!v.isArray()) {
      // Redis could not answer. Only an MGET of managed keys alone can be answered without
      // it: a plain key has nowhere else to come from, so the error stands for the whole.
      const bool all_loadable =
          managed.size() == count &&
          std::all_of(managed.begin(), managed.end(), [](const Managed& m) {
            return m.ks->cfg().on_cache_down == config::CacheDownPolicy::kLoad &&
                   m.ks->state() != Keyspace::State::kFailed;
          });
      if (!all_loadable ||
          !readableWhileDown(gen->stats(*managed.front().ks), *managed.front().ks, v)) {
        done(std::move(v));
        return;
      }
      auto gather = std::make_shared<Gather>();
      gather->array = resp::Value::array(std::vector<resp::Value>(count));
      gather->count = count;
      gather->done = std::move(done);
      gather->remaining = 1;
      for (Managed& m : managed) {
        if (LoadedPtr kept = fromGutter(gen->stats(*m.ks), m.ks->physicalKey(m.key))) {
          gather->array.elements[m.index] = reply(Read::kGet, {}, *kept);
          continue;
        }
        ++gather->remaining;
        fills_.fetch(gen, *m.ks, std::move(m.key), false,
                     [gather, index = m.index](const LoadedPtr& loaded) {
                       gather->array.elements[index] = reply(Read::kGet, {}, *loaded);
                       gather->oneDone();
                     });
      }
      gather->oneDone();
      return;
    }
    auto gather = std::make_shared<Gather>();
    gather->array = std::move(v);
    gather->count = count;
    gather->done = std::move(done);
    gather->remaining = 1;  // held until every load below has started
    auto& elements = gather->array.elements;
    for (Managed& m : managed) {
      if (m.index >= elements.size()) continue;
      resp::Value& slot = elements[m.index];
      if (m.ks->state() == Keyspace::State::kFailed) {
        slot = disabled(gen->stats(*m.ks), *m.ks);
        continue;
      }
      auto into = [gather, index = m.index](resp::Value answer) {
        gather->array.elements[index] = std::move(answer);
        gather->oneDone();
      };
      if (slot.type != resp::Type::kNil && m.meta_index != 0 && m.meta_index < elements.size()) {
        ++gather->remaining;
        climb({Read::kGet, gen, m.ks, std::move(m.key), {}}, std::move(slot),
              elements[m.meta_index], into);
        continue;
      }
      if (slot.type != resp::Type::kNil) {
        gen->stats(*m.ks).hits.add();
        continue;
      }
      gen->stats(*m.ks).misses.add();
      ++gather->remaining;
      fills_.fetch(gen, *m.ks, std::move(m.key), true,
                   [into](const LoadedPtr& loaded) { into(reply(Read::kGet, {}, *loaded)); });
    }
    gather->oneDone();
  });
}

void ReadThrough::warm(const std::string& name, std::string key, LoadedCallback done) {
  GenerationPtr gen = slot_.current();
  const Keyspace* ks = gen->keyspace(name);
  if (ks == nullptr) {
    done(Loaded::failed("ERR readthru: no keyspace named '" + name + "'"));
    return;
  }
  fills_.fetch(gen, *ks, std::move(key), /*redis_ok=*/true, std::move(done));
}

void ReadThrough::refresh(std::string key, std::uint64_t client_id, ReplyCallback done) {
  std::vector<std::string_view> caps;
  GenerationPtr gen = slot_.current();
  const Keyspace* ks = gen->rules().match(key, caps);
  if (ks == nullptr) {
    done(resp::Value::error("ERR readthru: key '" + key + "' matches no keyspace"));
    return;
  }
  if (ks->state() == Keyspace::State::kFailed) {
    done(disabled(gen->stats(*ks), *ks));
    return;
  }
  stats_.refreshes.add();
  // The UNLINK of the state key goes first on the connection the load's lease step uses,
  // so the reload can never see the old value or lease.
  invalidateKeys(
      {key}, client_id,
      [this, gen = std::move(gen), ks, key, done = std::move(done)](resp::Value v) mutable {
        if (v.isError()) {
          done(std::move(v));
          return;
        }
        const Read kind = ks->isHash() ? Read::kHGetAll : Read::kGet;
        fills_.fetch(gen, *ks, std::move(key), true,
                     [kind, done = std::move(done)](const LoadedPtr& loaded) {
                       done(reply(kind, {}, *loaded));
                     });
      });
}

void ReadThrough::collect(metrics::Sink& sink) const {
  sink.add(kRefreshes, stats_.refreshes);
  fills_.collect(sink);
  invalidator_.collect(sink);
  slot_.collect(sink);
}

}  // namespace readthru::cache
