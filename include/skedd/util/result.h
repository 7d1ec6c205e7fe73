#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace skedd {

/// Broad classes of expected failure. The control protocol maps them to its error codes.
enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kPermissionDenied,
  kConflict,
  kIo,
  kInternal,
};

/// The protocol and log name of an error code, e.g. "INVALID_ARGUMENT".
const char* to_string(ErrorCode code);

/// An expected failure: a class and a complete, human-readable message.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  static Error invalid_argument(std::string message) {
    return {ErrorCode::kInvalidArgument, std::move(message)};
  }
  static Error not_found(std::string message) { return {ErrorCode::kNotFound, std::move(message)}; }
  static Error permission_denied(std::string message) {
    return {ErrorCode::kPermissionDenied, std::move(message)};
  }
  static Error io(std::string message) { return {ErrorCode::kIo, std::move(message)}; }
  static Error internal(std::string message) { return {ErrorCode::kInternal, std::move(message)}; }
};

/// Either a value or an Error. Accessing the wrong alternative is a programming error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  /// REQUIRES: ok().
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  /// REQUIRES: ok().
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  /// REQUIRES: ok().
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  /// REQUIRES: !ok().
  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation that yields nothing on success.
struct Ok {};
using Status = Result<Ok>;

}  // namespace skedd
