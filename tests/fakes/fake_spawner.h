// A ProcessSpawner that starts nothing: it records spawns, and the test ends each "process"
// with an exit status or a signal. Exits are told as the real spawner tells them, posted to
// the io_context (run it, e.g. poll(), to deliver them), never from inside a call into it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "skedd/exec/process_spawner.h"
#include "util/unique_fd.h"

namespace skedd::test {

class FakeSpawner final : public ProcessSpawner {
 public:
  /// Pids handed out start here: above any kernel's pid_max (2^22), so no real process has
  /// one and nothing of /proc can be mistaken for a fake's.
  static constexpr pid_t kFirstPid = 50'000'000;

  struct Process {
    pid_t pid = 0;
    SpawnRequest request;  ///< its descriptors are the spawn's, closed since: use the ones below
    UniqueFd control;      ///< a copy of its fd 3: write run-channel lines here
    UniqueFd output;       ///< a copy of its fd 1 and 2
    bool spawned = true;   ///< false: added by add_process() (an earlier daemon's)
    bool exited = false;
    /// Processes of its group left after its main process exited, until a killing signal.
    bool leftovers = false;
    std::set<int> ignored;           ///< signals it survives (as a program that handles them)
    std::vector<int> signals;        ///< sent to its group, in order (0 excluded)
    std::uint64_t start = 0;         ///< its start time
    std::vector<std::string> input;  ///< lines send_input() gave it
  };

  explicit FakeSpawner(boost::asio::io_context& io) : io_(io) {}

  // The seam.

  Result<pid_t> spawn(const SpawnRequest& request) override {
    if (fail_next_) return *std::exchange(fail_next_, std::nullopt);
    Process& p = processes_.emplace_back();
    p.pid = next_pid_++;
    p.request = request;
    if (request.control_fd >= 0) p.control.reset(::fcntl(request.control_fd, F_DUPFD_CLOEXEC, 0));
    if (request.output_fd >= 0) p.output.reset(::fcntl(request.output_fd, F_DUPFD_CLOEXEC, 0));
    p.ignored = ignore_next_;
    p.leftovers = leftovers_next_;
    p.start = static_cast<std::uint64_t>(p.pid) * 10;
    return p.pid;
  }
  /// Spawns at once; with hold_answers(true) the answer waits for answer_spawns(), as a run
  /// host's reaches skedd after the loop has gone on.
  void spawn_async(const SpawnRequest& request, OnSpawned done) override {
    Result<pid_t> pid = spawn(request);
    if (!hold_answers_) return done(std::move(pid));
    held_.emplace_back(std::move(pid), std::move(done));
  }
  bool signal_group(pid_t pgid, int sig) override {
    Process* p = find(pgid);
    if (p == nullptr || (p->exited && !p->leftovers)) return false;
    if (sig == 0) return true;
    p->signals.push_back(sig);
    const bool kills = sig != SIGCONT && sig != SIGSTOP && sig != SIGCHLD && sig != SIGWINCH &&
                       sig != SIGURG && !(p->ignored.contains(sig) && sig != SIGKILL);
    if (!kills) return true;
    if (p->exited) {
      p->leftovers = false;  // the rest of the group dies
    } else {
      end(pgid, ProcessExit{std::nullopt, sig, std::nullopt});
    }
    return true;
  }
  Status watch_exit(pid_t pid, bool adopted, OnExit on_exit) override {
    if (const auto k = kept_.find(pid); k != kept_.end()) {
      // Kept by a run host: its status is known, adopted or not.
      watched_[pid] = Watched{false, std::move(on_exit)};
      deliver(pid, k->second.second);
      return Ok{};
    }
    Process* p = find(pid);
    if (p == nullptr || (p->exited && adopted)) return Error::io("cannot watch its process: gone");
    if (refuse_watch_) {
      if (!adopted) end_now(*p);
      return Error::io("cannot watch its process: Too many open files");
    }
    watched_[pid] = Watched{adopted, std::move(on_exit)};
    if (p->exited) deliver(pid, exits_[pid]);
    return Ok{};
  }
  void unwatch(pid_t pid) override { watched_.erase(pid); }
  std::optional<std::uint64_t> start_time(pid_t pid) override {
    const Process* p = find(pid);
    if (p == nullptr || p->exited) return std::nullopt;
    return p->start;
  }
  std::optional<pid_t> find_run(std::uint64_t run_id, const std::string&) override {
    for (const Process& p : processes_) {
      if (p.exited) continue;
      for (const std::string& e : p.request.env) {
        if (e == "SKEDD_RUN_ID=" + std::to_string(run_id)) return p.pid;
      }
    }
    return std::nullopt;
  }
  void reap_orphans() override { ++orphan_reaps_; }
  Status send_input(pid_t pid, std::uint64_t start, const std::string& line) override {
    Process* p = find(pid);
    if (p == nullptr || p->exited || p->start != start) return Error::not_found("gone");
    p->input.push_back(line);
    return Ok{};
  }
  std::optional<ProcessExit> kept_exit(pid_t pid, std::uint64_t start) override {
    const auto it = kept_.find(pid);
    if (it == kept_.end() || it->second.first != start) return std::nullopt;
    return it->second.second;
  }
  std::optional<HostSession> host_session() override { return session_; }
  void release(pid_t pid, std::uint64_t start) override {
    released_.emplace_back(pid, start);
    kept_.erase(pid);
  }

