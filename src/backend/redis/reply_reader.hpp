#pragma once
// Sans-I/O reader for replies from Redis, on hiredis's redisReader. Replies are built
// straight into resp::Value trees (through hiredis's object-function hooks), so nothing
// outside this file sees a redisReader or a redisReply.

#include <memory>
#include <optional>
#include <string_view>

#include "common/result.hpp"
#include "resp/value.hpp"

struct redisReader;

namespace readthru::backend::redis {

class ReplyReader {
 public:
  ReplyReader();
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  void feed(std::string_view bytes);
  // The next complete reply, std::nullopt when more bytes are needed, or an Error when
  // the stream is not RESP (the connection must then be dropped).
  Result<std::optional<resp::Value>> next();

 private:
  redisReader* reader_;
};

}  // namespace readthru::backend::redis
