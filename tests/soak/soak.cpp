// skedd_soak: the kill loop. Starts a real skedd in a temp dir on a mix of jobs (every 1 s,
// 6-field cron, one-shots, a checkpointing job that takes seconds, a handler job, retries,
// overlap skip and queue, exit codes to keep), kills it with SIGKILL at random moments, and
// sometimes its runs too or everything as a reboot would, starts it again, N times; then
// starts it a last time, drains it, stops it, and checks the whole history (history.h).
//
// Usage: skedd_soak [--cycles N] [--seed S] [--keep]
// Prints its seed first: --seed replays the same kills at the same moments. Exits 0 when the
// history keeps every promise, 1 with each problem found, 2 on bad arguments or when the loop
// itself cannot run. CTest runs 10 cycles (normal build); `scripts/soak N` builds it and runs N.
// --keep also keeps each skedd's log, DIR/skedd.N.log.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "skedd/store/sqlite_store.h"
#include "skedd/time/timestamp.h"
#include "soak/history.h"
#include "support/daemon.h"
#include "support/daemon_jobs.h"
#include "support/temp_dir.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using skedd::Instant;
using skedd::soak::CatchUp;
using skedd::soak::Cycle;
using skedd::soak::Kill;
using skedd::soak::PlannedJob;
using skedd::test::Daemon;
using skedd::test::Json;
using skedd::test::TempDir;
using std::chrono::milliseconds;

Instant now() {
  return std::chrono::time_point_cast<skedd::Duration>(std::chrono::system_clock::now());
}

struct Options {
  int cycles = 10;
  unsigned seed = 0;
  bool seeded = false;
  bool keep = false;
};

// What every command job writes first: which run of which fire and attempt it is, and the
// checkpoint it was given.
const char* const kStamp =
    "echo \"start $SKEDD_JOB $SKEDD_SCHEDULED_AT $SKEDD_ATTEMPT $SKEDD_RUN_ID "
    "${SKEDD_CHECKPOINT:-none}\" >> \"$DIR/stamps\"\n";

// The jobs and their TOML. `t0`: when the loop starts (the one-shots follow it).
std::string plan_jobs(const TempDir& dir, Instant t0, std::vector<PlannedJob>& jobs) {
  std::string toml;
  auto add = [&](PlannedJob planned, const std::string& schedule, const std::string& script,
                 std::string extra) {
    extra += "\nmax_interrupts = 1000";
    if (planned.command) {
      toml += skedd::test::job(dir, planned.name, schedule, std::string(kStamp) + script, extra);
    } else {
      toml += "[job." + planned.name + "]\n" + schedule + "\n" + script + "\n" + extra + "\n";
    }
    jobs.push_back(std::move(planned));
  };
  const std::string all = "catch_up = \"all\"\nmax_catch_up = 1000";
  const std::string once = "catch_up = \"once\"";
  add({.name = "tick", .period = 1s, .catch_up = CatchUp::kAll}, "every = \"1s\"", "true\n", all);
  add({.name = "sixfield", .period = 2s, .catch_up = CatchUp::kOnce}, "cron = \"*/2 * * * * *\"",
      "true\n", once);
  add({.name = "plain", .period = 1s}, "cron = \"* * * * * *\"", "true\n", "");
  // Its exit code is its scheduled second modulo 5: the checker knows what each run returned.
  add({.name = "exits", .period = 2s, .exit_by_second = true}, "cron = \"1-59/2 * * * * *\"",
      "s=${SKEDD_SCHEDULED_AT#*:*:}\ns=${s%%[.Z]*}\nsleep 0.8\nexit $(( (1$s - 100) % 5 ))\n", "");
  // Six steps of half a second, a checkpoint after each (stamped first, so every checkpoint
  // the store holds was stamped); a resumed attempt goes on from the one it is given.
  add({.name = "ckpt", .period = 4s, .catch_up = CatchUp::kOnce, .checkpoints = true},
      "every = \"4s\"",
      "n=${SKEDD_CHECKPOINT:-0}\nwhile [ \"$n\" -lt 6 ]; do\n  sleep 0.5\n  n=$((n + 1))\n"
      "  echo \"emit $SKEDD_RUN_ID $n\" >> \"$DIR/stamps\"\n  echo \"checkpoint $n\" >&3\n"
      "done\n",
      once);
  add({.name = "slow", .period = 1s, .catch_up = CatchUp::kOnce}, "cron = \"* * * * * *\"",
      "sleep 1.3\n", once);
  add({.name = "restarted", .period = 1s}, "cron = \"* * * * * *\"", "sleep 0.4\n",
      "on_interrupt = \"restart\"");
  add({.name = "flaky", .period = 1s, .catch_up = CatchUp::kAll}, "cron = \"* * * * * *\"",
      "exit 1\n", "retries = 2\nretry_backoff = \"200ms\"\noverlap = \"allow\"\n" + all);
  add({.name = "queued", .period = 1s}, "cron = \"* * * * * *\"", "sleep 1.3\n",
      "overlap = \"queue\"");
  add({.name = "nap", .period = 3s, .catch_up = CatchUp::kOnce, .command = false},
      "cron = \"*/3 * * * * *\"", "handler = \"sleep\"\nparams = { seconds = 2 }", once);
  for (int i = 0; i < 6; ++i) {
    const Instant when =
        std::chrono::ceil<std::chrono::seconds>(t0) + 2s + i * milliseconds(1700) + 250ms;
    add({.name = "once" + std::to_string(i), .at = when, .catch_up = CatchUp::kOnce},
        "at = \"" + skedd::format_rfc3339_utc(when) + "\"", "true\n", once);
  }
  return toml;
}

