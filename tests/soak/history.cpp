#include "soak/history.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "skedd/time/timestamp.h"

namespace skedd::soak {

using std::chrono::milliseconds;

const char* to_string(Kill k) {
  switch (k) {
    case Kill::kDaemon:
      return "skedd";
    case Kill::kRuns:
      return "skedd and its runs";
    case Kill::kReboot:
      return "a reboot";
  }
  return "?";
}

std::vector<Stamp> parse_stamps(const std::string& text, int* torn) {
  std::vector<Stamp> stamps;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    Stamp s;
    bool ok = false;
    if (fields >> s.kind) {
      if (s.kind == "start") {
        ok =
            static_cast<bool>(fields >> s.job >> s.scheduled >> s.attempt >> s.run >> s.checkpoint);
      } else if (s.kind == "emit") {
        ok = static_cast<bool>(fields >> s.run >> s.checkpoint);
      }
    }
    if (ok) {
      stamps.push_back(std::move(s));
    } else {
      ++*torn;
    }
  }
  return stamps;
}

namespace {

std::string at(Instant t) {
  return format_rfc3339_utc(t);
}

// What the store holds of one job, and the checks over it.
class JobHistory {
 public:
  JobHistory(const PlannedJob& job, Store& store, Verdict& verdict,
             const std::vector<Stamp>& stamps, const std::vector<Cycle>& cycles, Instant end)
      : job_(job), verdict_(verdict), cycles_(cycles), end_(end) {
    auto runs = store.runs(RunQuery(job.name, std::nullopt, 10'000'000));
    auto not_run = store.not_run(job.name, 10'000'000);
    auto pending = store.pending_fires();
    auto last = store.last_fires();
    if (!runs || !not_run || !pending || !last) {
      problem("cannot read the store");
      ok_ = false;
      return;
    }
    runs_ = std::move(runs.value());
    not_run_ = std::move(not_run.value());
    for (PendingFire& p : pending.value()) {
      if (p.job == job.name) pending_.push_back(std::move(p));
    }
    if (auto it = last->find(job.name); it != last->end()) last_fire_ = it->second;
    for (const Stamp& s : stamps) {
      if (s.kind == "start" && s.job == job.name) starts_.push_back(s);
    }
    for (const RunRecord& r : runs_) by_run_[r.run.value] = &r;
    for (const Stamp& s : stamps) {
      const auto run = by_run_.find(s.run);
      if (s.kind == "emit" && run != by_run_.end()) {
        emitted_[at(run->second->scheduled)].insert(s.checkpoint);
      }
    }
    verdict_.counts.runs += runs_.size();
  }

  void check() {
    if (!ok_) return;
    attempts_once();
    if (job_.command) stamps_recorded();
    if (job_.at) {
      one_shot();
    } else {
      every_fire_once();
      down_fires();
    }
    if (job_.checkpoints) resumed_from_checkpoints();
    interrupted_resumed();
    run_ends();
  }

 private:
  void problem(const std::string& what) {
    verdict_.problems.push_back("job " + job_.name + ": " + what);
  }
  void doubled(const std::string& what) {
    ++verdict_.counts.doubled;
    problem(what);
  }
  void lost(const std::string& what) {
    ++verdict_.counts.lost;
    problem(what);
  }

  // No attempt of a fire started twice, and none is missing below the last.
  void attempts_once() {
    std::map<Instant, std::map<int, int>> attempts;
    for (const RunRecord& r : runs_) ++attempts[r.scheduled][r.attempt];
    for (const auto& [t, seen] : attempts) {
      const int last = seen.rbegin()->first;
      for (int a = 1; a <= last; ++a) {
        const auto it = seen.find(a);
        const int n = it == seen.end() ? 0 : it->second;
        if (n > 1)
          doubled("fire " + at(t) + " attempt " + std::to_string(a) + " has " + std::to_string(n) +
                  " runs");
        if (n == 0)
          lost("fire " + at(t) + " has attempt " + std::to_string(last) + " but no attempt " +
               std::to_string(a));
      }
    }
  }

