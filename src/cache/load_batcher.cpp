#include "cache/load_batcher.hpp"

#include <boost/asio/post.hpp>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "common/fault.hpp"

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

LoadBatcher::LoadBatcher(boost::asio::io_context& io, const Keyspace& keyspace, SourceLoader& db,
                         KeyspaceStats& stats, Limits limits)
    : io_(io), keyspace_(keyspace), db_(db), limits_(limits), timer_(io), stats_(stats) {}

void LoadBatcher::unexpect() {
  if (expected_ > 0) --expected_;
  maybeFlush();
}

void LoadBatcher::add(std::vector<std::string> params, SourceLoader::RowsCallback done) {
  if (expected_ > 0) --expected_;
  if (full()) {
    // Answered through the loop, as the database would: add() never calls back inside.
    stats_.refused.add();
    boost::asio::post(io_, [done = std::move(done), name = keyspace_.name()] {
      done(Error{"too many loads waiting for keyspace '" + name + "'", Fault::kLoadQueueFull});
    });
    maybeFlush();
    return;
  }
  // Timed from here: the wait for a batch and a free session is part of a load.
  done = [stats = &stats_, start = std::chrono::steady_clock::now(),
          done = std::move(done)](Result<RowSet> rows) {
    stats->load_duration.observe(std::chrono::steady_clock::now() - start);
    done(std::move(rows));
  };
  items_.push_back({std::move(params), std::move(done)});
  maybeFlush();
}

// With a limit, the keys held here are those the free executions will carry and at most
// `waiting` more.
bool LoadBatcher::full() const {
  if (limits_.in_flight == 0) return false;
  const std::size_t free = limits_.in_flight - std::min(running_, limits_.in_flight);
  const std::size_t carried = free * (keyspace_.batchStatement() ? kMaxBatch : 1);
  return items_.size() >= carried + limits_.waiting;
}

SourceLoader::RowsCallback LoadBatcher::finishing(SourceLoader::RowsCallback done) {
  ++running_;
  return [this, done = std::move(done)](Result<RowSet> rows) {
    --running_;
    done(std::move(rows));
    maybeFlush();
  };
}

void LoadBatcher::maybeFlush() {
  if (items_.empty() || atLimit()) return;
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

// Sends what waits, as far as the keyspace's limit lets; the rest goes when an execution
// finishes (finishing()).
void LoadBatcher::flush() {
  if (items_.empty()) return;
  if (timer_armed_) {
    timer_armed_ = false;
    timer_.cancel();
  }
  const bool batch = keyspace_.batchStatement() && items_.size() > 1;
  std::size_t taken = 0;
  std::vector<Item> items;
  while (taken < items_.size() && !atLimit()) {
    if (!batch) {
      runSingle(std::move(items_[taken++]));
      continue;
    }
    const std::size_t n = std::min(kMaxBatch, items_.size() - taken);
    items.assign(std::make_move_iterator(items_.begin() + static_cast<std::ptrdiff_t>(taken)),
                 std::make_move_iterator(items_.begin() + static_cast<std::ptrdiff_t>(taken + n)));
    taken += n;
    runBatch(std::move(items));
    items.clear();
  }
  items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(taken));
}

void LoadBatcher::runSingle(Item item) {
  stats_.single_queries.add();
  db_.query(keyspace_.statement(), std::move(item.params), finishing(std::move(item.done)));
}

namespace {

// "+007" and "7" are the same integer to the database; "abc" is none.
std::optional<std::string> canonicalInteger(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 64) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const auto first = text.find_first_not_of('0');
  if (first == std::string_view::npos) return "0";
  std::string out(negative ? "-" : "");
  out.append(text.substr(first));
  return out;
}

}  // namespace

