#include "cache/row_encoding.hpp"

#include <array>
#include <cassert>
#include <cstdint>

namespace readthru::cache {
namespace {

// ---------------------------------------------------------------------------------------
// JSON strings
// ---------------------------------------------------------------------------------------

// What the string copier does with a byte: copy it, escape it, or check the UTF-8
// sequence it starts. A table keeps the common ASCII path to one load and compare.
enum ByteClass : std::uint8_t { kCopy, kEscape, kMultiByte };

constexpr std::array<std::uint8_t, 256> kByteClass = [] {
  std::array<std::uint8_t, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = kEscape;
  table['"'] = kEscape;
  table['\\'] = kEscape;
  for (int c = 0x80; c < 0x100; ++c) table[c] = kMultiByte;
  return table;
}();

void appendEscape(std::string& out, unsigned char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      const char escape[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out.append(escape, sizeof escape);
    }
  }
}

struct Utf8Step {
  std::size_t length;  // bytes to consume: the sequence, or its maximal ill-formed subpart
  bool valid;
};

// Classifies the sequence starting at p[0] (a byte >= 0x80) by Unicode's table of
// well-formed byte sequences (Table 3-7). The second byte's range is what rules out
// overlongs (E0, F0), surrogates (ED) and code points above U+10FFFF (F4); C0, C1 and
// F5..FF never start a sequence. An ill-formed sequence is consumed up to, not including,
// the first byte that cannot continue it, so that byte is looked at again on its own.
Utf8Step utf8Step(const unsigned char* p, std::size_t available) {
  const unsigned char lead = p[0];
  std::size_t need = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    need = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    need = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    need = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return {1, false};
  }
  if (available < 2 || p[1] < low || p[1] > high) return {1, false};
  std::size_t length = 2;
  while (length < need && length < available && (p[length] & 0xc0) == 0x80) ++length;
  return {length, length == need};
}

// U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR: legal in JSON, but line breaks in
// JavaScript string literals, so they are escaped.
bool isJsLineBreak(const unsigned char* p, std::size_t length) {
  return length == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9);
}

// ---------------------------------------------------------------------------------------
// Numbers and bytes
// ---------------------------------------------------------------------------------------

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::size_t skipDigits(std::string_view s, std::size_t i) {
  while (i < s.size() && isDigit(s[i])) ++i;
  return i;
}

// RFC 8259 section 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, or only the integer
// part when `integer_only`.
bool isJsonNumber(std::string_view s, bool integer_only) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i == s.size() || !isDigit(s[i])) return false;
  i = s[i] == '0' ? i + 1 : skipDigits(s, i);
  if (integer_only) return i == s.size();
  if (i < s.size() && s[i] == '.') {
    const std::size_t end = skipDigits(s, i + 1);
    if (end == i + 1) return false;
    i = end;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t end = skipDigits(s, i);
    if (end == i) return false;
    i = end;
  }
  return i == s.size();
}

// Appends `bytes` as a quoted base64 string (RFC 4648 section 4, padded).
void appendBase64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  const std::size_t start = out.size();
  out.resize(start + 2 + (n + 2) / 3 * 4);
  char* o = out.data() + start;
  *o++ = '"';
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 0x3f];
    *o++ = kAlphabet[(v >> 6) & 0x3f];
    *o++ = kAlphabet[v & 0x3f];
  }
  if (i < n) {
    const bool two = i + 1 < n;
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (two ? std::uint32_t{p[i + 1]} << 8 : 0);
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 0x3f];
    *o++ = two ? kAlphabet[(v >> 6) & 0x3f] : '=';
    *o++ = '=';
  }
  *o = '"';
}

// ---------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------

// The value of column `col` in `cells`, or nullptr for NULL (or a cell the row lacks).
const std::string* cellAt(const std::vector<std::optional<std::string>>& cells, std::size_t col) {
  return col < cells.size() && cells[col] ? &*cells[col] : nullptr;
}

