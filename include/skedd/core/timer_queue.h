#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace skedd {

/// Deadlines on one clock, ordered by (due, -priority, sequence): the earliest first, and among
/// equal deadlines the higher priority, then the one pushed first. Each entry has a caller-chosen
/// unique key so it can be replaced or removed. Pure: the caller passes "now".
///
/// A 4-ary heap in one vector (half the levels of a binary one: fewer cache misses with a
/// million entries), plus each key's position in it: keys below `dense_keys` (given
/// at construction; small, dense ids such as job ids) have their position in a vector indexed by
/// key, four bytes each; other keys in a hash map. An empty Payload takes no space.
template <typename TimePoint, typename Payload>
class TimerQueue {
 public:
  struct Entry {
    TimePoint due;
    int priority = 0;
    std::uint64_t seq = 0;
    std::uint64_t key = 0;
    [[no_unique_address]] Payload payload;
  };

  explicit TimerQueue(std::uint64_t dense_keys = 0) : dense_keys_(dense_keys) {}

  /// Adds an entry, or replaces the entry with the same key.
  void push(std::uint64_t key, TimePoint due, int priority, Payload payload) {
    remove(key);
    heap_.push_back(Entry{due, priority, next_seq_++, key, std::move(payload)});
    set_position(key, heap_.size() - 1);
    sift_up(heap_.size() - 1);
  }

  /// Removes the entry with `key`; no effect when there is none.
  void remove(std::uint64_t key) {
    const std::optional<std::size_t> at = position(key);
    if (!at) return;
    forget(key);
    const std::size_t last = heap_.size() - 1;
    if (*at != last) {
      heap_[*at] = std::move(heap_[last]);
      set_position(heap_[*at].key, *at);
    }
    heap_.pop_back();
    if (*at < heap_.size()) {
      sift_up(*at);
      sift_down(*at);
    }
  }

  bool contains(std::uint64_t key) const { return position(key).has_value(); }
  const Entry* find(std::uint64_t key) const {
    const std::optional<std::size_t> at = position(key);
    return at ? &heap_[*at] : nullptr;
  }

  /// The earliest deadline, or nullopt when empty: what the caller arms its timer with.
  std::optional<TimePoint> next_deadline() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().due;
  }

  /// Removes and returns, in order, every entry due at or before `now`.
  std::vector<Entry> pop_due(TimePoint now) {
    std::vector<Entry> due;
    while (!heap_.empty() && heap_.front().due <= now) {
      due.push_back(std::move(heap_.front()));
      forget(due.back().key);
      if (heap_.size() > 1) {
        heap_.front() = std::move(heap_.back());
        set_position(heap_.front().key, 0);
      }
      heap_.pop_back();
      if (!heap_.empty()) sift_down(0);
    }
    return due;
  }

  std::size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }

 private:
  static constexpr std::uint32_t kAbsent = ~std::uint32_t{0};
  static constexpr std::size_t kArity = 4;

  static bool before(const Entry& a, const Entry& b) {
    if (a.due != b.due) return a.due < b.due;
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.seq < b.seq;
  }

  void sift_up(std::size_t i) {
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!before(heap_[i], heap_[parent])) break;
      swap_entries(i, parent);
      i = parent;
    }
  }

  void sift_down(std::size_t i) {
    for (;;) {
      std::size_t first = i;
      const std::size_t last = std::min(kArity * i + kArity, heap_.size() - 1);
      for (std::size_t child = kArity * i + 1; child <= last; ++child) {
        if (before(heap_[child], heap_[first])) first = child;
      }
      if (first == i) return;
      swap_entries(i, first);
      i = first;
    }
  }

  void swap_entries(std::size_t a, std::size_t b) {
    std::swap(heap_[a], heap_[b]);
    set_position(heap_[a].key, a);
    set_position(heap_[b].key, b);
  }

  std::optional<std::size_t> position(std::uint64_t key) const {
    if (key < dense_keys_) {
      if (key >= dense_.size() || dense_[key] == kAbsent) return std::nullopt;
      return dense_[key];
    }
    const auto found = sparse_.find(key);
    if (found == sparse_.end()) return std::nullopt;
    return found->second;
  }

  void set_position(std::uint64_t key, std::size_t at) {
    if (key < dense_keys_) {
      if (key >= dense_.size()) dense_.resize(key + 1, kAbsent);
      dense_[key] = static_cast<std::uint32_t>(at);
    } else {
      sparse_[key] = at;
    }
  }

  void forget(std::uint64_t key) {
    if (key < dense_keys_) {
      dense_[key] = kAbsent;
    } else {
      sparse_.erase(key);
    }
  }

  std::vector<Entry> heap_;
  std::uint64_t dense_keys_;
  std::vector<std::uint32_t> dense_;
  std::unordered_map<std::uint64_t, std::size_t> sparse_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace skedd
