#include "backend/redis/reply_reader.hpp"

#include <hiredis/hiredis.h>

namespace readthru::backend::redis {
namespace {

// hiredis builds a reply bottom-up through these hooks. The root is heap-allocated; a
// child lives inside its parent's `elements`, which createArray sizes once, so the
// pointers handed back to hiredis stay valid until the whole reply is taken.
resp::Value* place(const redisReadTask* task, resp::Value v) {
  if (task->parent != nullptr) {
    auto* parent = static_cast<resp::Value*>(task->parent->obj);
    parent->elements[static_cast<std::size_t>(task->idx)] = std::move(v);
    return &parent->elements[static_cast<std::size_t>(task->idx)];
  }
  return new resp::Value(std::move(v));
}

void* createString(const redisReadTask* task, char* str, size_t len) {
  std::string s(str, len);
  switch (task->type) {
    case REDIS_REPLY_ERROR:
      return place(task, resp::Value::error(std::move(s)));
    case REDIS_REPLY_STATUS:
      return place(task, resp::Value::simple(std::move(s)));
    default:
      return place(task, resp::Value::bulk(std::move(s)));
  }
}

void* createArray(const redisReadTask* task, int elements) {
  resp::Value v;
  v.type = resp::Type::kArray;
  v.elements.resize(static_cast<std::size_t>(elements));
  return place(task, std::move(v));
}

void* createInteger(const redisReadTask* task, long long value) {
  return place(task, resp::Value::fromInteger(value));
}

void* createNil(const redisReadTask* task) { return place(task, resp::Value::nil()); }

// hiredis frees only the root it was handed (children belong to the root).
void freeObject(void* obj) { delete static_cast<resp::Value*>(obj); }

redisReplyObjectFunctions kValueFunctions = {createString, createArray, createInteger, createNil,
                                             freeObject};

}  // namespace

ReplyReader::ReplyReader() : reader_(redisReaderCreateWithFunctions(&kValueFunctions)) {
  if (reader_ == nullptr) throw std::bad_alloc();
}

ReplyReader::~ReplyReader() { redisReaderFree(reader_); }

void ReplyReader::feed(std::string_view bytes) {
  redisReaderFeed(reader_, bytes.data(), bytes.size());
}

Result<std::optional<resp::Value>> ReplyReader::next() {
  void* reply = nullptr;
  if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
    return Error{std::string("protocol error from Redis: ") + reader_->errstr};
  }
  if (reply == nullptr) return std::optional<resp::Value>{};
  std::unique_ptr<resp::Value> root(static_cast<resp::Value*>(reply));
  return std::optional<resp::Value>{std::move(*root)};
}

}  // namespace readthru::backend::redis
