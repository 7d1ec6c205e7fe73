// Durable-state benchmarks, each against a baseline from the same run:
//
//  checkpoints: R running runs each write a checkpoint, wait until it is committed (as a run's
//               next control line waits in skedd), and write the next, while other runs start
//               and end at a steady rate. Checkpoints/s and the latency until durable, against
//               the same store committing each checkpoint on its own (flush after each).
//               Target: >= 50,000 checkpoints/s with synchronous = normal.
//  recovery:    the real skedd with K running runs, each past its first checkpoint, is killed
//               with SIGKILL and started again: the time from the new skedd's start until it
//               has adopted all K; then skedd and the runs are killed, and the time until all K
//               are resumed (spawned again). Target: within 1 s of the restart. Printed
//               beside it: a bare loop forking as many shells, and creating as many files
//               in the state dir's file system (each resumed run gets a new log file).
//
// Usage: bench_state [R=1000] [SECONDS=3] [K=1000] [DIR=/var/tmp]  (DIR holds the databases)
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "bench_support.h"
#include "skedd/store/sqlite_store.h"

namespace {

using namespace skedd::bench;

skedd::RunRecord running_run(std::uint64_t id) {
  skedd::RunRecord r;
  r.run = skedd::RunId{id};
  r.job = "job" + std::to_string(id % 100);
  r.scheduled = skedd::Instant(std::chrono::seconds(1'800'000'000 + id));
  r.started = r.scheduled;
  r.state = skedd::RunState::kRunning;
  r.pid = static_cast<pid_t>(10000 + id);
  r.log_path = "/var/lib/skedd/logs/" + r.job + "." + std::to_string(id) + ".log";
  return r;
}

std::unique_ptr<skedd::Store> open_store(const fs::path& path) {
  auto store = skedd::open_sqlite_store(path.string());
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    std::exit(1);
  }
  return std::move(store).value();
}

// Checkpoints committed one by one, each waited for: what skedd would do without group commit.
double unbatched_rate(const fs::path& path, double seconds) {
  auto store = open_store(path);
  store->put_run(running_run(1));
  (void)store->flush();
  const auto start = Clock::now();
  int n = 0;
  while (elapsed_s(start) < seconds) {
    store->put_checkpoint(skedd::RunId{1}, std::to_string(n++));
    (void)store->flush();
  }
  return n / elapsed_s(start);
}

struct BatchedResult {
  double rate = 0;
  std::vector<double> latency_ms;
  std::uint64_t load_records = 0;
};

BatchedResult batched(const fs::path& path, int runs, double seconds) {
  auto store = open_store(path);
  for (int i = 0; i < runs; ++i) store->put_run(running_run(static_cast<std::uint64_t>(i)));
  (void)store->flush();

  // The writer's commit notices come back here, as they go to skedd's event loop.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<int, Clock::time_point>> durable;
  BatchedResult result;
  std::uint64_t committed = 0;
  std::vector<std::uint64_t> counter(static_cast<std::size_t>(runs), 0);
  auto write = [&](int run) {
    const auto at = Clock::now();
    store->put_checkpoint(skedd::RunId{static_cast<std::uint64_t>(run)},
                          "step " + std::to_string(++counter[static_cast<std::size_t>(run)]));
    store->when_committed([&, run, at](skedd::Status) {
      std::lock_guard lock(mu);
      durable.emplace_back(run, at);
      cv.notify_one();
    });
  };
  const auto start = Clock::now();
  for (int i = 0; i < runs; ++i) write(i);
  auto next_load = Clock::now();
  std::uint64_t load_id = 1'000'000;
  while (elapsed_s(start) < seconds) {
    std::deque<std::pair<int, Clock::time_point>> ready;
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(1), [&] { return !durable.empty(); });
      ready.swap(durable);
    }
    const auto now = Clock::now();
    for (const auto& [run, at] : ready) {
      ++committed;
      result.latency_ms.push_back(std::chrono::duration<double, std::milli>(now - at).count());
      write(run);
    }
    // The load: other runs start and end, 2,000 records/s.
    for (; next_load < now; next_load += std::chrono::microseconds(500)) {
      skedd::RunRecord r = running_run(load_id++);
      r.state = load_id % 2 ? skedd::RunState::kRunning : skedd::RunState::kSucceeded;
      store->put_run(r);
      ++result.load_records;
    }
  }
  result.rate = static_cast<double>(committed) / elapsed_s(start);
  (void)store->flush();
  return result;
}

int count_events(const std::vector<nlohmann::json>& events, const std::string& name,
                 const std::function<bool(const nlohmann::json&)>& match = {}) {
  return static_cast<int>(std::count_if(events.begin(), events.end(), [&](const auto& e) {
    return e.value("event", "") == name && (!match || match(e));
  }));
}

// Seconds from `since` to the latest event `name` (matching) in `events`.
double last_event_after(const std::vector<nlohmann::json>& events, const std::string& name,
                        SysTime since, const std::function<bool(const nlohmann::json&)>& match) {
  skedd::Instant last = skedd::Instant::min();
  for (const auto& e : events) {
    if (e.value("event", "") == name && match(e)) last = std::max(last, parse(e["time"]));
  }
  return std::chrono::duration<double>(last.time_since_epoch() - since.time_since_epoch()).count();
}

// Seconds to spawn `k` shells running `script` all at once and reap them: what starting the
// resumed runs costs at the least.
double bare_shells(int k, const char* script) {
  const auto start = Clock::now();
  for (int i = 0; i < k; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
      std::_Exit(127);
    }
  }
  for (int i = 0; i < k; ++i) ::wait(nullptr);
  return elapsed_s(start);
}

