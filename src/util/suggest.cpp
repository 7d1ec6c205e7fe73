#include "util/suggest.h"

#include <algorithm>
#include <vector>

namespace skedd {

namespace {

std::size_t distance_in(std::string_view a, std::string_view b, std::size_t cap,
                        std::vector<std::size_t>& scratch) {
  const std::size_t n = a.size(), m = b.size();
  if ((n > m ? n - m : m - n) > cap) return cap + 1;
  // Three rows of the table: two back (for a swap), the last, and this one.
  scratch.assign(3 * (m + 1), 0);
  std::size_t* before = scratch.data();
  std::size_t* last = before + m + 1;
  std::size_t* row = last + m + 1;
  for (std::size_t j = 0; j <= m; ++j) last[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    row[0] = i;
    std::size_t least = row[0];
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({last[j] + 1, row[j - 1] + 1, last[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before[j - 2] + 1);
      }
      least = std::min(least, row[j]);
    }
    if (least > cap) return cap + 1;  // every path through this row is too long already
    std::swap(before, last);
    std::swap(last, row);
  }
  return std::min(last[m], cap + 1);
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t cap) {
  std::vector<std::size_t> scratch;
  return distance_in(a, b, cap, scratch);
}

Suggestion::Suggestion(std::string_view typed)
    : typed_(typed),
      limit_(std::max<std::size_t>(1, typed.size() / 3)),
      best_distance_(limit_ + 1) {}

void Suggestion::offer(std::string_view candidate) {
  if (candidate == typed_) return;
  const std::size_t d =
      distance_in(typed_, candidate, std::min(limit_, best_distance_ - 1), scratch_);
  if (d < best_distance_ && d <= limit_) {
    best_distance_ = d;
    best_ = std::string(candidate);
  }
}

std::string Suggestion::hint() const {
  return best_ ? " (did you mean " + *best_ + "?)" : std::string();
}

}  // namespace skedd
