#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "skedd/core/run.h"

namespace skedd {

/// Ids by name (job ids, by default): an open-addressing hash table of ids, four bytes a slot,
/// at most 3/4 full. The names are not stored again: `name_of(id)` reads each from where the
/// id leads. What a million jobs need instead of a std::map node (~80 bytes) each. `Id` is a
/// struct of one std::uint32_t `value`.
template <typename Id = JobId>
class NameIndex {
 public:
  using NameOf = std::function<std::string_view(Id)>;

  explicit NameIndex(NameOf name_of) : name_of_(std::move(name_of)) {}

  std::optional<Id> find(std::string_view name) const {
    if (slots_.empty()) return std::nullopt;
    for (std::size_t i = home(name);; i = next(i)) {
      if (slots_[i] == kEmpty) return std::nullopt;
      const Id id{slots_[i] - 1};
      if (name_of_(id) == name) return id;
    }
  }
  bool contains(std::string_view name) const { return find(name).has_value(); }

  /// Indexes `id` under its name, replacing the id indexed under that name before.
  void assign(Id id) {
    if (4 * (size_ + 1) > 3 * slots_.size()) grow();
    const std::string_view name = name_of_(id);
    std::size_t i = home(name);
    for (; slots_[i] != kEmpty; i = next(i)) {
      if (name_of_(Id{slots_[i] - 1}) == name) {
        slots_[i] = id.value + 1;
        return;
      }
    }
    slots_[i] = id.value + 1;
    ++size_;
  }

  /// Removes `name`; no effect when it is not indexed.
  void erase(std::string_view name) {
    if (slots_.empty()) return;
    std::size_t i = home(name);
    for (; slots_[i] != kEmpty; i = next(i)) {
      if (name_of_(Id{slots_[i] - 1}) == name) break;
    }
    if (slots_[i] == kEmpty) return;
    // Backward-shift deletion: move up each later entry of the run that may sit in the hole.
    for (std::size_t j = next(i);; j = next(j)) {
      if (slots_[j] == kEmpty) break;
      const std::size_t want = home(name_of_(Id{slots_[j] - 1}));
      // Entry j may move to i when its home is not cyclically within (i, j].
      const bool stays = i <= j ? (i < want && want <= j) : (i < want || want <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = kEmpty;
    --size_;
  }

  std::size_t size() const { return size_; }

  /// Every indexed id, in no particular order.
  std::vector<Id> ids() const {
    std::vector<Id> out;
    out.reserve(size_);
    for (std::uint32_t slot : slots_) {
      if (slot != kEmpty) out.push_back(Id{slot - 1});
    }
    return out;
  }

 private:
  static constexpr std::uint32_t kEmpty = 0;  // slots hold id + 1

  std::size_t home(std::string_view name) const {
    return std::hash<std::string_view>{}(name) & (slots_.size() - 1);
  }
  std::size_t next(std::size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void grow() {
    std::vector<std::uint32_t> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : 2 * old.size(), kEmpty);
    size_ = 0;
    for (std::uint32_t slot : old) {
      if (slot != kEmpty) assign(Id{slot - 1});
    }
  }

  NameOf name_of_;
  std::vector<std::uint32_t> slots_;  ///< a power of two in size
  std::size_t size_ = 0;
};

}  // namespace skedd