// Seconds to create `k` empty files in a new directory `dir`: every resumed run gets a new log
// file. On an ext4 without a journal this varies a hundredfold (0.02-1 ms a file), as the
// inode allocator skips recently deleted inodes one by one.
double bare_creates(const fs::path& dir, int k) {
  fs::create_directories(dir);
  const auto start = Clock::now();
  for (int i = 0; i < k; ++i) {
    const std::string path = (dir / (std::to_string(i) + ".log")).string();
    ::close(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  }
  return elapsed_s(start);
}

void recovery(const std::string& skedd, const fs::path& dir, int k) {
  // The runs outlive the killed skedd: they become this process's children, not init's.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  const auto due =
      std::chrono::system_clock::now() + std::chrono::seconds(2) + std::chrono::milliseconds(k);
  std::string jobs;
  for (int i = 0; i < k; ++i) {
    jobs += "[job.r" + std::to_string(i) + "]\nat = \"" + rfc3339(due) +
            "\"\ncommand = '''\n[ -n \"$SKEDD_CHECKPOINT\" ] && exit 0\n"
            "echo checkpoint 1 >&3\nexec sleep 600\n'''\n";
  }
  const fs::path log = dir / "skedd.log";
  DaemonRun first = start_daemon(skedd, dir, jobs, k, "");
  auto events = wait_events(
      log, [&](const auto& ev) { return count_events(ev, "checkpoint") >= k; }, 120);
  std::set<pid_t> groups;
  for (const auto& e : events) {
    if (e.value("event", "") == "run_started") groups.insert(e["pid"].get<pid_t>());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the last commit
  stop(first, SIGKILL, false);

  // Adoption: the runs still run.
  std::size_t seen = events.size();
  auto since = std::chrono::system_clock::now();
  DaemonRun second = start_daemon(skedd, dir, jobs, k, "");
  events = wait_events(
      log, [&](const auto& ev) { return count_events(ev, "run_adopted") >= k; }, 60);
  const int adopted = count_events(events, "run_adopted");
  const double adopt_s = last_event_after(events, "run_adopted", since, [](auto&) { return true; });
  stop(second, SIGKILL, false);

  // Resumption: the runs are gone too (reaped here: this process is their subreaper).
  for (pid_t g : groups) ::kill(-g, SIGKILL);
  for (std::size_t reaped = 0; reaped < groups.size();) {
    if (::waitpid(-1, nullptr, 0) <= 0) break;
    ++reaped;
  }
  seen = events.size();
  since = std::chrono::system_clock::now();
  DaemonRun third = start_daemon(skedd, dir, jobs, k, "");
  auto resumed_event = [](const nlohmann::json& e) { return e.value("attempt", 0) == 2; };
  events = wait_events(
      log, [&](const auto& ev) { return count_events(ev, "run_started", resumed_event) >= k; }, 60);
  const int resumed = count_events(events, "run_started", resumed_event);
  if (resumed < k) {
    std::map<std::string, int> by_name;
    for (std::size_t i = seen; i < events.size(); ++i) ++by_name[events[i].value("event", "")];
    for (const auto& [name, n] : by_name) std::fprintf(stderr, "  %s: %d\n", name.c_str(), n);
  }
  const double resume_s = last_event_after(events, "run_started", since, resumed_event);
  const auto any = [](const nlohmann::json&) { return true; };
  std::vector<nlohmann::json> restart(events.begin() + static_cast<std::ptrdiff_t>(seen),
                                      events.end());
  const double loaded_s = last_event_after(restart, "job_loaded", since, any);
  const double interrupted_s = last_event_after(restart, "run_interrupted", since, any);
  wait_finished(log, static_cast<std::size_t>(k), 60);
  stop(third);

  const double bare = bare_shells(k, "[ -n \"$SKEDD_CHECKPOINT\" ] && exit 0");
  const double creates = bare_creates(dir / "bare-creates", k);
  std::printf("recovery: %d running runs past a checkpoint, skedd killed with SIGKILL\n", k);
  std::printf("  adopted  %5d in %.3f s from the restart  (target: all within 1 s)\n", adopted,
              adopt_s);
  std::printf("  resumed  %5d in %.3f s from the restart, the runs killed too  (target: 1 s)\n",
              resumed, resume_s);
  std::printf(
      "           (jobs loaded at %.3f s, runs found interrupted by %.3f s; a bare loop "
      "forking the same %d shells takes %.3f s, creating as many files in the state dir's "
      "file system %.3f s)\n",
      loaded_s, interrupted_s, k, bare, creates);
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 1000;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  const int k = argc > 3 ? std::atoi(argv[3]) : 1000;
  std::string tmpl = std::string(argc > 4 ? argv[4] : "/var/tmp") + "/skedd-bench-XXXXXX";
  const fs::path root = ::mkdtemp(tmpl.data());

  const double alone = unbatched_rate(root / "unbatched.db", seconds);
  const BatchedResult b = batched(root / "batched.db", runs, seconds);
  std::printf(
      "checkpoints: %d runs each waiting for its last checkpoint's commit, %.0f s, "
      "synchronous = normal, %llu other run records meanwhile\n",
      runs, seconds, static_cast<unsigned long long>(b.load_records));
  std::printf("  one commit per checkpoint  %9.0f checkpoints/s\n", alone);
  std::printf("  group commit               %9.0f checkpoints/s  (target >= 50000)\n", b.rate);
  std::printf("  ratio                      %9.1f\n", b.rate / alone);
  std::printf("  until durable: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
              percentile(b.latency_ms, 50), percentile(b.latency_ms, 99),
              percentile(b.latency_ms, 100));

  recovery(SKEDD_BINARY, root / "recovery", k);
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}
