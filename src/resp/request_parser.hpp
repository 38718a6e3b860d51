#pragma once
// Sans-I/O parser for client requests: RESP2 multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`)
// and inline commands (`GET k\r\n`, so nc/telnet work), with Redis 7's limits and
// error texts (src/networking.c: processMultibulkBuffer / processInlineBuffer).
//
// The parser keeps partial state between calls, so a request may arrive one byte at a
// time. It never reserves memory from a length the client declared: arguments grow as
// their bytes arrive. After an error the connection must be closed (as Redis does);
// the parser stays in the error state until reset().

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace readthru::resp {

struct ParserLimits {
  std::size_t max_inline = 64 * 1024;           // PROTO_INLINE_MAX_SIZE
  std::int64_t max_multibulk = 2147483647;      // Redis: INT_MAX when authenticated
  std::int64_t max_bulk = 512LL * 1024 * 1024;  // proto-max-bulk-len
  // Bytes one request still arriving may hold (its arguments so far); 0: no limit. Past
  // it parse() answers kTooBig (listen.query_buffer_limit). Arguments never grow their
  // buffers beyond it either, so memory stays near the limit, not twice it.
  std::size_t max_request_bytes = 0;
  // A client that has not authenticated yet (when a password is required): as Redis, at
  // most 10 arguments ("unauthenticated multibulk length") of at most 16384 bytes each
  // ("unauthenticated bulk length"), so that it cannot make the server buffer much.
  bool unauthenticated = false;
};

inline constexpr std::int64_t kUnauthenticatedMaxMultibulk = 10;
inline constexpr std::int64_t kUnauthenticatedMaxBulk = 16384;

enum class ParseStatus : std::uint8_t {
  kOk,          // `out` holds one complete request (at least one argument)
  kIncomplete,  // all of the input was consumed into partial state; feed more bytes
  kError,       // protocol error; error() has Redis's text; close after replying
  kTooBig,      // the request in progress passed max_request_bytes; close the connection
};

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {});

  // Parses at most one request from `input`. `consumed` is set to the bytes taken from
  // `input` (the caller drops them); on kOk the rest of `input` may hold more requests.
  // Empty inline lines, `*0` and `*-1` are skipped as Redis does. `out.args` is
  // cleared first.
  ParseStatus parse(std::string_view input, std::size_t& consumed, std::vector<std::string>& out);

  // The error text without the leading "ERR ", e.g. "Protocol error: invalid bulk length".
  const std::string& error() const { return error_; }

  void reset();

  // New limits from the next header on (the session lifts the unauthenticated ones after
  // AUTH, between two requests).
  void setLimits(const ParserLimits& limits) { limits_ = limits; }
  const ParserLimits& limits() const { return limits_; }

  // Bytes of memory the parser holds for a request still in progress (partial arguments
  // and a partial inline line). Bounded by what actually arrived, never by a declared length.
  std::size_t bufferedBytes() const;

 private:
  enum class State : std::uint8_t {
    kStart,        // between requests: the next byte picks multibulk ('*') or inline
    kInline,       // inside an inline line
    kCount,        // inside the "*<count>" line
    kBulkHeader,   // inside a "$<len>" line
    kBulkPayload,  // bulk_left_ payload bytes still to come
    kBulkTrailer,  // trailer_left_ bytes after the payload still to skip
    kError,
  };
  // What a state handler achieved; kMore means "keep feeding the loop".
  enum class Step : std::uint8_t { kMore, kRequest, kSkip, kFail, kTooBig };
  enum class Line : std::uint8_t { kPending, kDone, kFail };

  Step onInline(std::string_view in, std::size_t& pos);
  Step onCount(std::string_view in, std::size_t& pos);
  Step onBulkHeader(std::string_view in, std::size_t& pos);
  Step onBulkPayload(std::string_view in, std::size_t& pos);
  Step onBulkTrailer(std::string_view in, std::size_t& pos);
  Line readHeaderLine(std::string_view in, std::size_t& pos, const char* too_big);
  Step countBlind(std::string_view in, std::size_t& pos, const char* too_big);
  Step fail(std::string text);
  Step tooBig();
  bool overLimit(std::size_t more) const {
    return limits_.max_request_bytes > 0 && request_bytes_ + more > limits_.max_request_bytes;
  }
  void startLine();

  static constexpr std::size_t kHeaderCap = 24;  // '*'/'$' + the longest valid number + slack

  ParserLimits limits_;
  State state_ = State::kStart;
  std::string error_;
  std::vector<std::string> args_;  // the request being built; swapped into `out` on kOk
  std::string line_;               // an inline line split across calls (<= max_inline)
  std::size_t line_len_ = 0;       // bytes of the current inline or header line so far
  bool blind_ = false;             // a NUL hid the line end (Redis searches with strchr)
  bool saw_cr_ = false;            // header line: '\r' seen, one more byte to skip
  std::uint8_t header_len_ = 0;
  char header_[kHeaderCap] = {};
  std::int64_t multibulk_left_ = 0;
  std::int64_t bulk_left_ = 0;
  std::uint8_t trailer_left_ = 0;
  std::size_t request_bytes_ = 0;  // what the request in progress holds, as limited
};

}  // namespace readthru::resp
