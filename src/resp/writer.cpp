#include "resp/writer.hpp"

#include <charconv>

namespace readthru::resp {
namespace {

void appendLine(std::string& out, char prefix, std::string_view s) {
  out.push_back(prefix);
  const std::size_t start = out.size();
  out.append(s);
  // CR/LF inside a status line would desynchronise the client's parser.
  for (std::size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
  out.append("\r\n", 2);
}

void appendNumberLine(std::string& out, char prefix, std::int64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.push_back(prefix);
  out.append(buf, end);
  out.append("\r\n", 2);
}

}  // namespace

void appendSimple(std::string& out, std::string_view s) { appendLine(out, '+', s); }
void appendError(std::string& out, std::string_view s) { appendLine(out, '-', s); }
void appendInteger(std::string& out, std::int64_t i) { appendNumberLine(out, ':', i); }
void appendNil(std::string& out) { out.append("$-1\r\n", 5); }
void appendNilArray(std::string& out) { out.append("*-1\r\n", 5); }

void appendArrayHeader(std::string& out, std::size_t n) {
  appendNumberLine(out, '*', static_cast<std::int64_t>(n));
}

void appendBulk(std::string& out, std::string_view s) {
  appendNumberLine(out, '$', static_cast<std::int64_t>(s.size()));
  out.append(s);
  out.append("\r\n", 2);
}

void appendValue(std::string& out, const Value& v) {
  switch (v.type) {
    case Type::kSimple:
      appendSimple(out, v.str);
      break;
    case Type::kError:
      appendError(out, v.str);
      break;
    case Type::kInteger:
      appendInteger(out, v.integer);
      break;
    case Type::kBulk:
      appendBulk(out, v.str);
      break;
    case Type::kNil:
      appendNil(out);
      break;
    case Type::kNilArray:
      appendNilArray(out);
      break;
    case Type::kArray:
      appendArrayHeader(out, v.elements.size());
      for (const Value& e : v.elements) appendValue(out, e);
      break;
  }
}

void appendCommand(std::string& out, std::span<const std::string> args) {
  appendArrayHeader(out, args.size());
  for (const std::string& a : args) appendBulk(out, a);
}

std::string encode(const Value& v) {
  std::string out;
  appendValue(out, v);
  return out;
}

}  // namespace readthru::resp
