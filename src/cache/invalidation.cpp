// The invalidation side of ReadThrough: keys, tags, whole keyspaces and globs, and
// REFRESH. Every path removes a key together with its state key, so a load in flight
// (in any instance) loses its lease and cannot store what it read before the change
// (fill_script.hpp). See docs/invalidation.md.

#include <chrono>

#include "cache/read_through.hpp"
#include "cache/side_keys.hpp"
#include "command/key_slot.hpp"
#include "common/log.hpp"

namespace readthru::cache {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kScanCount = "1000";
constexpr auto kProgressEvery = std::chrono::seconds(5);

}  // namespace

// One SCAN-and-UNLINK run: data keys first, then the state keys of the same glob (a "no
// row" marker or a lease has no data key beside it).
struct ReadThrough::Sweep {
  std::string what;  // for the log: "keyspace 'users'" or "pattern 'user:*'"
  std::string globs[2];
  int phase = 0;
  std::string cursor = "0";
  std::uint64_t removed = 0;
  std::size_t pending = 1;  // UNLINKs in flight, plus one for the scan itself
  std::optional<resp::Value> error;
  Clock::time_point started = Clock::now();
  Clock::time_point logged = Clock::now();
  ReplyCallback done;
};

void ReadThrough::invalidateKeys(std::vector<std::string> keys, std::uint64_t client_id,
                                 ReplyCallback done, InvalidationSource source) {
  std::vector<std::string> states{"UNLINK"};
  std::vector<std::string_view> caps;
  for (std::string& key : keys) {
    bump(stats_.invalidations_key);
    counted(source);
    if (const Keyspace* ks = rules_->match(key, caps)) {
      key = ks->physicalKey(key);
      states.push_back(stateKey(key));
    }
    flights_.invalidate(key);
    bump(stats_.invalidated_keys);
  }
  keys.insert(keys.begin(), "UNLINK");
  if (states.size() > 1) send(std::move(states), [](resp::Value) {});
  send(std::move(keys), std::move(done), client_id);
}

void ReadThrough::invalidateTags(std::vector<std::string> tags, InvalidationSource source,
                                 ReplyCallback done) {
  struct Gather {
    std::size_t remaining = 0;
    std::int64_t removed = 0;
    std::optional<resp::Value> error;
    ReplyCallback done;
  };
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
  for (const std::string& tag : tags) {
    bump(stats_.invalidations_tag);
    counted(source);
    // RENAME takes the set as it is now; fills that tag a key from here on start a new set
    // that this invalidation does not touch (their loads began after it).
    std::string gone = tagGoneKey(tag, options_.instance + ":" + std::to_string(++next_token_));
    send({"RENAME", tagKey(tag), gone}, [this, gone, finish](resp::Value v) mutable {
      if (v.isError()) {
        // No set: no key carries the tag (or they all expired).
        finish(v.str.find("no such key") != std::string::npos ? resp::Value::fromInteger(0)
                                                              : std::move(v));
        return;
      }
      send({"SMEMBERS", gone}, [this, gone, finish](resp::Value members) mutable {
        if (!members.isArray()) {
          finish(std::move(members));
          return;
        }
        std::vector<std::string> keys{"UNLINK"}, states{"UNLINK"};
        for (resp::Value& m : members.elements) {
          flights_.invalidate(m.str);
          bump(stats_.invalidated_keys);
          states.push_back(stateKey(m.str));
          keys.push_back(std::move(m.str));
        }
        send({"UNLINK", gone}, [](resp::Value) {});
        if (keys.size() == 1) {
          finish(resp::Value::fromInteger(0));
          return;
        }
        send(std::move(states), [](resp::Value) {});
        send(std::move(keys), std::move(finish));
      });
    });
  }
  if (tags.empty()) gather->done(resp::Value::fromInteger(0));
}

