#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "skedd/core/run.h"

namespace skedd {

/// Ids by name (job ids, by default): an open-addressing hash table, at most 3/4 full, whose
/// slots hold an id and its name's hash (8 bytes). A hash's home slot is its place in the
/// range of slots scaled to the table's size (any size: reserve() sizes it to what it is asked
/// to hold, growth doubles it). The names are not stored again:
/// `name_of(id)` reads one from where the id leads, only when the hashes match. What a million
/// jobs need instead of a std::map node (~80 bytes) each. `Id` is a struct of one
/// std::uint32_t `value`.
template <typename Id = JobId>
class NameIndex {
 public:
  using NameOf = std::function<std::string_view(Id)>;

  explicit NameIndex(NameOf name_of) : name_of_(std::move(name_of)) {}

  std::optional<Id> find(std::string_view name) const {
    const std::optional<std::size_t> at = slot_of(name, hash(name));
    if (!at) return std::nullopt;
    return id_in(slots_[*at]);
  }
  bool contains(std::string_view name) const { return find(name).has_value(); }

  /// Indexes `id` under its name, replacing the id indexed under that name before.
  void assign(Id id) {
    if (4 * (size_ + 1) > 3 * slots_.size()) grow();
    const std::string_view name = name_of_(id);
    const std::uint32_t h = hash(name);
    if (const std::optional<std::size_t> at = slot_of(name, h)) {
      slots_[*at].id = id.value + 1;
      return;
    }
    place(Slot{id.value + 1, h});
    ++size_;
  }

  /// Makes room for `n` ids at once, in a table about 7/10 full with them: adding that many
  /// grows it once, not once per doubling (each growth moved every slot, a cache miss each at
  /// a million jobs), and it is not rounded up to a power of two (up to a third more).
  void reserve(std::size_t n) {
    const std::size_t slots = std::max<std::size_t>(16, n + n * 3 / 7 + 1);
    if (slots > slots_.size()) rehash(slots);
  }

  /// Removes `name`; no effect when it is not indexed.
  void erase(std::string_view name) {
    const std::optional<std::size_t> at = slot_of(name, hash(name));
    if (!at) return;
    // Backward-shift deletion: move up each later entry of the run that may sit in the hole.
    std::size_t i = *at;
    for (std::size_t j = next(i);; j = next(j)) {
      if (slots_[j].id == kEmpty) break;
      const std::size_t want = home(slots_[j].hash);
      // Entry j stays when its home is cyclically within (i, j].
      const bool stays = i <= j ? (i < want && want <= j) : (i < want || want <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Slot{};
    --size_;
  }

  std::size_t size() const { return size_; }

  /// Every indexed id, in no particular order.
  std::vector<Id> ids() const {
    std::vector<Id> out;
    out.reserve(size_);
    for (const Slot& slot : slots_) {
      if (slot.id != kEmpty) out.push_back(id_in(slot));
    }
    return out;
  }

 private:
  static constexpr std::uint32_t kEmpty = 0;  // a slot holds its id + 1
  struct Slot {
    std::uint32_t id = kEmpty;
    std::uint32_t hash = 0;
  };

  static std::uint32_t hash(std::string_view name) {
    const std::size_t h = std::hash<std::string_view>{}(name);
    return static_cast<std::uint32_t>(h ^ (h >> 32));
  }
  static Id id_in(const Slot& slot) { return Id{slot.id - 1}; }
  std::size_t home(std::uint32_t h) const {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(h) * slots_.size()) >> 32);
  }
  std::size_t next(std::size_t i) const { return i + 1 == slots_.size() ? 0 : i + 1; }

  std::optional<std::size_t> slot_of(std::string_view name, std::uint32_t h) const {
    if (slots_.empty()) return std::nullopt;
    for (std::size_t i = home(h); slots_[i].id != kEmpty; i = next(i)) {
      if (slots_[i].hash == h && name_of_(id_in(slots_[i])) == name) return i;
    }
    return std::nullopt;
  }

  void place(Slot slot) {
    std::size_t i = home(slot.hash);
    while (slots_[i].id != kEmpty) i = next(i);
    slots_[i] = slot;
  }

  void grow() { rehash(slots_.empty() ? 16 : 2 * slots_.size()); }
  void rehash(std::size_t slots) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(slots, Slot{});
    for (const Slot& slot : old) {
      if (slot.id != kEmpty) place(slot);
    }
  }

  NameOf name_of_;
  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace skedd