  // The test's side.

  /// The main process exits with `code` (told once the loop runs).
  void exit(pid_t pid, int code) { end(pid, ProcessExit{code, std::nullopt, std::nullopt}); }
  /// The main process is killed by `sig` whatever it ignores.
  void kill(pid_t pid, int sig) { end(pid, ProcessExit{std::nullopt, sig, std::nullopt}); }
  /// A process an earlier daemon started (alive, not our child), for adoption.
  Process& add_process(std::uint64_t start, std::vector<std::string> env = {}) {
    Process& p = processes_.emplace_back();
    p.pid = next_pid_++;
    p.spawned = false;
    p.start = start;
    p.request.env = std::move(env);
    return p;
  }
  /// An earlier daemon's run that ended while no skedd watched it, its exit kept as a run
  /// host keeps it. Returns its pid.
  pid_t add_kept_exit(std::uint64_t start, ProcessExit exit) {
    const pid_t pid = next_pid_++;
    kept_[pid] = {start, exit};
    return pid;
  }
  /// What release() was told, in order.
  const std::vector<std::pair<pid_t, std::uint64_t>>& released() const { return released_; }
  /// The run host session host_session() reports (nullopt: none, the default).
  void set_session(std::optional<HostSession> session) { session_ = session; }
  /// The next spawn fails with `error`.
  void fail_next(Error error) { fail_next_ = std::move(error); }
  /// Processes spawned from now on survive these signals (SIGKILL always kills).
  void ignore_next(std::set<int> signals) { ignore_next_ = std::move(signals); }
  /// Processes spawned from now on leave processes in their group when they exit.
  void leftovers_next(bool leave) { leftovers_next_ = leave; }
  /// watch_exit() fails from now on (as when out of descriptors).
  void refuse_watch(bool refuse) { refuse_watch_ = refuse; }

  Process* find(pid_t pid) {
    for (Process& p : processes_) {
      if (p.pid == pid) return &p;
    }
    return nullptr;
  }
  Process& last() { return processes_.back(); }
  /// Processes spawned (add_process() ones excluded), in order.
  std::vector<Process*> spawned() {
    std::vector<Process*> out;
    for (Process& p : processes_) {
      if (p.spawned) out.push_back(&p);
    }
    return out;
  }
  /// Spawned and not exited.
  std::vector<Process*> running() {
    std::vector<Process*> out;
    for (Process* p : spawned()) {
      if (!p->exited) out.push_back(p);
    }
    return out;
  }
  bool watched(pid_t pid) const { return watched_.contains(pid); }
  int orphan_reaps() const { return orphan_reaps_; }

  /// From now on spawn_async()'s answers wait for answer_spawns() (or not).
  void hold_answers(bool hold) { hold_answers_ = hold; }
  /// Tells the held answers, oldest first, from inside this call (as the real spawner tells
  /// them from the loop).
  void answer_spawns() {
    for (auto& [pid, done] : std::exchange(held_, {})) done(std::move(pid));
  }
  std::size_t held_answers() const { return held_.size(); }

 private:
  struct Watched {
    bool adopted = false;
    OnExit on_exit;
  };

  void end(pid_t pid, ProcessExit how) {
    Process* p = find(pid);
    if (p == nullptr || p->exited) return;
    p->exited = true;
    p->control.reset();
    p->output.reset();
    exits_[pid] = how;
    if (watched_.contains(pid)) deliver(pid, how);
  }
  void end_now(Process& p) {
    p.exited = true;
    p.control.reset();
    p.output.reset();
  }
  void deliver(pid_t pid, ProcessExit how) {
    boost::asio::post(io_, [this, pid, how] {
      const auto it = watched_.find(pid);
      if (it == watched_.end()) return;  // unwatched meanwhile
      Watched w = std::move(it->second);
      watched_.erase(it);
      w.on_exit(w.adopted ? ProcessExit{} : how);
    });
  }

  boost::asio::io_context& io_;
  std::deque<Process> processes_;  ///< stable references
  std::map<pid_t, Watched> watched_;
  std::map<pid_t, ProcessExit> exits_;
  std::map<pid_t, std::pair<std::uint64_t, ProcessExit>> kept_;
  std::vector<std::pair<pid_t, std::uint64_t>> released_;
  pid_t next_pid_ = kFirstPid;
  std::optional<Error> fail_next_;
  std::set<int> ignore_next_;
  bool leftovers_next_ = false;
  bool refuse_watch_ = false;
  std::optional<HostSession> session_;
  int orphan_reaps_ = 0;
  bool hold_answers_ = false;
  std::vector<std::pair<Result<pid_t>, OnSpawned>> held_;
};

}  // namespace skedd::test
