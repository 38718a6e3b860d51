#include "cache/change_mapper.hpp"

#include <algorithm>

namespace readthru::cache {
namespace {

std::optional<std::size_t> columnIndex(const std::vector<std::string>& columns,
                                       const std::string& name) {
  auto it = std::find(columns.begin(), columns.end(), name);
  if (it == columns.end()) return std::nullopt;
  return static_cast<std::size_t>(it - columns.begin());
}

// The text of `tmpl` with each name replaced by the row's value; nullopt when a value
// is missing (NULL, or a column the old row did not carry).
std::optional<std::string> render(const KeyPattern& tmpl, const std::vector<std::string>& names,
                                  const RowChange& change,
                                  const std::vector<std::optional<std::string>>& row) {
  std::vector<std::string_view> values;
  for (const std::string& name : names) {
    auto i = columnIndex(change.columns, name);
    if (!i || *i >= row.size() || !row[*i]) return std::nullopt;
    values.push_back(*row[*i]);
  }
  return tmpl.render(values);
}

}  // namespace

ChangeMapper::ChangeMapper(std::shared_ptr<const KeyspaceRules> rules) : rules_(std::move(rules)) {
  for (const auto& ks : rules_->keyspaces()) {
    for (const config::InvalidateRule& r : ks->cfg().invalidate) {
      Rule rule{ks.get(), &r, {}};
      for (const std::string& t : r.tags) {
        if (auto p = KeyPattern::compile(t)) rule.tags.push_back(std::move(*p));
      }
      rules_list_.push_back(std::move(rule));
    }
  }
}

std::vector<std::string> ChangeMapper::tables() const {
  std::set<std::string> out;
  for (const Rule& r : rules_list_) out.insert(r.cfg->table);
  return {out.begin(), out.end()};
}

void ChangeMapper::resolve(const std::vector<TableInfo>& infos) {
  const auto names = tables();
  for (std::size_t i = 0; i < infos.size() && i < names.size(); ++i) {
    if (infos[i].exists) resolved_[names[i]] = infos[i].table;
  }
}

std::string ChangeMapper::qualified(const std::string& table) const {
  auto it = resolved_.find(table);
  if (it != resolved_.end()) return it->second;
  return table.find('.') == std::string::npos ? "public." + table : table;
}

std::vector<std::string> ChangeMapper::check(const std::vector<TableInfo>& infos) const {
  std::vector<std::string> problems;
  const auto names = tables();
  for (const Rule& r : rules_list_) {
    const std::string where = r.cfg->origin + ": keyspace '" + r.ks->name() +
                              "': invalidate table '" + r.cfg->table + "': ";
    auto at = std::find(names.begin(), names.end(), r.cfg->table);
    const std::size_t index = static_cast<std::size_t>(at - names.begin());
    if (index >= infos.size() || !infos[index].exists) {
      problems.push_back(where + "no such table");
      continue;
    }
    const TableInfo& info = infos[index];
    std::vector<std::string> used = r.cfg->key;
    for (const KeyPattern& t : r.tags) {
      used.insert(used.end(), t.captureNames().begin(), t.captureNames().end());
    }
    for (const std::string& col : used) {
      if (!columnIndex(info.columns, col)) {
        problems.push_back(where + "no column '" + col + "'");
      } else if (!info.identity_full && !columnIndex(info.identity_columns, col)) {
        problems.push_back(where + "column '" + col +
                           "' is not in the table's replica identity, so deletes and updates "
                           "of it cannot be mapped; run ALTER TABLE " +
                           info.table +
                           " REPLICA IDENTITY FULL (or make it part of the primary key)");
      }
    }
  }
  return problems;
}

void ChangeMapper::fromRow(const Rule& rule, const RowChange& change,
                           const std::vector<std::optional<std::string>>& row, Invalidations& out) {
  if (row.empty()) return;
  if (!rule.cfg->key.empty()) {
    const KeyPattern& pattern = rule.ks->pattern();
    if (auto key = render(pattern, rule.cfg->key, change, row)) {
      // A value that cannot be a capture (one with ':') names no key of this keyspace.
      std::vector<std::string_view> caps;
      if (pattern.match(*key, caps)) out.keys.insert(std::move(*key));
    }
  }
  for (const KeyPattern& t : rule.tags) {
    auto tag = render(t, t.captureNames(), change, row);
    if (tag && !tag->empty()) out.tags.insert(std::move(*tag));
  }
}

void ChangeMapper::map(const RowChange& change, Invalidations& out) const {
  for (const Rule& rule : rules_list_) {
    if (qualified(rule.cfg->table) != change.table) continue;
    if (change.op == RowChange::Op::kTruncate) {
      out.keyspaces.insert(rule.ks->name());
      continue;
    }
    fromRow(rule, change, change.new_row, out);
    fromRow(rule, change, change.old_row, out);
  }
}

Invalidations ChangeMapper::map(const Transaction& txn) const {
  Invalidations out;
  for (const RowChange& c : txn.changes) map(c, out);
  return out;
}

}  // namespace readthru::cache