void ReadThrough::invalidateKeyspace(const std::string& name, InvalidationSource source,
                                     ReplyCallback done) {
  const Keyspace* found = nullptr;
  for (const auto& ks : rules_->keyspaces()) {
    if (ks->name() == name) found = ks.get();
  }
  if (found == nullptr) {
    done(resp::Value::error("ERR readthru: no keyspace named '" + name + "'"));
    return;
  }
  bump(stats_.invalidations_keyspace);
  counted(source);
  std::string glob = found->physicalPattern().glob();
  std::string states = stateGlob(glob);
  sweep("keyspace '" + name + "'", std::move(glob), std::move(states), std::move(done));
}

void ReadThrough::invalidatePattern(std::string glob, InvalidationSource source,
                                    ReplyCallback done) {
  bump(stats_.invalidations_pattern);
  counted(source);
  // A literal hash tag pins every match, and so every state key, to one slot and node.
  const auto slot = command::globSlot(glob);
  std::string states = stateGlob(glob, slot ? *slot : -1);
  sweep("pattern '" + glob + "'", std::move(glob), std::move(states), std::move(done));
}

void ReadThrough::sweep(std::string what, std::string glob, std::string state_glob,
                        ReplyCallback done) {
  auto sw = std::make_shared<Sweep>();
  sw->what = std::move(what);
  sw->globs[0] = std::move(glob);
  sw->globs[1] = std::move(state_glob);
  sw->done = std::move(done);
  spdlog::info("invalidating {}: scanning for '{}'", sw->what, sw->globs[0]);
  sweepStep(sw);
}

void ReadThrough::sweepStep(const std::shared_ptr<Sweep>& sw) {
  send({"SCAN", sw->cursor, "MATCH", sw->globs[sw->phase], "COUNT", kScanCount},
       [this, sw](resp::Value v) {
         if (!v.isArray() || v.elements.size() != 2 || !v.elements[1].isArray()) {
           sw->error =
               v.isError() ? std::move(v) : resp::Value::error("ERR readthru: bad SCAN reply");
           sweepDone(sw);
           return;
         }
         std::vector<resp::Value>& found = v.elements[1].elements;
         if (!found.empty()) {
           std::vector<std::string> keys{"UNLINK"}, states{"UNLINK"};
           for (resp::Value& k : found) {
             if (sw->phase == 0) {
               flights_.invalidate(k.str);
               states.push_back(stateKey(k.str));
             }
             keys.push_back(std::move(k.str));
           }
           const bool data = sw->phase == 0;
           ++sw->pending;
           send(std::move(keys), [this, sw, data](resp::Value r) {
             if (r.isError() && !sw->error) sw->error = std::move(r);
             if (data && r.type == resp::Type::kInteger) {
               sw->removed += static_cast<std::uint64_t>(r.integer);
               stats_.invalidated_keys.fetch_add(static_cast<std::uint64_t>(r.integer),
                                                 std::memory_order_relaxed);
             }
             sweepDone(sw);
           });
           if (states.size() > 1) send(std::move(states), [](resp::Value) {});
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

void ReadThrough::sweepDone(const std::shared_ptr<Sweep>& sw) {
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

void ReadThrough::refresh(std::string key, std::uint64_t client_id, ReplyCallback done) {
  std::vector<std::string_view> caps;
  const Keyspace* ks = rules_->match(key, caps);
  if (ks == nullptr) {
    done(resp::Value::error("ERR readthru: key '" + key + "' matches no keyspace"));
    return;
  }
  if (ks->state() == Keyspace::State::kFailed) {
    done(disabled(*ks));
    return;
  }
  bump(stats_.refreshes);
  // The UNLINK of the state key goes first on the connection the load's lease step uses,
  // so the reload can never see the old value or lease.
  invalidateKeys({key}, client_id, [this, ks, key, done = std::move(done)](resp::Value v) mutable {
    if (v.isError()) {
      done(std::move(v));
      return;
    }
    const Read kind = ks->isHash() ? Read::kHGetAll : Read::kGet;
    fetch(*ks, std::move(key), true, [kind, done = std::move(done)](const LoadedPtr& loaded) {
      done(reply(kind, {}, *loaded));
    });
  });
}

}  // namespace readthru::cache
