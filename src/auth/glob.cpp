#include "auth/glob.hpp"

#include <cstddef>
#include <utility>

namespace readthru::auth {
namespace {

// Matches one `[...]` class starting at pattern[p] == '[' against byte c. Sets `end` to the
// index just past the class (an unclosed class runs to the end, as in Redis).
bool matchClass(std::string_view pattern, std::size_t p, char c, std::size_t& end) {
  ++p;
  const bool negate = p < pattern.size() && pattern[p] == '^';
  if (negate) ++p;
  bool match = false;
  while (p < pattern.size() && pattern[p] != ']') {
    if (pattern[p] == '\\' && p + 1 < pattern.size()) {
      ++p;
      match = match || pattern[p] == c;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
      char lo = pattern[p];
      char hi = pattern[p + 2];
      if (lo > hi) std::swap(lo, hi);  // Redis accepts [z-a]
      match = match || (c >= lo && c <= hi);
      p += 2;
    } else {
      match = match || pattern[p] == c;
    }
    ++p;
  }
  end = p < pattern.size() ? p + 1 : p;
  return negate ? !match : match;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  // Where to resume after the last `*`: it then swallows one more byte of text.
  std::size_t star_p = std::string_view::npos;
  std::size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;
        star_p = p;
        star_t = t;
        continue;
      }
      std::size_t next = p + 1;
      bool ok = false;
      if (pc == '?') {
        ok = true;
      } else if (pc == '[') {
        ok = matchClass(pattern, p, text[t], next);
      } else if (pc == '\\' && p + 1 < pattern.size()) {
        ok = pattern[p + 1] == text[t];
        next = p + 2;
      } else {
        ok = pc == text[t];
      }
      if (ok) {
        p = next;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace readthru::auth
