// skedctl's subcommands that ask skedd about its jobs and runs, and change them, over its
// control socket.
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
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
#include "ctl/terminal.h"
#include "skedd/time/duration.h"
#include "skedd/time/timestamp.h"
#include "util/suggest.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

namespace skedd::ctl {
namespace {

using nlohmann::json;

// The last `lines` lines of run `run`'s log ("" when it has none or it cannot be read).
std::string log_tail(const Common& c, std::uint64_t run, std::size_t lines) {
  auto client = Client::connect(find_socket(*c.socket));
  if (!client) return {};
  auto first = client->call(control::LogsRequest{RunId{run}, 0, 0});
  if (!first || !first->value("ok", false)) return {};
  const std::uint64_t size = (*first)["size"].get<std::uint64_t>();
  const std::uint64_t from = size > 16384 ? size - 16384 : 0;
  auto r = client->call(control::LogsRequest{RunId{run}, from, 16384});
  if (!r || !r->value("ok", false)) return {};
  const std::string data = (*r)["data"].get<std::string>();
  // From the end back over `lines` newlines (a last line's own newline not counted).
  std::size_t start = data.size() > 0 && data.back() == '\n' ? data.size() - 1 : data.size();
  for (std::size_t count = 0; start > 0;) {
    const std::size_t newline = data.rfind('\n', start - 1);
    if (newline == std::string::npos) {
      start = 0;
      break;
    }
    start = newline;
    if (++count == lines) {
      ++start;
      break;
    }
  }
  return data.substr(start);
}

// The zone a job's times are shown in: its own (said in the header), else the local one.
TimeZone zone_named(const std::string& name) {
  auto zone = TimeZone::load(name);
  return zone ? zone.value() : TimeZone::local();
}

class StatusCommand final : public SocketCommand {
 public:
  explicit StatusCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("status",
                      "the daemon's version, uptime, runs, pauses and store health; with JOB, "
                      "that job as systemctl status shows a unit",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("job", job_, "a job: its state, schedule, next fire, last runs, latest log");
    sub.add_flag("--utc", utc_, "times in UTC (RFC 3339)");
    declare_json(sub);
  }
  int run() override {
    if (!job_.empty()) return job_status();
    json r;
    if (const int rc = ask(c_, control::StatusRequest{}, &r); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << r.dump() << '\n';
      return kExitOk;
    }
    const Display d = display(false, utc_);
    std::cout << "skedd " << str(r, "version") << ", pid " << r["pid"] << ", up since "
              << when(d, str(r, "started")) << '\n'
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
    for (const json& w : r.value("warnings", json::array())) {
      std::cout << "warning: " << w.get<std::string>() << '\n';
    }
    return kExitOk;
  }

 private:
  int job_status() {
    json r;
    if (const int rc = ask(c_, control::ShowRequest{job_}, &r); rc != kExitOk) return rc;
    const json& runs = r["runs"];
    std::string tail;
    if (!runs.empty()) tail = log_tail(c_, runs[0]["run"].get<std::uint64_t>(), 10);
    if (c_.json) {
      r["log_tail"] = tail;
      std::cout << r.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
      return kExitOk;
    }
    const Display d = display(false, utc_);
    const json& j = r["job"];
    const TimeZone zone = zone_named(str(j, "zone"));
    const int running = r["running"].get<int>();
    std::string state = running > 0 ? paint(d, "running") : std::string("idle");
    if (r.value("stalled", 0) > 0) state = paint(d, "stalled");
    if (r["paused"].get<bool>()) state += ", paused";
    if (r["paused_all"].get<bool>()) state += ", all jobs paused (pause --all)";
    const std::string mark = d.colour ? (running > 0 ? "\x1b[36m\u25cf\x1b[0m" : "\u25cb") : "*";
    std::cout << mark << ' ' << str(j, "name") << " - " << str(j, "command_line") << '\n'
              << "     State: " << state << '\n'
              << "  Schedule: " << str(j, "schedule") << " (" << str(j, "zone") << ")\n"
              << "      Next: "
              << (r["next"].empty() ? std::string("none")
                                    : when(d, r["next"][0].get<std::string>(), &zone))
              << '\n'
              << "   Defined: " << str(j, "defined_at") << '\n';
    if (runs.empty()) {
      std::cout << "      Runs: none yet\n";
    } else {
      std::cout << "\n";
      json last = json::array();
      for (std::size_t i = 0; i < runs.size() && i < 5; ++i) last.push_back(runs[i]);
      print_runs(std::cout, last, d);
    }
    if (!tail.empty()) {
      std::cout << "\nLog of run " << runs[0]["run"] << " (its last lines):\n" << tail;
      if (tail.back() != '\n') std::cout << '\n';
    }
    return kExitOk;
  }

