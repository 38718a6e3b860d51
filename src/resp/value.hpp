#pragma once
// A RESP2 value: what a backend answers and what readthru writes to clients.
// Plain data with value semantics; the parser and writer live beside it.
//
// An error value is either a reply a server sent (`fault` empty, `str` its text) or a
// failure of readthru's own (`fault` set, common/fault.hpp; `str` the text the client will
// see, composed once by faultText()). Code decides on `fault`, never on `str`.

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace readthru::resp {

enum class Type : std::uint8_t {
  kSimple,    // +OK
  kError,     // -ERR ...
  kInteger,   // :1
  kBulk,      // $3\r\nfoo
  kNil,       // $-1
  kArray,     // *2 ...
  kNilArray,  // *-1
};

struct Value {
  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string str;  // simple, error and bulk payloads
  std::vector<Value> elements;
  std::error_code fault{};  // only for kError: readthru's own failure

  static Value simple(std::string s) { return {Type::kSimple, 0, std::move(s), {}, {}}; }
  static Value error(std::string s) { return {Type::kError, 0, std::move(s), {}, {}}; }
  static Value fromInteger(std::int64_t i) { return {Type::kInteger, i, {}, {}, {}}; }
  static Value bulk(std::string s) { return {Type::kBulk, 0, std::move(s), {}, {}}; }
  static Value nil() { return {}; }
  // A failure of readthru's own; `text` from faultText().
  static Value failure(std::error_code code, std::string text) {
    return {Type::kError, 0, std::move(text), {}, code};
  }
  static Value array(std::vector<Value> e) { return {Type::kArray, 0, {}, std::move(e), {}}; }

  bool isError() const { return type == Type::kError; }
  bool isFault() const { return type == Type::kError && static_cast<bool>(fault); }
  bool isArray() const { return type == Type::kArray; }
};

}  // namespace readthru::resp
