// The in-memory Store: plain maps under one mutex, each write applied as it is made.
#include "skedd/store/memory_store.h"

#include <algorithm>
#include <mutex>
#include <set>

namespace skedd {
namespace {

class MemoryStore final : public Store {
 public:
  void put_run(RunRecord run) override {
    std::lock_guard lock(mu_);
    // As the SQLite store keeps it: an end only once the state is final.
    if (!is_final(run.state)) run.ended.reset();
    pending_.erase(run.run);
    tails_.erase(run.job);  // the job's latest history entry is a run now
    const RunId id = run.run;
    runs_[id] = std::move(run);
  }
  void delete_run(RunId run) override {
    std::lock_guard lock(mu_);
    runs_.erase(run);
    outputs_.erase(run);
  }
  void put_fire(const PendingFire& fire) override {
    std::lock_guard lock(mu_);
    add_pending(fire);
  }
  void put_fire_taken(const PendingFire& fire, std::optional<Instant> next,
                      std::optional<NotRunRecord> folded) override {
    std::lock_guard lock(mu_);
    if (folded) append_not_run(*folded);
    add_pending(fire);
    if (folded) move_last_fire(fire.job, folded->last);
    set_next(fire.job, next);
  }
  void put_progress(RunId run, double percent, const std::string& message) override {
    std::lock_guard lock(mu_);
    if (auto it = runs_.find(run); it != runs_.end()) {
      it->second.progress = percent;
      it->second.progress_message = message;
    }
  }
  void put_checkpoint(RunId run, const std::string& checkpoint) override {
    std::lock_guard lock(mu_);
    if (auto it = runs_.find(run); it != runs_.end()) it->second.checkpoint = checkpoint;
  }
  void put_output(RunId run, const std::string& key, const std::string& value) override {
    std::lock_guard lock(mu_);
    outputs_[run][key] = value;
  }
  void put_workflow_run(const WorkflowRunRecord& run) override {
    std::lock_guard lock(mu_);
    WorkflowRunRecord& kept = workflow_runs_[run.id] = run;
    if (!is_final(kept.state)) kept.ended.reset();  // as the SQLite store keeps it
  }
  Result<std::vector<WorkflowRunRecord>> workflow_runs(const WorkflowRunQuery& query) override {
    std::lock_guard lock(mu_);
    std::vector<WorkflowRunRecord> out;
    for (auto it = workflow_runs_.rbegin(); it != workflow_runs_.rend(); ++it) {
      if (out.size() >= query.limit) break;
      const WorkflowRunRecord& r = it->second;
      if (query.workflow && r.workflow != *query.workflow) continue;
      if (query.id && r.id != *query.id) continue;
      if (query.unfinished && r.ended) continue;
      out.push_back(r);
    }
    return out;
  }
  void put_not_run(const NotRunRecord& record) override {
    std::lock_guard lock(mu_);
    move_last_fire(record.job, record.last);
    if (record.run.value != 0) pending_.erase(record.run);
    append_not_run(record);
  }
  void put_fire_not_run(const NotRunRecord& record, std::optional<Instant> next) override {
    std::lock_guard lock(mu_);
    move_last_fire(record.job, record.last);
    set_next(record.job, next);
    append_not_run(record);
  }
  void put_next_fire(const std::string& job, std::optional<Instant> next) override {
    std::lock_guard lock(mu_);
    set_next(job, next);
  }
  void put_next_fires(NextFires fires) override {
    std::lock_guard lock(mu_);
    for (const auto& [job, next] : fires) set_next(job, next);
  }
  void put_paused(const std::string& job, bool paused) override {
    std::lock_guard lock(mu_);
    if (paused) {
      paused_.insert(job);
    } else {
      paused_.erase(job);
    }
  }
  void put_job_version(const std::string& job, int version, const std::string& definition,
                       const std::string& tree, Instant, int keep) override {
    std::lock_guard lock(mu_);
    auto& versions = versions_[job];
    versions[version] = Version{definition, tree};
    if (keep > 0) versions.erase(versions.begin(), versions.upper_bound(version - keep));
  }
  void put_meta(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mu_);
    meta_[key] = value;
  }
  void retire_job(const std::string& job, RunId since_run) override {
    std::lock_guard lock(mu_);
    identities_[job] = Identity{since_run, next_not_run_id_};
    std::erase_if(pending_, [&](const auto& entry) {
      return entry.second.job == job && entry.second.run < since_run;
    });
    last_fires_.erase(job);
    next_fires_.erase(job);
    paused_.erase(job);
    tails_.erase(job);
  }
  void assign_owner(const std::string& job, uid_t owner) override {
    std::lock_guard lock(mu_);
    for (auto& [id, run] : runs_) {
      if (run.job == job && !run.owner) run.owner = owner;
    }
  }

