#pragma once
// Bytes as the inside of a JSON string (RFC 8259), so that a log line stays valid JSON
// whatever it quotes: binary keys, Redis error texts, a client's name. Pure.

#include <string>
#include <string_view>

namespace readthru {

// Appends `bytes` escaped, without the surrounding quotes:
//   "  \  newline  carriage return  tab  ->  \"  \\  \n  \r  \t
//   other bytes below 0x20, and 0x7f    ->  \u00XX
//   valid UTF-8 sequences               ->  as they are
//   any other byte (a stray continuation byte, an overlong or truncated sequence, an
//   encoded surrogate, past U+10FFFF)   ->  \u00XX of that byte
// The last rule reads the byte as Latin-1: the line is valid UTF-8 and valid JSON, and
// the byte's value can still be read back from the escape.
void appendJsonString(std::string& out, std::string_view bytes);

// The length of the valid UTF-8 sequence that starts `s` (1 to 4), or 0 when `s` does not
// start with one (or is empty).
std::size_t utf8SequenceLength(std::string_view s);

}  // namespace readthru
