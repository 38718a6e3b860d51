#include "common/json_string.hpp"

namespace readthru {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void appendByteEscape(std::string& out, unsigned char c) {
  const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
  out.append(esc, sizeof esc);
}

bool continuation(unsigned char c) { return (c & 0xc0) == 0x80; }

}  // namespace

// RFC 3629's table: the second byte's range narrows for E0 (no overlongs), ED (no
// surrogates), F0 (no overlongs) and F4 (nothing past U+10FFFF).
std::size_t utf8SequenceLength(std::string_view s) {
  if (s.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;  // a continuation byte, C0/C1 (always overlong), or F5..FF
  }
  if (s.size() < len) return 0;
  const auto b1 = static_cast<unsigned char>(s[1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t i = 2; i < len; ++i) {
    if (!continuation(static_cast<unsigned char>(s[i]))) return 0;
  }
  return len;
}

void appendJsonString(std::string& out, std::string_view bytes) {
  while (!bytes.empty()) {
    const auto c = static_cast<unsigned char>(bytes[0]);
    std::size_t used = 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          appendByteEscape(out, c);
        } else if (c < 0x80) {
          out.push_back(static_cast<char>(c));
        } else if (const std::size_t len = utf8SequenceLength(bytes); len > 0) {
          out.append(bytes.data(), len);
          used = len;
        } else {
          appendByteEscape(out, c);
        }
    }
    bytes.remove_prefix(used);
  }
}

}  // namespace readthru
