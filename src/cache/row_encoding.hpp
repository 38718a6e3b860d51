#pragma once
// How a keyspace rule's rows become a Redis value, one function per config::KeyspaceFormat:
//   json  -> encodeJsonObject   one row as {"col":value,...}
//   rows  -> encodeJsonRows     all rows as [{...},{...}]
//   value -> encodeValue        the single column's raw text
//   hash  -> encodeHash         field/value pairs for HSET
// Pure: no I/O, no exceptions, no logging. JSON output is RFC 8259 text without whitespace
// that any JSON library parses, whatever bytes the database sent (see appendJsonString).
//
// JSON per ColumnKind (NULL is always null):
//   kText, kTimestamp  string
//   kInteger           number when it matches -?(0|[1-9][0-9]*), else string ("007")
//   kNumber            number when it matches JSON's number grammar, else string ("NaN",
//                      "Infinity", "-Infinity")
//   kBool              true/false for "true"/"false", else string
//   kJson              embedded verbatim (the database has validated it); empty -> null
//   kBytes             base64 string (standard alphabet, padded)

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/source_loader.hpp"

namespace readthru::cache {

// Appends `text` to `out` as a quoted JSON string. Escapes '"', '\\', every control
// character U+0000..U+001F (\b \f \n \r \t or \u00XX) and U+2028/U+2029 (so the text is
// also safe inside JavaScript). Well-formed UTF-8 is copied as is; each maximal ill-formed
// subsequence (stray continuation, bad lead byte, overlong, surrogate, above U+10FFFF,
// truncated sequence) becomes one \ufffd, as the Unicode standard recommends.
void appendJsonString(std::string& out, std::string_view text);

// Format `json`: row number `row` (< rs.rows.size()) as one JSON object, column names as
// keys in column order. A row shorter than rs.columns reads as NULL in the missing columns.
std::string encodeJsonObject(const RowSet& rs, std::size_t row);

// Format `rows`: every row as an object, in a JSON array; "[]" when there are none.
std::string encodeJsonRows(const RowSet& rs);

// Format `value`: the first (by contract the only) column of row `row`, raw: bytea as its
// bytes, bool as "true"/"false", everything else as its text. nullopt when it is NULL.
std::optional<std::string> encodeValue(const RowSet& rs, std::size_t row);

// Format `hash`: (column name, raw value as in encodeValue) for each non-NULL column of row
// `row`, in column order. NULL columns are left out, since a Redis hash cannot hold NULL;
// an all-NULL row yields an empty vector, which the caller treats as "no row".
std::vector<std::pair<std::string, std::string>> encodeHash(const RowSet& rs, std::size_t row);

}  // namespace readthru::cache
