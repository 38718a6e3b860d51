#pragma once
// Appends RESP2 encodings to a caller-owned buffer. Pure: no I/O, no allocation beyond
// the buffer's own growth. Simple strings and errors must not contain CR or LF; the
// writer replaces them with spaces so a reply can never break the stream.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "resp/value.hpp"

namespace readthru::resp {

void appendSimple(std::string& out, std::string_view s);
// `s` is the whole error line without the leading '-', e.g. "ERR unknown command".
void appendError(std::string& out, std::string_view s);
void appendInteger(std::string& out, std::int64_t i);
void appendBulk(std::string& out, std::string_view s);
void appendNil(std::string& out);
void appendNilArray(std::string& out);
void appendArrayHeader(std::string& out, std::size_t n);
void appendValue(std::string& out, const Value& v);
// A request as a RESP array of bulk strings.
void appendCommand(std::string& out, std::span<const std::string> args);

std::string encode(const Value& v);

}  // namespace readthru::resp
