// A million jobs: memory per job and load time from the state dir (libskedd, in process).
//
// N recurring handler jobs (`cron = "M H * * *"`, distinct names, a small params table each)
// are recorded in a state dir as jobs added over the API would be. Then a fresh process
// starts an EmbeddedScheduler on it and measures the time from start() until every job is
// scheduled, and its resident memory once its writes have settled; a second process does the
// same on an empty state dir, as the baseline. Targets: <= 320 bytes per job above the empty
// scheduler (cron's figure on the same machine) and a load within 5 s. Also printed: the
// resident memory after listing every job once (the list freed again).
//
// `bench_scale --prepare DIR N` only records the N jobs in DIR (for a profiler run of
// `bench_scale --measure DIR`).
// Usage: bench_scale [N=1000000] [DIR=/var/tmp]
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "bench_support.h"
#include "skedd/config/config.h"
#include "skedd/embed/embedded_scheduler.h"
#include "skedd/store/sqlite_store.h"

namespace {

using namespace skedd::bench;

long rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::string definition(std::size_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "j%07zu", i);
  return "[job." + std::string(name) + "]\ncron = \"" + std::to_string(i % 60) + " " +
         std::to_string((i / 60) % 24) +
         " * * *\"\nhandler = \"noop\"\nparams = { id = " + std::to_string(i) + " }\n";
}

void prepare(const fs::path& state, std::size_t n) {
  fs::create_directories(state);
  auto store = skedd::open_sqlite_store((state / "skedd.db").string());
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    std::exit(1);
  }
  const skedd::Instant now =
      std::chrono::time_point_cast<skedd::Duration>(std::chrono::system_clock::now());
  for (std::size_t i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "j%07zu", i);
    const std::string text = definition(i);
    store.value()->put_job_version(name, 1, text, skedd::definition_tree(text), now);
    if (i % 50'000 == 0) (void)store.value()->flush();  // bounded queue
  }
  (void)store.value()->flush();
}

// In the child: load `state` and print "seconds rss_kb jobs rss_kb_after_a_listing".
int measure(const fs::path& state) {
  skedd::EmbeddedOptions options;
  options.state_dir = state.string();
  options.timezone = "UTC";
  options.handler_threads = 2;
  skedd::EmbeddedScheduler s(options);
  (void)s.register_handler("noop", [](skedd::RunContext&) {});
  const auto began = Clock::now();
  if (auto started = s.start(); !started) {
    std::fprintf(stderr, "%s\n", started.error().message.c_str());
    return 1;
  }
  // Answered on the scheduler's loop once its start (loading every job) is done. (jobs(),
  // which lists and sorts every name, is asked after the clock stops.)
  (void)s.next_fire("j0000000");
  const double load_s = elapsed_s(began);
  (void)s.flush();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long loaded_kb = rss_kb();
  // A full listing, freed again: glibc may keep what it freed (a large free raises its trim
  // threshold up to 64 MiB), which shows as resident memory the jobs do not hold.
  std::size_t count = 0;
  if (const auto jobs = s.jobs()) count = jobs->size();
  std::printf("%.3f %ld %zu %ld\n", load_s, loaded_kb, count, rss_kb());
  std::fflush(stdout);
  ::_exit(0);  // the measurement is taken; skip the teardown
}

struct Measured {
  double load_s = 0;
  long rss_kb = 0;
  std::size_t jobs = 0;
  long listed_rss_kb = 0;
};

Measured run_child(const char* self, const fs::path& state) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) std::exit(1);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::execl(self, self, "--measure", state.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buf[256];
  ssize_t got;
  while ((got = ::read(pipe_fds[0], buf, sizeof buf)) > 0)
    out.append(buf, static_cast<std::size_t>(got));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Measured m;
  if (std::sscanf(out.c_str(), "%lf %ld %zu %ld", &m.load_s, &m.rss_kb, &m.jobs,
                  &m.listed_rss_kb) != 4) {
    std::fprintf(stderr, "measuring %s failed: %s\n", state.c_str(), out.c_str());
    std::exit(1);
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--measure") return measure(argv[2]);
  if (argc == 4 && std::string(argv[1]) == "--prepare") {
    prepare(argv[2], std::stoul(argv[3]));
    return 0;
  }
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  const fs::path dir = fs::path(argc > 2 ? argv[2] : "/var/tmp") /
                       ("skedd-bench-scale-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto preparing = Clock::now();
  prepare(dir / "full", n);
  fs::create_directories(dir / "empty");
  std::printf("scale: %zu jobs recorded in %.1f s\n", n, elapsed_s(preparing));
  const Measured empty = run_child(argv[0], dir / "empty");
  const Measured full = run_child(argv[0], dir / "full");
  const double per_job =
      static_cast<double>(full.rss_kb - empty.rss_kb) * 1024.0 / static_cast<double>(n);
  std::printf("  loaded %zu jobs in %.2f s (target <= 5 s: %s)\n", full.jobs, full.load_s,
              full.load_s <= 5 ? "met" : "missed");
  std::printf(
      "  resident: %ld KiB empty, %ld KiB with the jobs: %.0f bytes per job (target <= "
      "320, cron's: %s; ratio to cron %.2f)\n",
      empty.rss_kb, full.rss_kb, per_job, per_job <= 320 ? "met" : "missed", per_job / 320.0);
  std::printf(
      "  after listing every job (the list freed again): %.0f bytes per job\n",
      static_cast<double>(full.listed_rss_kb - empty.rss_kb) * 1024.0 / static_cast<double>(n));
  fs::remove_all(dir);
  return 0;
}