Result<std::vector<RowSet>> splitBatch(const RowSet& rs, const std::string& key_column,
                                       bool drop_key_column, const std::vector<std::string>& ids) {
  std::size_t key_col = rs.columns.size();
  for (std::size_t c = 0; c < rs.columns.size(); ++c) {
    if (rs.columns[c].name == key_column) key_col = c;
  }
  if (key_col == rs.columns.size()) {
    return Error{"batch_key '" + key_column + "' is not in the batch result"};
  }
  // Integer ids are matched by value: the database reads the key's "042" as 42.
  const bool integer = rs.columns[key_col].kind == ColumnKind::kInteger;
  auto canonical = [integer](std::string_view id) -> std::optional<std::string> {
    return integer ? canonicalInteger(id) : std::optional<std::string>(id);
  };
  RowSet empty;
  for (std::size_t c = 0; c < rs.columns.size(); ++c) {
    if (!(drop_key_column && c == key_col)) empty.columns.push_back(rs.columns[c]);
  }
  std::unordered_map<std::string, std::size_t> slot;  // canonical id -> index in out
  std::vector<RowSet> out(ids.size(), empty);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (auto id = canonical(ids[i])) slot.try_emplace(*id, i);
  }
  for (const auto& row : rs.rows) {
    if (key_col >= row.size() || !row[key_col]) continue;
    auto id = canonical(*row[key_col]);
    auto it = id ? slot.find(*id) : slot.end();
    if (it == slot.end()) continue;
    auto& dest = out[it->second].rows.emplace_back();
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (!(drop_key_column && c == key_col)) dest.push_back(row[c]);
    }
  }
  // Two keys with one id ("7" and "007") both get the rows.
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto id = canonical(ids[i]);
    if (!id) continue;
    const std::size_t first = slot.at(*id);
    if (first != i) out[i] = out[first];
  }
  return out;
}

// One batch_query for all items; its rows are handed back by the batch_key column. When
// the database rejects the batch (one id it cannot read, say), each key is retried alone,
// so that only the bad one fails.
void LoadBatcher::runBatch(std::vector<Item> items) {
  stats_.batch_queries.add();
  std::vector<std::string> ids;
  ids.reserve(items.size());
  for (const Item& item : items) ids.push_back(item.params.front());
  std::string array = textArrayLiteral(ids);
  // One place for the batch and, if it fails, for its retries one by one.
  SourceLoader::RowsCallback free_place = finishing([](Result<RowSet>) {});
  db_.query(*keyspace_.batchStatement(), {std::move(array)},
            [this, free_place = std::move(free_place), items = std::move(items),
             ids = std::move(ids)](Result<RowSet> result) mutable {
              if (!result && !isDatabaseDown(faultOf(result.error().code))) {
                retrySingly(std::move(items), std::move(free_place));
                return;
              }
              const bool value_format = keyspace_.cfg().format == config::KeyspaceFormat::kValue;
              auto split = result
                               ? splitBatch(*result, keyspace_.cfg().batch_key, value_format, ids)
                               : Result<std::vector<RowSet>>(result.error());
              for (std::size_t i = 0; i < items.size(); ++i) {
                if (split) {
                  items[i].done(std::move((*split)[i]));
                } else {
                  items[i].done(split.error());
                }
              }
              free_place(RowSet{});
            });
}

// Each key of a rejected batch alone, so that only the bad one fails; the batch's place
// is freed when the last of them is answered.
void LoadBatcher::retrySingly(std::vector<Item> items, SourceLoader::RowsCallback free_place) {
  struct Left {
    std::size_t count;
    SourceLoader::RowsCallback free_place;
  };
  auto left = std::make_shared<Left>(Left{items.size(), std::move(free_place)});
  for (Item& item : items) {
    stats_.single_queries.add();
    db_.query(keyspace_.statement(), std::move(item.params),
              [left, done = std::move(item.done)](Result<RowSet> r) {
                done(std::move(r));
                if (--left->count == 0) left->free_place(RowSet{});
              });
  }
}

}  // namespace readthru::cache
