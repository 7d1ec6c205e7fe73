// skedctl's subcommands that ask skedd about its jobs and runs, and change them, over its
// control socket.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ctl/ask.h"
#include "ctl/client.h"
#include "ctl/table.h"
#include "skedd/time/timestamp.h"

namespace skedd::ctl {
namespace {

using nlohmann::json;

class StatusCommand final : public SocketCommand {
 public:
  explicit StatusCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("status", "the daemon's version, uptime, runs, pauses and store health",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override { declare_json(sub); }
  int run() override {
    json r;
    if (const int rc = ask(c_, control::StatusRequest{}, &r); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << r.dump() << '\n';
      return kExitOk;
    }
    std::cout << "skedd " << str(r, "version") << ", pid " << r["pid"] << ", up since "
              << str(r, "started") << " (" << relative(str(r, "started")) << ")\n"
              << "jobs:    " << r["jobs"] << " (" << r["paused_jobs"] << " paused)\n"
              << "runs:    " << r["running"] << " running of max " << r["max_concurrent_runs"]
              << ", " << r["queued"] << " queued\n"
              << "pause:   " << (r["paused_all"].get<bool>() ? "ALL JOBS PAUSED" : "off") << '\n'
              << "store:   "
              << (r["store"]["ok"].get<bool>()
                      ? std::string("ok")
                      : "FAILING: " + str(r["store"], "error") + " (" +
                            r["store"]["unwritten"].dump() + " writes waiting)")
              << '\n';
    return kExitOk;
  }
};

class ListCommand final : public SocketCommand {
 public:
  explicit ListCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("list", "the jobs: schedule, zone, next fire, last result, paused",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override { declare_json(sub); }
  int run() override {
    json r;
    if (const int rc = ask(c_, control::ListRequest{}, &r); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << r.dump() << '\n';
      return kExitOk;
    }
    Table t({"NAME", "SCHEDULE", "ZONE", "NEXT", "LAST", "PAUSED"});
    for (const json& j : r["jobs"]) {
      std::string last = "-";
      if (!j["last"].is_null()) {
        last = str(j["last"], "state") + " " + relative(str(j["last"], "ended", ""));
      }
      if (j["running"].get<int>() > 0) last = j.value("stalled", 0) > 0 ? "stalled" : "running";
      t.add({str(j, "name"), str(j, "schedule"), str(j, "zone"), relative(str(j, "next", "")), last,
             j["paused"].get<bool>() ? "yes" : "no"});
    }
    t.print(std::cout);
    if (r["paused_all"].get<bool>()) std::cout << "(all jobs are paused: pause --all)\n";
    return kExitOk;
  }
};

class ShowCommand final : public SocketCommand {
 public:
  explicit ShowCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("show", "one job: definition, state, next 5 fires, last runs, not-run fires",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("job", job_, "job name")->required();
    declare_json(sub);
  }
  int run() override {
    json r;
    if (const int rc = ask(c_, control::ShowRequest{job_}, &r); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << r.dump() << '\n';
      return kExitOk;
    }
    const json& d = r["job"];
    for (const char* key : {"name", "schedule", "zone", "command", "user", "overlap", "priority",
                            "pool", "retries", "defined_at"}) {
      std::cout << key << ": " << std::string(12 - std::strlen(key), ' ') << str(d, key) << '\n';
    }
    std::cout << "paused:       " << (r["paused"].get<bool>() ? "yes" : "no")
              << (r["paused_all"].get<bool>() ? " (all jobs paused)" : "") << '\n'
              << "running:      " << r["running"]
              << (r.value("stalled", 0) > 0 ? " (" + std::to_string(r.value("stalled", 0)) +
                                                  " stalled: silent for its stall_timeout)"
                                            : std::string())
              << "\nnext fires:\n";
    for (const json& t : r["next"]) {
      std::cout << "  " << t.get<std::string>() << "  (" << relative(t) << ")\n";
    }
    std::cout << "last runs:\n";
    print_runs(std::cout, r["runs"]);
    if (!r["not_run"].empty()) {
      std::cout << "not run:\n";
      Table t({"STATE", "REASON", "FIRST", "LAST", "COUNT"});
      for (const json& n : r["not_run"]) {
        t.add(
            {str(n, "state"), str(n, "reason"), str(n, "first"), str(n, "last"), str(n, "count")});
      }
      t.print(std::cout);
    }
    return kExitOk;
  }

