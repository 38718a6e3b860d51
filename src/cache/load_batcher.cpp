#include "cache/load_batcher.hpp"

#include <boost/asio/post.hpp>
#include <memory>
#include <unordered_map>

namespace readthru::cache {

std::string textArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const std::string& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

LoadBatcher::LoadBatcher(boost::asio::io_context& io, const Keyspace& keyspace, SourceLoader& db)
    : io_(io), keyspace_(keyspace), db_(db), timer_(io) {}

void LoadBatcher::unexpect() {
  if (expected_ > 0) --expected_;
  maybeFlush();
}

void LoadBatcher::add(std::vector<std::string> params, SourceLoader::RowsCallback done) {
  if (expected_ > 0) --expected_;
  items_.push_back({std::move(params), std::move(done)});
  maybeFlush();
}

void LoadBatcher::maybeFlush() {
  if (items_.empty()) return;
  if (expected_ == 0 || items_.size() >= kMaxBatch) {
    // Posted, not run here: loads added by handlers already queued in this turn join in.
    if (!flush_posted_) {
      flush_posted_ = true;
      boost::asio::post(io_, [this] {
        flush_posted_ = false;
        flush();
      });
    }
    return;
  }
  if (!timer_armed_) {
    timer_armed_ = true;
    timer_.expires_after(kMaxWait);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // cancelled by a flush that came first
      timer_armed_ = false;
      flush();
    });
  }
}

void LoadBatcher::flush() {
  if (items_.empty()) return;
  if (timer_armed_) {
    timer_armed_ = false;
    timer_.cancel();
  }
  std::vector<Item> items = std::move(items_);
  items_.clear();
  if (!keyspace_.batchStatement() || items.size() == 1) {
    for (Item& item : items) {
      single_queries_.fetch_add(1, std::memory_order_relaxed);
      db_.query(keyspace_.statement(), std::move(item.params), std::move(item.done));
    }
    return;
  }
  while (items.size() > kMaxBatch) {
    std::vector<Item> head(std::make_move_iterator(items.begin()),
                           std::make_move_iterator(items.begin() + kMaxBatch));
    items.erase(items.begin(), items.begin() + kMaxBatch);
    runBatch(std::move(head));
  }
  runBatch(std::move(items));
}

// One batch_query for all items; its rows are handed back by the batch_key column.
void LoadBatcher::runBatch(std::vector<Item> items) {
  batch_queries_.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::string> ids;
  ids.reserve(items.size());
  for (const Item& item : items) ids.push_back(item.params.front());
  auto shared = std::make_shared<std::vector<Item>>(std::move(items));
  const bool value_format = keyspace_.cfg().format == config::KeyspaceFormat::kValue;
  const std::string& key_column = keyspace_.cfg().batch_key;
  db_.query(*keyspace_.batchStatement(), {textArrayLiteral(ids)},
            [shared, value_format, key_column](Result<RowSet> result) {
              std::vector<Item>& items = *shared;
              if (!result) {
                for (Item& item : items) item.done(result.error());
                return;
              }
              const RowSet& rs = *result;
              std::size_t key_col = rs.columns.size();
              for (std::size_t c = 0; c < rs.columns.size(); ++c) {
                if (rs.columns[c].name == key_column) key_col = c;
              }
              if (key_col == rs.columns.size()) {
                for (Item& item : items) {
                  item.done(Error{"batch_key '" + key_column + "' is not in the batch result"});
                }
                return;
              }
              // With format value the batch returns the value and the key; keep the value.
              RowSet empty;
              for (std::size_t c = 0; c < rs.columns.size(); ++c) {
                if (!(value_format && c == key_col)) empty.columns.push_back(rs.columns[c]);
              }
              std::unordered_map<std::string, RowSet> by_id;
              for (const auto& row : rs.rows) {
                if (!row[key_col]) continue;
                auto [it, fresh] = by_id.try_emplace(*row[key_col]);
                if (fresh) it->second.columns = empty.columns;
                auto& out = it->second.rows.emplace_back();
                for (std::size_t c = 0; c < row.size(); ++c) {
                  if (!(value_format && c == key_col)) out.push_back(row[c]);
                }
              }
              for (Item& item : items) {
                auto it = by_id.find(item.params.front());
                item.done(it == by_id.end() ? empty : std::move(it->second));
              }
            });
}

}  // namespace readthru::cache
