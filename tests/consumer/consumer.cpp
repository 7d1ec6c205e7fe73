// A program outside skedd's tree that embeds libskedd as installed: a handler job and a
// command job run while the program waits for a child process of its own, whose exit status
// must reach the program (libskedd reaps only its own runs). Exits 0 when all went right.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <skedd/embed/embedded_scheduler.h>
#include <skedd/runtime/events.h>
#include <skedd/version.h>

namespace {

class CountingSink final : public skedd::EventSink {
 public:
  bool wants(skedd::EventKind, skedd::Severity) const override { return true; }
  void emit(const skedd::Event& event) override {
    if (event.kind == skedd::EventKind::kRunFinished) ++finished;
  }
  std::atomic<int> finished{0};
};

int fail(const char* what) {
  std::fprintf(stderr, "consumer: %s\n", what);
  return 1;
}

}  // namespace

int main() {
  CountingSink sink;
  skedd::EmbeddedOptions options;  // in memory
  options.events = &sink;
  skedd::EmbeddedScheduler scheduler(options);
  std::atomic<int> handled{0};
  if (!scheduler.register_handler("count", [&](skedd::RunContext&) { ++handled; })) {
    return fail("register_handler failed");
  }
  if (!scheduler.start()) return fail("start failed");
  const char* never = "at = \"2099-01-01T00:00:00Z\"\n";
  if (!scheduler.add(std::string("[job.h]\n") + never + "handler = \"count\"\n") ||
      !scheduler.add(std::string("[job.c]\n") + never +
                     "command = [\"/bin/sh\", \"-c\", \"sleep 0.3\"]\n")) {
    return fail("add failed");
  }
  // A child of the program's own, ending while libskedd runs and reaps its command run.
  const pid_t own = ::fork();
  if (own == 0) {
    ::usleep(100'000);
    ::_exit(7);
  }
  if (!scheduler.trigger("c") || !scheduler.trigger("h")) return fail("trigger failed");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the child has exited
  int status = 0;
  if (::waitpid(own, &status, 0) != own) return fail("the program's own child was taken");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) return fail("wrong exit status");
  for (int i = 0; i < 100 && sink.finished < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (sink.finished < 2) return fail("the runs' ends were not told to the sink");
  if (handled != 1) return fail("the handler did not run once");
  // The end is told before it is committed: read the history once it is.
  if (!scheduler.flush()) return fail("flush failed");
  auto runs = scheduler.runs(skedd::RunQuery{std::string("c"), std::nullopt, 10});
  if (!runs || runs->size() != 1 || runs->front().state != skedd::RunState::kSucceeded) {
    return fail("the command run is not recorded as succeeded");
  }
  scheduler.stop();
  std::printf("consumer: ok (libskedd %s)\n", skedd::kVersion);
  return 0;
}
