// skedctl workflow: list, show, trigger (and wait), runs, cancel, retry, pause and resume.
#include <signal.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "ctl/ask.h"
#include "ctl/command.h"
#include "ctl/table.h"
#include "skedd/time/duration.h"

namespace skedd::ctl {
namespace {

using nlohmann::json;
using WorkflowAction = control::WorkflowRequest::Action;

// A workflow run's exit code for `trigger --wait`: 0 succeeded, 1 failed, 143 cancelled.
int workflow_exit_code(const json& run) {
  const std::string state = str(run, "state");
  if (state == "succeeded") return kExitOk;
  if (state == "cancelled") return 128 + SIGTERM;
  return kExitFailure;
}

// A workflow run's outputs (its final steps'), a line each, values cut at 200 bytes.
void print_workflow_outputs(std::ostream& out, const json& run) {
  if (!run.contains("outputs")) return;
  for (const auto& [step, keys] : run["outputs"].items()) {
    for (const auto& [key, value] : keys.items()) {
      std::string v = value.get<std::string>();
      if (v.size() > 200) v = v.substr(0, 200) + "...";
      out << "  output " << step << '.' << key << ": " << v << '\n';
    }
  }
}

// A workflow run as a line, and its steps under it.
void print_workflow_run(std::ostream& out, const json& run) {
  out << "workflow run " << run["run"] << " of " << str(run, "workflow") << ": "
      << str(run, "state") << ", " << run["settled"] << "/" << run["total"]
      << " steps settled, started " << relative(str(run, "started", ""))
      << (run.contains("version") ? ", version " + str(run, "version") : std::string()) << '\n';
  if (run.contains("message")) out << "  " << str(run, "message") << '\n';
  Table steps({"  STEP", "STATE", "REASON", "RUN"});
  for (const json& step : run["steps"]) {
    steps.add(
        {"  " + str(step, "step"), str(step, "state"), str(step, "reason"), str(step, "run")});
  }
  steps.print(out);
  print_workflow_outputs(out, run);
}

// "1m 3s" for a number of seconds.
std::string took(double s) {
  return format_duration(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)));
}

// A workflow run as a tree: each step under the steps it needs (indented by its depth), with
// its state, run, how long it took or has been running, and how long it usually takes.
void print_workflow_tree(std::ostream& out, const json& run, const json* workflow) {
  out << "workflow run " << run["run"] << " of " << str(run, "workflow") << ": "
      << str(run, "state") << ", " << run["settled"] << "/" << run["total"]
      << " steps settled, started " << relative(str(run, "started", ""))
      << (run.contains("version") ? ", version " + str(run, "version") : std::string()) << '\n';
  if (run.contains("message")) out << "  " << str(run, "message") << '\n';
  // Depths from the workflow's needs (the loaded definition; flat when it is not loaded).
  std::map<std::string, int> depth;
  std::map<std::string, std::string> needs_of;
  if (workflow != nullptr) {
    for (const json& s : (*workflow)["steps"]) {
      int d = 0;
      std::string needs;
      for (const json& n : s["needs"]) {
        d = std::max(d, depth[n.get<std::string>()] + 1);
        needs += (needs.empty() ? "" : ", ") + n.get<std::string>();
      }
      depth[str(s, "name")] = d;
      needs_of[str(s, "name")] = needs;
    }
  }
  Table steps({"  STEP", "STATE", "RUN", "TIME", "USUALLY", "NEEDS"});
  for (const json& step : run["steps"]) {
    const std::string name = str(step, "step");
    std::string time = "-";
    if (step.contains("duration_s")) {
      time = "took " + took(step["duration_s"].get<double>());
    } else if (step.contains("started")) {
      time = "started " + relative(str(step, "started"));
    }
    std::string state = str(step, "state");
    if (step.contains("reason")) state += " (" + str(step, "reason") + ")";
    if (step.value("attempt", 1) > 1) state += ", attempt " + step["attempt"].dump();
    steps.add({"  " + std::string(2 * static_cast<std::size_t>(depth[name]), ' ') + name, state,
               str(step, "run"), time,
               step.contains("usual_s") ? took(step["usual_s"].get<double>()) : "-",
               needs_of[name].empty() ? "-" : needs_of[name]});
  }
  steps.print(out);
  print_workflow_outputs(out, run);
}

