#include "cache/invalidator.hpp"

#include <chrono>

#include "cache/side_keys.hpp"
#include "cache/stale_ladder.hpp"
#include "command/key_slot.hpp"
#include "common/log.hpp"

namespace readthru::cache {
namespace {

using metrics::Family;
using metrics::Kind;
constexpr Family kInvalidatedKeys{"readthru_invalidated_keys_total", Kind::kCounter,
                                  "Keys removed from Redis by invalidations.",
                                  "readthru_invalidated_keys"};
constexpr Family kInvalidations{"readthru_invalidations_total", Kind::kCounter,
                                "Invalidations run, by scope (key, tag, keyspace, pattern).",
                                "readthru_invalidations", true};
constexpr Family kBySource{"readthru_invalidations_by_source_total", Kind::kCounter,
                           "Invalidations run, by where they came from (command, cdc, stream).",
                           "readthru_invalidations_from", true};

using Clock = std::chrono::steady_clock;
constexpr const char* kScanCount = "1000";
constexpr auto kProgressEvery = std::chrono::seconds(5);

// Puts a renamed-away tag set back when its invalidation failed, so that a retry finds
// its members: the union with whatever was tagged meanwhile, with the longer TTL.
constexpr const char* kRaiseMarkScript =
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0') or 0 "
    "if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end "
    "return 1";
// RENAME that answers 0 for a missing set instead of an error whose text we would have
// to read.
constexpr const char* kRenameIfExistsScript =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
    "redis.call('RENAME', KEYS[1], KEYS[2]) return 1";
constexpr const char* kRestoreTagScript =
    "local t1 = redis.call('PTTL', KEYS[1]) local t2 = redis.call('PTTL', KEYS[2]) "
    "redis.call('SUNIONSTORE', KEYS[1], KEYS[1], KEYS[2]) redis.call('DEL', KEYS[2]) "
    "local t = math.max(t1, t2) if t > 0 then redis.call('PEXPIRE', KEYS[1], t) end "
    "return 1";

}  // namespace

// One SCAN-and-UNLINK run. State keys first: a load that holds a lease when the sweep
// starts either loses it here (its fill is refused) or has filled before the scan got
// there, and then the data phase finds its value. Data keys first would let such a load
// store behind the scan's cursor.
struct Invalidator::Sweep {
  std::string what;      // for the log: "keyspace 'users'" or "pattern 'user:*'"
  std::string globs[2];  // state keys, data keys
  // KEYSPACE: found keys must match this (a '*' matches ':'). A copy: a reload may retire
  // the keyspace while the sweep runs.
  std::optional<KeyPattern> only;
  int phase = 0;
  std::string cursor = "0";
  std::uint64_t removed = 0;
  std::size_t pending = 1;  // UNLINKs in flight, plus one for the scan itself
  std::optional<resp::Value> error;
  Clock::time_point started = Clock::now();
  Clock::time_point logged = Clock::now();
  ReplyCallback done;
};

void Invalidator::unlinkWithStates(std::vector<std::string> keys, std::vector<std::string> states,
                                   std::uint64_t affinity, ReplyCallback done) {
  struct Gather {
    int remaining = 0;
    resp::Value count = resp::Value::fromInteger(0);
    std::optional<resp::Value> error;
    ReplyCallback done;
  };
  auto gather = std::make_shared<Gather>();
  gather->done = std::move(done);
  auto finish = [gather](bool data, resp::Value v) {
    if (v.isError() && !gather->error) gather->error = std::move(v);
    if (data && v.type == resp::Type::kInteger) gather->count = std::move(v);
    if (--gather->remaining == 0) {
      gather->done(gather->error ? std::move(*gather->error) : std::move(gather->count));
    }
  };
  gather->remaining = (keys.empty() ? 0 : 1) + (states.empty() ? 0 : 1);
  if (gather->remaining == 0) {
    gather->done(resp::Value::fromInteger(0));
    return;
  }
  // The state keys go on this thread's own connection, where a load's lease step goes too.
  if (!states.empty()) {
    states.insert(states.begin(), "UNLINK");
    redis_.send(std::move(states), [finish](resp::Value v) { finish(false, std::move(v)); });
  }
  if (!keys.empty()) {
    keys.insert(keys.begin(), "UNLINK");
    redis_.send(
        std::move(keys), [finish](resp::Value v) { finish(true, std::move(v)); }, affinity);
  }
}

void Invalidator::invalidateKeys(std::vector<std::string> keys, std::uint64_t client_id,
                                 ReplyCallback done, InvalidationSource source) {
  std::vector<std::string> states;
  std::vector<std::string_view> caps;
  for (std::string& key : keys) {
    stats_.key.add();
    counted(source);
    if (const Keyspace* ks = slot_.current()->rules().match(key, caps)) {
      key = ks->physicalKey(key);
      states.push_back(stateKey(key));
      if (ks->ladder().enabled()) states.push_back(metaKey(key));
    }
    fills_.forget(key);
    stats_.invalidated_keys.add();
  }
  // The reply waits for both: a lease still in place after it could let a load that read
  // the old row store it.
  unlinkWithStates(std::move(keys), std::move(states), client_id, std::move(done));
}

void Invalidator::invalidateTags(std::vector<std::string> tags, InvalidationSource source,
                                 ReplyCallback done) {
  struct Gather {
    std::size_t remaining = 0;
    std::int64_t removed = 0;
    std::optional<resp::Value> error;
    ReplyCallback done;
  };
  if (tags.empty()) {
    done(resp::Value::fromInteger(0));
    return;
  }
  auto gather = std::make_shared<Gather>();
  gather->remaining = tags.size();
  gather->done = std::move(done);
  auto finish = [gather](resp::Value v) {
    if (v.isError() && !gather->error) gather->error = std::move(v);
    if (v.type == resp::Type::kInteger) gather->removed += v.integer;
    if (--gather->remaining > 0) return;
    gather->done(gather->error ? std::move(*gather->error)
                               : resp::Value::fromInteger(gather->removed));
  };
  // One epoch for the whole call, drawn before any tag's RENAME.
  redis_.send({"INCR", std::string(kTagEpochKey)}, [this, tags = std::move(tags), source, gather,
                                                    finish](resp::Value drawn) mutable {
    if (drawn.type != resp::Type::kInteger) {
      gather->remaining = 1;
      finish(drawn.isError() ? std::move(drawn)
                             : resp::Value::error("ERR readthru: bad INCR reply"));
      return;
    }
    const std::string epoch = std::to_string(drawn.integer);
    for (const std::string& tag : tags) {
      stats_.tag.add();
      counted(source);
      // RENAME takes the set as it is now; fills that tag a key from here on start a new set
      // that this invalidation does not touch (their loads began after it).
      std::string set = tagKey(tag);
      std::string gone = tagGoneKey(tag, instance_ + ":" + std::to_string(++next_token_));
      // The mark first, on the same connection: a fill that records this tag after the
      // RENAME finds it (tag_recorder.cpp). Only ever raised, so concurrent invalidations keep the
      // highest epoch.
      // Its reply comes before the RENAME's (same connection); a mark that failed fails the
      // tag, so that the caller retries.
      auto marked = std::make_shared<std::optional<resp::Value>>();
      redis_.send({"EVAL", kRaiseMarkScript, "1", tagMarkKey(tag), epoch,
                   std::to_string(2 * lease_time_.count())},
                  [marked](resp::Value v) {
                    if (v.isError()) *marked = std::move(v);
                  });
      auto tag_done = [marked, finish](resp::Value v) mutable {
        finish(*marked && !v.isError() ? std::move(**marked) : std::move(v));
      };
      redis_.send({"EVAL", kRenameIfExistsScript, "2", set, gone},
                  [this, set, gone, finish = tag_done](resp::Value v) mutable {
                    if (v.isError()) {
                      finish(std::move(v));
                      return;
                    }
                    if (v.type == resp::Type::kInteger && v.integer == 0) {
                      // No set: no key carries the tag (or they all expired).
                      finish(resp::Value::fromInteger(0));
                      return;
                    }
                    auto drain = std::make_shared<TagDrain>();
                    drain->set = set;
                    drain->gone = gone;
                    drain->done = std::move(finish);
                    tagStep(drain);
                  });
    }
  });
}

// One SSCAN batch of a renamed-away tag set, its keys unlinked with their state keys, then
// the next batch: a tag with a million keys never arrives as one reply. The set was renamed
// aside, so nothing adds to it meanwhile; when Redis fails part way, it is merged back.
void Invalidator::tagStep(const std::shared_ptr<TagDrain>& drain) {
  redis_.send({"SSCAN", drain->gone, drain->cursor, "COUNT", kScanCount}, [this,
                                                                           drain](resp::Value v) {
    if (!v.isArray() || v.elements.size() != 2 || !v.elements[1].isArray()) {
      restoreTag(drain->set, drain->gone);
      drain->done(v.isError() ? std::move(v) : resp::Value::error("ERR readthru: bad SSCAN reply"));
      return;
    }
    std::vector<std::string> keys, states;
    for (resp::Value& m : v.elements[1].elements) {
      fills_.forget(m.str);
      stats_.invalidated_keys.add();
      states.push_back(stateKey(m.str));
      states.push_back(metaKey(m.str));  // a stale-ladder key's; UNLINK skips what is not there
      keys.push_back(std::move(m.str));
    }
    drain->cursor = std::move(v.elements[0].str);
    unlinkWithStates(std::move(keys), std::move(states), 0,
                     [this, drain](resp::Value r) { tagBatchDone(drain, std::move(r)); });
  });
}

void Invalidator::tagBatchDone(const std::shared_ptr<TagDrain>& drain, resp::Value r) {
  if (r.isError()) {
    restoreTag(drain->set, drain->gone);  // so that a retry finds the members
    drain->done(std::move(r));
    return;
  }
  if (r.type == resp::Type::kInteger) drain->removed += r.integer;
  if (drain->cursor != "0") {
    tagStep(drain);
    return;
  }
  redis_.send({"UNLINK", drain->gone}, [](resp::Value) {});
  drain->done(resp::Value::fromInteger(drain->removed));
}

void Invalidator::restoreTag(const std::string& set, const std::string& gone) {
  redis_.send({"EVAL", kRestoreTagScript, "2", set, gone}, [](resp::Value) {});
}

void Invalidator::invalidateKeyspace(const std::string& name, InvalidationSource source,
                                     ReplyCallback done) {
  const Keyspace* found = slot_.current()->keyspace(name);
  if (found == nullptr) {
    done(resp::Value::error("ERR readthru: no keyspace named '" + name + "'"));
    return;
  }
  stats_.keyspace.add();
  counted(source);
  std::string glob = found->physicalPattern().glob();
  const auto slot = command::globSlot(glob);
  std::string states = stateGlob(glob, slot ? *slot : -1);
  sweep("keyspace '" + name + "'", std::move(glob), std::move(states), found->physicalPattern(),
        std::move(done));
}

void Invalidator::invalidatePattern(std::string glob, InvalidationSource source,
                                    ReplyCallback done) {
  stats_.pattern.add();
  counted(source);
  // A literal hash tag pins every match, and so every state key, to one slot and node.
  const auto slot = command::globSlot(glob);
  std::string states = stateGlob(glob, slot ? *slot : -1);
  sweep("pattern '" + glob + "'", std::move(glob), std::move(states), std::nullopt,
        std::move(done));
}

void Invalidator::sweep(std::string what, std::string glob, std::string state_glob,
                        std::optional<KeyPattern> only, ReplyCallback done) {
  auto sw = std::make_shared<Sweep>();
  sw->what = std::move(what);
  sw->globs[0] = std::move(state_glob);
  sw->globs[1] = std::move(glob);
  sw->only = std::move(only);
  sw->done = std::move(done);
  spdlog::info("invalidating {}: scanning for '{}'", sw->what, sw->globs[1]);
  sweepStep(sw);
}

// Whether a key a sweep found is one to remove: readthru's own keys (tag sets, the CDC
// lease, the invalidation stream under "readthru:") are never swept by a glob, and a
// keyspace's sweep takes only keys of that keyspace.
static bool sweepable(const std::optional<KeyPattern>& only, std::string_view key) {
  if (key.starts_with("readthru:")) return false;
  std::vector<std::string_view> caps;
  return !only || only->match(key, caps);
}

void Invalidator::sweepStep(const std::shared_ptr<Sweep>& sw) {
  redis_.send(
      {"SCAN", sw->cursor, "MATCH", sw->globs[sw->phase], "COUNT", kScanCount},
      [this, sw](resp::Value v) {
        if (!v.isArray() || v.elements.size() != 2 || !v.elements[1].isArray()) {
          sw->error =
              v.isError() ? std::move(v) : resp::Value::error("ERR readthru: bad SCAN reply");
          sweepDone(sw);
          return;
        }
        std::vector<std::string> keys, states;
        for (resp::Value& k : v.elements[1].elements) {
          if (sw->phase == 0) {
            auto data = dataKeyOfState(k.str);
            if (!data || !sweepable(sw->only, *data)) continue;
            fills_.forget(std::string(*data));
            states.push_back(std::move(k.str));
          } else if (sweepable(sw->only, k.str)) {
            fills_.forget(k.str);
            states.push_back(stateKey(k.str));
            states.push_back(metaKey(k.str));
            keys.push_back(std::move(k.str));
          }
        }
        if (!keys.empty() || !states.empty()) {
          ++sw->pending;
          unlinkWithStates(std::move(keys), std::move(states), 0, [this, sw](resp::Value r) {
            if (r.isError() && !sw->error) sw->error = std::move(r);
            if (r.type == resp::Type::kInteger) {
              sw->removed += static_cast<std::uint64_t>(r.integer);
              stats_.invalidated_keys.add(static_cast<std::uint64_t>(r.integer));
            }
            sweepDone(sw);
          });
        }
        if (Clock::now() - sw->logged >= kProgressEvery) {
          sw->logged = Clock::now();
          spdlog::info("invalidating {}: {} keys removed so far", sw->what, sw->removed);
        }
        sw->cursor = std::move(v.elements[0].str);
        if (sw->cursor == "0" && ++sw->phase == 2) {
          sweepDone(sw);
          return;
        }
        sweepStep(sw);
      });
}

void Invalidator::sweepDone(const std::shared_ptr<Sweep>& sw) {
  if (--sw->pending > 0) return;
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sw->started).count();
  if (sw->error) {
    spdlog::warn("invalidating {} failed after {} keys: {}", sw->what, sw->removed, sw->error->str);
    sw->done(std::move(*sw->error));
    return;
  }
  spdlog::info("invalidated {}: {} keys removed in {} ms", sw->what, sw->removed, ms);
  sw->done(resp::Value::fromInteger(static_cast<std::int64_t>(sw->removed)));
}

void Invalidator::collect(metrics::Sink& sink) const {
  sink.add(kInvalidatedKeys, stats_.invalidated_keys);
  sink.add(kInvalidations, stats_.key, {{"scope", "key"}});
  sink.add(kInvalidations, stats_.tag, {{"scope", "tag"}});
  sink.add(kInvalidations, stats_.keyspace, {{"scope", "keyspace"}});
  sink.add(kInvalidations, stats_.pattern, {{"scope", "pattern"}});
  sink.add(kBySource, stats_.by_source[0], {{"source", "command"}});
  sink.add(kBySource, stats_.by_source[1], {{"source", "cdc"}});
  sink.add(kBySource, stats_.by_source[2], {{"source", "stream"}});
}

}  // namespace readthru::cache