  // Every process the job started (its own stamp) is the run the store recorded, started once.
  void stamps_recorded() {
    std::map<std::uint64_t, int> started;
    for (const Stamp& s : starts_) {
      if (++started[s.run] == 2) doubled("run " + std::to_string(s.run) + " was started twice");
      const auto it = by_run_.find(s.run);
      if (it == by_run_.end()) {
        lost("run " + std::to_string(s.run) + " (fire " + s.scheduled + " attempt " +
             std::to_string(s.attempt) + ") started but has no record");
      } else if (at(it->second->scheduled) != s.scheduled || it->second->attempt != s.attempt) {
        problem("run " + std::to_string(s.run) + " started as fire " + s.scheduled + " attempt " +
                std::to_string(s.attempt) + " but is recorded as " + at(it->second->scheduled) +
                " attempt " + std::to_string(it->second->attempt));
      }
    }
  }

  // How many times each fire is accounted for: its runs (together once), a not-run record,
  // or a pending fire not yet run.
  // A not-run record (overlap) of a fire that has run is its next attempt, skipped: a retry
  // or resume goes through overlap like a fire (skedd-jobs(5), retries), and the fire then
  // gets no further attempts. Its last run must call for another attempt.
  bool later_attempt_skipped(const NotRunRecord& nr, Instant t) const {
    if (nr.reason != NotRunReason::kOverlap || nr.first != nr.last) return false;
    const RunRecord* last = nullptr;
    for (const RunRecord& r : runs_) {
      if (r.scheduled == t && (last == nullptr || r.attempt > last->attempt)) last = &r;
    }
    return last != nullptr &&
           (last->state == RunState::kInterrupted || last->state == RunState::kFailed ||
            last->state == RunState::kTimedOut);
  }

  std::map<Instant, int> accounted() const {
    std::map<Instant, int> n;
    std::set<Instant> ran;
    for (const RunRecord& r : runs_) ran.insert(r.scheduled);
    for (Instant t : ran) ++n[t];
    for (const NotRunRecord& nr : not_run_) {
      if (ran.count(nr.first) && later_attempt_skipped(nr, nr.first)) continue;
      if (job_.period.count() == 0) {
        ++n[nr.first];
        continue;
      }
      for (Instant t = nr.first; t <= nr.last; t += job_.period) ++n[t];
    }
    for (const PendingFire& p : pending_) {
      if (!ran.count(p.scheduled)) ++n[p.scheduled];
    }
    return n;
  }

  const NotRunRecord* not_run_at(Instant t) const {
    for (const NotRunRecord& nr : not_run_) {
      if (nr.first <= t && t <= nr.last) return &nr;
    }
    return nullptr;
  }
  bool ran(Instant t) const {
    return std::any_of(runs_.begin(), runs_.end(),
                       [&](const RunRecord& r) { return r.scheduled == t; });
  }

  std::string describe(Instant t) const {
    std::string what;
    for (const RunRecord& r : runs_) {
      if (r.scheduled == t) {
        what += " run " + std::to_string(r.run.value) + " attempt " + std::to_string(r.attempt) +
                " " + skedd::to_string(r.state) + ";";
      }
    }
    for (const NotRunRecord& nr : not_run_) {
      if (nr.first <= t && t <= nr.last) {
        what += std::string(" ") + skedd::to_string(nr.state) + "/" + skedd::to_string(nr.reason) +
                " " + at(nr.first) + ".." + at(nr.last) + ";";
      }
    }
    return what;
  }

  // A recurring job: every fire from its first to its last is accounted for exactly once.
  void every_fire_once() {
    for (const NotRunRecord& nr : not_run_) {
      const auto steps = (nr.last - nr.first) / job_.period;
      if (nr.count != static_cast<std::uint64_t>(steps) + 1) {
        problem("not-run record " + at(nr.first) + ".." + at(nr.last) + " counts " +
                std::to_string(nr.count) + " fires");
      }
    }
    const std::map<Instant, int> n = accounted();
    if (n.empty() || !last_fire_) {
      lost("no fire is in the history");
      return;
    }
    const Instant first = n.begin()->first;
    for (const auto& [t, count] : n) {
      if ((t - first) % job_.period != Duration(0) || t > *last_fire_) {
        problem("fire " + at(t) + " is off the schedule (first " + at(first) + ", last " +
                at(*last_fire_) + "):" + describe(t));
      }
    }
    for (Instant t = first; t <= *last_fire_; t += job_.period) {
      ++verdict_.counts.fires;
      const auto it = n.find(t);
      const int count = it == n.end() ? 0 : it->second;
      if (count == 0) lost("fire " + at(t) + " is accounted for by nothing");
      if (count > 1)
        doubled("fire " + at(t) + " is accounted for " + std::to_string(count) +
                " times:" + describe(t));
    }
  }