class WorkflowCommand final : public SocketCommand {
 public:
  explicit WorkflowCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("workflow",
                      "workflows: list, show, trigger, runs, cancel, retry, pause, resume",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.require_subcommand(1);
    list_ = sub.add_subcommand("list", "the workflows, their schedules and steps");
    show_ = sub.add_subcommand("show", "one workflow's steps and its latest runs");
    show_->add_option("workflow", name_, "workflow name")->required();
    trigger_ = sub.add_subcommand("trigger", "start a run of a workflow now");
    trigger_->add_option("workflow", name_, "workflow name")->required();
    trigger_->add_flag("--force", force_, "start it even while a run of it goes on");
    trigger_->add_flag("--wait", wait_,
                       "wait for the run to end: exit 0 succeeded, 1 failed, 143 cancelled");
    runs_ = sub.add_subcommand("runs", "workflow runs with their steps, newest first");
    runs_->add_option("workflow", name_, "only this workflow's runs");
    runs_->add_option("--run", run_, "only this workflow run");
    runs_->add_option("-n,--limit", limit_, "at most this many (with --tree, 20)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    runs_->add_flag("--tree", tree_,
                    "each run as a tree of its steps, with their times and usual durations");
    cancel_ = sub.add_subcommand("cancel", "cancel a workflow run going on");
    cancel_->add_option("run", run_, "workflow run id")->required();
    retry_ = sub.add_subcommand(
        "retry", "run an ended workflow run again from a step, keeping the steps before it");
    retry_->add_option("run", run_, "workflow run id")->required();
    retry_->add_option("--from", from_, "the step to run again, with every step after it")
        ->required();
    retry_->add_flag("--wait", wait_,
                     "wait for the run to end: exit 0 succeeded, 1 failed, 143 cancelled");
    pause_ =
        sub.add_subcommand("pause", "pause a workflow run: no step starts, running ones pause");
    pause_->add_option("run", run_, "workflow run id")->required();
    resume_ = sub.add_subcommand("resume", "resume a paused workflow run");
    resume_->add_option("run", run_, "workflow run id")->required();
    for (CLI::App* s : {list_, show_, trigger_, runs_, cancel_, retry_, pause_, resume_}) {
      s->add_flag("--json", c_.json, "print JSON");
    }
  }
  int run() override {
    if (list_->parsed()) return list();
    if (show_->parsed()) return show();
    if (trigger_->parsed()) return trigger();
    if (runs_->parsed()) return runs();
    if (retry_->parsed()) return retry();
    if (pause_->parsed() || resume_->parsed()) {
      control::WorkflowRequest r;
      r.action = pause_->parsed() ? WorkflowAction::kPause : WorkflowAction::kResume;
      r.run = RunId{run_};
      return simple(c_, r, [](const json& reply) {
        return std::string(reply["paused"] == true ? "paused" : "resumed") + " workflow run " +
               reply["run"].dump();
      });
    }
    control::WorkflowRequest r;
    r.action = WorkflowAction::kCancel;
    r.run = RunId{run_};
    return simple(
        c_, r, [](const json& reply) { return "cancelled workflow run " + reply["run"].dump(); });
  }

