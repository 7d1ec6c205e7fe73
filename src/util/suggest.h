// "Did you mean ...": the nearest of a set of names to a mistyped one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skedd {

/// Collects candidates one at a time and keeps the one nearest to `typed`: at most one edit
/// (an insertion, deletion, substitution or swap of neighbours) per three characters, and at
/// least one; ties go to the first offered. Names much longer or shorter are passed over
/// without being compared, so that offering many (every loaded job) stays cheap.
class Suggestion {
 public:
  explicit Suggestion(std::string_view typed);
  void offer(std::string_view candidate);
  /// The nearest candidate offered, if any is near enough (never `typed` itself).
  const std::optional<std::string>& best() const { return best_; }
  /// " (did you mean NAME?)", or "" when there is none.
  std::string hint() const;

 private:
  std::string typed_;
  std::size_t limit_;
  std::size_t best_distance_;
  std::optional<std::string> best_;
  std::vector<std::size_t> scratch_;  // the distance table's rows, kept between offers
};

/// The optimal string alignment distance of `a` and `b` (Damerau-Levenshtein without moves
/// of substrings), computed only up to `cap`: any larger distance is returned as cap + 1.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t cap);

}  // namespace skedd
