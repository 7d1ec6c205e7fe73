// Control socket latency of the real skedd, in two phases.
//
//  idle: one client asks `status` and `list` of a daemon holding J jobs (every 1h, so none
//        runs meanwhile), one request at a time; the round trip (request written to reply
//        read) is measured. Target: `status` p99 <= 1 ms at 10,000 jobs. `list` sends every
//        job and is reported beside it, with the reply's size.
//  load: a second daemon with the same J jobs, RATE of them every 1s (`true`, so RATE runs
//        start each second), and CLIENTS clients at once, each asking in turn status, runs,
//        show of a job and, every 25th request, list, for SECONDS. Reported: every error (a
//        failed request or a reply that is not ok), each request's p50 and p99, the runs
//        started per second meanwhile, and `status` p99 as a ratio to the idle phase's
//        (the baseline). Issue 27 asks for no error with 50 clients at 500 runs/s.
//
// Usage: bench_control [J=10000] [STATUS=5000] [LIST=100] [DIR=/var/tmp] [CLIENTS=50]
//                      [RATE=500] [SECONDS=10]
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_support.h"

namespace {

using namespace skedd::bench;

// Round trips of `n` requests `line`, in ms.
std::vector<double> measure(Connection& c, const std::string& line, int n, std::size_t* size) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    *size = c.ask(line);
    if (*size == 0) break;
    ms.push_back(elapsed_s(start) * 1000);
  }
  return ms;
}

struct Latencies {
  std::mutex mu;
  std::map<std::string, std::vector<double>> ms;  // GUARDED_BY(mu), by request
  std::atomic<std::uint64_t> errors{0};
  std::string first_error;  // GUARDED_BY(mu)
};

// One client of the load phase: its requests in turn until `deadline`.
void client(const std::string& socket, int id, int jobs, Clock::time_point deadline,
            Latencies& out) {
  Connection c(socket);
  std::map<std::string, std::vector<double>> mine;
  std::uint64_t errors = 0;
  std::string first_error;
  if (!c.connected()) {
    ++errors;
    first_error = "client " + std::to_string(id) + ": cannot connect";
  }
  for (int i = 0; c.connected() && Clock::now() < deadline; ++i) {
    std::string op;
    std::string line;
    if (i % 25 == 24) {
      op = "list";
      line = "{\"id\":1,\"op\":\"list\"}\n";
    } else if (i % 3 == 0) {
      op = "status";
      line = "{\"id\":1,\"op\":\"status\"}\n";
    } else if (i % 3 == 1) {
      op = "runs";
      line = "{\"id\":1,\"op\":\"runs\",\"limit\":20}\n";
    } else {
      op = "show";
      line = "{\"id\":1,\"op\":\"show\",\"job\":\"j" + std::to_string((id * 7919 + i) % jobs) +
             "\"}\n";
    }
    bool ok = false;
    const auto start = Clock::now();
    const std::size_t size = c.ask(line, &ok);
    mine[op].push_back(elapsed_s(start) * 1000);
    if (size == 0 || !ok) {
      ++errors;
      if (first_error.empty()) first_error = op + (size == 0 ? ": no reply" : ": not ok");
      if (size == 0) break;
    }
  }
  const std::lock_guard<std::mutex> lock(out.mu);
  for (auto& [op, ms] : mine) out.ms[op].insert(out.ms[op].end(), ms.begin(), ms.end());
  out.errors += errors;
  if (out.first_error.empty()) out.first_error = first_error;
}