 private:
  std::string job_;
};

class PauseCommand final : public SocketCommand {
 public:
  PauseCommand(std::shared_ptr<const std::string> socket, bool pause)
      : SocketCommand(
            pause ? "pause" : "resume",
            pause ? "pause a job's fires, every job's (--all), or a running run (--run)"
                  : "resume a paused job, lift the global pause (--all), or continue a run (--run)",
            std::move(socket)) {
    r_.pause = pause;
  }
  void declare(CLI::App& sub) override {
    auto* job = sub.add_option("job", r_.job, "job name");
    auto* all = sub.add_flag("--all", r_.all,
                             "the global flag (root only); per-job flags stay as they are");
    auto* run = sub.add_option(
        "--run", target_,
        r_.pause ? "a running run (id, JOB: its latest running run, JOB~N, job:NAME): its "
                   "processes stop (cgroup freeze or SIGSTOP) and its timeouts stand still"
                 : "a paused run (id, JOB: its latest paused run, JOB~N, job:NAME)");
    job->excludes(all);
    run->excludes(all);
    run->excludes(job);
    declare_json(sub);
  }
  int run() override {
    if (r_.job.empty() && !r_.all && target_.empty()) {
      std::cerr << "skedctl: give a job name, --all or --run RUN\n";
      return kExitUsage;
    }
    if (!target_.empty()) {
      const int rc =
          resolve_run(c_, target_, r_.pause ? RunState::kRunning : RunState::kPaused, &run_);
      if (rc != kExitOk) return rc;
      r_.run = RunId{run_};
    }
    return simple(c_, r_, [&](const json&) {
      const std::string what = r_.all   ? std::string("all jobs")
                               : r_.run ? "run " + std::to_string(run_)
                                        : "job " + r_.job;
      return what + (r_.pause ? " paused" : " resumed");
    });
  }

 private:
  control::PauseRequest r_;
  std::string target_;
  std::uint64_t run_ = 0;
};

class TriggerCommand final : public SocketCommand {
 public:
  explicit TriggerCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("trigger", "start a job now, under its overlap policy unless --force",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("job", r_.job, "job name")->required();
    sub.add_flag("--force", r_.force, "start it even while it runs (overlap = allow)");
    sub.add_flag("--wait", wait_,
                 "wait for the run to end and exit with its exit code (128+n for a signal)");
    declare_json(sub);
  }
  int run() override {
    json reply;
    if (const int rc = ask(c_, r_, &reply, wait_ ? kExitSelf : kExitFailure); rc != kExitOk) {
      return rc;
    }
    const std::uint64_t run = reply["run"].get<std::uint64_t>();
    if (!wait_) {
      std::cout << (c_.json ? reply.dump()
                            : "triggered " + r_.job + ": run " + std::to_string(run) +
                                  (reply["queued"].get<bool>() ? " (queued)" : ""))
                << '\n';
      return kExitOk;
    }
    if (!c_.json) std::cerr << "triggered " << r_.job << ": run " << run << '\n';
    return wait_for_run(c_, run);
  }

 private:
  control::TriggerRequest r_;
  bool wait_ = false;
};

// A subcommand about one run, given by its id or its job (see resolve_run()).
class RunCommand : public SocketCommand {
 public:
  using SocketCommand::SocketCommand;

 protected:
  void declare_run(CLI::App& sub, const char* which = "its latest run") {
    help_ = std::string("run id; or JOB (") + which + "), JOB~N (N runs before), job:NAME";
    sub.add_option("run", target_, help_)->required();
  }
  /// Sets run_ from target_; the exit code when it cannot.
  int resolve(std::optional<RunState> state = std::nullopt, int unreachable = kExitFailure) {
    return resolve_run(c_, target_, state, &run_, unreachable);
  }
  std::string target_;
  std::uint64_t run_ = 0;