 private:
  int list() {
    json reply;
    control::WorkflowRequest r;
    if (const int rc = ask(c_, r, &reply); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << reply.dump() << '\n';
      return kExitOk;
    }
    Table table({"NAME", "SCHEDULE", "NEXT", "USER", "STEPS", "RUNNING"});
    for (const json& w : reply["workflows"]) {
      const std::string next = w.value("paused", false) ? "paused"
                               : w["next"].is_string()  ? relative(str(w, "next"))
                                                        : "-";
      table.add({str(w, "name"), str(w, "schedule", "(trigger only)"), next, str(w, "user"),
                 std::to_string(w["steps"].size()), w["running"].dump()});
    }
    table.print(std::cout);
    return kExitOk;
  }
  int show() {
    json list;
    control::WorkflowRequest r;
    if (const int rc = ask(c_, r, &list); rc != kExitOk) return rc;
    const json* found = nullptr;
    for (const json& w : list["workflows"]) {
      if (w["name"] == name_) found = &w;
    }
    if (found == nullptr) {
      print_error(c_, control::kJobNotFound, "no workflow named \"" + name_ + "\"");
      return kExitNotFound;
    }
    json runs;
    control::WorkflowRequest q;
    q.action = WorkflowAction::kRuns;
    q.workflow = name_;
    q.limit = 5;
    if (const int rc = ask(c_, q, &runs); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << json{{"workflow", *found}, {"runs", runs["runs"]}}.dump() << '\n';
      return kExitOk;
    }
    const json& w = *found;
    std::cout << "workflow " << str(w, "name") << " (" << str(w, "defined_at") << ")\n"
              << "  schedule: " << str(w, "schedule", "none (trigger only)")
              << (w.value("paused", false) ? " (paused)"
                  : w["next"].is_string()  ? ", next " + relative(str(w, "next"))
                                           : std::string())
              << "\n  user: " << str(w, "user") << "\n  overlap: " << str(w, "overlap")
              << "\n  version: " << str(w, "version", "-") << '\n';
    Table steps({"  STEP", "JOB", "NEEDS", "WHEN"});
    for (const json& s : w["steps"]) {
      std::string needs;
      for (const json& n : s["needs"]) needs += (needs.empty() ? "" : ",") + n.get<std::string>();
      steps.add(
          {"  " + str(s, "name"), str(s, "job"), needs.empty() ? "-" : needs, str(s, "when")});
    }
    steps.print(std::cout);
    for (const json& run : runs["runs"]) print_workflow_run(std::cout, run);
    return kExitOk;
  }
  int trigger() {
    json reply;
    control::WorkflowRequest r;
    r.action = WorkflowAction::kTrigger;
    r.workflow = name_;
    r.force = force_;
    if (const int rc = ask(c_, r, &reply, wait_ ? kExitSelf : kExitFailure); rc != kExitOk) {
      return rc;
    }
    const std::uint64_t id = reply["run"].get<std::uint64_t>();
    if (!wait_) {
      std::cout << (c_.json ? reply.dump()
                            : "triggered workflow " + name_ + ": run " + std::to_string(id))
                << '\n';
      return kExitOk;
    }
    if (!c_.json) std::cerr << "triggered workflow " << name_ << ": run " << id << '\n';
    return wait_for_end(id);
  }
  int retry() {
    json reply;
    control::WorkflowRequest r;
    r.action = WorkflowAction::kRetry;
    r.run = RunId{run_};
    r.from = from_;
    if (const int rc = ask(c_, r, &reply, wait_ ? kExitSelf : kExitFailure); rc != kExitOk) {
      return rc;
    }
    const std::string said = "retrying workflow run " + std::to_string(run_) + " from " + from_;
    if (!wait_) {
      std::cout << (c_.json ? reply.dump() : said) << '\n';
      return kExitOk;
    }
    if (!c_.json) std::cerr << said << '\n';
    return wait_for_end(run_);
  }
  // Waits for workflow run `id` to end, prints it, and exits as workflow_exit_code() says.
  int wait_for_end(std::uint64_t id) {
    control::WorkflowRequest q;
    q.action = WorkflowAction::kRuns;
    q.run = RunId{id};
    q.tree = true;  // its outputs, and its steps' times
    for (;;) {
      json runs;
      json error;
      if (const int rc = ask_quietly(c_, q, &runs, &error, kExitSelf); rc != kExitOk) {
        print_error(c_, error.value("code", "?"), error.value("message", "request failed"));
        return rc == kExitFailure ? kExitSelf : rc;
      }
      const json& run = runs["runs"][0];
      if (!run["ended"].is_null()) {
        if (c_.json) {
          std::cout << run.dump() << '\n';
        } else {
          print_workflow_run(std::cout, run);
        }
        return workflow_exit_code(run);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  int runs() {
    if (tree_) return print_workflow_trees(c_, name_, run_, limit_);
    json reply;
    control::WorkflowRequest r;
    r.action = WorkflowAction::kRuns;
    r.workflow = name_;
    if (run_ != 0) r.run = RunId{run_};
    r.limit = limit_;
    if (const int rc = ask(c_, r, &reply); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << reply.dump() << '\n';
      return kExitOk;
    }
    for (const json& run : reply["runs"]) print_workflow_run(std::cout, run);
    return kExitOk;
  }

  CLI::App* list_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* trigger_ = nullptr;
  CLI::App* runs_ = nullptr;
  CLI::App* cancel_ = nullptr;
  CLI::App* retry_ = nullptr;
  CLI::App* pause_ = nullptr;
  CLI::App* resume_ = nullptr;
  std::string name_;
  std::string from_;
  bool force_ = false;
  bool wait_ = false;
  bool tree_ = false;
  std::uint64_t run_ = 0;
  std::size_t limit_ = 20;
};

// skedctl backfill NAME --from T --to T [--concurrency N] [--rerun]
class BackfillCommand final : public SocketCommand {
 public:
  explicit BackfillCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("backfill",
                      "run the fires of a past interval of a job's or workflow's schedule",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("name", r_.name, "job or workflow")->required();
    sub.add_option("--from", r_.from, "the interval's start (RFC 3339, such as 2026-12-01T00:00Z)")
        ->required();
    sub.add_option("--to", r_.to, "its end, included (RFC 3339; not in the future)")->required();
    sub.add_option("--concurrency", r_.concurrency,
                   "fires at once: the next starts as soon as one ends (1 to 16)")
        ->check(CLI::Range(1, 16))
        ->capture_default_str();
    sub.add_flag("--rerun", r_.rerun,
                 "run fires already run or recorded too (a job's as their next attempt)");
    sub.add_flag("--json", c_.json, "print JSON");
  }
  int run() override {
    return simple(c_, r_, [this](const json& reply) {
      return "backfill " + reply["backfill"].dump() + " of " + r_.name + ": " +
             reply["fires"].dump() + " fire(s) to run, " + std::to_string(r_.concurrency) +
             " at a time; " + reply["skipped"].dump() + " already run or recorded";
    });
  }

 private:
  control::BackfillRequest r_;
};

}  // namespace

int print_workflow_trees(const Common& c, const std::string& workflow, std::uint64_t run,
                         std::size_t limit) {
  control::WorkflowRequest r;
  r.action = WorkflowAction::kRuns;
  r.workflow = workflow;
  if (run != 0) r.run = RunId{run};
  r.limit = limit;
  r.tree = true;
  json reply;
  if (const int rc = ask(c, r, &reply); rc != kExitOk) return rc;
  if (c.json) {
    std::cout << reply.dump() << '\n';
    return kExitOk;
  }
  json list;
  if (const int rc = ask(c, control::WorkflowRequest{}, &list); rc != kExitOk) return rc;
  for (const json& one : reply["runs"]) {
    const json* found = nullptr;
    for (const json& w : list["workflows"]) {
      if (w["name"] == one["workflow"]) found = &w;
    }
    print_workflow_tree(std::cout, one, found);
  }
  return kExitOk;
}

std::unique_ptr<Command> backfill_command(std::shared_ptr<const std::string> socket) {
  return std::make_unique<BackfillCommand>(std::move(socket));
}

std::unique_ptr<Command> workflow_command(std::shared_ptr<const std::string> socket) {
  return std::make_unique<WorkflowCommand>(std::move(socket));
}

}  // namespace skedd::ctl