// Runs skedctl with `args` (output to DIR/skedctl.out); its exit status, or -1 when it did
// not end within `timeout` (it is killed then).
int skedctl(const TempDir& dir, std::vector<std::string> args, milliseconds timeout) {
  args.insert(args.begin(), {SKEDCTL_BINARY, "--socket", dir / "skedd.sock"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  const std::string out = dir / "skedctl.out";
  posix_spawn_file_actions_addopen(&files, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (spawned != 0) return -1;
  int status = 0;
  const bool ended = skedd::test::wait_until(
      [&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout, 20ms);
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The runs the stopped skedd's database holds as running.
std::vector<skedd::RunRecord> running_runs(const TempDir& dir) {
  auto store = skedd::open_sqlite_store(dir / "state/skedd.db");
  if (!store) throw std::runtime_error("cannot open the state: " + store.error().message);
  auto runs = store.value()->runs({std::nullopt, skedd::RunState::kRunning, 1'000'000});
  if (!runs) throw std::runtime_error("cannot read the runs: " + runs.error().message);
  return std::move(runs.value());
}

// SIGKILLs the process group of every run skedd started or held as running, and waits until
// each is gone (the run host, which outlives skedd, reaps them and keeps their ends).
void kill_runs(Daemon& d, const std::vector<skedd::RunRecord>& running) {
  std::vector<pid_t> groups;
  for (const skedd::RunRecord& r : running) {
    if (r.pid) groups.push_back(*r.pid);
  }
  // And those it logged as started and not as finished (an ended run's pid may be reused).
  std::set<std::uint64_t> finished;
  for (const Json& e : d.events_named("run_finished")) {
    if (e.contains("run")) finished.insert(e["run"].get<std::uint64_t>());
  }
  for (const Json& e : d.events_named("run_started")) {
    if (e.contains("pid") && e["pid"].is_number_integer() && e.contains("run") &&
        !finished.count(e["run"].get<std::uint64_t>())) {
      groups.push_back(e["pid"].get<pid_t>());
    }
  }
  for (pid_t g : groups) ::kill(-g, SIGKILL);
  for (pid_t g : groups) skedd::test::wait_until([&] { return d.group_gone(g); }, 3000ms);
}

// Counts skedd `d`'s events by name, and tells the cycle before it where each job's fires
// due while skedd was down ended: at the first fire `d` scheduled for it.
void count_events(Daemon& d, std::map<std::string, int>& seen, std::vector<Cycle>& cycles) {
  for (const Json& e : d.events()) {
    const std::string event = e.value("event", "");
    ++seen[event];
    if (event != "job_loaded" || cycles.empty()) continue;
    if (auto next = skedd::parse_rfc3339(e.value("next", ""))) {
      cycles.back().next_first.emplace(e.value("job", ""), next.value());
    }
  }
}

int usage(const char* why) {
  std::cerr << "skedd_soak: " << why << "\nusage: skedd_soak [--cycles N] [--seed S] [--keep]\n";
  return 2;
}

int soak(const Options& options) {
  std::cout << "seed " << options.seed << std::endl;
  std::mt19937 random(options.seed);
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<int> up_ms(200, 2000);
  std::uniform_int_distribution<int> early_ms(10, 150);  // a kill during start-up
  std::uniform_int_distribution<int> down_ms(0, 2500);

  auto dir = std::make_unique<TempDir>("skedd-soak");
  std::vector<PlannedJob> jobs;
  // The whole history is kept: the checker reads every run (the default keeps 100 per job).
  const std::string config =
      skedd::test::write_config(*dir, "[store]\nkeep_runs = 0\n", plan_jobs(*dir, now(), jobs));
  std::vector<Cycle> cycles;
  std::map<std::string, int> seen;  // events of every skedd, by name
  std::map<Kill, int> kills;
  for (int i = 0; i < options.cycles; ++i) {
    Cycle c;
    c.started = now();
    if (!cycles.empty()) cycles.back().next_start = c.started;
    Daemon d(*dir, config);
    const int up = percent(random) < 10 ? early_ms(random) : up_ms(random);
    // The first skedd is killed only once it is up: before any skedd has recorded itself up,
    // a one-shot that passes is as one due before skedd was installed, which no skedd owes
    // a run (skedd-jobs(5), catch_up). Later ones are killed while they start, too.
    if (i == 0) d.wait_for("listening", 1);
    std::this_thread::sleep_for(milliseconds(up));
    c.killed = now();
    d.signal(SIGKILL);
    if (!d.wait_exit(5000ms)) throw std::runtime_error("skedd did not die of SIGKILL");
    count_events(d, seen, cycles);
    c.running = running_runs(*dir);
    const int p = percent(random);
    c.kill = p < 50 ? Kill::kDaemon : p < 75 ? Kill::kRuns : Kill::kReboot;
    ++kills[c.kill];
    if (c.kill == Kill::kReboot) {
      d.kill_everything();
      skedd::test::pretend_reboot(*dir);
    } else {
      d.leave_runs();
      if (c.kill == Kill::kRuns) kill_runs(d, c.running);
    }
    const int down = down_ms(random);
    std::cout << "cycle " << i + 1 << ": up " << up << " ms, " << c.running.size()
              << " running, killed " << to_string(c.kill) << ", down " << down << " ms"
              << std::endl;
    cycles.push_back(std::move(c));
    // Each skedd's log is kept (the next one starts a new skedd.log), for --keep.
    std::filesystem::rename(*dir / "skedd.log", *dir / ("skedd." + std::to_string(i + 1) + ".log"));
    std::this_thread::sleep_for(milliseconds(down));
  }

  // A last start: past the last one-shot, then drained (no run may stay running) and stopped.
  if (!cycles.empty()) cycles.back().next_start = now();
  Instant end;
  {
    Daemon last(*dir, config);
    Instant until = now() + 4s;
    for (const PlannedJob& j : jobs) {
      if (j.at) until = std::max(until, *j.at + 2s);
    }
    std::this_thread::sleep_until(until);
    end = now();
    const int drained = skedctl(*dir, {"drain"}, 60s);
    last.signal(SIGTERM);
    const auto status = last.wait_exit(10000ms);
    count_events(last, seen, cycles);
    if (drained != 0) {
      throw std::runtime_error("skedctl drain failed (" + std::to_string(drained) +
                               "): " + skedd::test::slurp(*dir / "skedctl.out"));
    }
    if (status != 0) {
      throw std::runtime_error("the last skedd did not stop cleanly: " + last.log_text());
    }
  }

  int torn = 0;
  const auto stamps = skedd::soak::parse_stamps(skedd::test::slurp(*dir / "stamps"), &torn);
  auto store = skedd::open_sqlite_store(*dir / "state/skedd.db");
  if (!store) throw std::runtime_error("cannot open the state: " + store.error().message);
  const skedd::soak::Verdict verdict =
      skedd::soak::check_history(*store.value(), jobs, cycles, stamps, end);
  const skedd::soak::Counts& n = verdict.counts;
  std::cout << "kills " << options.cycles << " (skedd alone " << kills[Kill::kDaemon]
            << ", with its runs " << kills[Kill::kRuns] << ", reboots " << kills[Kill::kReboot]
            << "); adopted " << seen["run_adopted"] << ", interrupted " << seen["run_interrupted"]
            << ", recovered fires " << seen["fire_recovered"] << ", caught up " << seen["catch_up"]
            << "\n"
            << "fires checked " << n.fires << ", runs " << n.runs << ", fires due while down "
            << n.down_fires << ", resumes from a checkpoint " << n.resumes
            << ", runs in flight at a kill that kept their real exit " << n.real_exits
            << ", torn stamps " << torn << "\n"
            << "doubled " << n.doubled << ", lost " << n.lost << ", problems "
            << verdict.problems.size() << std::endl;
  const std::size_t shown = std::min<std::size_t>(verdict.problems.size(), 50);
  for (std::size_t i = 0; i < shown; ++i) std::cout << "  " << verdict.problems[i] << "\n";
  if (verdict.problems.empty()) return 0;
  std::cout << "replay: skedd_soak --cycles " << options.cycles << " --seed " << options.seed
            << std::endl;
  if (options.keep) {
    std::cout << "kept " << dir->path() << std::endl;
    static_cast<void>(dir.release());  // kept on purpose, for a look at the state
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto number = [&](unsigned long max) -> std::optional<unsigned long> {
      if (i + 1 >= argc) return std::nullopt;
      char* end = nullptr;
      const unsigned long v = std::strtoul(argv[++i], &end, 10);
      if (*end != '\0' || argv[i][0] == '\0' || argv[i][0] == '-' || v > max) return std::nullopt;
      return v;
    };
    if (arg == "--cycles") {
      const auto v = number(100'000);
      if (!v || *v == 0) return usage("--cycles takes a number from 1 to 100000");
      options.cycles = static_cast<int>(*v);
    } else if (arg == "--seed") {
      const auto v = number(0xffffffffUL);
      if (!v) return usage("--seed takes a number from 0 to 4294967295");
      options.seed = static_cast<unsigned>(*v);
      options.seeded = true;
    } else if (arg == "--keep") {
      options.keep = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: skedd_soak [--cycles N] [--seed S] [--keep]\n"
                   "Kills a real skedd N times (default 10) under a mix of jobs, then checks "
                   "the whole history.\n--seed S replays a loop; --keep keeps the temp dir of "
                   "a loop that failed.\n";
      return 0;
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }
  if (!options.seeded) options.seed = std::random_device{}();
  try {
    return soak(options);
  } catch (const std::exception& e) {
    std::cout << "skedd_soak: " << e.what() << "\nreplay: skedd_soak --cycles " << options.cycles
              << " --seed " << options.seed << std::endl;
    return 2;
  }
}
