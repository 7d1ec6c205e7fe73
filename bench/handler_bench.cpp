// In-process handler benchmarks (libskedd), persistence on (a state dir with SQLite in WAL
// mode, synchronous = normal):
//
//  throughput: J jobs `every = "1s"` whose handler does nothing, so J fires are due each second;
//              after a warm-up, the runs that end per second over a window. Baseline from the
//              same run: the same no-op posted to a thread pool of the same size and its
//              completion posted back to one event loop thread (what dispatching costs with no
//              scheduling and no store). Target: >= 100,000 runs/s on 2 cores.
//  lateness:   10,000 one-shots spread evenly over 20 s: for each run, when its handler began
//              minus its scheduled instant. Target: p99 <= 1 ms.
//
//              OVERLAP is the jobs' overlap policy: with "skip" (the default) a fire that comes
//              while the job's last one still waits is skipped and recorded as not run, so an
//              offered load above capacity costs records that are not runs; with "allow" every
//              fire waits its turn, and the runs ended per second past saturation are the
//              capacity (the ready queue and the lateness then grow for as long as it lasts).
//
// Usage: bench_handlers [J=100000] [WINDOW_S=5] [ONESHOTS=10000] [SPREAD_S=20] [DIR=/var/tmp]
//                       [OVERLAP=skip]
#include <atomic>
#include <cstdio>
#include <mutex>

#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "bench_support.h"
#include "skedd/embed/embedded_scheduler.h"