  // A one-shot (catch_up = "once") due before the end ran, once.
  void one_shot() {
    if (*job_.at + milliseconds(1500) > end_) return;  // the loop ended first: not checked
    ++verdict_.counts.fires;
    const std::map<Instant, int> n = accounted();
    const auto it = n.find(*job_.at);
    if (it == n.end() || !ran(*job_.at)) {
      lost("the one-shot at " + at(*job_.at) + " did not run:" + describe(*job_.at));
    } else if (it->second > 1 || n.size() > 1) {
      doubled("the one-shot at " + at(*job_.at) +
              " is accounted for more than once:" + describe(*job_.at));
    }
  }

  // Fires due while skedd was down were handled per catch_up.
  void down_fires() {
    const std::map<Instant, int> n = accounted();
    if (n.empty()) return;
    const Instant first = n.begin()->first;
    for (const Cycle& c : cycles_) {
      // Strictly between a kill and the next start (with a margin for a fire taken just
      // before the kill): no skedd could have taken these.
      const Instant from = c.killed + milliseconds(200);
      std::vector<Instant> due;
      // The job's first fire on record starts its grid (an `every` job killed before its
      // first fire starts afresh at the next load).
      Instant t = from <= first ? first : first + ((from - first) / job_.period + 1) * job_.period;
      // Up to the next skedd's first fire of the job; unknown when it was killed before it
      // loaded the job, and then the skedd after it caught up these fires with its own: the
      // latest of them need not be here.
      const auto first_next = c.next_first.find(job_.name);
      const bool window_known = first_next != c.next_first.end();
      const Instant until = window_known ? first_next->second : c.next_start;
      for (; t < until; t += job_.period) due.push_back(t);
      for (std::size_t i = 0; i < due.size(); ++i) {
        ++verdict_.counts.down_fires;
        const Instant d = due[i];
        const NotRunRecord* nr = not_run_at(d);
        const bool missed = nr != nullptr && nr->reason == NotRunReason::kMissedWhileDown;
        const bool last_here = i + 1 == due.size();
        // A missed record reaching past the window was written by a later skedd: the next
        // one was killed after loading the job and before committing its catch-up, and the
        // one after it caught up both windows as one (whose latest is checked with its own).
        const bool spans_on = missed && nr->last >= until;
        const bool latest = last_here && window_known && !spans_on;
        std::string want;
        if (job_.catch_up == CatchUp::kAll && !ran(d)) want = "run (catch_up = \"all\")";
        if (job_.catch_up == CatchUp::kNone && (!missed || ran(d))) {
          want = "recorded missed_while_down (catch_up = \"none\")";
        }
        if (job_.catch_up == CatchUp::kOnce) {
          const bool skipped = nr != nullptr && nr->reason == NotRunReason::kOverlap;
          if (!last_here && (!missed || ran(d))) {
            want = "recorded missed_while_down (catch_up = \"once\", not the latest)";
          } else if (latest && !ran(d) && !skipped) {
            // Run, or skipped for overlapping a run or fire that came first (one the dead
            // skedd took, recovered now, or an adopted run): its overlap policy has the say.
            want = "run or skipped for overlap (catch_up = \"once\", the latest missed)";
          }
        }
        if (!want.empty()) {
          lost("fire " + at(d) + ", due while skedd was down (killed " + at(c.killed) +
               ", started again " + at(c.next_start) + "), should be " + want + ":" + describe(d));
        }
      }
    }
  }

  // An attempt started after an earlier one checkpointed received that fire's last
  // committed checkpoint, which the fire had written.
  void resumed_from_checkpoints() {
    for (const Stamp& s : starts_) {
      if (s.attempt == 1) continue;
      const RunRecord* earlier = nullptr;
      for (const RunRecord& r : runs_) {
        if (at(r.scheduled) == s.scheduled && r.attempt < s.attempt && !r.checkpoint.empty() &&
            (earlier == nullptr || r.attempt > earlier->attempt)) {
          earlier = &r;
        }
      }
      const std::string expected = earlier == nullptr ? "none" : earlier->checkpoint;
      if (s.checkpoint != expected) {
        problem("fire " + s.scheduled + " attempt " + std::to_string(s.attempt) +
                " received checkpoint " + s.checkpoint + ", its last committed one is " + expected);
        continue;
      }
      if (expected == "none") continue;
      ++verdict_.counts.resumes;
      if (!emitted_[s.scheduled].count(expected)) {
        problem("fire " + s.scheduled + " attempt " + std::to_string(s.attempt) +
                " received checkpoint " + expected + ", which no attempt of it wrote");
      }
    }
  }

