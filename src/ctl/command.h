#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace skedd::ctl {

/// Exit codes of skedctl (documented in skedctl(1)).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;       ///< no such job or run
inline constexpr int kExitDenied = 4;         ///< PERMISSION_DENIED
inline constexpr int kExitTimedOut = 124;     ///< wait: the run timed out (as timeout(1))
inline constexpr int kExitSelf = 125;         ///< wait / trigger --wait: skedctl itself failed
inline constexpr int kExitCannotStart = 126;  ///< wait: the run failed to start

/// One skedctl subcommand: its options are its members, which declare() binds to its CLI11
/// subcommand; run() carries it out once the command line has parsed, and returns the exit
/// code.
class Command {
 public:
  Command(const char* name, const char* help) : name_(name), help_(help) {}
  virtual ~Command() = default;
  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;

  const char* name() const { return name_; }
  const char* help() const { return help_; }
  virtual void declare(CLI::App& sub) = 0;
  virtual int run() = 0;

 private:
  const char* name_;
  const char* help_;
};
using Commands = std::vector<std::unique_ptr<Command>>;

std::unique_ptr<Command> next_command();
/// The subcommands that talk to skedd; `socket` is the global --socket option, read when they
/// run.
Commands daemon_commands(std::shared_ptr<const std::string> socket);
/// add, update and remove of jobs over the socket (`socket` as above), and validate.
Commands job_commands(std::shared_ptr<const std::string> socket);
/// checkpoint and progress, which a run uses to talk to skedd over its control channel.
Commands run_channel_commands();
std::unique_ptr<Command> import_crontab_command();
/// crontab(1) through skedd; `socket` as for daemon_commands().
std::unique_ptr<Command> crontab_command(std::shared_ptr<const std::string> socket);
/// skedctl workflow list|show|trigger|runs|cancel; `socket` as for daemon_commands().
std::unique_ptr<Command> workflow_command(std::shared_ptr<const std::string> socket);
std::unique_ptr<Command> backfill_command(std::shared_ptr<const std::string> socket);
struct Common;
/// `skedctl runs --tree` and `workflow runs --tree`: workflow runs (of `workflow`, or all;
/// `run` alone when not 0) as trees of their steps. Returns the exit code.
int print_workflow_trees(const Common& c, const std::string& workflow, std::uint64_t run,
                         std::size_t limit);

}  // namespace skedd::ctl
