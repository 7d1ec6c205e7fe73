// What skedctl's socket subcommands share: the socket and --json, one request with its errors
// printed, the exit code of a run, waiting for a run to end.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "ctl/command.h"
#include "skedd/control/protocol.h"
#include "skedd/core/run.h"

namespace skedd::ctl {

struct Common {
  std::shared_ptr<const std::string> socket;
  bool json = false;
};

/// A subcommand that asks skedd over its control socket.
class SocketCommand : public Command {
 public:
  SocketCommand(const char* name, const char* help, std::shared_ptr<const std::string> socket)
      : Command(name, help) {
    c_.socket = std::move(socket);
  }

 protected:
  void declare_json(CLI::App& sub, const char* what = "print JSON") {
    sub.add_flag("--json", c_.json, what);
  }
  Common c_;
};

/// skedctl's exit code for a failure reply's `error`.
int exit_code_of(const nlohmann::json& error);
/// The error code skedctl reports when it cannot reach skedd (no socket, no answer).
inline constexpr const char* kUnreachable = "UNREACHABLE";
/// An error: as {"ok":false,"error":{...}} on stdout with --json, else "skedctl: MESSAGE
/// (CODE)" on stderr.
void print_error(const Common& c, const std::string& code, const std::string& message);
/// Sends one request. On success `*reply` is the reply; otherwise the error is printed and
/// the exit code returned (`unreachable` when skedd cannot be reached).
int ask(const Common& c, const control::Request& request, nlohmann::json* reply,
        int unreachable = kExitFailure);
/// As ask(), but the error ({"code", "message"}) is set in `*error`, not printed.
int ask_quietly(const Common& c, const control::Request& request, nlohmann::json* reply,
                nlohmann::json* error, int unreachable = kExitFailure);
/// For subcommands whose human output is one line: the reply (--json), or `text` of it.
int simple(const Common& c, const control::Request& request,
           const std::function<std::string(const nlohmann::json&)>& text);
/// A run as a command line gives it (skedctl(1) RUNS): "123" a run id; "JOB" or "job:JOB"
/// (a job may be called 42) the job's latest run, or with `state` its latest run in that
/// state; "JOB~N" the run N before that. Sets `*id`; otherwise prints why not and returns
/// the exit code (3 when there is no such run or job; `unreachable` when skedd is down).
int resolve_run(const Common& c, const std::string& target, std::optional<RunState> state,
                std::uint64_t* id, int unreachable = kExitFailure);
/// The value of `key` as text; `none` when missing or null.
std::string str(const nlohmann::json& j, const char* key, const char* none = "-");
/// The exit code `wait` reports for an ended run (skedctl(1) EXIT STATUS): 0 succeeded; 124
/// timed out or stalled (ended by skedd for its time, whatever it then exited with); 126
/// failed to start; 128 + signal when cancelled or killed (SIGTERM, SIGKILL before it had a
/// process) or killed by a signal; its own exit code when it failed by itself; 1 otherwise.
int run_exit_code(const nlohmann::json& run);
/// Waits for run `id` to end (a progress bar on a terminal); returns run_exit_code().
int wait_for_run(const Common& c, std::uint64_t id);

}  // namespace skedd::ctl
