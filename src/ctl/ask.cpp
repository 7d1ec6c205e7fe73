#include "ctl/ask.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "ctl/client.h"
#include "ctl/table.h"

namespace skedd::ctl {

using nlohmann::json;

int exit_code_of(const json& error) {
  const std::string code = error.value("code", "");
  if (code == control::kJobNotFound || code == control::kRunNotFound) return kExitNotFound;
  if (code == control::kPermissionDenied) return kExitDenied;
  return kExitFailure;
}

void print_error(const Common& c, const std::string& code, const std::string& message) {
  if (c.json) {
    std::cout << json{{"ok", false}, {"error", {{"code", code}, {"message", message}}}}.dump()
              << '\n';
  } else {
    std::cerr << "skedctl: " << message << " (" << code << ")\n";
  }
}

int ask_quietly(const Common& c, const control::Request& request, json* reply, json* error,
                int unreachable) {
  auto client = Client::connect(find_socket(*c.socket));
  if (!client) {
    *error = {{"code", kUnreachable}, {"message", client.error().message}};
    return unreachable;
  }
  auto r = client->call(request);
  if (!r) {
    *error = {{"code", kUnreachable}, {"message", r.error().message}};
    return unreachable;
  }
  if (!r->value("ok", false)) {
    *error = r->value("error", json::object());
    return exit_code_of(*error);
  }
  *reply = std::move(r.value());
  return kExitOk;
}

int ask(const Common& c, const control::Request& request, json* reply, int unreachable) {
  json error;
  const int rc = ask_quietly(c, request, reply, &error, unreachable);
  if (rc != kExitOk) {
    print_error(c, error.value("code", "?"), error.value("message", "request failed"));
  }
  return rc;
}

int simple(const Common& c, const control::Request& request,
           const std::function<std::string(const json&)>& text) {
  json reply;
  if (const int rc = ask(c, request, &reply); rc != kExitOk) return rc;
  std::cout << (c.json ? reply.dump() : text(reply)) << '\n';
  return kExitOk;
}

int resolve_run(const Common& c, const std::string& target, std::optional<RunState> state,
                std::uint64_t* id, int unreachable) {
  const bool digits = !target.empty() && target.size() <= 19 &&
                      target.find_first_not_of("0123456789") == std::string::npos;
  if (digits) {
    *id = std::stoull(target);
    return kExitOk;
  }
  std::string job = target.starts_with("job:") ? target.substr(4) : target;
  std::size_t back = 0;
  if (const auto tilde = job.rfind('~'); tilde != std::string::npos) {
    const std::string n = job.substr(tilde + 1);
    if (n.empty() || n.size() > 4 || n.find_first_not_of("0123456789") != std::string::npos) {
      print_error(c, control::kInvalidArgument,
                  "\"" + target + "\": after ~ give how many runs back, 0 to 9999");
      return kExitUsage;
    }
    back = std::stoul(n);
    job.resize(tilde);
  }
  if (job.empty()) {
    print_error(c, control::kInvalidArgument, "\"" + target + "\" names no job or run");
    return kExitUsage;
  }
  control::RunsRequest request;
  request.job = job;
  request.state = state;
  request.limit = back + 1;
  json reply;
  if (const int rc = ask(c, request, &reply, unreachable); rc != kExitOk) return rc;
  const json& runs = reply["runs"];
  if (runs.size() <= back) {
    const std::string which = state ? std::string(" ") + to_string(*state) : std::string();
    print_error(c, control::kRunNotFound,
                runs.empty() ? "job " + job + " has no" + which + " run"
                             : "job " + job + " has " + std::to_string(runs.size()) + which +
                                   " run(s): " + target + " is not one of them");
    return kExitNotFound;
  }
  *id = runs[back]["run"].get<std::uint64_t>();
  return kExitOk;
}

std::string str(const json& j, const char* key, const char* none) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return none;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

int run_exit_code(const json& run) {
  const std::string state = run.value("state", "");
  if (state == "succeeded") return 0;
  // Ended by skedd for its time, whatever the process then exited with (timeout(1)).
  if (state == "timed_out" || state == "stalled") return kExitTimedOut;
  if (run.value("failed_to_start", false)) return kExitCannotStart;
  if (state == "cancelled" || state == "killed") {
    if (run.contains("signal")) return 128 + run["signal"].get<int>();
    return 128 + (state == "killed" ? SIGKILL : SIGTERM);  // before it had a process
  }
  if (run.contains("signal")) return 128 + run["signal"].get<int>();
  if (run.contains("exit_code") && run["exit_code"].get<int>() != 0) {
    return run["exit_code"].get<int>();
  }
  return kExitFailure;  // failed with no exit status of its own (unknown exit, interrupted)
}

namespace {

// A run's outputs under its result line, a key a line; a long value cut (--json has all).
void print_outputs(const json& run) {
  constexpr std::size_t kShown = 200;
  const auto outputs = run.find("outputs");
  if (outputs == run.end() || !outputs->is_object()) return;
  for (const auto& [key, value] : outputs->items()) {
    std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    if (text.size() > kShown) text = text.substr(0, kShown) + "...";
    std::cout << "  output " << key << " = " << text << '\n';
  }
}

}  // namespace

int wait_for_run(const Common& c, std::uint64_t id) {
  auto client = Client::connect(find_socket(*c.socket));
  if (!client) {
    print_error(c, kUnreachable, client.error().message);
    return kExitSelf;
  }
  const bool tty = ::isatty(STDERR_FILENO) && !c.json;
  double shown = -1;
  auto last_status = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  for (;;) {
    auto r = client->call(control::RunRequest{RunId{id}});
    if (!r) {
      print_error(c, kUnreachable, r.error().message);
      return kExitSelf;
    }
    if (!r->value("ok", false)) {
      // skedd answers a run it issued and has not started yet (a queued trigger, a retry) as
      // scheduled: not found is a run it never issued.
      const json error = r->value("error", json::object());
      print_error(c, error.value("code", "?"), error.value("message", "request failed"));
      const int code = exit_code_of(error);
      return code == kExitFailure ? kExitSelf : code;
    } else {
      const json& run = (*r)["run"];
      if (tty && run.contains("progress") && run["progress"].get<double>() != shown) {
        shown = run["progress"].get<double>();
        std::cerr << '\r' << progress_bar(shown, 30) << ' ' << str(run, "progress_message", "")
                  << "\x1b[K" << std::flush;
      } else if (tty && !run.contains("progress") && run["ended"].is_null()) {
        // No progress lines: its state and how long it has run (or waited), once a second.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_status >= std::chrono::seconds(1)) {
          last_status = now;
          const std::string state = str(run, "state");
          std::cerr << "\rrun " << id << " of " << str(run, "job") << ": " << state
                    << (state == "scheduled" ? ", waiting to start"
                                             : ", started " + relative(str(run, "started", "")))
                    << "\x1b[K" << std::flush;
          shown = 0;  // a line to end
        }
      }
      if (!run["ended"].is_null()) {
        if (tty && shown >= 0) std::cerr << '\n';
        if (c.json) {
          std::cout << run.dump() << '\n';
        } else {
          std::cout << "run " << id << " of " << str(run, "job") << " " << str(run, "state");
          if (run.contains("exit_code")) std::cout << ", exit code " << run["exit_code"];
          if (run.contains("signal")) std::cout << ", signal " << run["signal"];
          if (run.contains("message")) std::cout << ": " << str(run, "message");
          std::cout << '\n';
          print_outputs(run);
        }
        return run_exit_code(run);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace skedd::ctl
