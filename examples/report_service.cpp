// A small service that embeds skedd (libskedd) with two in-process handlers:
//   heartbeat  every second, appends a line to STATE_DIR/heartbeat.log;
//   export     works through `items` items, one every `delay_ms`, appending each to
//              STATE_DIR/export.log and checkpointing after each. Kill the service with
//              kill -9 in the middle and start it again: the export resumes after the last
//              checkpointed item instead of starting over.
//
// Usage: report_service STATE_DIR [ITEMS [DELAY_MS]]   (stop it with Ctrl-C or SIGTERM)
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "skedd/embed/embedded_scheduler.h"
#include "skedd/time/timestamp.h"

namespace {

void append_line(const std::string& path, const std::string& line) {
  std::ofstream(path, std::ios::app) << line << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: report_service STATE_DIR [ITEMS [DELAY_MS]]\n";
    return 2;
  }
  const std::string state_dir = argv[1];
  const int items = argc > 2 ? std::stoi(argv[2]) : 40;
  const int delay_ms = argc > 3 ? std::stoi(argv[3]) : 100;

  // SIGINT and SIGTERM are waited for below, by this thread only (threads inherit the mask).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  skedd::EmbeddedOptions options;
  options.state_dir = state_dir;
  options.handler_threads = 2;
  skedd::EmbeddedScheduler scheduler(options);

  const std::string heartbeat_log = state_dir + "/heartbeat.log";
  const std::string export_log = state_dir + "/export.log";
  (void)scheduler.register_handler("heartbeat", [&](skedd::RunContext& run) {
    append_line(heartbeat_log, skedd::format_rfc3339_utc(run.scheduled()));
  });
  (void)scheduler.register_handler("export", [&](skedd::RunContext& run) {
    const int total = run.params().value("items", 10);
    const int delay = run.params().value("delay_ms", 100);
    // Continue after the last item a checkpoint recorded (none: from the first).
    int item = run.last_checkpoint().empty() ? 1 : std::stoi(run.last_checkpoint()) + 1;
    for (; item <= total; ++item) {
      if (run.stop_requested()) return;  // stopped: resumed at the next start
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      append_line(export_log,
                  "item " + std::to_string(item) + " attempt " + std::to_string(run.attempt()));
      if (!run.checkpoint(std::to_string(item))) throw std::runtime_error("store unwritable");
    }
    append_line(export_log, "done");
  });
  scheduler.on_run([](const skedd::RunEvent& e) {
    if (e.job == "heartbeat") return;
    std::cout << "run " << e.run.value << ' ' << e.job << " attempt " << e.attempt << ' '
              << skedd::to_string(e.state) << std::endl;
  });

  if (auto started = scheduler.start(); !started) {
    std::cerr << "report_service: " << started.error().message << '\n';
    return 1;
  }
  // The jobs are recorded in the state dir: a restart finds them there (and kConflict here).
  (void)scheduler.add("[job.heartbeat]\nevery = \"1s\"\nhandler = \"heartbeat\"\n");
  const auto added = scheduler.add(
      "[job.export]\ncron = \"0 3 * * *\"\nhandler = \"export\"\non_interrupt = \"resume\"\n"
      "params = { items = " +
      std::to_string(items) + ", delay_ms = " + std::to_string(delay_ms) + " }\n");
  if (added) {
    (void)scheduler.trigger("export");  // the first start also exports now
  } else if (added.error().code != skedd::ErrorCode::kConflict) {
    std::cerr << "report_service: " << added.error().message << '\n';
    return 1;
  }
  std::cout << "report_service: running on " << scheduler.state_dir() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  scheduler.stop();
  std::cout << "report_service: stopped" << std::endl;
  return 0;
}
