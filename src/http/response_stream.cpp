#include "http/response_stream.h"

#include <utility>

namespace skedd::http {

bool ResponseStream::push(std::string_view bytes) {
  {
    std::lock_guard lock(mutex_);
    if (gone_ || finished_ || queue_.size() + bytes.size() > max_queued_) return false;
    queue_.append(bytes);
  }
  wake();
  return true;
}

void ResponseStream::finish(std::string_view last) {
  {
    std::lock_guard lock(mutex_);
    if (gone_ || finished_) return;
    queue_.append(last);
    finished_ = true;
  }
  wake();
}

bool ResponseStream::gone() const {
  std::lock_guard lock(mutex_);
  return gone_ || finished_;
}

std::size_t ResponseStream::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void ResponseStream::set_wake(std::function<void()> wake_fn) {
  bool pending = false;
  {
    std::lock_guard lock(mutex_);
    wake_ = std::move(wake_fn);
    pending = !queue_.empty() || finished_;
  }
  if (pending) wake();
}

std::string ResponseStream::take(bool& finished) {
  std::lock_guard lock(mutex_);
  finished = finished_;
  return std::exchange(queue_, {});
}

void ResponseStream::close() {
  std::lock_guard lock(mutex_);
  gone_ = true;
  queue_.clear();
  wake_ = nullptr;  // it holds the session's handle
}

void ResponseStream::wake() {
  std::function<void()> w;
  {
    std::lock_guard lock(mutex_);
    w = wake_;
  }
  if (w) w();
}

}  // namespace skedd::http