  std::string job_;
  bool utc_ = false;
};

class ListCommand final : public SocketCommand {
 public:
  explicit ListCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("list", "the jobs: schedule, zone, next fire, last result, paused, command",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("pattern", pattern_, "only jobs whose name matches this glob (backup-*)");
    sub.add_option("--sort", sort_, "order: name (default), next (soonest first), last (latest)")
        ->check(CLI::IsMember({"name", "next", "last"}));
    sub.add_flag("-w,--wide", wide_, "cut no column to the terminal's width");
    declare_json(sub);
  }
  int run() override {
    json r;
    if (const int rc = ask(c_, control::ListRequest{}, &r); rc != kExitOk) return rc;
    json jobs = json::array();
    for (json& j : r["jobs"]) {
      if (pattern_.empty() || ::fnmatch(pattern_.c_str(), str(j, "name").c_str(), 0) == 0) {
        jobs.push_back(std::move(j));
      }
    }
    sort(jobs);
    if (c_.json) {
      r["jobs"] = std::move(jobs);
      std::cout << r.dump() << '\n';
      return kExitOk;
    }
    const bool all_paused = r["paused_all"].get<bool>();
    Paged paged;
    const Display d = display(wide_, false);
    if (all_paused) {
      std::cout << (d.colour ? "\x1b[1;31m" : "")
                << "ALL JOBS ARE PAUSED (skedctl pause --all): nothing starts until "
                   "skedctl resume --all"
                << (d.colour ? "\x1b[0m" : "") << '\n';
    }
    Table t({"NAME", "SCHEDULE", "ZONE", "NEXT", "LAST", "PAUSED", "COMMAND"});
    for (const json& j : jobs) {
      std::string last = "-";
      if (!j["last"].is_null()) {
        last = paint(d, str(j["last"], "state")) + " " + relative(str(j["last"], "ended", ""));
      }
      if (j["running"].get<int>() > 0) {
        last = paint(d, j.value("stalled", 0) > 0 ? "stalled" : "running");
      }
      const bool paused = j["paused"].get<bool>();
      t.add({str(j, "name"), str(j, "schedule"), str(j, "zone"),
             all_paused || paused ? "paused" : relative(str(j, "next", "")), last,
             paused       ? "yes"
             : all_paused ? "all"
                          : "no",
             str(j, "command", "")});
    }
    t.shrink(6, 12);  // COMMAND first
    t.shrink(0, 16);  // NAME
    t.shrink(1, 12);  // SCHEDULE
    t.shrink(2, 8);   // ZONE
    t.print(std::cout, d.width);
    if (jobs.empty() && !pattern_.empty()) std::cout << "(no job matches " << pattern_ << ")\n";
    const json skipped = r.value("skipped", json::array());
    if (!skipped.empty()) {
      std::cout << "skipped as cron would (fix and save; skedd reads crontabs again):\n";
      for (const json& line : skipped) {
        const std::string text = "  " + line.get<std::string>();
        std::cout << (d.width > 0 ? ellipsize(text, d.width) : text) << '\n';
      }
    }
    return kExitOk;
  }

 private:
  void sort(json& jobs) const {
    if (sort_ == "next") {
      // Soonest first; jobs with no next fire last.
      std::stable_sort(jobs.begin(), jobs.end(), [](const json& a, const json& b) {
        const std::string x = str(a, "next", "~"), y = str(b, "next", "~");
        return x < y;
      });
    } else if (sort_ == "last") {
      // Latest end first; jobs that never ran last.
      std::stable_sort(jobs.begin(), jobs.end(), [](const json& a, const json& b) {
        const std::string x = a["last"].is_null() ? "" : str(a["last"], "ended", "");
        const std::string y = b["last"].is_null() ? "" : str(b["last"], "ended", "");
        return x > y;
      });
    }
  }

