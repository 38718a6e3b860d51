#include "resp/request_parser.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace readthru::resp {
namespace {

constexpr const char* kTooBigInline = "Protocol error: too big inline request";
constexpr const char* kTooBigCount = "Protocol error: too big mbulk count string";
constexpr const char* kTooBigBulk = "Protocol error: too big bulk count string";
constexpr const char* kBadCount = "Protocol error: invalid multibulk length";
constexpr const char* kBadBulk = "Protocol error: invalid bulk length";
constexpr const char* kUnauthCount = "Protocol error: unauthenticated multibulk length";
constexpr const char* kUnauthBulk = "Protocol error: unauthenticated bulk length";
constexpr const char* kUnbalanced = "Protocol error: unbalanced quotes in request";

// A partial inline line larger than this is released after use rather than kept.
constexpr std::size_t kKeepLineCapacity = 4096;

// ---------------------------------------------------------------------------------------
// Numbers: Redis's string2ll rules. No sign but '-', no leading zeros, no "-0", no
// spaces, at most 20 characters, must fit in int64.
// ---------------------------------------------------------------------------------------

bool parseRedisInt(std::string_view s, std::int64_t& value) {
  if (s.empty() || s.size() >= 21) return false;
  if (s == "0") {
    value = 0;
    return true;
  }
  std::size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) ++i;
  if (i == s.size() || s[i] < '1' || s[i] > '9') return false;
  std::uint64_t v = 0;
  constexpr std::uint64_t kMax = ~std::uint64_t{0};
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > kMax / 10 || v * 10 > kMax - digit) return false;
    v = v * 10 + digit;
  }
  constexpr std::uint64_t kPosLimit = static_cast<std::uint64_t>(INT64_MAX);
  if (negative) {
    if (v > kPosLimit + 1) return false;
    value = v == kPosLimit + 1 ? INT64_MIN : -static_cast<std::int64_t>(v);
  } else {
    if (v > kPosLimit) return false;
    value = static_cast<std::int64_t>(v);
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Inline splitting: Redis's sdssplitargs. The line never holds a NUL (a NUL makes the
// parser blind before we get here), so the end of the view plays the part of C's '\0'.
// ---------------------------------------------------------------------------------------

// C's isspace() in the "C" locale, which sdssplitargs uses to skip blanks.
bool isBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

char unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;
  }
}

// Reads one token starting at a non-blank `i`; quotes may open anywhere inside it.
// Returns false on unbalanced quotes or a closing quote glued to the next character.
bool readToken(std::string_view line, std::size_t& i, std::string& cur) {
  const std::size_t n = line.size();
  bool in_double = false;
  bool in_single = false;
  while (true) {
    if (in_double) {
      if (i == n) return false;
      const char c = line[i];
      if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && isHex(line[i + 2]) &&
          isHex(line[i + 3])) {
        cur.push_back(static_cast<char>(hexValue(line[i + 2]) * 16 + hexValue(line[i + 3])));
        i += 4;
      } else if (c == '\\' && i + 1 < n) {
        cur.push_back(unescape(line[i + 1]));
        i += 2;
      } else if (c == '"') {
        if (i + 1 < n && !isBlank(line[i + 1])) return false;
        ++i;
        return true;
      } else {
        cur.push_back(c);
        ++i;
      }
    } else if (in_single) {
      if (i == n) return false;
      const char c = line[i];
      if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
        cur.push_back('\'');
        i += 2;
      } else if (c == '\'') {
        if (i + 1 < n && !isBlank(line[i + 1])) return false;
        ++i;
        return true;
      } else {
        cur.push_back(c);
        ++i;
      }
    } else {
      if (i == n) return true;
      const char c = line[i++];
      switch (c) {
        // Only these end a bare token; '\v' and '\f' are kept, as in Redis.
        case ' ':
        case '\n':
        case '\r':
        case '\t':
          return true;
        case '"':
          in_double = true;
          break;
        case '\'':
          in_single = true;
          break;
        default:
          cur.push_back(c);
          break;
      }
    }
  }
}

bool splitInline(std::string_view line, std::vector<std::string>& args) {
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && isBlank(line[i])) ++i;
    if (i == line.size()) return true;
    if (!readToken(line, i, args.emplace_back())) return false;
  }
}

// Appends to `s` without letting its capacity pass `cap` (the caller checked the size).
// libstdc++'s reserve() doubles at least, so growth goes through a fresh string.
void appendBounded(std::string& s, const char* data, std::size_t n, std::size_t cap) {
  if (s.size() + n > s.capacity()) {
    std::string bigger;
    bigger.reserve(std::min(std::max(s.capacity() * 2, s.size() + n), cap));
    bigger.append(s);
    s.swap(bigger);
  }
  s.append(data, n);
}

