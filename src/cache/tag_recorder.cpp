#include "cache/tag_recorder.hpp"

#include <algorithm>
#include <set>

#include "cache/side_keys.hpp"

namespace readthru::cache {
namespace {

using metrics::Family;
using metrics::Kind;
constexpr Family kRecorded{"readthru_tags_recorded_total", Kind::kCounter,
                           "Keys recorded in their tag sets.", "readthru_tags_recorded"};
constexpr Family kErrors{"readthru_tag_record_errors_total", Kind::kCounter,
                         "Tag records Redis failed; the fill was not stored.",
                         "readthru_tag_record_errors"};
constexpr Family kRaced{"readthru_tag_fills_raced_total", Kind::kCounter,
                        "Fills whose tag was invalidated while they loaded.",
                        "readthru_tag_fills_raced"};

// The value each of `tmpl`'s names stands for: a capture of the key, else a column of
// `row`. nullopt when a name has no value (a NULL column): that tag is skipped.
std::optional<std::string> renderTag(const KeyPattern& tmpl, const Keyspace& ks,
                                     const std::vector<std::string_view>& caps, const RowSet* rows,
                                     std::size_t row) {
  std::vector<std::string_view> values;
  const auto& cap_names = ks.pattern().captureNames();
  for (const std::string& name : tmpl.captureNames()) {
    auto c = std::find(cap_names.begin(), cap_names.end(), name);
    if (c != cap_names.end()) {
      values.push_back(caps[static_cast<std::size_t>(c - cap_names.begin())]);
      continue;
    }
    if (rows == nullptr) return std::nullopt;
    bool found = false;
    for (std::size_t i = 0; i < rows->columns.size() && !found; ++i) {
      if (rows->columns[i].name != name) continue;
      const auto& v = rows->rows[row][i];
      if (!v) return std::nullopt;
      values.push_back(*v);
      found = true;
    }
    if (!found) return std::nullopt;
  }
  return tmpl.render(values);
}

}  // namespace

void TagRecorder::record(const Keyspace& ks, const std::string& logical, const std::string& key,
                         const RowSet* rows, std::optional<std::int64_t> epoch,
                         std::function<void(bool)> next) {
  if (ks.tags().empty()) {  // most keyspaces: nothing to do on the miss path
    next(true);
    return;
  }
  std::vector<std::string_view> caps;
  ks.pattern().match(logical, caps);
  std::set<std::string> tags;
  for (const Keyspace::Tag& tag : ks.tags()) {
    // Before the load: the tags that need only captures. After it: the others, per row.
    if (tag.from_captures != (rows == nullptr)) continue;
    const std::size_t n = rows == nullptr ? 1 : rows->rows.size();
    for (std::size_t r = 0; r < n; ++r) {
      auto t = renderTag(tag.tmpl, ks, caps, rows, r);
      if (t && !t->empty()) tags.insert(std::move(*t));
    }
  }
  if (tags.empty()) {
    next(true);
    return;
  }
  // The set outlives every key recorded in it: a key's TTL starts at its fill, after this.
  const std::string ttl = std::to_string((ks.cfg().ttl + lease_time_).count());
  struct Gather {
    std::size_t remaining = 0;
    bool error = false;
    bool raced = false;
  };
  auto gather = std::make_shared<Gather>();
  const bool after_load = rows != nullptr;
  gather->remaining = tags.size() * (after_load ? 2 : 1);
  auto step = [this, gather, epoch, next = std::move(next)](bool mark, resp::Value v) {
    if (v.isError()) gather->error = true;
    if (mark) {
      // Raced: the tag was invalidated after this load began (a later epoch), or we cannot
      // tell (an epoch we could not read).
      const auto marked = tagEpoch(v);
      if (!marked || (*marked > 0 && (!epoch || *marked > *epoch))) gather->raced = true;
    }
    if (--gather->remaining > 0) return;
    if (gather->error) stats_.errors.add();
    if (gather->raced) stats_.raced.add();
    next(!gather->error && !gather->raced);
  };
  for (const std::string& tag : tags) {
    const std::string set = tagKey(tag);
    stats_.recorded.add();
    redis_.send({"SADD", set, key}, [step](resp::Value v) { step(false, std::move(v)); });
    // NX sets a first TTL; GT only ever lengthens it (another keyspace may share the tag).
    redis_.send({"PEXPIRE", set, ttl, "NX"}, [](resp::Value) {});
    redis_.send({"PEXPIRE", set, ttl, "GT"}, [](resp::Value) {});
    // A tag known only after the load may have been invalidated while we loaded, before
    // our SADD: its RENAME then took a set without this key. Such an invalidation first
    // draws a tag epoch (INCR of one cluster-wide counter) and leaves it as the tag's mark
    // for two lease times (longer than a load can hold its lease). The fill read the epoch
    // before its load; a mark above it means the invalidation came after the load began,
    // so the fill serves what it read but does not store it. Same slot, same connection:
    // the mark is read after the SADD.
    if (after_load) {
      redis_.send({"GET", tagMarkKey(tag)}, [step](resp::Value v) { step(true, std::move(v)); });
    }
  }
}

void TagRecorder::collect(metrics::Sink& sink) const {
  sink.add(kRecorded, stats_.recorded);
  sink.add(kErrors, stats_.errors);
  sink.add(kRaced, stats_.raced);
}

}  // namespace readthru::cache
