#include "cache/keyspace_rules.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace readthru::cache {
namespace {

// The highest $n in `sql`, or 0. Quoted text is skipped so that '$1' inside a string
// literal does not count; a dollar followed by anything but a digit ($$ quoting) is not a
// parameter.
int highestParam(std::string_view sql) {
  int highest = 0;
  char quote = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      int n = 0;
      while (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9' && n < 100000) {
        n = n * 10 + (sql[++i] - '0');
      }
      highest = std::max(highest, n);
    }
  }
  return highest;
}

Error ruleError(const config::KeyspaceConfig& ks, const std::string& problem) {
  return Error{ks.origin + ": keyspace '" + ks.name + "': " + problem};
}

}  // namespace

std::string Keyspace::failure() const {
  std::lock_guard lock(failure_mutex_);
  return failure_;
}

std::string Keyspace::physicalKey(std::string_view key) const {
  std::string out(key);
  if (!version_text_.empty()) out.insert(version_at_, version_text_);
  return out;
}

// Versions, tags and invalidate rules: the parts of a rule that keep the cache in step.
std::optional<Error> KeyspaceRules::compileKeeping(Keyspace& ks) {
  const config::KeyspaceConfig& cfg = ks.cfg_;
  std::size_t& version_at = ks.version_at_;
  std::string& version_text = ks.version_text_;
  KeyPattern& physical = ks.physical_pattern_;
  std::vector<Keyspace::Tag>& tags = ks.tags_;
  const std::string& text = cfg.pattern;
  const std::size_t first = text.find('<');
  const std::size_t colon = text.rfind(':', first == std::string::npos ? text.size() : first);
  version_at = colon == std::string::npos ? 0 : colon + 1;
  if (cfg.version > 0) {
    version_text = "v" + std::to_string(cfg.version) + ":";
    auto p =
        KeyPattern::compile(text.substr(0, version_at) + version_text + text.substr(version_at));
    if (!p) return ruleError(cfg, "version: " + p.error().message);
    physical = std::move(*p);
  } else {
    physical = ks.pattern();
  }
  const auto& names = ks.pattern().captureNames();
  for (const std::string& t : cfg.tags) {
    auto p = KeyPattern::compile(t);
    if (!p) return ruleError(cfg, "tags: '" + t + "': " + p.error().message);
    bool captures_only = true;
    for (const std::string& n : p->captureNames()) {
      captures_only = captures_only && std::find(names.begin(), names.end(), n) != names.end();
    }
    tags.push_back({std::move(*p), captures_only});
  }
  for (const config::InvalidateRule& rule : cfg.invalidate) {
    if (!rule.key.empty() && rule.key.size() != names.size()) {
      return ruleError(cfg, "invalidate table '" + rule.table + "': key lists " +
                                std::to_string(rule.key.size()) + " column(s) but pattern '" +
                                cfg.pattern + "' has " + std::to_string(names.size()) +
                                " capture(s)");
    }
    for (const std::string& t : rule.tags) {
      auto p = KeyPattern::compile(t);
      if (!p)
        return ruleError(
            cfg, "invalidate table '" + rule.table + "': tags: '" + t + "': " + p.error().message);
    }
  }
  return std::nullopt;
}

Result<std::shared_ptr<KeyspaceRules>> KeyspaceRules::build(
    const std::vector<config::KeyspaceConfig>& keyspaces) {
  auto rules = std::make_shared<KeyspaceRules>();
  for (const config::KeyspaceConfig& cfg : keyspaces) {
    auto pattern = KeyPattern::compile(cfg.pattern);
    if (!pattern) return ruleError(cfg, "pattern: " + pattern.error().message);
    auto ks = std::make_unique<Keyspace>();
    ks->cfg_ = cfg;
    ks->ladder_ = LadderPolicy::of(cfg);
    ks->pattern_ = std::move(*pattern);
    if (auto err = compileKeeping(*ks)) {
      return *err;
    }
    const auto& names = ks->pattern_.captureNames();
    for (const std::string& param : cfg.params) {
      auto it = std::find(names.begin(), names.end(), param);
      if (it == names.end()) {
        return ruleError(
            cfg, "params: '" + param + "' is not a capture of pattern '" + cfg.pattern + "'");
      }
      ks->param_captures_.push_back(static_cast<std::size_t>(it - names.begin()));
    }
    const int highest = highestParam(cfg.query);
    if (highest != static_cast<int>(cfg.params.size())) {
      const std::string uses = highest == 0
                                   ? "no $n parameter"
                                   : "$" + std::to_string(highest) + " as its highest parameter";
      return ruleError(cfg, "query uses " + uses + " but params lists " +
                                std::to_string(cfg.params.size()) + " capture(s)");
    }
    if (!cfg.batch_query.empty() && highestParam(cfg.batch_query) != 1) {
      return ruleError(cfg, "batch_query must use exactly $1 (the array of ids)");
    }
    for (const auto& other : rules->keyspaces_) {
      if (KeyPattern::overlaps(other->pattern_, ks->pattern_) ||
          KeyPattern::overlaps(other->physical_pattern_, ks->pattern_) ||
          KeyPattern::overlaps(other->pattern_, ks->physical_pattern_)) {
        return ruleError(cfg, "pattern '" + cfg.pattern +
                                  "' can match the same keys as keyspace '" + other->name() +
                                  "' (" + other->cfg_.origin + ", pattern '" + other->cfg_.pattern +
                                  "')");
      }
    }
    ks->statement_ = rules->statements_.size();
    rules->statements_.push_back(cfg.query);
    rules->owner_.push_back({ks.get(), false});
    if (!cfg.batch_query.empty()) {
      ks->batch_statement_ = rules->statements_.size();
      rules->statements_.push_back(cfg.batch_query);
      rules->owner_.push_back({ks.get(), true});
    }
    rules->keyspaces_.push_back(std::move(ks));
  }
  return rules;
}

