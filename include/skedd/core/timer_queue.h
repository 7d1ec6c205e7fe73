#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace skedd {

/// Deadlines on one clock, ordered by (due, -priority, sequence): the earliest first, and among
/// equal deadlines the higher priority, then the one pushed first. Each entry has a caller-chosen
/// unique key so it can be replaced or removed. Pure: the caller passes "now".
template <typename TimePoint, typename Payload>
class TimerQueue {
 public:
  struct Entry {
    TimePoint due;
    int priority = 0;
    std::uint64_t seq = 0;
    std::uint64_t key = 0;
    Payload payload;
  };

  /// Adds an entry, or replaces the entry with the same key.
  void push(std::uint64_t key, TimePoint due, int priority, Payload payload) {
    remove(key);
    auto it = entries_.insert(Entry{due, priority, next_seq_++, key, std::move(payload)}).first;
    by_key_.emplace(key, it);
  }

  /// Removes the entry with `key`; no effect when there is none.
  void remove(std::uint64_t key) {
    auto found = by_key_.find(key);
    if (found == by_key_.end()) return;
    entries_.erase(found->second);
    by_key_.erase(found);
  }

  bool contains(std::uint64_t key) const { return by_key_.count(key) != 0; }
  const Entry* find(std::uint64_t key) const {
    auto found = by_key_.find(key);
    return found == by_key_.end() ? nullptr : &*found->second;
  }

  /// The earliest deadline, or nullopt when empty: what the caller arms its timer with.
  std::optional<TimePoint> next_deadline() const {
    if (entries_.empty()) return std::nullopt;
    return entries_.begin()->due;
  }

  /// Removes and returns, in order, every entry due at or before `now`.
  std::vector<Entry> pop_due(TimePoint now) {
    std::vector<Entry> due;
    while (!entries_.empty() && entries_.begin()->due <= now) {
      auto node = entries_.extract(entries_.begin());
      by_key_.erase(node.value().key);
      due.push_back(std::move(node.value()));
    }
    return due;
  }

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Order {
    bool operator()(const Entry& a, const Entry& b) const {
      if (a.due != b.due) return a.due < b.due;
      if (a.priority != b.priority) return a.priority > b.priority;
      return a.seq < b.seq;
    }
  };
  using Set = std::set<Entry, Order>;

  Set entries_;
  std::map<std::uint64_t, typename Set::iterator> by_key_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace skedd
