// skedctl: the admin CLI. Each subcommand is a Command (ctl/command.h).
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctl/command.h"
#include "ctl/terminal.h"
#include "skedd/version.h"
#include "util/suggest.h"

namespace {

// The subcommand a command line names: its first word that is not an option (nor the value
// of --socket); empty when there is none.
std::string named_subcommand(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--socket") {
      ++i;
      continue;
    }
    if (arg.empty() || arg[0] == '-') continue;
    return std::string(arg);
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  auto socket = std::make_shared<std::string>();
  skedd::ctl::Commands commands = skedd::ctl::daemon_commands(socket);
  for (auto& c : skedd::ctl::job_commands(socket)) commands.push_back(std::move(c));
  for (auto& c : skedd::ctl::run_channel_commands()) commands.push_back(std::move(c));
  commands.push_back(skedd::ctl::next_command());
  commands.push_back(skedd::ctl::import_crontab_command());
  commands.push_back(skedd::ctl::crontab_command(socket));
  commands.push_back(skedd::ctl::workflow_command(socket));
  commands.push_back(skedd::ctl::backfill_command(socket));

  CLI::App app{"skedctl: control and inspect skedd"};
  app.add_option("--socket", *socket,
                 "skedd's control socket (default: $SKEDD_SOCKET, else /run/skedd/skedd.sock)");
  bool user = false;
  app.add_flag("--user", user,
               "talk to this user's own daemon (skedd --user): $XDG_RUNTIME_DIR/skedd.sock");
  app.add_flag("--no-pager", skedd::ctl::output_options().no_pager,
               "never page long output (else $SKEDCTL_PAGER, $PAGER or less on a terminal)");
  app.fallthrough();
  app.set_version_flag("-V,--version", std::string("skedctl ") + skedd::kVersion);
  app.require_subcommand(1);
  skedd::ctl::Command* chosen = nullptr;
  bool version = false;
  for (auto& c : commands) {
    CLI::App* sub = app.add_subcommand(c->name(), c->help());
    c->declare(*sub);
    sub->callback([&chosen, command = c.get()] { chosen = command; });
  }
  bool version_json = false;
  CLI::App* version_command = app.add_subcommand("version", "print the version");
  version_command->add_flag("--json", version_json, "print {\"version\": ...}");
  version_command->callback([&version] { version = true; });
  if (const std::string named = named_subcommand(argc, argv); !named.empty()) {
    bool known = false;
    skedd::Suggestion nearest(named);
    const std::function<bool(const CLI::App*)> every = [](const CLI::App*) { return true; };
    for (const CLI::App* sub : std::as_const(app).get_subcommands(every)) {
      known = known || sub->check_name(named);
      nearest.offer(sub->get_name());
      for (const std::string& alias : sub->get_aliases()) nearest.offer(alias);
    }
    if (!known) {
      std::cerr << "skedctl: unknown command \"" << named << "\"" << nearest.hint()
                << "; skedctl --help lists them\n";
      return skedd::ctl::kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // CLI11's own codes (help = 0, errors > 0) map to 0 and the usage code.
    return code == 0 ? skedd::ctl::kExitOk : skedd::ctl::kExitUsage;
  }
  if (user && socket->empty()) {
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    if (runtime == nullptr || *runtime == '\0') {
      std::cerr << "skedctl: --user: XDG_RUNTIME_DIR is not set\n";
      return skedd::ctl::kExitUsage;
    }
    *socket = std::string(runtime) + "/skedd.sock";
  }
  if (version) {
    if (version_json) {
      std::cout << "{\"ok\":true,\"version\":\"" << skedd::kVersion << "\"}\n";
    } else {
      std::cout << "skedctl " << skedd::kVersion << '\n';
    }
    return skedd::ctl::kExitOk;
  }
  return chosen != nullptr ? chosen->run() : skedd::ctl::kExitUsage;
}