// Heap bytes a string owns (none while its contents fit the small-string buffer).
std::size_t heapBytes(const std::string& s) {
  static const std::size_t kInline = std::string().capacity();
  return s.capacity() > kInline ? s.capacity() : 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

void RequestParser::reset() {
  state_ = State::kStart;
  error_.clear();
  std::vector<std::string>().swap(args_);
  std::string().swap(line_);
  startLine();
  multibulk_left_ = 0;
  bulk_left_ = 0;
  trailer_left_ = 0;
  request_bytes_ = 0;
}

std::size_t RequestParser::bufferedBytes() const {
  std::size_t total = heapBytes(line_) + args_.capacity() * sizeof(std::string);
  for (const std::string& a : args_) total += heapBytes(a);
  return total;
}

void RequestParser::startLine() {
  line_len_ = 0;
  blind_ = false;
  saw_cr_ = false;
  header_len_ = 0;
}

RequestParser::Step RequestParser::fail(std::string text) {
  error_ = std::move(text);
  state_ = State::kError;
  args_.clear();
  return Step::kFail;
}

// Past max_request_bytes: the arguments' memory goes now, and the parser takes nothing more.
RequestParser::Step RequestParser::tooBig() {
  error_ = "query buffer limit reached";
  state_ = State::kError;
  std::vector<std::string>().swap(args_);
  request_bytes_ = 0;
  return Step::kTooBig;
}

ParseStatus RequestParser::parse(std::string_view input, std::size_t& consumed,
                                 std::vector<std::string>& out) {
  out.clear();
  consumed = 0;
  if (state_ == State::kError) return ParseStatus::kError;

  std::size_t pos = 0;
  while (pos < input.size()) {
    Step step = Step::kMore;
    switch (state_) {
      case State::kStart:
        startLine();
        state_ = input[pos] == '*' ? State::kCount : State::kInline;
        continue;
      case State::kInline:
        step = onInline(input, pos);
        break;
      case State::kCount:
        step = onCount(input, pos);
        break;
      case State::kBulkHeader:
        step = onBulkHeader(input, pos);
        break;
      case State::kBulkPayload:
        step = onBulkPayload(input, pos);
        break;
      case State::kBulkTrailer:
        step = onBulkTrailer(input, pos);
        break;
      case State::kError:
        step = Step::kFail;
        break;
    }
    if (step == Step::kRequest) {
      consumed = pos;
      out.swap(args_);  // `args_` takes over out's (cleared) capacity for the next request
      return ParseStatus::kOk;
    }
    if (step == Step::kFail) {
      consumed = pos;
      return ParseStatus::kError;
    }
    if (step == Step::kTooBig) {
      consumed = pos;
      return ParseStatus::kTooBig;
    }
    // kSkip (empty line, *0, *-1) and kMore: go on with the rest of the input.
  }
  consumed = input.size();
  return ParseStatus::kIncomplete;
}

// ---------------------------------------------------------------------------------------
// Inline requests
// ---------------------------------------------------------------------------------------

// Redis looks for the line end with strchr, which stops at a NUL: once a NUL is in the
// line, no later newline is ever seen and the bytes pile up until the size limit. We
// count them instead of keeping them, and fail at the same point.
RequestParser::Step RequestParser::countBlind(std::string_view in, std::size_t& pos,
                                              const char* too_big) {
  line_len_ += in.size() - pos;
  pos = in.size();
  if (line_len_ > limits_.max_inline) return fail(too_big);
  return Step::kMore;
}

RequestParser::Step RequestParser::onInline(std::string_view in, std::size_t& pos) {
  if (blind_) return countBlind(in, pos, kTooBigInline);
  const char* begin = in.data() + pos;
  const std::size_t avail = in.size() - pos;
  const auto* nl = static_cast<const char*>(std::memchr(begin, '\n', avail));
  const std::size_t len = nl != nullptr ? static_cast<std::size_t>(nl - begin) : avail;
  if (std::memchr(begin, '\0', len) != nullptr) {
    blind_ = true;
    std::string().swap(line_);
    return countBlind(in, pos, kTooBigInline);
  }
  // Deterministic whatever the chunking: a line longer than the limit fails even when its
  // newline is already here (Redis, reading 16 KiB at a time, nearly always does too).
  if (line_len_ + len > limits_.max_inline) return fail(kTooBigInline);
  line_len_ += len;
  if (nl == nullptr) {
    appendBounded(line_, begin, len, limits_.max_inline);
    pos = in.size();
    return Step::kMore;
  }

  std::string_view line(begin, len);
  if (!line_.empty()) {
    appendBounded(line_, begin, len, limits_.max_inline);
    line = line_;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!splitInline(line, args_)) return fail(kUnbalanced);

  pos += len + 1;
  if (line_.capacity() > kKeepLineCapacity) {
    std::string().swap(line_);
  } else {
    line_.clear();
  }
  state_ = State::kStart;
  return args_.empty() ? Step::kSkip : Step::kRequest;
}

// ---------------------------------------------------------------------------------------
// Multibulk requests
// ---------------------------------------------------------------------------------------

// Reads a "*<n>" or "$<n>" line into header_ (first byte included). Like Redis, the line
// ends at '\r' and the byte after it is skipped without checking that it is '\n'.
RequestParser::Line RequestParser::readHeaderLine(std::string_view in, std::size_t& pos,
                                                  const char* too_big) {
  while (pos < in.size()) {
    if (blind_) return countBlind(in, pos, too_big) == Step::kFail ? Line::kFail : Line::kPending;
    if (saw_cr_) {
      ++pos;
      return Line::kDone;
    }
    const char c = in[pos];
    if (c == '\r') {
      saw_cr_ = true;
      ++pos;
      continue;
    }
    if (c == '\0') {
      blind_ = true;
      continue;
    }
    if (header_len_ < kHeaderCap) header_[header_len_++] = c;
    ++line_len_;
    ++pos;
    if (line_len_ > limits_.max_inline) {
      fail(too_big);
      return Line::kFail;
    }
  }
  return Line::kPending;
}

RequestParser::Step RequestParser::onCount(std::string_view in, std::size_t& pos) {
  const Line line = readHeaderLine(in, pos, kTooBigCount);
  if (line != Line::kDone) return line == Line::kFail ? Step::kFail : Step::kMore;

  std::int64_t count = 0;
  const bool ok = line_len_ <= kHeaderCap &&
                  parseRedisInt(std::string_view(header_ + 1, header_len_ - 1), count);
  if (!ok || count > limits_.max_multibulk) return fail(kBadCount);
  if (limits_.unauthenticated && count > kUnauthenticatedMaxMultibulk) return fail(kUnauthCount);
  startLine();
  if (count <= 0) {
    state_ = State::kStart;
    return Step::kSkip;
  }
  multibulk_left_ = count;
  request_bytes_ = 0;
  // Grow from what the client sends, not from what it declares (as Redis does).
  args_.reserve(static_cast<std::size_t>(std::min<std::int64_t>(count, 1024)));
  state_ = State::kBulkHeader;
  return Step::kMore;
}

RequestParser::Step RequestParser::onBulkHeader(std::string_view in, std::size_t& pos) {
  const Line line = readHeaderLine(in, pos, kTooBigBulk);
  if (line != Line::kDone) return line == Line::kFail ? Step::kFail : Step::kMore;

  // An empty line has its '\r' as first byte, which Redis reports as the byte it got.
  const char first = header_len_ > 0 ? header_[0] : '\r';
  if (first != '$') return fail(std::string("Protocol error: expected '$', got '") + first + "'");
  std::int64_t len = 0;
  const bool ok =
      line_len_ <= kHeaderCap && parseRedisInt(std::string_view(header_ + 1, header_len_ - 1), len);
  if (!ok || len < 0 || len > limits_.max_bulk) return fail(kBadBulk);
  if (limits_.unauthenticated && len > kUnauthenticatedMaxBulk) return fail(kUnauthBulk);
  startLine();
  if (overLimit(sizeof(std::string))) return tooBig();
  request_bytes_ += sizeof(std::string);
  args_.emplace_back();
  bulk_left_ = len;
  trailer_left_ = 2;
  state_ = len == 0 ? State::kBulkTrailer : State::kBulkPayload;
  return Step::kMore;
}

RequestParser::Step RequestParser::onBulkPayload(std::string_view in, std::size_t& pos) {
  const std::size_t avail = in.size() - pos;
  const std::size_t n = static_cast<std::size_t>(
      std::min<std::int64_t>(bulk_left_, static_cast<std::int64_t>(avail)));
  if (overLimit(n)) return tooBig();
  std::string& arg = args_.back();
  if (arg.empty()) {
    arg.assign(in.data() + pos, n);  // the whole payload in one go in the common case
  } else {
    const std::size_t want = arg.size() + n;
    if (want > arg.capacity()) {
      // Doubling, as append would, but never past the declared length (which has begun to
      // arrive) nor past what the request limit leaves.
      std::size_t grow = std::max(want, arg.capacity() * 2);
      grow = std::min(grow, arg.size() + static_cast<std::size_t>(bulk_left_));
      if (limits_.max_request_bytes > 0) {
        grow = std::min(grow, want + (limits_.max_request_bytes - request_bytes_ - n));
      }
      if (grow >= arg.capacity() * 2) {
        arg.reserve(grow);
      } else {
        // libstdc++'s reserve() would double anyway: a fresh string takes the exact size.
        std::string exact;
        exact.reserve(grow);
        exact.append(arg);
        arg.swap(exact);
      }
    }
    arg.append(in.data() + pos, n);
  }
  request_bytes_ += n;
  pos += n;
  bulk_left_ -= static_cast<std::int64_t>(n);
  if (bulk_left_ == 0) state_ = State::kBulkTrailer;
  return Step::kMore;
}

RequestParser::Step RequestParser::onBulkTrailer(std::string_view in, std::size_t& pos) {
  // Redis skips the two bytes after the payload without looking at them.
  const std::size_t n = std::min<std::size_t>(trailer_left_, in.size() - pos);
  pos += n;
  trailer_left_ = static_cast<std::uint8_t>(trailer_left_ - n);
  if (trailer_left_ > 0) return Step::kMore;
  if (--multibulk_left_ > 0) {
    state_ = State::kBulkHeader;
    return Step::kMore;
  }
  state_ = State::kStart;
  return Step::kRequest;
}

}  // namespace readthru::resp