  Result<std::vector<std::string>> prune(std::size_t keep_runs,
                                         std::optional<Instant> cutoff) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> logs;
    std::map<std::string, std::size_t> seen;  // runs of each job looked at, newest first
    for (auto it = runs_.rbegin(); it != runs_.rend();) {
      const RunRecord& run = it->second;
      const std::size_t n = ++seen[run.job];
      const bool live = run.state == RunState::kRunning || run.state == RunState::kPaused;
      const bool old = cutoff && run.ended && *run.ended < *cutoff;
      if (!live && ((keep_runs > 0 && n > keep_runs) || old)) {
        if (!run.log_path.empty()) logs.push_back(run.log_path);
        outputs_.erase(run.run);
        it = std::make_reverse_iterator(runs_.erase(std::next(it).base()));
      } else {
        ++it;
      }
    }
    std::map<std::string, std::size_t> seen_workflow;
    for (auto it = workflow_runs_.rbegin(); it != workflow_runs_.rend();) {
      const WorkflowRunRecord& r = it->second;
      const std::size_t n = ++seen_workflow[r.workflow];
      const bool old = cutoff && r.ended && *r.ended < *cutoff;
      if (r.ended && ((keep_runs > 0 && n > keep_runs) || old)) {
        it = std::make_reverse_iterator(workflow_runs_.erase(std::next(it).base()));
      } else {
        ++it;
      }
    }
    if (cutoff) {
      std::erase_if(not_run_, [&](const auto& entry) { return entry.second.last < *cutoff; });
      tails_.clear();  // a record being extended may be gone
    }
    return logs;
  }

  Status flush() override { return Ok{}; }
  void when_committed(std::function<void(Status)> done, Pace) override { done(Ok{}); }
  void begin_group() override {}
  void end_group() override {}
  StoreHealth health() override { return StoreHealth{}; }