  // An interrupted run's fire is attempted again (on_interrupt resume or restart), at once or
  // pending at the end.
  void interrupted_resumed() {
    for (const RunRecord& r : runs_) {
      if (r.state != RunState::kInterrupted) continue;
      const bool next =
          std::any_of(runs_.begin(), runs_.end(),
                      [&](const RunRecord& o) {
                        return o.scheduled == r.scheduled && o.attempt == r.attempt + 1;
                      }) ||
          std::any_of(pending_.begin(), pending_.end(),
                      [&](const PendingFire& p) {
                        return p.scheduled == r.scheduled && p.attempt == r.attempt + 1;
                      }) ||
          std::any_of(not_run_.begin(), not_run_.end(), [&](const NotRunRecord& nr) {
            return nr.first == r.scheduled && later_attempt_skipped(nr, r.scheduled);
          });
      if (!next) {
        lost("run " + std::to_string(r.run.value) + " (fire " + at(r.scheduled) +
             ") was interrupted and its fire never attempted again");
      }
    }
  }

  bool killed_between(Kill kind, Instant started) const {
    return std::any_of(cycles_.begin(), cycles_.end(), [&](const Cycle& c) {
      return c.kill == kind && c.killed + milliseconds(100) >= started;
    });
  }

  // Every run ended, with the end it really had: the run host keeps the exit of a run that
  // ended while skedd was down; only the loop's own kills and reboots end runs otherwise.
  void run_ends() {
    std::set<std::uint64_t> in_flight;
    for (const Cycle& c : cycles_) {
      for (const RunRecord& r : c.running) in_flight.insert(r.run.value);
    }
    for (const RunRecord& r : runs_) {
      const std::string name = "run " + std::to_string(r.run.value) + " (fire " + at(r.scheduled) +
                               " attempt " + std::to_string(r.attempt) + ")";
      if (!is_final(r.state)) {
        problem(name + " is still " + skedd::to_string(r.state) + " after the drain");
        continue;
      }
      if (r.message.find("exit status unknown") != std::string::npos) {
        problem(name + ": " + r.message);
      }
      if (r.state == RunState::kKilled && job_.command && !killed_between(Kill::kRuns, r.started) &&
          !killed_between(Kill::kReboot, r.started)) {
        problem(name + " is recorded killed (\"" + r.message + "\", started " + at(r.started) +
                "), but no kill of runs came after its start");
      }
      if (r.state == RunState::kInterrupted && !killed_between(Kill::kReboot, r.started) &&
          job_.command) {
        problem(name + " is recorded interrupted (\"" + r.message + "\", started " + at(r.started) +
                "), but no reboot came after its start");
      }
      const bool exited = r.state == RunState::kSucceeded || r.state == RunState::kFailed;
      if (exited && in_flight.count(r.run.value)) ++verdict_.counts.real_exits;
      if (exited && job_.exit_by_second) {
        const auto second =
            std::chrono::floor<std::chrono::seconds>(r.scheduled).time_since_epoch();
        const int expected = static_cast<int>((second.count() % 60 + 100) % 5);
        if (r.exit_code != expected) {
          problem(name + " exited " +
                  (r.exit_code ? std::to_string(*r.exit_code) : std::string("with no code")) +
                  ", its real exit was " + std::to_string(expected));
        }
      }
    }
  }

  const PlannedJob& job_;
  bool ok_ = true;
  Verdict& verdict_;
  const std::vector<Cycle>& cycles_;
  Instant end_;
  std::vector<RunRecord> runs_;
  std::vector<NotRunRecord> not_run_;
  std::vector<PendingFire> pending_;
  std::optional<Instant> last_fire_;
  std::vector<Stamp> starts_;
  std::map<std::uint64_t, const RunRecord*> by_run_;
  std::map<std::string, std::set<std::string>> emitted_;  // checkpoints, by fire
};

}  // namespace

Verdict check_history(Store& store, const std::vector<PlannedJob>& jobs,
                      const std::vector<Cycle>& cycles, const std::vector<Stamp>& stamps,
                      Instant end) {
  Verdict verdict;
  for (const PlannedJob& job : jobs) {
    JobHistory history(job, store, verdict, stamps, cycles, end);
    history.check();
  }
  return verdict;
}

}  // namespace skedd::soak
