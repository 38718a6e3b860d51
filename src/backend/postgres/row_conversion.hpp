#pragma once
// PostgreSQL results mapped onto the database-neutral shape of cache::RowSet. The value
// functions are pure (type OIDs and text in, kinds and normalised text out) and tested
// without a server. The connection sets DateStyle=ISO, TimeZone=UTC and bytea_output=hex,
// and they read values in exactly those forms. The result functions take libpq's
// PGresult/PGconn, declared here only as opaque types.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cache/source_loader.hpp"
#include "common/result.hpp"

struct pg_conn;    // libpq's PGconn
struct pg_result;  // libpq's PGresult

namespace readthru::backend::postgres {

// The message every client-side or server-side statement timeout is reported with.
inline constexpr const char* kStatementTimeout = "statement timeout";

// The kind of a column whose type has OID `type_oid` (pg_type.oid). Types we do not
// know, including domains, arrays and enums, are kText.
cache::ColumnKind columnKind(std::uint32_t type_oid);

// A value's text as the server sent it, rewritten to the form cache::ColumnKind
// promises: kBool "t"/"f" -> "true"/"false", kTimestamp in ISO 8601 with 'T' and a
// "+HH:MM" zone, kBytes as the raw bytes. Other kinds are returned unchanged.
std::string normaliseValue(cache::ColumnKind kind, std::string_view text);

// "2024-05-01 12:00:00+00" -> "2024-05-01T12:00:00+00:00". Dates, times without a
// zone, "infinity" and zones already in "+HH:MM" form pass through (apart from the 'T').
std::string isoTimestamp(std::string_view text);

// Decodes bytea's hex output ("\x0a0b" -> two bytes). Text in any other form (the
// server's escape format) is returned unchanged rather than guessed at.
std::string decodeBytea(std::string_view text);

// A query's result: its rows (PGRES_TUPLES_OK; none for a command), or the reason it
// failed. Values are read with PQgetlength, so any byte survives.
Result<cache::RowSet> queryOutcome(const pg_result* res, const pg_conn* conn);
// The columns a result (or a described statement) has.
std::vector<cache::Column> columnsOf(const pg_result* res);
// The database's own words for a failed command, without "ERROR:" or detail lines;
// SQLSTATE 57014 (statement_timeout) becomes kStatementTimeout. queryOutcome() also types
// a shutdown or a broken connection (57P*, 08*) as kDatabaseDown.
std::string resultError(const pg_result* res, const pg_conn* conn);
// The connection's last error, on one line ("connection failed" if libpq says nothing).
std::string connError(const pg_conn* conn);
// libpq's messages end in a newline and may span lines ("... failed: Connection refused\n\t
// Is the server running ..."). A reason goes into one log line or one RESP error, so runs
// of whitespace become one space and the ends are trimmed.
std::string oneLine(const char* text);

}  // namespace readthru::backend::postgres
