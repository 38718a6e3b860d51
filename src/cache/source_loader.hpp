#pragma once
// The port through which the read-through service reaches the database. backend/postgres
// implements it. Rows arrive in a database-neutral shape (column kinds, text values) so
// that encoding them as JSON or a Redis hash is pure code in cache/.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "metrics/cells.hpp"
#include "metrics/snapshot.hpp"

namespace readthru::cache {

// What a column holds, as far as encoding cares. The loader maps database types onto it
// and normalises the text: kBool is "true"/"false", kTimestamp is ISO 8601
// ("2024-05-01T12:00:00+00:00"), kBytes is the raw bytes (not the database's hex).
enum class ColumnKind : std::uint8_t {
  kText,
  kInteger,  // int2/int4/int8/oid
  kNumber,   // numeric, float4/float8: may be "NaN" or "Infinity", which JSON cannot hold
  kBool,
  kJson,       // json/jsonb: already valid JSON text
  kTimestamp,  // timestamp(tz), date, time(tz)
  kBytes,      // bytea
};

struct Column {
  std::string name;
  ColumnKind kind = ColumnKind::kText;
};

// One statement's result. A value is its text form; nullopt is SQL NULL.
struct RowSet {
  std::vector<Column> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

// What preparing a statement told us: how many $n it takes and the columns it returns.
struct StatementShape {
  int param_count = 0;
  std::vector<Column> columns;
};

class SourceLoader : public metrics::Source {
 public:
  using RowsCallback = std::function<void(Result<RowSet>)>;

  virtual ~SourceLoader() = default;

  // Runs statement number `statement` (an index into the list the loader was built with),
  // binding `params` as text $1, $2 ... (never spliced into the SQL). `done` runs exactly
  // once, on the loader's own io thread, never before query() returns. An Error's message
  // is the reason a client may see: "statement timeout", "too many loads waiting",
  // "database unreachable: ...", or the database's own error text. Failures of the loader
  // itself also carry their Fault in Error::code (kStatementTimeout, kLoadQueueFull,
  // kDatabaseDown, ...); the database rejecting the statement carries none.
  virtual void query(std::size_t statement, std::vector<std::string> params, RowsCallback done) = 0;

  // Stops for good: queries waiting or running are answered with an error, and so are
  // later ones. On the loader's own thread (readthru stops, or a reload retired it).
  virtual void stop() = 0;
};

}  // namespace readthru::cache
