#pragma once
// Errors as values on the request path. A Result<T> holds either a T or an Error with a
// human-readable message (already in the wording a client or operator should see) and, for
// readthru's own failures (common/fault.hpp), the code that code paths decide on.

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace readthru {

struct Error {
  std::string message;
  std::error_code code{};  // set for faults (faultCategory()); empty for a server's refusal
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace readthru
