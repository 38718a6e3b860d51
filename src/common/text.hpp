#pragma once
// ASCII case helpers for command names and options (Redis compares them byte-wise,
// ignoring ASCII case only).

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace readthru {

inline char asciiLower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

inline std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(c);
  return out;
}

inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return asciiLower(x) == asciiLower(y);
         });
}

}  // namespace readthru
