#include "daemon/builtin_handlers.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "daemon/event_log.h"

namespace skedd {
namespace {

double number_param(const RunContext& run, const char* key, double fallback) {
  const nlohmann::json& params = run.params();
  const auto it = params.find(key);
  if (it == params.end()) return fallback;
  if (!it->is_number())
    throw std::invalid_argument(std::string("params.") + key + ": not a number");
  return it->get<double>();
}

// Sleeps in steps of at most a second, checkpointing the seconds slept, until done or asked
// to stop.
void sleep_handler(RunContext& run) {
  const double total = number_param(run, "seconds", 1.0);
  double slept = run.last_checkpoint().empty() ? 0.0 : std::stod(run.last_checkpoint());
  std::mutex mu;
  std::condition_variable_any wake;
  std::unique_lock lock(mu);
  while (slept < total && !run.stop_requested()) {
    const double step = std::min(1.0, total - slept);
    const auto began = std::chrono::steady_clock::now();
    wake.wait_for(lock, run.stop_token(), std::chrono::duration<double>(step),
                  [] { return false; });
    slept += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    lock.unlock();
    run.checkpoint(std::to_string(std::min(slept, total)));
    lock.lock();
  }
}

void log_handler(RunContext& run) {
  const auto it = run.params().find("message");
  const std::string message =
      it != run.params().end() && it->is_string() ? it->get<std::string>() : run.params().dump();
  log_event(spdlog::level::info, "handler_log",
            {{"job", run.job()}, {"run", run.run().value}, {"message", message}});
}

}  // namespace

void register_builtin_handlers(HandlerRegistry& registry) {
  (void)registry.add("noop", [](RunContext&) {});
  (void)registry.add("sleep", sleep_handler);
  (void)registry.add("log", log_handler);
}

}  // namespace skedd
