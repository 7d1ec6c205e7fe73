// The pipeline of the design documents as a small service that embeds skedd (libskedd): its
// steps extract, transform, validate and store are in-process handlers, each taking the
// previous steps' results (their outputs, in params as "skedd_in"), and page runs when one
// fails. validate accepts the rows only once STATE_DIR/approved exists, so that the first run
// fails there on purpose; `retry` runs a recorded workflow run again from a step, keeping the
// steps before it and their outputs. The same pipeline as processes is etc/jobs.d/pipeline.toml.
//
// Usage: pipeline_service STATE_DIR run
//        pipeline_service STATE_DIR retry RUN STEP
// Prints the workflow run and its steps; exits 0 when it succeeded, 1 when it did not.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>

#include "skedd/embed/embedded_scheduler.h"

namespace {

constexpr const char* kDefinitions = R"toml(
[job.extract]
handler = "extract"
[job.transform]
handler = "transform"
[job.validate]
handler = "validate"
[job.store]
handler = "store"
[job.page]
handler = "page"

[workflow.pipeline]
steps.extract   = { job = "extract" }
steps.transform = { job = "transform", needs = ["extract"] }
steps.validate  = { job = "validate",  needs = ["transform"] }
steps.store     = { job = "store",     needs = ["validate"] }
steps.alert     = { job = "page",      needs = ["store"], when = "failure" }
)toml";

// Output `key` of step `step`, as a handler step receives it.
std::string input(const skedd::RunContext& run, const std::string& step, const std::string& key) {
  const nlohmann::json& in = run.params()["skedd_in"];
  if (!in.contains(step) || !in[step].contains(key)) {
    throw std::runtime_error("no output " + key + " of step " + step);
  }
  return in[step][key].get<std::string>();
}

void append_line(const std::string& path, const std::string& line) {
  std::ofstream(path, std::ios::app) << line << '\n';
}

// Waits for workflow run `id` to end, prints it, and returns 0 when it succeeded.
int wait_and_print(skedd::EmbeddedScheduler& scheduler, skedd::RunId id) {
  skedd::WorkflowRunQuery query;
  query.id = id;
  for (;;) {
    auto runs = scheduler.workflow_runs(query);
    if (!runs || runs->empty()) {
      std::cerr << "pipeline_service: " << (runs ? "no such run" : runs.error().message) << '\n';
      return 1;
    }
    const skedd::WorkflowRunRecord& run = runs->front();
    if (skedd::is_final(run.state)) {
      std::cout << "workflow run " << run.id.value << ": " << skedd::to_string(run.state) << '\n';
      for (const skedd::WorkflowStepRecord& step : run.steps) {
        std::cout << "  " << step.step << ' ' << skedd::to_string(step.state);
        if (step.reason != skedd::SkipReason::kNone) std::cout << ' ' << to_string(step.reason);
        if (step.run.value != 0) std::cout << " run " << step.run.value;
        std::cout << '\n';
      }
      return run.state == skedd::WorkflowRunState::kSucceeded ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 2 ? argv[2] : "";
  if (!((argc == 3 && command == "run") || (argc == 5 && command == "retry"))) {
    std::cerr << "usage: pipeline_service STATE_DIR run\n"
                 "       pipeline_service STATE_DIR retry RUN STEP\n";
    return 2;
  }
  const std::string state_dir = argv[1];
  skedd::EmbeddedOptions options;
  options.state_dir = state_dir;
  options.handler_threads = 2;
  options.definitions = kDefinitions;
  skedd::EmbeddedScheduler scheduler(options);

  (void)scheduler.register_handler("extract", [](skedd::RunContext& run) {
    run.output("rows", "1200");
    run.output("source", "orders-" + std::to_string(run.run().value) + ".csv");
  });
  (void)scheduler.register_handler("transform", [](skedd::RunContext& run) {
    // Three rows are duplicates.
    run.output("rows", std::to_string(std::stoi(input(run, "extract", "rows")) - 3));
  });
  (void)scheduler.register_handler("validate", [&](skedd::RunContext& run) {
    if (!std::filesystem::exists(state_dir + "/approved")) {
      throw std::runtime_error(input(run, "transform", "rows") + " rows not approved yet");
    }
    run.output("checked", input(run, "transform", "rows"));
  });
  (void)scheduler.register_handler("store", [&](skedd::RunContext& run) {
    append_line(state_dir + "/stored.log", "stored " + input(run, "validate", "checked") + " of " +
                                               input(run, "extract", "rows") + " rows from " +
                                               input(run, "extract", "source"));
  });
  (void)scheduler.register_handler(
      "page", [&](skedd::RunContext&) { append_line(state_dir + "/paged.log", "paged"); });

  if (auto started = scheduler.start(); !started) {
    std::cerr << "pipeline_service: " << started.error().message << '\n';
    return 1;
  }
  skedd::RunId id;
  if (command == "run") {
    auto run = scheduler.trigger_workflow("pipeline");
    if (!run) {
      std::cerr << "pipeline_service: " << run.error().message << '\n';
      return 1;
    }
    id = run.value();
  } else {
    id = skedd::RunId{std::stoull(argv[3])};
    if (auto retried = scheduler.retry_workflow(id, argv[4]); !retried) {
      std::cerr << "pipeline_service: " << retried.error().message << '\n';
      return 1;
    }
  }
  const int rc = wait_and_print(scheduler, id);
  scheduler.stop();
  return rc;
}
