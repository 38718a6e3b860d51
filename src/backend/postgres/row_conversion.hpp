#pragma once
// PostgreSQL column types and text values mapped onto the database-neutral shape of
// cache::RowSet. Pure: type OIDs and text in, kinds and normalised text out, so it is
// tested without a server. The connection sets DateStyle=ISO, TimeZone=UTC and
// bytea_output=hex, and these functions read values in exactly those forms.

#include <cstdint>
#include <string>
#include <string_view>

#include "cache/source_loader.hpp"

namespace readthru::backend::postgres {

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

}  // namespace readthru::backend::postgres