void appendJsonValue(std::string& out, ColumnKind kind, const std::string* value) {
  if (value == nullptr) {
    out += "null";
    return;
  }
  const std::string& v = *value;
  switch (kind) {
    case ColumnKind::kInteger:
    case ColumnKind::kNumber:
      if (isJsonNumber(v, kind == ColumnKind::kInteger)) {
        out += v;
        return;
      }
      break;
    case ColumnKind::kBool:
      if (v == "true" || v == "false") {
        out += v;
        return;
      }
      break;
    case ColumnKind::kJson:
      // Blank text would leave a hole in the document; the database never sends it for a
      // non-NULL json value, but a hole is worse than a null.
      out += v.find_first_not_of(" \t\n\r") == std::string::npos ? std::string_view("null") : v;
      return;
    case ColumnKind::kBytes:
      appendBase64(out, v);
      return;
    case ColumnKind::kText:
    case ColumnKind::kTimestamp:
      break;
  }
  appendJsonString(out, v);
}

// A capacity hint for one row's object: names and values plus quotes, colons, commas and a
// third for base64. Escapes may still grow the string; that costs one reallocation.
std::size_t estimateObjectSize(const RowSet& rs, std::size_t row) {
  std::size_t size = 2;
  const auto& cells = rs.rows[row];
  for (std::size_t col = 0; col < rs.columns.size(); ++col) {
    size += rs.columns[col].name.size() + 8;
    if (const std::string* v = cellAt(cells, col)) size += v->size() + v->size() / 3;
  }
  return size;
}

void appendJsonObject(std::string& out, const RowSet& rs, std::size_t row) {
  const auto& cells = rs.rows[row];
  out += '{';
  for (std::size_t col = 0; col < rs.columns.size(); ++col) {
    if (col > 0) out += ',';
    appendJsonString(out, rs.columns[col].name);
    out += ':';
    appendJsonValue(out, rs.columns[col].kind, cellAt(cells, col));
  }
  out += '}';
}

}  // namespace

void appendJsonString(std::string& out, std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  out.reserve(out.size() + n + 2);
  out += '"';
  // text[copied, i) is plain and not yet appended, so runs go out in one append.
  std::size_t copied = 0;
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t cls = kByteClass[p[i]];
    if (cls == kCopy) {
      ++i;
      continue;
    }
    Utf8Step step{1, false};
    if (cls == kMultiByte) {
      step = utf8Step(p + i, n - i);
      if (step.valid && !isJsLineBreak(p + i, step.length)) {
        i += step.length;
        continue;
      }
    }
    out.append(text.data() + copied, i - copied);
    if (cls == kEscape) {
      appendEscape(out, p[i]);
    } else if (step.valid) {
      out += p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
    } else {
      out += "\\ufffd";
    }
    i += step.length;
    copied = i;
  }
  out.append(text.data() + copied, n - copied);
  out += '"';
}

std::string encodeJsonObject(const RowSet& rs, std::size_t row) {
  assert(row < rs.rows.size());
  std::string out;
  out.reserve(estimateObjectSize(rs, row));
  appendJsonObject(out, rs, row);
  return out;
}

std::string encodeJsonRows(const RowSet& rs) {
  std::size_t size = 2;
  for (std::size_t row = 0; row < rs.rows.size(); ++row) size += estimateObjectSize(rs, row) + 1;
  std::string out;
  out.reserve(size);
  out += '[';
  for (std::size_t row = 0; row < rs.rows.size(); ++row) {
    if (row > 0) out += ',';
    appendJsonObject(out, rs, row);
  }
  out += ']';
  return out;
}

std::optional<std::string> encodeValue(const RowSet& rs, std::size_t row) {
  assert(row < rs.rows.size());
  // The loader already normalises every kind's text to its stored form (bytea as raw
  // bytes, bool as "true"/"false"), so the raw value is the text itself.
  if (rs.columns.empty()) return std::nullopt;
  const std::string* value = cellAt(rs.rows[row], 0);
  if (value == nullptr) return std::nullopt;
  return *value;
}

std::vector<std::pair<std::string, std::string>> encodeHash(const RowSet& rs, std::size_t row) {
  assert(row < rs.rows.size());
  const auto& cells = rs.rows[row];
  std::vector<std::pair<std::string, std::string>> fields;
  fields.reserve(rs.columns.size());
  for (std::size_t col = 0; col < rs.columns.size(); ++col) {
    if (const std::string* value = cellAt(cells, col)) {
      fields.emplace_back(rs.columns[col].name, *value);
    }
  }
  return fields;
}

}  // namespace readthru::cache
