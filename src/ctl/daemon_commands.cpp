// skedctl's subcommands that talk to skedd over its control socket, and the two that a run
// uses to talk to skedd over its control channel (checkpoint, progress).
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ctl/client.h"
#include "ctl/command.h"
#include "ctl/table.h"
#include "daemon/builtin_handlers.h"
#include "skedd/config/config.h"
#include "skedd/time/timestamp.h"

namespace skedd::ctl {
namespace {

using nlohmann::json;

struct Common {
  std::shared_ptr<const std::string> socket;
  bool json = false;
};

int exit_code_of(const json& error) {
  const std::string code = error.value("code", "");
  if (code == control::kJobNotFound || code == control::kRunNotFound) return kExitNotFound;
  if (code == control::kPermissionDenied) return kExitDenied;
  return kExitFailure;
}

// Sends one request. On success `*reply` is the reply; otherwise the error is printed and
// the exit code returned.
int ask(const Common& c, const control::Request& request, json* reply) {
  auto client = Client::connect(find_socket(*c.socket));
  if (!client) {
    std::cerr << "skedctl: " << client.error().message << '\n';
    return kExitFailure;
  }
  auto r = client->call(request);
  if (!r) {
    std::cerr << "skedctl: " << r.error().message << '\n';
    return kExitFailure;
  }
  if (!r->value("ok", false)) {
    const json error = r->value("error", json::object());
    if (c.json) {
      std::cout << r->dump() << '\n';
    } else {
      std::cerr << "skedctl: " << error.value("message", "request failed") << " ("
                << error.value("code", "?") << ")\n";
    }
    return exit_code_of(error);
  }
  *reply = std::move(r.value());
  return kExitOk;
}

// For subcommands whose human output is one line: the reply, or `text`.
int simple(const Common& c, const control::Request& request,
           const std::function<std::string(const json&)>& text) {
  json reply;
  if (const int rc = ask(c, request, &reply); rc != kExitOk) return rc;
  std::cout << (c.json ? reply.dump() : text(reply)) << '\n';
  return kExitOk;
}

std::string str(const json& j, const char* key, const char* none = "-") {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return none;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// The exit code `wait` reports for a finished run: its own, 128 + signal, 1 otherwise.
int run_exit_code(const json& run) {
  if (run.contains("exit_code")) return run["exit_code"].get<int>();
  if (run.contains("signal")) return 128 + run["signal"].get<int>();
  return run["state"] == "succeeded" ? 0 : kExitFailure;
}

int wait_for_run(const Common& c, std::uint64_t id) {
  auto client = Client::connect(find_socket(*c.socket));
  if (!client) {
    std::cerr << "skedctl: " << client.error().message << '\n';
    return kExitSelf;
  }
  const bool tty = ::isatty(STDERR_FILENO) && !c.json;
  double shown = -1;
  for (;;) {
    auto r = client->call(control::RunRequest{RunId{id}});
    if (!r) {
      std::cerr << "skedctl: " << r.error().message << '\n';
      return kExitSelf;
    }
    if (!r->value("ok", false)) {
      if (!r->contains("error")) return kExitSelf;
      // A queued trigger has no run record yet: wait for it.
      if ((*r)["error"].value("code", "") != control::kRunNotFound) {
        std::cerr << "skedctl: " << (*r)["error"].value("message", "") << '\n';
        return kExitSelf;
      }
    } else {
      const json& run = (*r)["run"];
      if (tty && run.contains("progress") && run["progress"].get<double>() != shown) {
        shown = run["progress"].get<double>();
        std::cerr << '\r' << progress_bar(shown, 30) << ' ' << str(run, "progress_message", "")
                  << "\x1b[K" << std::flush;
      }
      if (!run["ended"].is_null()) {
        if (tty && shown >= 0) std::cerr << '\n';
        if (c.json) {
          std::cout << run.dump() << '\n';
        } else {
          std::cout << "run " << id << " " << str(run, "state");
          if (run.contains("exit_code")) std::cout << ", exit code " << run["exit_code"];
          if (run.contains("signal")) std::cout << ", signal " << run["signal"];
          std::cout << '\n';
        }
        return run_exit_code(run);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Writes one line to the run's control channel (SKEDD_CONTROL_FD), for use inside a job.
int write_control(const std::string& line) {
  const char* fd_text = std::getenv("SKEDD_CONTROL_FD");
  if (fd_text == nullptr || *fd_text == '\0') {
    std::cerr << "skedctl: SKEDD_CONTROL_FD is not set: run this inside a job run by skedd\n";
    return kExitFailure;
  }
  const int fd = std::atoi(fd_text);
  const std::string out = line + "\n";
  // The channel is non-blocking (a run must never hang on it while skedd is stopped): when
  // it is full, skedd is busy or not reading; tried again for up to a second.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (;;) {
    const ssize_t n = ::write(fd, out.data(), out.size());
    if (n == static_cast<ssize_t>(out.size())) return kExitOk;
    if (n < 0 && errno == EAGAIN && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (n < 0) {
      std::perror("skedctl: writing to SKEDD_CONTROL_FD");
    } else {
      std::cerr << "skedctl: writing to SKEDD_CONTROL_FD: a short write\n";
    }
    return kExitFailure;
  }
}

Command status_command(std::shared_ptr<Common> c) {
  return {"status", "the daemon's version, uptime, runs, pauses and store health",
          [c](CLI::App& sub) -> std::function<int()> {
            sub.add_flag("--json", c->json, "print JSON");
            return [c] {
              json r;
              if (const int rc = ask(*c, control::StatusRequest{}, &r); rc != kExitOk) return rc;
              if (c->json) {
                std::cout << r.dump() << '\n';
                return kExitOk;
              }
              std::cout << "skedd " << str(r, "version") << ", pid " << r["pid"] << ", up since "
                        << str(r, "started") << " (" << relative(str(r, "started")) << ")\n"
                        << "jobs:    " << r["jobs"] << " (" << r["paused_jobs"] << " paused)\n"
                        << "runs:    " << r["running"] << " running of max "
                        << r["max_concurrent_runs"] << ", " << r["queued"] << " queued\n"
                        << "pause:   " << (r["paused_all"].get<bool>() ? "ALL JOBS PAUSED" : "off")
                        << '\n'
                        << "store:   "
                        << (r["store"]["ok"].get<bool>()
                                ? std::string("ok")
                                : "FAILING: " + str(r["store"], "error") + " (" +
                                      r["store"]["unwritten"].dump() + " writes waiting)")
                        << '\n';
              return kExitOk;
            };
          }};
}

Command list_command(std::shared_ptr<Common> c) {
  return {"list", "the jobs: schedule, zone, next fire, last result, paused",
          [c](CLI::App& sub) -> std::function<int()> {
            sub.add_flag("--json", c->json, "print JSON");
            return [c] {
              json r;
              if (const int rc = ask(*c, control::ListRequest{}, &r); rc != kExitOk) return rc;
              if (c->json) {
                std::cout << r.dump() << '\n';
                return kExitOk;
              }
              Table t({"NAME", "SCHEDULE", "ZONE", "NEXT", "LAST", "PAUSED"});
              for (const json& j : r["jobs"]) {
                std::string last = "-";
                if (!j["last"].is_null()) {
                  last = str(j["last"], "state") + " " + relative(str(j["last"], "ended", ""));
                }
                if (j["running"].get<int>() > 0) last = "running";
                t.add({str(j, "name"), str(j, "schedule"), str(j, "zone"),
                       relative(str(j, "next", "")), last, j["paused"].get<bool>() ? "yes" : "no"});
              }
              t.print(std::cout);
              if (r["paused_all"].get<bool>()) std::cout << "(all jobs are paused: pause --all)\n";
              return kExitOk;
            };
          }};
}

Command show_command(std::shared_ptr<Common> c) {
  return {"show", "one job: definition, state, next 5 fires, last runs, not-run fires",
          [c](CLI::App& sub) -> std::function<int()> {
            auto job = std::make_shared<std::string>();
            sub.add_option("job", *job, "job name")->required();
            sub.add_flag("--json", c->json, "print JSON");
            return [c, job] {
              json r;
              if (const int rc = ask(*c, control::ShowRequest{*job}, &r); rc != kExitOk) return rc;
              if (c->json) {
                std::cout << r.dump() << '\n';
                return kExitOk;
              }
              const json& d = r["job"];
              for (const char* key : {"name", "schedule", "zone", "command", "user", "overlap",
                                      "priority", "pool", "retries", "defined_at"}) {
                std::cout << key << ": " << std::string(12 - std::strlen(key), ' ') << str(d, key)
                          << '\n';
              }
              std::cout << "paused:       " << (r["paused"].get<bool>() ? "yes" : "no")
                        << (r["paused_all"].get<bool>() ? " (all jobs paused)" : "") << '\n'
                        << "running:      " << r["running"] << "\nnext fires:\n";
              for (const json& t : r["next"]) {
                std::cout << "  " << t.get<std::string>() << "  (" << relative(t) << ")\n";
              }
              std::cout << "last runs:\n";
              print_runs(std::cout, r["runs"]);
              if (!r["not_run"].empty()) {
                std::cout << "not run:\n";
                Table t({"STATE", "REASON", "FIRST", "LAST", "COUNT"});
                for (const json& n : r["not_run"]) {
                  t.add({str(n, "state"), str(n, "reason"), str(n, "first"), str(n, "last"),
                         str(n, "count")});
                }
                t.print(std::cout);
              }
              return kExitOk;
            };
          }};
}

Command pause_command(std::shared_ptr<Common> c, bool pause) {
  return {pause ? "pause" : "resume",
          pause ? "pause a job's fires, every job's (--all), or a running run (--run)"
                : "resume a paused job, lift the global pause (--all), or continue a run (--run)",
          [c, pause](CLI::App& sub) -> std::function<int()> {
            auto r = std::make_shared<control::PauseRequest>();
            r->pause = pause;
            auto* job = sub.add_option("job", r->job, "job name");
            auto* all = sub.add_flag("--all", r->all,
                                     "the global flag (root only); per-job flags stay as they are");
            auto run = std::make_shared<std::uint64_t>(0);
            auto* run_option = sub.add_option(
                "--run", *run,
                "a running run: its processes stop (cgroup freeze or SIGSTOP) and its "
                "timeouts stand still");
            job->excludes(all);
            run_option->excludes(all);
            run_option->excludes(job);
            sub.add_flag("--json", c->json, "print JSON");
            return [c, r, run, pause] {
              if (*run != 0) r->run = RunId{*run};
              if (r->job.empty() && !r->all && !r->run) {
                std::cerr << "skedctl: give a job name, --all or --run RUN\n";
                return kExitUsage;
              }
              return simple(*c, *r, [&](const json&) {
                const std::string what = r->all   ? std::string("all jobs")
                                         : r->run ? "run " + std::to_string(*run)
                                                  : "job " + r->job;
                return what + (pause ? " paused" : " resumed");
              });
            };
          }};
}

Command trigger_command(std::shared_ptr<Common> c) {
  return {"trigger", "start a job now, under its overlap policy unless --force",
          [c](CLI::App& sub) -> std::function<int()> {
            auto r = std::make_shared<control::TriggerRequest>();
            auto wait = std::make_shared<bool>(false);
            sub.add_option("job", r->job, "job name")->required();
            sub.add_flag("--force", r->force, "start it even while it runs (overlap = allow)");
            sub.add_flag("--wait", *wait,
                         "wait for the run to end and exit with its exit code (128+n for a "
                         "signal)");
            sub.add_flag("--json", c->json, "print JSON");
            return [c, r, wait] {
              json reply;
              if (const int rc = ask(*c, *r, &reply); rc != kExitOk) return rc;
              const std::uint64_t run = reply["run"].get<std::uint64_t>();
              if (!*wait) {
                std::cout << (c->json ? reply.dump()
                                      : "triggered " + r->job + ": run " + std::to_string(run) +
                                            (reply["queued"].get<bool>() ? " (queued)" : ""))
                          << '\n';
                return kExitOk;
              }
              if (!c->json) std::cerr << "triggered " << r->job << ": run " << run << '\n';
              return wait_for_run(*c, run);
            };
          }};
}

Command wait_command(std::shared_ptr<Common> c) {
  return {"wait", "wait for a run to end (a progress bar on a terminal); exit with its code",
          [c](CLI::App& sub) -> std::function<int()> {
            auto run = std::make_shared<std::uint64_t>(0);
            sub.add_option("run", *run, "run id")->required();
            sub.add_flag("--json", c->json, "print the run as JSON");
            return [c, run] { return wait_for_run(*c, *run); };
          }};
}

Command cancel_command(std::shared_ptr<Common> c) {
  return {"cancel", "stop a run: its soft signal, then SIGKILL after kill_grace",
          [c](CLI::App& sub) -> std::function<int()> {
            auto run = std::make_shared<std::uint64_t>(0);
            sub.add_option("run", *run, "run id")->required();
            sub.add_flag("--json", c->json, "print JSON");
            return [c, run] {
              return simple(*c, control::CancelRequest{RunId{*run}},
                            [&](const json&) { return "cancelling run " + std::to_string(*run); });
            };
          }};
}

Command runs_command(std::shared_ptr<Common> c) {
  return {"runs", "the run history, newest first (alias: history)",
          [c](CLI::App& sub) -> std::function<int()> {
            auto o = std::make_shared<control::RunsRequest>();
            auto job = std::make_shared<std::string>();
            auto state = std::make_shared<std::string>();
            auto since = std::make_shared<std::string>();
            sub.alias("history");
            sub.add_option("job", *job, "only this job's runs");
            sub.add_option("--state", *state,
                           "only runs in this state (running, succeeded, failed, timed_out, ...)");
            sub.add_option("--since", *since, "only runs started since (RFC 3339)");
            sub.add_option("-n,--limit", o->limit, "at most this many")
                ->check(CLI::Range(1, 100000))
                ->capture_default_str();
            sub.add_flag("--json", c->json, "print JSON");
            return [c, o, job, state, since]() -> int {
              if (!job->empty()) o->job = *job;
              if (!state->empty()) {
                o->state = run_state_from_string(*state);
                if (!o->state) {
                  std::cerr << "skedctl: --state: unknown run state \"" << *state << "\"\n";
                  return kExitUsage;
                }
              }
              if (!since->empty()) {
                auto t = parse_rfc3339(*since);
                if (!t) {
                  std::cerr << "skedctl: --since: " << t.error().message << '\n';
                  return kExitUsage;
                }
                o->since = t.value();
              }
              json r;
              if (const int rc = ask(*c, *o, &r); rc != kExitOk) return rc;
              if (c->json) {
                std::cout << r.dump() << '\n';
              } else {
                print_runs(std::cout, r["runs"]);
              }
              return kExitOk;
            };
          }};
}

Command logs_command(std::shared_ptr<Common> c) {
  return {"logs", "a run's output (stdout and stderr); --follow until it ends",
          [c](CLI::App& sub) -> std::function<int()> {
            auto run = std::make_shared<std::uint64_t>(0);
            auto follow = std::make_shared<bool>(false);
            sub.add_option("run", *run, "run id")->required();
            sub.add_flag("-f,--follow", *follow, "keep printing output until the run ends");
            return [c, run, follow]() -> int {
              auto client = Client::connect(find_socket(*c->socket));
              if (!client) {
                std::cerr << "skedctl: " << client.error().message << '\n';
                return kExitFailure;
              }
              std::uint64_t offset = 0;
              for (;;) {
                auto r = client->call(control::LogsRequest{RunId{*run}, offset, 256 * 1024});
                if (!r) {
                  std::cerr << "skedctl: " << r.error().message << '\n';
                  return kExitFailure;
                }
                if (!r->value("ok", false)) {
                  std::cerr << "skedctl: " << (*r)["error"].value("message", "") << '\n';
                  return exit_code_of((*r)["error"]);
                }
                const std::string data = (*r)["data"].get<std::string>();
                std::cout << data << std::flush;
                offset = (*r)["offset"].get<std::uint64_t>();
                const bool more = offset < (*r)["size"].get<std::uint64_t>();
                if (more) continue;
                if (!*follow || (*r)["ended"].get<bool>()) return kExitOk;
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
              }
            };
          }};
}

Command reload_command(std::shared_ptr<Common> c) {
  return {"reload", "re-read the configuration and apply it as a diff (root only)",
          [c](CLI::App& sub) -> std::function<int()> {
            sub.add_flag("--json", c->json, "print JSON");
            return [c] {
              return simple(*c, control::ReloadRequest{},
                            [](const json& r) { return str(r, "summary"); });
            };
          }};
}

Command set_command(std::shared_ptr<Common> c) {
  return {
      "set", "change a daemon setting until the next reload: max-concurrent-runs N (root)",
      [c](CLI::App& sub) -> std::function<int()> {
        auto name = std::make_shared<std::string>();
        auto value = std::make_shared<int>(0);
        sub.add_option("setting", *name, "max-concurrent-runs")
            ->required()
            ->check(CLI::IsMember({"max-concurrent-runs"}));
        sub.add_option("value", *value, "at least 1")->required()->check(CLI::Range(1, 1000000));
        sub.add_flag("--json", c->json, "print JSON");
        // `name` is written by CLI11 while parsing: it must live as long as the command.
        return [c, name, value] {
          return simple(*c, control::SetRequest{*value}, [&](const json&) {
            return "max-concurrent-runs = " + std::to_string(*value);
          });
        };
      }};
}

// What `add` and `update` read: a TOML file, or flags that make one.
struct JobFlags {
  std::string file;
  std::string name;
  std::string cron, every, at, command, user, group, timezone, overlap, soft_timeout, hard_timeout,
      pool;
  std::optional<int> retries, priority;
};

std::string toml_string(const std::string& s) {
  return json(s).dump();  // a JSON string is a TOML basic string
}

// The definition to send, or an error message.
Result<std::string> definition_of(const JobFlags& f) {
  if (!f.file.empty()) {
    if (!f.name.empty() || !f.command.empty()) {
      return Error::invalid_argument("give either --file or a name and flags, not both");
    }
    std::ifstream in(f.file);
    if (!in) return Error::invalid_argument("cannot read " + f.file);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  if (f.name.empty() || f.command.empty()) {
    return Error::invalid_argument("give a job name and --command (or --file)");
  }
  if (static_cast<int>(!f.cron.empty()) + static_cast<int>(!f.every.empty()) +
          static_cast<int>(!f.at.empty()) !=
      1) {
    return Error::invalid_argument("give one of --cron, --every and --at");
  }
  std::string t = "[job." + toml_string(f.name) + "]\n";
  auto line = [&t](const char* key, const std::string& value) {
    if (!value.empty()) t += std::string(key) + " = " + toml_string(value) + "\n";
  };
  line("cron", f.cron);
  line("every", f.every);
  line("at", f.at);
  line("command", f.command);
  line("user", f.user);
  line("group", f.group);
  line("timezone", f.timezone);
  line("overlap", f.overlap);
  line("soft_timeout", f.soft_timeout);
  line("hard_timeout", f.hard_timeout);
  line("pool", f.pool);
  if (f.retries) t += "retries = " + std::to_string(*f.retries) + "\n";
  if (f.priority) t += "priority = " + std::to_string(*f.priority) + "\n";
  return t;
}

Command add_command(std::shared_ptr<Common> c, bool replace) {
  return {replace ? "update" : "add",
          replace ? "replace a job added over the socket (a new version of its definition)"
                  : "add a job over the socket (kept across restarts): flags or a TOML file",
          [c, replace](CLI::App& sub) -> std::function<int()> {
            auto f = std::make_shared<JobFlags>();
            sub.add_option("name", f->name, "job name");
            sub.add_option("--file", f->file, "a TOML file with one [job.NAME] table");
            sub.add_option("--cron", f->cron, "cron expression or macro");
            sub.add_option("--every", f->every, "fixed interval, such as 90s");
            sub.add_option("--at", f->at, "one-shot time, RFC 3339");
            sub.add_option("--command", f->command, "command line, run by /bin/sh -c");
            sub.add_option("--user", f->user, "run as (root only, unless your own name)");
            sub.add_option("--group", f->group, "run with this group (one of yours)");
            sub.add_option("--timezone", f->timezone, "IANA zone of --cron");
            sub.add_option("--overlap", f->overlap, "skip, queue, replace or allow");
            sub.add_option("--soft-timeout", f->soft_timeout, "duration");
            sub.add_option("--hard-timeout", f->hard_timeout, "duration");
            sub.add_option("--retries", f->retries, "retries of a failed run");
            sub.add_option("--priority", f->priority, "priority in the ready queue");
            sub.add_option("--pool", f->pool, "pool the runs count against");
            sub.add_flag("--json", c->json, "print JSON");
            return [c, f, replace]() -> int {
              auto definition = definition_of(*f);
              if (!definition) {
                std::cerr << "skedctl: " << definition.error().message << '\n';
                return kExitUsage;
              }
              return simple(*c, control::AddRequest{definition.value(), replace},
                            [&](const json& r) {
                              return std::string(replace ? "updated" : "added") + " job " +
                                     str(r, "job") + " (version " + str(r, "version") + ")";
                            });
            };
          }};
}

Command remove_command(std::shared_ptr<Common> c) {
  return {"remove", "remove a job added over the socket (its running runs finish)",
          [c](CLI::App& sub) -> std::function<int()> {
            auto name = std::make_shared<std::string>();
            sub.add_option("name", *name, "job name")->required();
            sub.add_flag("--json", c->json, "print JSON");
            return [c, name] {
              return simple(*c, control::RemoveRequest{*name},
                            [&](const json&) { return "removed job " + *name; });
            };
          }};
}

Command drain_command(std::shared_ptr<Common> c) {
  return {"drain", "stop starting runs (global pause) and wait for the running ones (root)",
          [c](CLI::App& sub) -> std::function<int()> {
            auto no_wait = std::make_shared<bool>(false);
            sub.add_flag("--no-wait", *no_wait, "return at once");
            sub.add_flag("--json", c->json, "print JSON");
            return [c, no_wait]() -> int {
              json r;
              if (const int rc = ask(*c, control::DrainRequest{}, &r); rc != kExitOk) return rc;
              int running = r["running"].get<int>();
              int shown = -1;
              while (!*no_wait && running > 0) {
                if (!c->json && running != shown) {
                  std::cerr << "draining: " << running << " run(s) still running\n";
                  shown = running;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
                if (const int rc = ask(*c, control::StatusRequest{}, &r); rc != kExitOk) {
                  return rc;
                }
                running = r["running"].get<int>();
              }
              std::cout << (c->json ? json{{"draining", true}, {"running", running}}.dump()
                            : running == 0
                                ? std::string("drained: no run is running; "
                                              "`skedctl resume --all` starts runs again")
                                : "draining: " + std::to_string(running) + " run(s) still running")
                        << '\n';
              return kExitOk;
            };
          }};
}

Command validate_command() {
  return {"validate", "check a configuration file (skedd.toml, or a jobs file); no daemon",
          [](CLI::App& sub) -> std::function<int()> {
            auto file = std::make_shared<std::string>();
            sub.add_option("file", *file, "the file")->required();
            return [file]() -> int {
              auto result = validate_config_file(*file, builtin_handler_names());
              if (!result) {
                std::cerr << result.error().message << '\n';
                return kExitFailure;
              }
              std::cout << result.value() << '\n';
              return kExitOk;
            };
          }};
}

Command checkpoint_command() {
  return {"checkpoint", "inside a job: record a checkpoint (durable before skedd reads on)",
          [](CLI::App& sub) -> std::function<int()> {
            auto text = std::make_shared<std::string>();
            sub.add_option("text", *text, "the checkpoint, one line")->required();
            return [text]() -> int {
              if (text->find('\n') != std::string::npos) {
                std::cerr << "skedctl: a checkpoint is one line\n";
                return kExitUsage;
              }
              return write_control("checkpoint " + *text);
            };
          }};
}

Command progress_command() {
  return {"progress", "inside a job: report progress, a percent and an optional message",
          [](CLI::App& sub) -> std::function<int()> {
            auto pct = std::make_shared<double>(0);
            auto words = std::make_shared<std::vector<std::string>>();
            sub.add_option("percent", *pct, "0 to 100")->required()->check(CLI::Range(0.0, 100.0));
            sub.add_option("message", *words, "what it is doing");
            return [pct, words] {
              std::string line = "progress " + format_number(*pct);
              for (const std::string& w : *words) line += " " + w;
              return write_control(line);
            };
          }};
}

}  // namespace

std::vector<Command> daemon_commands(std::shared_ptr<const std::string> socket) {
  auto common = [&socket] {
    auto c = std::make_shared<Common>();
    c->socket = socket;
    return c;
  };
  return {status_command(common()),
          list_command(common()),
          show_command(common()),
          pause_command(common(), true),
          pause_command(common(), false),
          trigger_command(common()),
          cancel_command(common()),
          runs_command(common()),
          logs_command(common()),
          wait_command(common()),
          reload_command(common()),
          set_command(common()),
          add_command(common(), false),
          add_command(common(), true),
          remove_command(common()),
          drain_command(common()),
          validate_command(),
          checkpoint_command(),
          progress_command()};
}

}  // namespace skedd::ctl
