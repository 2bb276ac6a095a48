// Errors as values. Every public libaccel call that can fail returns an accel::Status or an
// accel::Result<T>; no exception ever crosses the public API.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace accel {

// A closed set of error categories; the message carries the detail (node, tensor, cause).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something wrong (input name, dtype, shape, option)
  kInvalidModel,     // the model file is malformed, truncated or inconsistent
  kUnsupported,      // a valid model uses an op, dtype or attribute libaccel does not implement
  kNotFound,         // a file, tensor or name does not exist
  kOutOfRange,       // a data-dependent index went out of bounds at run time
  kIoError,          // reading or writing a file failed
  kInternal,         // a bug in libaccel or an error raised by a dependency
};

// Returns a short name such as "InvalidModel" for logs and messages.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidModel: node 'conv1' (Conv): ...". Empty string when ok.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status InvalidModel(std::string m) { return {StatusCode::kInvalidModel, std::move(m)}; }
inline Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(data_).ok() && "Result constructed from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace accel

// Internal convenience macros, usable by applications too.
#define ACCEL_CONCAT_INNER(a, b) a##b
#define ACCEL_CONCAT(a, b) ACCEL_CONCAT_INNER(a, b)

#define ACCEL_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::accel::Status accel_status_ = (expr);        \
    if (!accel_status_.ok()) return accel_status_; \
  } while (0)

#define ACCEL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

#define ACCEL_ASSIGN_OR_RETURN(lhs, expr) \
  ACCEL_ASSIGN_OR_RETURN_IMPL(ACCEL_CONCAT(accel_result_, __LINE__), lhs, expr)