 private:
  std::string help_;
};

class WaitCommand final : public RunCommand {
 public:
  explicit WaitCommand(std::shared_ptr<const std::string> socket)
      : RunCommand("wait",
                   "wait for a run to end (a progress bar on a terminal); exit with its code",
                   std::move(socket)) {}
  void declare(CLI::App& sub) override {
    declare_run(sub);
    declare_json(sub, "print the run as JSON");
  }
  int run() override {
    if (const int rc = resolve(std::nullopt, kExitSelf); rc != kExitOk) return rc;
    return wait_for_run(c_, run_);
  }
};

class CancelCommand final : public RunCommand {
 public:
  explicit CancelCommand(std::shared_ptr<const std::string> socket)
      : RunCommand("cancel", "stop a run: its soft signal, then SIGKILL after kill_grace",
                   std::move(socket)) {}
  void declare(CLI::App& sub) override {
    declare_run(sub, "its latest running run");
    declare_json(sub);
  }
  int run() override {
    if (const int rc = resolve(RunState::kRunning); rc != kExitOk) return rc;
    return simple(c_, control::CancelRequest{RunId{run_}},
                  [&](const json&) { return "cancelling run " + std::to_string(run_); });
  }
};

class SendCommand final : public SocketCommand {
 public:
  explicit SendCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("send",
                      "give a running run a line on its input (SKEDD_INPUT_FD), by run id or by "
                      "job (its one running run)",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("target", target_, "run id, or job name")->required();
    sub.add_option("text", text_, "the line (one line, less than 4096 bytes)")->required();
    declare_json(sub);
  }
  int run() override {
    control::SendRequest request;
    const bool digits =
        !target_.empty() && target_.find_first_not_of("0123456789") == std::string::npos;
    if (digits) {
      request.run = RunId{std::stoull(target_)};
    } else {
      request.job = target_;
    }
    request.text = text_;
    return simple(c_, request, [](const json& reply) {
      return "sent to run " + std::to_string(reply.value("run", std::uint64_t{0}));
    });
  }

