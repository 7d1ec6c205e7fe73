#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "runtime/name_index.h"
#include "skedd/core/job_spec.h"

namespace skedd {

/// A job added over the control socket: its definition (TOML text, as recorded) and
/// version.
struct ApiJob {
  std::shared_ptr<const JobSpec> spec;
  int version = 1;
};

/// The jobs added over the API, by name: in a vector whose freed entries are reused, found
/// through a NameIndex, so about 30 bytes a job beside the spec (which the loaded job shares).
class ApiJobs {
 public:
  ApiJobs() = default;
  ApiJobs(const ApiJobs&) = delete;
  ApiJobs& operator=(const ApiJobs&) = delete;

  const ApiJob* find(std::string_view name) const {
    const auto slot = index_.find(name);
    return slot ? &entries_[slot->value] : nullptr;
  }
  bool contains(std::string_view name) const { return index_.contains(name); }

  /// Adds `job`, or replaces the one of the same name.
  void put(ApiJob job) {
    if (const auto slot = index_.find(job.spec->name)) {
      entries_[slot->value] = std::move(job);
      return;
    }
    Slot slot{static_cast<std::uint32_t>(entries_.size())};
    if (!free_.empty()) {
      slot.value = free_.back();
      free_.pop_back();
      entries_[slot.value] = std::move(job);
    } else {
      entries_.push_back(std::move(job));
    }
    index_.assign(slot);
  }

  /// Makes room for `n` jobs.
  void reserve(std::size_t n) {
    entries_.reserve(n);
    index_.reserve(n);
  }

  /// Removes the job named `name`; no effect when there is none.
  void erase(std::string_view name) {
    const auto slot = index_.find(name);
    if (!slot) return;
    index_.erase(name);
    entries_[slot->value] = ApiJob{};
    free_.push_back(slot->value);
  }

  std::size_t size() const { return index_.size(); }

  /// Every entry, in the order put; a free one has no spec.
  std::span<const ApiJob> entries() const { return entries_; }

 private:
  struct Slot {
    std::uint32_t value = 0;
  };

  std::vector<ApiJob> entries_;  ///< a free entry has no spec
  std::vector<std::uint32_t> free_;
  NameIndex<Slot> index_{
      [this](Slot s) -> std::string_view { return entries_[s.value].spec->name; }};
};

}  // namespace skedd
