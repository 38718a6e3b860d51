// Router: commands that touch more than one node. Multi-key commands (MGET, MSET, DEL,
// UNLINK, EXISTS, TOUCH) are split per hash slot and merged back in key order; keyless
// admin commands fan out to every master (or every node) and their answers are merged;
// SCAN walks every master in turn behind one cursor.

#include <algorithm>
#include <charconv>
#include <limits>
#include <random>
#include <unordered_map>

#include "backend/redis/router.hpp"
#include "command/key_slot.hpp"
#include "common/text.hpp"

namespace readthru::backend::redis {
namespace {

// How the answers of a fanned-out command are merged, and who receives it.
enum class FanMerge { kAllOk, kSum, kConcat, kSameAnswer, kAnd, kAnyNonNil };
struct FanRule {
  std::string_view name;
  FanMerge merge;
  bool every_node;  // replicas too (configuration), not just masters (data)
};

constexpr FanRule kFanRules[] = {
    {"flushall", FanMerge::kAllOk, false},
    {"flushdb", FanMerge::kAllOk, false},
    {"function|flush", FanMerge::kAllOk, false},
    {"script|flush", FanMerge::kAllOk, false},
    {"script|load", FanMerge::kSameAnswer, false},
    {"script|exists", FanMerge::kAnd, false},
    {"config|set", FanMerge::kAllOk, true},
    {"config|resetstat", FanMerge::kAllOk, true},
    {"dbsize", FanMerge::kSum, false},
    {"keys", FanMerge::kConcat, false},
    {"randomkey", FanMerge::kAnyNonNil, false},
    {"function|load", FanMerge::kSameAnswer, false},
    {"function|delete", FanMerge::kAllOk, false},
    {"function|restore", FanMerge::kAllOk, false},
    {"config|rewrite", FanMerge::kAllOk, true},
    {"latency|reset", FanMerge::kSum, true},
};

const FanRule* fanRuleFor(std::string_view name) {
  for (const FanRule& r : kFanRules) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

resp::Value mergeFan(FanMerge merge, std::vector<resp::Value>& parts) {
  for (resp::Value& p : parts) {
    if (p.isError()) return std::move(p);
  }
  switch (merge) {
    case FanMerge::kAllOk:
    case FanMerge::kSameAnswer:
      return std::move(parts.front());
    case FanMerge::kSum: {
      std::int64_t sum = 0;
      for (const resp::Value& p : parts) sum += p.integer;
      return resp::Value::fromInteger(sum);
    }
    case FanMerge::kConcat: {
      resp::Value all = resp::Value::array({});
      for (resp::Value& p : parts) {
        std::move(p.elements.begin(), p.elements.end(), std::back_inserter(all.elements));
      }
      return all;
    }
    case FanMerge::kAnd: {
      resp::Value all = std::move(parts.front());
      for (const resp::Value& p : parts) {
        for (std::size_t i = 0; i < all.elements.size() && i < p.elements.size(); ++i) {
          all.elements[i].integer = all.elements[i].integer != 0 && p.elements[i].integer != 0;
        }
      }
      return all;
    }
    case FanMerge::kAnyNonNil: {
      std::vector<resp::Value*> keys;
      for (resp::Value& p : parts) {
        if (p.type == resp::Type::kBulk) keys.push_back(&p);
      }
      if (keys.empty()) return resp::Value::nil();
      static thread_local std::minstd_rand rng{std::random_device{}()};
      return std::move(*keys[rng() % keys.size()]);
    }
  }
  return resp::Value::error("ERR readthru: unknown merge");
}

// Collects the answers of the parts of one command and replies once all are in.
struct Gather {
  std::size_t remaining = 0;
  std::vector<resp::Value> parts;
  std::function<resp::Value(std::vector<resp::Value>&)> merge;
  cache::ReplyCallback done;

  void add(std::size_t index, resp::Value v) {
    parts[index] = std::move(v);
    if (--remaining == 0) done(merge(parts));
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Split by slot

void Router::executeSplit(cache::Command cmd, cache::ReplyCallback done) {
  auto positions = command::keyPositions(*cmd.spec, cmd.args);
  if (!positions.ok()) {
    done(resp::Value::error(positions.error().message));
    return;
  }
  // One part per slot, keys in the order the client gave them.
  struct Part {
    std::uint16_t slot;
    std::vector<std::string> args;
    std::vector<std::size_t> keys;  // index of each of its keys among all the keys
  };
  std::vector<Part> parts;
  std::unordered_map<std::uint16_t, std::size_t> part_of_slot;
  const bool with_values = cmd.spec->step == 2;  // MSET key value [key value ...]
  for (std::size_t k = 0; k < positions->size(); ++k) {
    const std::size_t pos = (*positions)[k];
    const std::uint16_t slot = slotOf(cmd.args[pos]);
    auto [it, added] = part_of_slot.try_emplace(slot, parts.size());
    if (added) parts.push_back({slot, {cmd.args[0]}, {}});
    Part& part = parts[it->second];
    part.args.push_back(std::move(cmd.args[pos]));
    if (with_values && pos + 1 < cmd.args.size()) part.args.push_back(std::move(cmd.args[pos + 1]));
    part.keys.push_back(k);
  }
  const bool read_only = (cmd.spec->flags & command::kReadonly) != 0;
  if (parts.size() <= 1) {
    auto req = std::make_shared<Request>();
    req->affinity = cmd.client_id;
    req->read_only = read_only;
    req->done = std::move(done);
    if (parts.empty()) {
      req->args = std::move(cmd.args);
      sendToAnyMaster(std::move(req));
    } else {
      req->args = std::move(parts.front().args);
      sendToSlot(parts.front().slot, std::move(req));
    }
    return;
  }

  auto gather = std::make_shared<Gather>();
  gather->remaining = parts.size();
  gather->parts.resize(parts.size());
  gather->done = std::move(done);
  const std::size_t key_count = positions->size();
  auto key_maps = std::make_shared<std::vector<std::vector<std::size_t>>>();
  for (Part& p : parts) key_maps->push_back(std::move(p.keys));
  if (cmd.spec->name != "mget") {
    // MSET: OK when every part is; DEL, UNLINK, EXISTS, TOUCH: the counts add up.
    const FanMerge merge = cmd.spec->name == "mset" ? FanMerge::kAllOk : FanMerge::kSum;
    gather->merge = [merge](std::vector<resp::Value>& answers) { return mergeFan(merge, answers); };
  } else {
    gather->merge = [key_count, key_maps](std::vector<resp::Value>& answers) {
      for (resp::Value& a : answers) {
        if (a.isError()) return std::move(a);
      }
      resp::Value all = resp::Value::array(std::vector<resp::Value>(key_count));
      for (std::size_t i = 0; i < answers.size(); ++i) {
        const auto& keys = (*key_maps)[i];
        if (!answers[i].isArray() || answers[i].elements.size() != keys.size()) {
          return resp::Value::error("ERR readthru: unexpected MGET answer from a node");
        }
        for (std::size_t j = 0; j < keys.size(); ++j) {
          all.elements[keys[j]] = std::move(answers[i].elements[j]);
        }
      }
      return all;
    };
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto req = std::make_shared<Request>();
    req->affinity = cmd.client_id;
    req->read_only = read_only;
    req->args = std::move(parts[i].args);
    req->done = [gather, i](resp::Value v) { gather->add(i, std::move(v)); };
    sendToSlot(parts[i].slot, std::move(req));
  }
}

// ---------------------------------------------------------------------------------------
// Fan-out to every master

void Router::executeFanOut(cache::Command cmd, cache::ReplyCallback done) {
  const FanRule* rule = fanRuleFor(cmd.spec->name);
  if (rule == nullptr) {
    done(resp::Value::error("ERR readthru: no fan-out rule for '" + std::string(cmd.spec->name) +
                            "'"));
    return;
  }
  std::vector<std::pair<config::Endpoint, bool>> targets;  // node, is replica
  for (const Shard& shard : map_.shards()) {
    targets.emplace_back(shard.master, false);
    if (rule->every_node) {
      for (const auto& r : shard.replicas) targets.emplace_back(r, true);
    }
  }
  auto gather = std::make_shared<Gather>();
  gather->remaining = targets.size();
  gather->parts.resize(targets.size());
  gather->done = std::move(done);
  gather->merge = [merge = rule->merge](std::vector<resp::Value>& parts) {
    return mergeFan(merge, parts);
  };
  auto args = std::make_shared<std::vector<std::string>>(std::move(cmd.args));
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto req = std::make_shared<Request>();
    req->affinity = cmd.client_id;
    req->args = *args;
    req->done = [gather, i](resp::Value v) { gather->add(i, std::move(v)); };
    sendTo(targets[i].first, targets[i].second, 0, std::move(req), /*asking=*/false);
  }
}

// ---------------------------------------------------------------------------------------
// SCAN across masters. The client's cursor packs the master's own cursor and which
// master is being walked: cursor = inner * masters + index. Masters are taken in slot
// order, so the walk survives a reconnect; a topology change during a walk can repeat or
// skip keys, as a Redis SCAN across a resharding can.

void Router::executeScan(cache::Command cmd, cache::ReplyCallback done) {
  // MATCH with a literal hash tag ("user:{42}:*"): every match lives in one slot, so only
  // its master is scanned and the cursor is that node's own.
  for (std::size_t i = 2; i + 1 < cmd.args.size(); i += 2) {
    if (!equalsIgnoreCase(cmd.args[i], "match")) continue;
    if (auto slot = command::globSlot(cmd.args[i + 1])) {
      auto req = std::make_shared<Request>();
      req->affinity = cmd.client_id;
      req->args = std::move(cmd.args);
      req->done = std::move(done);
      sendToSlot(*slot, std::move(req));
      return;
    }
  }
  std::vector<const Shard*> masters;
  for (const Shard& s : map_.shards()) masters.push_back(&s);
  std::sort(masters.begin(), masters.end(),
            [](const Shard* a, const Shard* b) { return a->first_slot < b->first_slot; });
  std::uint64_t cursor = 0;
  const std::string& text = cmd.args[1];
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), cursor);
  if (ec != std::errc{} || p != text.data() + text.size()) {
    done(resp::Value::error("ERR invalid cursor"));
    return;
  }
  const std::uint64_t n = masters.size();
  const std::uint64_t index = cursor % n;
  cmd.args[1] = std::to_string(cursor / n);
  auto req = std::make_shared<Request>();
  req->affinity = cmd.client_id;
  req->args = std::move(cmd.args);
  req->done = [n, index, done = std::move(done)](resp::Value v) {
    if (v.isError() || !v.isArray() || v.elements.size() != 2) {
      done(std::move(v));
      return;
    }
    std::uint64_t inner = 0;
    const std::string& next = v.elements[0].str;
    std::from_chars(next.data(), next.data() + next.size(), inner);
    std::uint64_t out = 0;
    if (inner != 0) {
      if (inner > (std::numeric_limits<std::uint64_t>::max() - index) / n) {
        done(resp::Value::error("ERR readthru: SCAN cursor of a node is too large to combine"));
        return;
      }
      out = inner * n + index;
    } else if (index + 1 < n) {
      out = index + 1;  // this master is done; the next one starts at its cursor 0
    }
    v.elements[0].str = std::to_string(out);
    done(std::move(v));
  };
  sendTo(masters[index]->master, false, masters[index]->first_slot, std::move(req), false);
}

}  // namespace readthru::backend::redis