// The load phase; returns its errors. `idle_p99`: the idle phase's status p99 (the baseline).
std::uint64_t load(const fs::path& root, int jobs, int clients, int rate, double seconds,
                   double idle_p99) {
  std::string config;
  for (int i = 0; i < jobs; ++i) {
    config += "[job.j" + std::to_string(i) + "]\nevery = \"" + (i < rate ? "1s" : "1h") +
              "\"\ncommand = \"true\"\n";
  }
  DaemonRun daemon = start_daemon(SKEDD_BINARY, root / "load", config, 2 * rate);
  const std::string socket = (runtime_dir(root / "load") / "skedd.sock").string();
  if (!connect_when_up(socket)) {
    std::printf("load: the socket did not answer within 120 s\n");
    stop(daemon);
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the every-1s jobs under way
  const auto log = root / "load" / "skedd.log";
  auto started_runs = [&] {
    const auto events = wait_events(
        log, [](const auto&) { return true; }, 0);
    return std::count_if(events.begin(), events.end(),
                         [](const auto& e) { return e.value("event", "") == "run_started"; });
  };
  const auto runs_before = started_runs();
  Latencies out;
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(client, socket, i, jobs, deadline, std::ref(out));
  }
  for (std::thread& t : threads) t.join();
  const double took = elapsed_s(start);
  const auto runs_after = started_runs();
  stop(daemon);
  std::printf("load: %d clients for %.1f s, %d of %d jobs every 1s: %.0f runs started/s\n", clients,
              took, rate, jobs, static_cast<double>(runs_after - runs_before) / took);
  for (auto& [op, ms] : out.ms) {
    std::printf("  %-7s %6zu requests  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", op.c_str(),
                ms.size(), percentile(ms, 50), percentile(ms, 99), percentile(ms, 100));
  }
  const double status_p99 = percentile(out.ms["status"], 99);
  std::printf("  status p99 %.3f ms = %.1f x the idle p99 (%.3f ms); errors %llu%s%s\n", status_p99,
              idle_p99 > 0 ? status_p99 / idle_p99 : 0.0, idle_p99,
              static_cast<unsigned long long>(out.errors.load()),
              out.first_error.empty() ? "" : ", the first: ", out.first_error.c_str());
  return out.errors.load();
}

}  // namespace

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int status_n = argc > 2 ? std::atoi(argv[2]) : 5000;
  const int list_n = argc > 3 ? std::atoi(argv[3]) : 100;
  std::string tmpl = std::string(argc > 4 ? argv[4] : "/var/tmp") + "/skedd-bench-XXXXXX";
  const fs::path root = ::mkdtemp(tmpl.data());

  std::string config;
  for (int i = 0; i < jobs; ++i) {
    config += "[job.j" + std::to_string(i) + "]\nevery = \"1h\"\ncommand = \"true\"\n";
  }
  const int clients = argc > 5 ? std::atoi(argv[5]) : 50;
  const int rate = argc > 6 ? std::atoi(argv[6]) : 500;
  const double seconds = argc > 7 ? std::atof(argv[7]) : 10;
  const auto loading = Clock::now();
  DaemonRun daemon = start_daemon(SKEDD_BINARY, root / "d", config, 64);
  const std::string socket = (runtime_dir(root / "d") / "skedd.sock").string();
  std::unique_ptr<Connection> c = connect_when_up(socket);
  if (!c) {
    std::printf("control socket: no answer within 120 s\n");
    stop(daemon);
    return 1;
  }
  std::printf("control socket: %d jobs loaded and the socket answering after %.2f s\n", jobs,
              elapsed_s(loading));
  std::size_t size = 0;
  measure(*c, "{\"id\":1,\"op\":\"status\"}\n", 200, &size);  // warm-up
  std::vector<double> status = measure(*c, "{\"id\":1,\"op\":\"status\"}\n", status_n, &size);
  std::printf(
      "  status  %5zu requests  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (target p99 <= 1 "
      "ms)\n",
      status.size(), percentile(status, 50), percentile(status, 99), percentile(status, 100));
  std::vector<double> list = measure(*c, "{\"id\":2,\"op\":\"list\"}\n", list_n, &size);
  std::printf("  list    %5zu requests  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%zu bytes each)\n",
              list.size(), percentile(list, 50), percentile(list, 99), percentile(list, 100), size);
  c.reset();
  stop(daemon);
  const std::uint64_t errors =
      clients > 0 ? load(root, jobs, clients, std::min(rate, jobs), seconds, percentile(status, 99))
                  : 0;
  std::error_code ec;
  fs::remove_all(root, ec);
  return status.size() == static_cast<std::size_t>(status_n) && errors == 0 ? 0 : 1;
}
