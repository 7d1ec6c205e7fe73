#pragma once

#include <memory>

namespace skedd {

/// An immutable value shared by the copies of its holder; edit() first gives the holder a
/// copy of its own when others share it (copy on write). Never empty: a default-constructed
/// one shares a single default value.
template <typename T>
class SharedValue {
 public:
  SharedValue() : value_(default_value()) {}
  explicit SharedValue(T value) : value_(std::make_shared<T>(std::move(value))) {}
  /// A new value of its own (the one shared so far stays with the other holders).
  SharedValue& operator=(T value) {
    value_ = std::make_shared<T>(std::move(value));
    return *this;
  }

  const T& operator*() const { return *value_; }
  const T* operator->() const { return value_.get(); }

  /// The value, to change; unshared first if another holder shares it.
  T& edit() {
    if (value_.use_count() != 1) value_ = std::make_shared<T>(*value_);
    return *value_;
  }

  /// How many holders share the value (an interner counts as one).
  long use_count() const { return value_.use_count(); }
  bool shares_with(const SharedValue& other) const { return value_ == other.value_; }

  friend bool operator==(const SharedValue& a, const SharedValue& b) {
    return a.value_ == b.value_ || *a.value_ == *b.value_;
  }

 private:
  static const std::shared_ptr<T>& default_value() {
    static const std::shared_ptr<T> value = std::make_shared<T>();
    return value;
  }

  std::shared_ptr<T> value_;
};

}  // namespace skedd
