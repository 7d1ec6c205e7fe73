#include "skedd/core/catch_up.h"

#include <algorithm>
#include <deque>

namespace skedd {

CatchUpPlan plan_catch_up(const JobSpec& spec, Instant since, Instant now) {
  CatchUpPlan plan;
  std::size_t keep = 0;
  switch (spec.options->catch_up) {
    case CatchUp::kNone:
      keep = 0;
      break;
    case CatchUp::kOnce:
      keep = 1;
      break;
    case CatchUp::kAll:
      keep = static_cast<std::size_t>(std::max(spec.options->max_catch_up, 0));
      break;
  }
  // The latest `keep` fires run; older ones fall out of the window and count as missed.
  std::deque<Instant> window;
  std::uint64_t scanned = 0;
  for (auto next = spec.schedule->next_after(since, since); next && next->at <= now;
       next = spec.schedule->next_after(next->at, since)) {
    window.push_back(next->at);
    if (window.size() > keep) {
      if (plan.missed++ == 0) plan.first_missed = window.front();
      plan.last_missed = window.front();
      window.pop_front();
    }
    if (++scanned == kMaxCatchUpScan) break;
  }
  plan.run.assign(window.begin(), window.end());
  return plan;
}

}  // namespace skedd