const Keyspace* KeyspaceRules::match(std::string_view key,
                                     std::vector<std::string_view>& captures) const {
  for (const auto& ks : keyspaces_) {
    if (ks->pattern_.match(key, captures)) return ks.get();
  }
  return nullptr;
}

std::optional<std::string> KeyspaceRules::checkShape(const Keyspace& ks, const StatementShape& main,
                                                     const StatementShape* batch) {
  const auto& cfg = ks.cfg_;
  if (main.columns.empty()) return "query returns no columns";
  if (cfg.format == config::KeyspaceFormat::kValue && main.columns.size() != 1) {
    return "query returns " + std::to_string(main.columns.size()) +
           " columns; format value needs exactly 1";
  }
  for (const Keyspace::Tag& tag : ks.tags_) {
    for (const std::string& n : tag.tmpl.captureNames()) {
      const auto& caps = ks.pattern_.captureNames();
      bool known = std::find(caps.begin(), caps.end(), n) != caps.end();
      for (const Column& c : main.columns) known = known || c.name == n;
      if (!known) {
        return "tags: '" + tag.tmpl.text() + "': <" + n +
               "> is neither a capture of the pattern nor a column of the query";
      }
    }
  }
  if (batch == nullptr) return std::nullopt;
  if (batch->param_count != 1) return "batch_query must take exactly one parameter ($1)";
  bool has_key = false;
  for (const Column& c : batch->columns) has_key = has_key || c.name == cfg.batch_key;
  if (!has_key) return "batch_key '" + cfg.batch_key + "' is not a column of batch_query";
  if (cfg.format == config::KeyspaceFormat::kValue && batch->columns.size() != 2) {
    return "batch_query must return the value column and batch_key (2 columns) with format value";
  }
  return std::nullopt;
}

void KeyspaceRules::onPrepared(std::size_t index, const Result<StatementShape>& shape) {
  if (index >= owner_.size()) return;
  std::lock_guard lock(mutex_);
  auto [ks, is_batch] = owner_[index];
  (is_batch ? ks->batch_shape_ : ks->shape_) = shape;
  const bool wants_batch = ks->batch_statement_.has_value();
  std::optional<std::string> problem;
  // A failure is final as soon as it is known; success needs every statement.
  if (ks->shape_ && !ks->shape_->ok()) {
    problem = "query: " + ks->shape_->error().message;
  } else if (ks->batch_shape_ && !ks->batch_shape_->ok()) {
    problem = "batch_query: " + ks->batch_shape_->error().message;
  } else if (!ks->shape_ || (wants_batch && !ks->batch_shape_)) {
    return;
  } else {
    problem =
        checkShape(*ks, ks->shape_->value(), wants_batch ? &ks->batch_shape_->value() : nullptr);
  }
  const auto state = problem ? Keyspace::State::kFailed : Keyspace::State::kReady;
  {
    std::lock_guard failure_lock(ks->failure_mutex_);
    // Every connection reports on every connect: log only what changes.
    if (state == ks->state() && ks->failure_ == problem.value_or("")) return;
    ks->failure_ = problem.value_or("");
  }
  ks->state_.store(state, std::memory_order_release);
  if (problem) {
    spdlog::error("{}: keyspace '{}' disabled: {}", ks->cfg_.origin, ks->name(), *problem);
  } else {
    spdlog::info("keyspace '{}' ready", ks->name());
  }
}

std::vector<std::string> KeyspaceRules::failures() const {
  std::vector<std::string> out;
  for (const auto& ks : keyspaces_) {
    if (ks->state() == Keyspace::State::kFailed) {
      out.push_back(ks->cfg_.origin + ": keyspace '" + ks->name() + "': " + ks->failure());
    }
  }
  return out;
}

}  // namespace readthru::cache
