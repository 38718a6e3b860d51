#pragma once
// The compiled keyspace rules: which keys readthru loads from the database, and how.
// Built once from the config (pattern syntax, overlaps and $n/params are checked then);
// the database's view of each statement arrives later through onPrepared(), because a
// cache must start even when its database is down.
//
// Shared by every io thread: the rules themselves are immutable after build(); only each
// keyspace's state changes, and it is read with one atomic load on the request path.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/key_pattern.hpp"
#include "cache/source_loader.hpp"
#include "cache/stale_ladder.hpp"
#include "common/result.hpp"
#include "config/config.hpp"

namespace readthru::cache {

class Keyspace {
 public:
  enum class State : std::uint8_t { kPending, kReady, kFailed };

  const config::KeyspaceConfig& cfg() const { return cfg_; }
  const std::string& name() const { return cfg_.name; }
  const KeyPattern& pattern() const { return pattern_; }
  // For each $n (n = i + 1): the index of its capture in pattern().captureNames().
  const std::vector<std::size_t>& paramCaptures() const { return param_captures_; }
  std::size_t statement() const { return statement_; }
  // The batch statement's index, when batch_query is set.
  std::optional<std::size_t> batchStatement() const { return batch_statement_; }
  bool isHash() const { return cfg_.format == config::KeyspaceFormat::kHash; }
  // The rule's stale ladder, derived from cfg() once (read on every hit).
  const LadderPolicy& ladder() const { return ladder_; }

  // The key Redis holds for `key` (a key this keyspace matched): the same key, or with
  // `version: n` the key with "v<n>:" after the pattern's leading literal text
  // ("user:profile:42" -> "user:profile:v2:42"), so entries written for another version of
  // the rule are never read.
  std::string physicalKey(std::string_view key) const;
  // The pattern of physicalKey()'s results (for SCAN globs and overlap checks).
  const KeyPattern& physicalPattern() const { return physical_pattern_; }

  // The keyspace's tag templates (`tags:`). A template whose names are all captures can
  // be rendered before the load (fromCaptures); the others name result columns too.
  struct Tag {
    KeyPattern tmpl;
    bool from_captures = false;
  };
  const std::vector<Tag>& tags() const { return tags_; }
  bool hasColumnTags() const {
    for (const Tag& t : tags_) {
      if (!t.from_captures) return true;
    }
    return false;
  }

  State state() const { return state_.load(std::memory_order_acquire); }
  // Why the database rejected this rule (empty unless kFailed).
  std::string failure() const;

 private:
  friend class KeyspaceRules;

  config::KeyspaceConfig cfg_;
  LadderPolicy ladder_;
  KeyPattern pattern_;
  KeyPattern physical_pattern_;
  std::size_t version_at_ = 0;  // where physicalKey() inserts the version
  std::string version_text_;    // "v2:", or empty
  std::vector<Tag> tags_;
  std::vector<std::size_t> param_captures_;
  std::size_t statement_ = 0;
  std::optional<std::size_t> batch_statement_;
  std::atomic<State> state_{State::kPending};
  mutable std::mutex failure_mutex_;
  std::string failure_;
  // What the database last said of each statement (guarded by KeyspaceRules::mutex_).
  std::optional<Result<StatementShape>> shape_, batch_shape_;
};

class KeyspaceRules {
 public:
  // Errors read "<file>:<line>: keyspace '<name>': <problem>".
  static Result<std::shared_ptr<KeyspaceRules>> build(
      const std::vector<config::KeyspaceConfig>& keyspaces);

  bool empty() const { return keyspaces_.empty(); }
  const std::vector<std::unique_ptr<Keyspace>>& keyspaces() const { return keyspaces_; }

  // The keyspace owning `key` (at most one: overlaps were refused), with its captures as
  // views into `key`; nullptr when the key is plain.
  const Keyspace* match(std::string_view key, std::vector<std::string_view>& captures) const;

  // Every statement's SQL, by statement index; the loader prepares them in this order.
  const std::vector<std::string>& statements() const { return statements_; }

  // What the database said of statement `index` (called from any thread, on every
  // connect). Moves its keyspace to kReady when all its statements fit the rule, or to
  // kFailed with the reason ("query returns 2 columns; format value needs exactly 1").
  void onPrepared(std::size_t index, const Result<StatementShape>& shape);

  // "<origin>: keyspace '<name>': <reason>" for every failed rule.
  std::vector<std::string> failures() const;

 private:
  static std::optional<Error> compileKeeping(Keyspace& ks);
  static std::optional<std::string> checkShape(const Keyspace& ks, const StatementShape& main,
                                               const StatementShape* batch);

  std::vector<std::unique_ptr<Keyspace>> keyspaces_;
  std::vector<std::string> statements_;
  std::vector<std::pair<Keyspace*, bool>> owner_;  // by statement: keyspace, is batch
  std::mutex mutex_;
};

}  // namespace readthru::cache