  std::string pattern_;
  std::string sort_ = "name";
  bool wide_ = false;
};

class ShowCommand final : public SocketCommand {
 public:
  explicit ShowCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("show",
                      "one job: definition and settings, state, next 5 fires, last runs, "
                      "not-run fires",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("job", job_, "job name")->required();
    sub.add_flag("--utc", utc_, "times in UTC (RFC 3339), not the job's zone");
    sub.add_flag("-w,--wide", wide_, "cut no column to the terminal's width");
    declare_json(sub);
  }
  int run() override {
    json r;
    if (const int rc = ask(c_, control::ShowRequest{job_}, &r); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << r.dump() << '\n';
      return kExitOk;
    }
    Paged paged;
    Display d = display(wide_, utc_);
    const json& j = r["job"];
    d.zone = zone_named(str(j, "zone"));  // times in the job's zone, as the header says
    const auto line = [](const std::string& key, const std::string& value) {
      std::cout << key << ": " << std::string(key.size() < 18 ? 18 - key.size() : 0, ' ') << value
                << '\n';
    };
    for (const char* key : {"name", "schedule", "zone", "command", "user", "overlap", "priority",
                            "pool", "retries", "defined_at"}) {
      line(key, str(j, key));
    }
    const json settings = j.value("settings", json::object());  // items() of a temporary dangle
    for (const auto& [key, value] : settings.items()) {
      if (value.is_null()) continue;
      if (key == "env") {
        for (const auto& [name, text] : value.items()) line("env " + name, text.get<std::string>());
        continue;
      }
      line(key, value.is_string() ? value.get<std::string>() : value.dump());
    }
    line("paused", std::string(r["paused"].get<bool>() ? "yes" : "no") +
                       (r["paused_all"].get<bool>() ? " (all jobs paused)" : ""));
    line("running", r["running"].dump() + (r.value("stalled", 0) > 0
                                               ? " (" + std::to_string(r.value("stalled", 0)) +
                                                     " stalled: silent for its stall_timeout)"
                                               : std::string()));
    std::cout << "times in " << (utc_ ? std::string("UTC") : d.zone.name()) << "\n";
    std::cout << "next fires:\n";
    for (const json& t : r["next"]) std::cout << "  " << when(d, t.get<std::string>()) << '\n';
    std::cout << "last runs:\n";
    print_runs(std::cout, r["runs"], d, wide_);
    if (!r["not_run"].empty()) {
      std::cout << "not run:\n";
      Table t({"STATE", "REASON", "FIRST", "LAST", "COUNT"});
      for (const json& n : r["not_run"]) {
        t.add({str(n, "state"), str(n, "reason"), when(d, str(n, "first")), when(d, str(n, "last")),
               str(n, "count")});
      }
      t.print(std::cout, d.width);
    }
    return kExitOk;
  }

 private:
  std::string job_;
  bool utc_ = false;
  bool wide_ = false;
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

// A --since value: RFC 3339, a civil time in the local zone, a duration ago ("1h"), "today"
// or "yesterday" (from local midnight).
Result<Instant> since_of(const std::string& text) {
  const Instant now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  if (text == "today" || text == "yesterday") {
    const TimeZone local = TimeZone::local();
    const auto seconds =
        std::chrono::time_point_cast<cctz::seconds>(std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                now.time_since_epoch())));
    cctz::civil_day day = cctz::civil_day(cctz::convert(seconds, local.cctz_zone()));
    if (text == "yesterday") day -= 1;
    const auto midnight = cctz::convert(cctz::civil_second(day), local.cctz_zone());
    return Instant(std::chrono::duration_cast<Duration>(midnight.time_since_epoch()));
  }
  if (auto ago = parse_duration(text)) return now - ago.value();
  return parse_timestamp(text, TimeZone::local());
}

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
    sub.add_option("--since", since_,
                   "only runs started since: 1h (ago), today, yesterday, or a time (RFC 3339, or "
                   "local: 2026-12-06T08:00:00)");
    sub.add_option("-n,--limit", r_.limit, "at most this many")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    sub.add_flag("-w,--wide", wide_,
                 "cut no column; the scheduled instant, attempt, end and reason as columns");
    sub.add_flag("--utc", utc_, "times in UTC (RFC 3339)");
    sub.add_flag("--tree", tree_,
                 "workflow runs (of workflow JOB, or all) as trees of their steps, with their "
                 "times and usual durations");
    declare_json(sub);
  }
  int run() override {
    if (tree_) return print_workflow_trees(c_, job_, 0, std::min<std::size_t>(r_.limit, 20));
    if (!job_.empty()) r_.job = job_;
    if (!state_.empty()) {
      r_.state = run_state_from_string(state_);
      if (!r_.state) {
        Suggestion nearest(state_);
        for (const char* name :
             {"scheduled", "running", "paused", "succeeded", "failed", "timed_out", "killed",
              "skipped", "missed", "interrupted", "cancelled", "stalled"}) {
          nearest.offer(name);
        }
        std::cerr << "skedctl: --state: unknown run state \"" << state_ << "\"" << nearest.hint()
                  << '\n';
        return kExitUsage;
      }
    }
    if (!since_.empty()) {
      auto t = since_of(since_);
      if (!t) {
        std::cerr << "skedctl: --since: \"" << since_
                  << "\" is not a time (RFC 3339, or local as 2026-12-06T08:00:00), a duration "
                     "ago (1h), today or yesterday\n";
        return kExitUsage;
      }
      r_.since = t.value();
    }
    json r;
    if (const int rc = ask(c_, r_, &r); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << r.dump() << '\n';
    } else {
      Paged paged;
      print_runs(std::cout, r["runs"], display(wide_, utc_), wide_);
    }
    return kExitOk;
  }

 private:
  control::RunsRequest r_;
  std::string job_, state_, since_;
  bool wide_ = false;
  bool utc_ = false;
  bool tree_ = false;
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