  Result<std::vector<RunRecord>> runs(const RunQuery& query) override {
    std::lock_guard lock(mu_);
    std::vector<RunRecord> out;
    const RunId since = query.job && query.current_identity ? since_run(*query.job) : RunId{0};
    for (auto it = runs_.rbegin(); it != runs_.rend() && out.size() < query.limit; ++it) {
      const RunRecord& run = it->second;
      if (query.job && (run.job != *query.job || run.run < since)) continue;
      if (query.owner && run.owner != query.owner) continue;
      if (query.state && run.state != *query.state) continue;
      if (query.run && run.run != *query.run) continue;
      if (query.since && run.started < *query.since) continue;
      out.push_back(run);
      out.back().outputs.clear();
      if (query.outputs) {
        if (const auto o = outputs_.find(run.run); o != outputs_.end()) {
          out.back().outputs = o->second;
        }
      }
    }
    return out;
  }
  Result<std::map<std::string, RunRecord>> latest_ended_runs() override {
    return latest_runs_ended_as({});
  }
  Result<std::map<std::string, RunRecord>> latest_runs_ended_as(
      const std::vector<RunState>& states) override {
    std::lock_guard lock(mu_);
    std::map<std::string, RunRecord> out;
    for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) {
      const RunRecord& run = it->second;
      if (!states.empty() && std::find(states.begin(), states.end(), run.state) == states.end())
        continue;
      if (run.ended && run.run >= since_run(run.job)) out.try_emplace(run.job, run);
    }
    return out;
  }
  Result<std::vector<NotRunRecord>> not_run(const std::string& job, std::size_t limit) override {
    std::lock_guard lock(mu_);
    const auto identity = identities_.find(job);
    const std::uint64_t since = identity == identities_.end() ? 0 : identity->second.not_run;
    std::vector<NotRunRecord> out;
    for (auto it = not_run_.rbegin(); it != not_run_.rend() && out.size() < limit; ++it) {
      if (it->first >= since && it->second.job == job) {
        NotRunRecord r = it->second;
        r.run = RunId{0};
        out.push_back(std::move(r));
      }
    }
    return out;
  }
  Result<std::map<std::string, Instant>> last_fires() override {
    std::lock_guard lock(mu_);
    return last_fires_;
  }
  Result<std::map<std::string, Instant>> next_fires() override {
    std::lock_guard lock(mu_);
    return next_fires_;
  }
  Result<std::vector<PendingFire>> pending_fires() override {
    std::lock_guard lock(mu_);
    std::vector<PendingFire> out;
    for (const auto& [run, fire] : pending_) out.push_back(fire);
    std::stable_sort(out.begin(), out.end(),
                     [](const PendingFire& a, const PendingFire& b) { return a.due < b.due; });
    return out;
  }
  Result<std::vector<std::string>> paused() override {
    std::lock_guard lock(mu_);
    return std::vector<std::string>(paused_.begin(), paused_.end());
  }
  Result<std::vector<std::pair<int, std::string>>> job_versions(const std::string& job) override {
    std::lock_guard lock(mu_);
    std::vector<std::pair<int, std::string>> out;
    if (const auto it = versions_.find(job); it != versions_.end()) {
      for (const auto& [version, v] : it->second) out.emplace_back(version, v.definition);
    }
    return out;
  }
  Status for_each_latest_job_version(const VersionVisitor& visit) override {
    // A copy: `visit` may call back into the store.
    std::vector<std::tuple<std::string, int, Version>> latest;
    {
      std::lock_guard lock(mu_);
      for (const auto& [job, versions] : versions_) {
        if (!versions.empty()) {
          latest.emplace_back(job, versions.rbegin()->first, versions.rbegin()->second);
        }
      }
    }
    for (const auto& [job, version, v] : latest) visit(job, version, v.definition, v.tree);
    return Ok{};
  }
  Result<std::map<std::string, RunId>> identities() override {
    std::lock_guard lock(mu_);
    std::map<std::string, RunId> out;
    for (const auto& [job, identity] : identities_) out[job] = identity.run;
    return out;
  }
  Result<std::optional<std::string>> meta(const std::string& key) override {
    std::lock_guard lock(mu_);
    const auto it = meta_.find(key);
    if (it == meta_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

 private:
  struct Version {
    std::string definition;
    std::string tree;
  };
  /// Where the current identity of a job name starts (see retire_job()).
  struct Identity {
    RunId run;
    std::uint64_t not_run = 0;  ///< the first not-run record id of it
  };

  void add_pending(const PendingFire& fire) {
    pending_[fire.run] = fire;
    if (fire.attempt == 1) move_last_fire(fire.job, fire.scheduled);
  }
  /// A job's last fire never moves back.
  void move_last_fire(const std::string& job, Instant t) {
    const auto [it, added] = last_fires_.try_emplace(job, t);
    if (!added) it->second = std::max(it->second, t);
  }
  void set_next(const std::string& job, std::optional<Instant> next) {
    if (next) {
      next_fires_[job] = *next;
    } else {
      next_fires_.erase(job);
    }
  }
  /// Grows the job's latest history entry when it is a not-run record of the same state and
  /// reason; else adds one.
  void append_not_run(const NotRunRecord& record) {
    if (const auto tail = tails_.find(record.job); tail != tails_.end()) {
      const auto it = not_run_.find(tail->second);
      if (it != not_run_.end() && it->second.state == record.state &&
          it->second.reason == record.reason) {
        it->second.last = std::max(it->second.last, record.last);
        it->second.count += record.count;
        return;
      }
    }
    const std::uint64_t id = next_not_run_id_++;
    not_run_[id] = record;
    tails_[record.job] = id;
  }
  RunId since_run(const std::string& job) const {
    const auto it = identities_.find(job);
    return it == identities_.end() ? RunId{0} : it->second.run;
  }

  std::mutex mu_;
  std::map<RunId, RunRecord> runs_;  ///< by id: the newest last
  /// Each run's outputs, apart from its record as in the SQLite store (put_run() leaves them).
  std::map<RunId, std::map<std::string, std::string>> outputs_;
  std::map<RunId, WorkflowRunRecord> workflow_runs_;  ///< by id: the newest last
  std::map<RunId, PendingFire> pending_;
  std::map<std::uint64_t, NotRunRecord> not_run_;  ///< by id, in the order written
  std::uint64_t next_not_run_id_ = 1;
  /// Each job's not-run record that is its latest history entry (erased by a run of it).
  std::map<std::string, std::uint64_t> tails_;
  std::map<std::string, Instant> last_fires_;
  std::map<std::string, Instant> next_fires_;
  std::set<std::string> paused_;
  std::map<std::string, std::map<int, Version>> versions_;
  std::map<std::string, std::string> meta_;
  std::map<std::string, Identity> identities_;
};

}  // namespace

std::unique_ptr<Store> make_memory_store() {
  return std::make_unique<MemoryStore>();
}

}  // namespace skedd
