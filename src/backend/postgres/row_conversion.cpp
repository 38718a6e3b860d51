#include "backend/postgres/row_conversion.hpp"

#include <libpq-fe.h>

#include <cstring>
#include <optional>
#include <string_view>

#include "common/fault.hpp"

namespace readthru::backend::postgres {

namespace {

// OIDs of the built-in types (src/include/catalog/pg_type.dat); they never change.
enum : std::uint32_t {
  kBoolOid = 16,
  kByteaOid = 17,
  kInt8Oid = 20,
  kInt2Oid = 21,
  kInt4Oid = 23,
  kOidOid = 26,
  kJsonOid = 114,
  kFloat4Oid = 700,
  kFloat8Oid = 701,
  kDateOid = 1082,
  kTimeOid = 1083,
  kTimestampOid = 1114,
  kTimestamptzOid = 1184,
  kTimetzOid = 1266,
  kNumericOid = 1700,
  kJsonbOid = 3802,
};

constexpr const char* kQueryCanceled = "57014";  // statement_timeout (or a cancel request)

// Which SQLSTATEs are not the database's answer to the statement but a failure of the
// database itself, by code (class 57P: operator intervention, such as a shutdown; class
// 08: the connection).
Fault faultOfState(const char* state) {
  if (state == nullptr) return Fault::kNone;
  // The server's statement_timeout cancels the query: a timeout, not a refusal.
  if (std::strcmp(state, kQueryCanceled) == 0) return Fault::kStatementTimeout;
  const std::string_view code(state);
  if (code.starts_with("57P") || code.starts_with("08")) return Fault::kDatabaseDown;
  return Fault::kNone;
}

std::optional<unsigned> hexDigit(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<unsigned>(c - 'A' + 10);
  return std::nullopt;
}

}  // namespace

cache::ColumnKind columnKind(std::uint32_t type_oid) {
  using cache::ColumnKind;
  switch (type_oid) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid:
      return ColumnKind::kInteger;
    case kNumericOid:
    case kFloat4Oid:
    case kFloat8Oid:
      return ColumnKind::kNumber;
    case kBoolOid:
      return ColumnKind::kBool;
    case kJsonOid:
    case kJsonbOid:
      return ColumnKind::kJson;
    case kTimestampOid:
    case kTimestamptzOid:
    case kDateOid:
    case kTimeOid:
    case kTimetzOid:
      return ColumnKind::kTimestamp;
    case kByteaOid:
      return ColumnKind::kBytes;
    default:
      return ColumnKind::kText;
  }
}

std::string normaliseValue(cache::ColumnKind kind, std::string_view text) {
  switch (kind) {
    case cache::ColumnKind::kBool:
      if (text == "t") return "true";
      if (text == "f") return "false";
      return std::string(text);
    case cache::ColumnKind::kTimestamp:
      return isoTimestamp(text);
    case cache::ColumnKind::kBytes:
      return decodeBytea(text);
    default:
      return std::string(text);
  }
}

std::string isoTimestamp(std::string_view text) {
  std::string out(text);
  const std::size_t colon = out.find(':');
  if (colon == std::string::npos) return out;  // a date, "infinity", "-infinity"

  // With DateStyle=ISO a date and its time are separated by the first space; a time
  // value (time, timetz) has no date and its first colon comes before any space.
  std::size_t time_start = 0;
  const std::size_t space = out.find(' ');
  if (space != std::string::npos && space < colon) {
    out[space] = 'T';
    time_start = space + 1;
  }

  // The zone is the first sign after the time starts. The server abbreviates whole-hour
  // offsets to "+HH" (and keeps "+HH:MM" or "+HH:MM:SS" otherwise); ISO 8601 wants
  // minutes. A trailing " BC" stays where it is.
  const std::size_t sign = out.find_first_of("+-", time_start);
  if (sign == std::string::npos) return out;
  std::size_t end = out.find(' ', sign);
  if (end == std::string::npos) end = out.size();
  if (end - sign == 3) out.insert(end, ":00");
  return out;
}

std::string decodeBytea(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
    return std::string(text);
  }
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i < text.size(); i += 2) {
    const auto hi = hexDigit(text[i]);
    const auto lo = hexDigit(text[i + 1]);
    if (!hi || !lo) return std::string(text);
    out.push_back(static_cast<char>((*hi << 4) | *lo));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Results and errors as libpq hands them over

std::string oneLine(const char* text) {
  std::string out;
  bool gap = false;
  for (const char* p = text; p != nullptr && *p != '\0'; ++p) {
    if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
      gap = !out.empty();
      continue;
    }
    if (gap) out.push_back(' ');
    gap = false;
    out.push_back(*p);
  }
  return out;
}

std::string connError(const pg_conn* conn) {
  std::string text = conn != nullptr ? oneLine(PQerrorMessage(conn)) : std::string();
  return text.empty() ? "connection failed" : text;
}

std::string resultError(const pg_result* res, const pg_conn* conn) {
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  if (state != nullptr && std::strcmp(state, kQueryCanceled) == 0) return kStatementTimeout;
  std::string text = oneLine(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
  if (text.empty()) text = oneLine(PQresultErrorMessage(res));
  return text.empty() ? connError(conn) : text;
}

std::vector<cache::Column> columnsOf(const pg_result* res) {
  std::vector<cache::Column> columns(static_cast<std::size_t>(PQnfields(res)));
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const int c = static_cast<int>(i);
    columns[i].name = PQfname(res, c);
    columns[i].kind = columnKind(PQftype(res, c));
  }
  return columns;
}

namespace {

cache::RowSet toRowSet(const pg_result* res) {
  cache::RowSet out;
  out.columns = columnsOf(res);
  const int nrows = PQntuples(res);
  out.rows.resize(static_cast<std::size_t>(nrows));
  for (int r = 0; r < nrows; ++r) {
    auto& row = out.rows[static_cast<std::size_t>(r)];
    row.reserve(out.columns.size());
    for (std::size_t c = 0; c < out.columns.size(); ++c) {
      const int col = static_cast<int>(c);
      if (PQgetisnull(res, r, col)) {
        row.emplace_back(std::nullopt);
        continue;
      }
      // Values may hold any byte but NUL (text format); PQgetlength, not strlen, bounds them.
      const std::string_view text(PQgetvalue(res, r, col),
                                  static_cast<std::size_t>(PQgetlength(res, r, col)));
      row.emplace_back(normaliseValue(out.columns[c].kind, text));
    }
  }
  return out;
}

}  // namespace

Result<cache::RowSet> queryOutcome(const pg_result* res, const pg_conn* conn) {
  switch (PQresultStatus(res)) {
    case PGRES_TUPLES_OK:
      return toRowSet(res);
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
      return cache::RowSet{};
    case PGRES_PIPELINE_ABORTED:
      return Error{"query aborted by an earlier error in the pipeline"};
    default: {
      const Fault fault = faultOfState(PQresultErrorField(res, PG_DIAG_SQLSTATE));
      if (fault == Fault::kDatabaseDown) {
        return Error{"database unreachable: " + resultError(res, conn), fault};
      }
      return Error{resultError(res, conn),
                   fault == Fault::kNone ? std::error_code() : std::error_code(fault)};
    }
  }
}

}  // namespace readthru::backend::postgres