 private:
  std::string target_;
  std::string text_;
};

class LogsCommand final : public RunCommand {
 public:
  explicit LogsCommand(std::shared_ptr<const std::string> socket)
      : RunCommand("logs", "a run's output (stdout and stderr); --follow until it ends",
                   std::move(socket)) {}
  void declare(CLI::App& sub) override {
    declare_run(sub);
    sub.add_flag("-f,--follow", follow_, "keep printing output until the run ends");
    declare_json(sub, "print {\"run\", \"job\", \"data\", \"ended\"} once all is read");
  }
  int run() override {
    if (const int rc = resolve(); rc != kExitOk) return rc;
    auto client = Client::connect(find_socket(*c_.socket));
    if (!client) {
      print_error(c_, kUnreachable, client.error().message);
      return kExitFailure;
    }
    std::uint64_t offset = 0;
    std::string all;  // --json: printed once at the end
    for (;;) {
      auto r = client->call(control::LogsRequest{RunId{run_}, offset, 256 * 1024});
      if (!r) {
        print_error(c_, kUnreachable, r.error().message);
        return kExitFailure;
      }
      if (!r->value("ok", false)) {
        const json error = r->value("error", json::object());
        print_error(c_, error.value("code", "?"), error.value("message", "request failed"));
        return exit_code_of(error);
      }
      const std::string& data = (*r)["data"].get_ref<const std::string&>();
      if (c_.json) {
        all += data;
      } else {
        std::cout << data << std::flush;
      }
      offset = (*r)["offset"].get<std::uint64_t>();
      if (offset < (*r)["size"].get<std::uint64_t>()) continue;
      const bool ended = (*r)["ended"].get<bool>();
      if (!follow_ || ended) {
        if (c_.json) {
          std::cout << json{{"run", run_},
                            {"data", all},
                            {"state", (*r)["state"]},
                            {"ended", ended}}
                           .dump(-1, ' ', false, json::error_handler_t::replace)
                    << '\n';
        }
        return kExitOk;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }

 private:
  bool follow_ = false;
};

class RunsCommand final : public SocketCommand {
 public:
  explicit RunsCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("runs", "the run history, newest first (alias: history)", std::move(socket)) {
  }
  void declare(CLI::App& sub) override {
    sub.alias("history");
    sub.add_option("job", job_, "only this job's runs");
    sub.add_option("--state", state_,
                   "only runs in this state (running, succeeded, failed, timed_out, ...)");
    sub.add_option("--since", since_, "only runs started since (RFC 3339)");
    sub.add_option("-n,--limit", r_.limit, "at most this many")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    declare_json(sub);
  }
  int run() override {
    if (!job_.empty()) r_.job = job_;
    if (!state_.empty()) {
      r_.state = run_state_from_string(state_);
      if (!r_.state) {
        std::cerr << "skedctl: --state: unknown run state \"" << state_ << "\"\n";
        return kExitUsage;
      }
    }
    if (!since_.empty()) {
      auto t = parse_rfc3339(since_);
      if (!t) {
        std::cerr << "skedctl: --since: " << t.error().message << '\n';
        return kExitUsage;
      }
      r_.since = t.value();
    }
    json r;
    if (const int rc = ask(c_, r_, &r); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << r.dump() << '\n';
    } else {
      print_runs(std::cout, r["runs"]);
    }
    return kExitOk;
  }

 private:
  control::RunsRequest r_;
  std::string job_, state_, since_;
};

class ReloadCommand final : public SocketCommand {
 public:
  explicit ReloadCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("reload", "re-read the configuration and apply it as a diff (root only)",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override { declare_json(sub); }
  int run() override {
    return simple(c_, control::ReloadRequest{}, [](const json& r) { return str(r, "summary"); });
  }
};

class SetCommand final : public SocketCommand {
 public:
  explicit SetCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("set",
                      "change a daemon setting until the next reload: max-concurrent-runs N (root)",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("setting", name_, "max-concurrent-runs")
        ->required()
        ->check(CLI::IsMember({"max-concurrent-runs"}));
    sub.add_option("value", value_, "at least 1")->required()->check(CLI::Range(1, 1000000));
    declare_json(sub);
  }
  int run() override {
    return simple(c_, control::SetRequest{value_},
                  [&](const json&) { return "max-concurrent-runs = " + std::to_string(value_); });
  }

 private:
  std::string name_;
  int value_ = 0;
};

class DrainCommand final : public SocketCommand {
 public:
  explicit DrainCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("drain",
                      "stop starting runs (global pause) and wait for the running ones (root)",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_flag("--no-wait", no_wait_, "return at once");
    declare_json(sub);
  }
  int run() override {
    json r;
    if (const int rc = ask(c_, control::DrainRequest{}, &r); rc != kExitOk) return rc;
    int running = r["running"].get<int>();
    int shown = -1;
    while (!no_wait_ && running > 0) {
      if (!c_.json && running != shown) {
        std::cerr << "draining: " << running << " run(s) still running\n";
        shown = running;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      if (const int rc = ask(c_, control::StatusRequest{}, &r); rc != kExitOk) return rc;
      running = r["running"].get<int>();
    }
    std::cout << (c_.json        ? json{{"draining", true}, {"running", running}}.dump()
                  : running == 0 ? std::string("drained: no run is running; "
                                               "`skedctl resume --all` starts runs again")
                                 : "draining: " + std::to_string(running) + " run(s) still running")
              << '\n';
    return kExitOk;
  }

 private:
  bool no_wait_ = false;
};

}  // namespace

Commands daemon_commands(std::shared_ptr<const std::string> socket) {
  Commands out;
  out.push_back(std::make_unique<StatusCommand>(socket));
  out.push_back(std::make_unique<ListCommand>(socket));
  out.push_back(std::make_unique<ShowCommand>(socket));
  out.push_back(std::make_unique<PauseCommand>(socket, true));
  out.push_back(std::make_unique<PauseCommand>(socket, false));
  out.push_back(std::make_unique<TriggerCommand>(socket));
  out.push_back(std::make_unique<CancelCommand>(socket));
  out.push_back(std::make_unique<SendCommand>(socket));
  out.push_back(std::make_unique<RunsCommand>(socket));
  out.push_back(std::make_unique<LogsCommand>(socket));
  out.push_back(std::make_unique<WaitCommand>(socket));
  out.push_back(std::make_unique<ReloadCommand>(socket));
  out.push_back(std::make_unique<SetCommand>(socket));
  out.push_back(std::make_unique<DrainCommand>(socket));
  return out;
}

}  // namespace skedd::ctl
