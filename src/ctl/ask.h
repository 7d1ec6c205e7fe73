// What skedctl's socket subcommands share: the socket and --json, one request with its errors
// printed, the exit code of a run, waiting for a run to end.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "ctl/command.h"
#include "skedd/control/protocol.h"

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
/// Sends one request. On success `*reply` is the reply; otherwise the error is printed and
/// the exit code returned.
int ask(const Common& c, const control::Request& request, nlohmann::json* reply);
/// For subcommands whose human output is one line: the reply (--json), or `text` of it.
int simple(const Common& c, const control::Request& request,
           const std::function<std::string(const nlohmann::json&)>& text);
/// The value of `key` as text; `none` when missing or null.
std::string str(const nlohmann::json& j, const char* key, const char* none = "-");
/// The exit code `wait` reports for a finished run: its own, 128 + signal, 1 otherwise.
int run_exit_code(const nlohmann::json& run);
/// Waits for run `id` to end (a progress bar on a terminal); returns run_exit_code().
int wait_for_run(const Common& c, std::uint64_t id);

}  // namespace skedd::ctl
