#pragma once
// A keyspace's key pattern, as written in the config: literal text with named captures,
// e.g. "user:profile:<id>" or "order:{<customer>}:<id>". A capture matches one key
// segment: one or more characters other than ':'. Pure: no I/O, no allocation on match
// beyond the caller's vector.

#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace readthru::cache {

class KeyPattern {
 public:
  // Errors name the problem and where it is, e.g. "capture name missing at column 6".
  // Rules: names are [A-Za-z_][A-Za-z0-9_]*, each used once; two captures may not touch
  // ("<a><b>" has no single way to split a key); '<' and '>' are not literal text.
  static Result<KeyPattern> compile(std::string_view text);

  // True when `key` matches; `captures` then holds one value per captureNames() entry, in
  // order (views into `key`).
  bool match(std::string_view key, std::vector<std::string_view>& captures) const;

  // The text with each capture replaced by values[i] (one per captureNames() entry). The
  // caller checks with match() when the values may not fit (a ':' inside one).
  std::string render(const std::vector<std::string_view>& values) const;

  // A Redis glob (SCAN MATCH) for every key this pattern matches: literals escaped,
  // captures as '*'. It may match more (a '*' also matches ':').
  std::string glob() const;

  const std::string& text() const { return text_; }
  const std::vector<std::string>& captureNames() const { return names_; }

  // Whether some key matches both patterns. Two keyspaces must never own the same key, so
  // the config loader rejects such pairs.
  static bool overlaps(const KeyPattern& a, const KeyPattern& b);

 private:
  struct Token {
    bool capture = false;
    std::string literal;  // when !capture
  };

  bool matchFrom(std::size_t token, std::string_view rest,
                 std::vector<std::string_view>& captures) const;

  std::string text_;
  std::vector<Token> tokens_;  // literals and captures, never two captures in a row
  std::vector<std::string> names_;
};

}  // namespace readthru::cache