namespace {

using namespace skedd::bench;

constexpr int kThreads = 2;

skedd::EmbeddedOptions options_in(const fs::path& dir) {
  skedd::EmbeddedOptions options;
  options.state_dir = dir.string();
  options.handler_threads = kThreads;
  options.max_concurrent_runs = 1024;
  options.timezone = "UTC";
  options.keep_runs = 0;  // no pruning while measuring
  options.keep_days = 0;
  return options;
}

// Posts `n` no-op tasks to a pool of kThreads, each posting its completion back to one loop
// thread; tasks/s.
double bare_dispatch_rate(std::size_t n) {
  boost::asio::io_context loop;
  auto work = boost::asio::make_work_guard(loop);
  boost::asio::thread_pool pool(kThreads);
  std::atomic<std::size_t> done{0};
  std::thread loop_thread([&] { loop.run(); });
  const auto began = Clock::now();
  // Keep up to 1024 in flight, as the dispatcher's bound does.
  std::atomic<std::size_t> started{0};
  std::function<void()> start_one = [&] {
    if (started.fetch_add(1) >= n) return;
    boost::asio::post(pool, [&] {
      boost::asio::post(loop, [&] {
        ++done;
        start_one();
      });
    });
  };
  boost::asio::post(loop, [&] {
    for (int i = 0; i < 1024; ++i) start_one();
  });
  while (done.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double rate = static_cast<double>(n) / elapsed_s(began);
  work.reset();
  loop.stop();
  loop_thread.join();
  pool.join();
  return rate;
}

void throughput(std::size_t jobs, double window_s, const fs::path& dir,
                const std::string& overlap) {
  fs::remove_all(dir);
  std::atomic<std::uint64_t> ended{0};
  std::mutex mu;
  std::vector<double> lateness_ms;
  std::atomic<bool> measuring{false};
  skedd::EmbeddedScheduler s(options_in(dir));
  (void)s.register_handler("noop", [](skedd::RunContext&) {});
  s.on_run([&](const skedd::RunEvent& e) {
    if (e.state == skedd::RunState::kRunning) {
      if (!measuring) return;
      const auto late =
          std::chrono::system_clock::now().time_since_epoch() - e.scheduled.time_since_epoch();
      std::lock_guard lock(mu);
      lateness_ms.push_back(std::chrono::duration<double, std::milli>(late).count());
    } else {
      ++ended;
    }
  });
  if (auto started = s.start(); !started) {
    std::fprintf(stderr, "start: %s\n", started.error().message.c_str());
    std::exit(1);
  }
  const auto adding = Clock::now();
  for (std::size_t i = 0; i < jobs; ++i) {
    auto added = s.add("[job.t" + std::to_string(i) + "]\nevery = \"1s\"\nhandler = \"noop\"\n" +
                       "overlap = \"" + overlap + "\"\n");
    if (!added) {
      std::fprintf(stderr, "add: %s\n", added.error().message.c_str());
      std::exit(1);
    }
  }
  const double add_s = elapsed_s(adding);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // warm-up: every job has fired
  const std::uint64_t before = ended.load();
  measuring = true;
  const auto cpu_before = cpu_by_thread();
  const MachineCpu machine_before = machine_cpu();
  const auto began = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(window_s));
  const std::uint64_t runs = ended.load() - before;
  const double took = elapsed_s(began);
  const auto cpu_after = cpu_by_thread();
  const double stolen = stolen_percent(machine_before, machine_cpu());
  measuring = false;
  const double rate = static_cast<double>(runs) / took;
  const double bare = bare_dispatch_rate(1'000'000);
  std::vector<double> late;
  {
    std::lock_guard lock(mu);
    late = lateness_ms;
  }
  std::printf("throughput: %zu jobs every 1s, overlap %s (added in %.2f s, %.0f adds/s)\n", jobs,
              overlap.c_str(), add_s, static_cast<double>(jobs) / add_s);
  std::printf("  skedd: %.0f handler runs/s ended over %.1f s (target >= 100000: %s)\n", rate, took,
              rate >= 100000 ? "met" : "missed");
  std::printf("  CPU us per run by thread: %s\n",
              cpu_per(cpu_before, cpu_after, static_cast<double>(std::max<std::uint64_t>(runs, 1)))
                  .c_str());
  std::printf("  CPU time stolen by the hypervisor over the window: %.2f%%\n", stolen);
  std::printf("  bare pool dispatch, no scheduling or store: %.0f tasks/s; ratio %.2f\n", bare,
              rate / bare);
  std::printf("  start lateness under this load: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              percentile(late, 50), percentile(late, 99), percentile(late, 100));
  s.stop();
  fs::remove_all(dir);
}

void lateness(std::size_t n, double spread_s, const fs::path& dir) {
  fs::remove_all(dir);
  std::mutex mu;
  std::vector<double> handler_late_ms;
  std::atomic<std::size_t> ended{0};
  skedd::EmbeddedScheduler s(options_in(dir));
  (void)s.register_handler("stamp", [&](skedd::RunContext& run) {
    const auto late =
        std::chrono::system_clock::now().time_since_epoch() - run.scheduled().time_since_epoch();
    std::lock_guard lock(mu);
    handler_late_ms.push_back(std::chrono::duration<double, std::milli>(late).count());
  });
  std::vector<double> launch_late_ms;
  s.on_run([&](const skedd::RunEvent& e) {
    if (e.state != skedd::RunState::kRunning) {
      ++ended;
      return;
    }
    // Sent by the loop as it hands the run to the handler threads.
    const auto late =
        std::chrono::system_clock::now().time_since_epoch() - e.scheduled.time_since_epoch();
    std::lock_guard lock(mu);
    launch_late_ms.push_back(std::chrono::duration<double, std::milli>(late).count());
  });
  if (auto started = s.start(); !started) {
    std::fprintf(stderr, "start: %s\n", started.error().message.c_str());
    std::exit(1);
  }
  const SysTime t0 = std::chrono::system_clock::now() + std::chrono::seconds(5);
  const auto step = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(spread_s / static_cast<double>(n)));
  for (std::size_t i = 0; i < n; ++i) {
    const SysTime at = t0 + step * static_cast<long>(i);
    auto added = s.add("[job.o" + std::to_string(i) + "]\nat = \"" + rfc3339(at) +
                       "\"\nhandler = \"stamp\"\n");
    if (!added) {
      std::fprintf(stderr, "add: %s\n", added.error().message.c_str());
      std::exit(1);
    }
  }
  if (std::chrono::system_clock::now() >= t0) {
    std::fprintf(stderr, "adding the one-shots took longer than 5 s; results invalid\n");
  }
  const MachineCpu cpu_before = machine_cpu();
  const auto deadline = Clock::now() + std::chrono::duration<double>(spread_s + 15);
  while (ended.load() < n && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double stolen = stolen_percent(cpu_before, machine_cpu());
  std::vector<double> late, launched;
  {
    std::lock_guard lock(mu);
    late = handler_late_ms;
    launched = launch_late_ms;
  }
  std::printf("lateness: %zu one-shots over %.0f s, %zu ran\n", n, spread_s, late.size());
  std::printf("  handed to the handler threads minus scheduled: p50 %.3f ms, p99 %.3f ms\n",
              percentile(launched, 50), percentile(launched, 99));
  std::printf(
      "  handler start minus scheduled: p50 %.3f ms, p99 %.3f ms, max %.3f ms (target p99 "
      "<= 1 ms: %s)\n",
      percentile(late, 50), percentile(late, 99), percentile(late, 100),
      percentile(late, 99) <= 1.0 ? "met" : "missed");
  std::printf(
      "  CPU time stolen by the hypervisor meanwhile: %.2f%% (a stolen CPU delays whatever "
      "was due on it)\n",
      stolen);
  s.stop();
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t jobs = argc > 1 ? std::stoul(argv[1]) : 100'000;
  const double window = argc > 2 ? std::stod(argv[2]) : 5;
  const std::size_t oneshots = argc > 3 ? std::stoul(argv[3]) : 10'000;
  const double spread = argc > 4 ? std::stod(argv[4]) : 20;
  const fs::path dir = fs::path(argc > 5 ? argv[5] : "/var/tmp") /
                       ("skedd-bench-handlers-" + std::to_string(::getpid()));
  const std::string overlap = argc > 6 ? argv[6] : "skip";
  if (jobs > 0) throughput(jobs, window, dir, overlap);
  // The kernel's writeback of the first part's files (hundreds of MB at 100,000 jobs, and
  // removed) would otherwise go on under the second part and be measured as its lateness.
  ::sync();
  if (oneshots > 0) lateness(oneshots, spread, dir);
  return 0;
}
