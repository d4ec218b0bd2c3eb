// Errors as values: every vknorm call that can fail returns a Status (or a Result<T>).
// No exception leaves the library, because engine plugins are often built without them.
#pragma once

#include <string>
#include <utility>

#include <vulkan/vulkan_core.h>

namespace vknorm {

enum class StatusCode : int {
  ok = 0,
  invalid_argument = 1,  // a caller's argument is wrong; the message names it
  unsupported = 2,       // the device lacks what this call needs
  vulkan_error = 3,      // a Vulkan call failed; vk_result() says which error
  out_of_memory = 4,
  internal = 5,
};

const char* to_string(StatusCode code);

class Status {
 public:
  Status() = default;  // ok
  static Status success() { return {}; }
  static Status invalid_argument(std::string message) {
    return Status(StatusCode::invalid_argument, VK_SUCCESS, std::move(message));
  }
  static Status unsupported(std::string message) {
    return Status(StatusCode::unsupported, VK_SUCCESS, std::move(message));
  }
  static Status internal(std::string message) {
    return Status(StatusCode::internal, VK_SUCCESS, std::move(message));
  }
  // A failed Vulkan call: `what` names the call, `result` is what it returned.
  static Status vulkan(VkResult result, const std::string& what);

  bool ok() const { return code_ == StatusCode::ok; }
  explicit operator bool() const { return ok(); }
  StatusCode code() const { return code_; }
  VkResult vk_result() const { return vk_; }
  const std::string& message() const { return message_; }

 private:
  Status(StatusCode code, VkResult vk, std::string message)
      : code_(code), vk_(vk), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::ok;
  VkResult vk_ = VK_SUCCESS;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)), has_value_(true) {}
  Result(Status status) : status_(std::move(status)) {}
  bool ok() const { return has_value_; }
  explicit operator bool() const { return ok(); }
  const Status& status() const { return status_; }
  T& value() & { return value_; }
  const T& value() const& { return value_; }
  T&& value() && { return std::move(value_); }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }
  T& operator*() { return value_; }
  const T& operator*() const { return value_; }

 private:
  T value_{};
  Status status_;
  bool has_value_ = false;
};

}  // namespace vknorm

// Returns early with the Status of `expr` when it is not ok.
#define VKNORM_TRY(expr)                        \
  do {                                          \
    ::vknorm::Status vknorm_try_status_ = (expr); \
    if (!vknorm_try_status_.ok()) return vknorm_try_status_; \
  } while (0)
