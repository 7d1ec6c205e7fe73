#include "ctl/ask.h"

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

int simple(const Common& c, const control::Request& request,
           const std::function<std::string(const json&)>& text) {
  json reply;
  if (const int rc = ask(c, request, &reply); rc != kExitOk) return rc;
  std::cout << (c.json ? reply.dump() : text(reply)) << '\n';
  return kExitOk;
}

std::string str(const json& j, const char* key, const char* none) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return none;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

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

}  // namespace skedd::ctl
