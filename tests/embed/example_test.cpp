// examples/report_service, run as a real process: killed with SIGKILL in the middle of its
// checkpointing export, then started again, it resumes after the last checkpoint.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/command.h"
#include "support/daemon.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using skedd::test::slurp;
using skedd::test::wait_until;

// The example, started with its output in DIR/out-N; killed and reaped by the destructor.
class Service {
 public:
  Service(const skedd::test::TempDir& dir, int n) : out_(dir / ("out-" + std::to_string(n))) {
    std::vector<std::string> argv = {REPORT_SERVICE_BINARY, dir / "state", "12", "100"};
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fd);
  }
  ~Service() { kill(SIGKILL); }
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Sends `sig` and waits for the exit; returns the wait status.
  int kill(int sig) {
    if (pid_ <= 0) return status_;
    ::kill(pid_, sig);
    ::waitpid(pid_, &status_, 0);
    pid_ = -1;
    return status_;
  }
  std::string output() const { return slurp(out_); }

 private:
  std::string out_;
  pid_t pid_ = -1;
  int status_ = 0;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  for (char c : text) {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  return lines;
}

TEST_CASE("examples/report_service resumes its export from the checkpoint after kill -9",
          "[embed][example]") {
  skedd::test::TempDir dir("skedd-example");
  const std::string export_log = dir / "state/export.log";
  const auto items_written = [&] {
    std::size_t n = 0;
    for (const std::string& l : lines_of(slurp(export_log))) n += l.starts_with("item ") ? 1 : 0;
    return n;
  };
  {
    Service first(dir, 1);
    REQUIRE(wait_until([&] { return items_written() >= 4; }, 15s));
    first.kill(SIGKILL);  // in the middle of the export
  }
  const std::size_t before = items_written();
  REQUIRE(before < 12);
  Service second(dir, 2);
  REQUIRE(wait_until([&] { return slurp(export_log).find("done") != std::string::npos; }, 20s));
  // The other handler, every second, runs meanwhile.
  CHECK(wait_until([&] { return !slurp(dir / "state/heartbeat.log").empty(); }, 5s));
  CHECK(second.kill(SIGTERM) == 0);  // exits cleanly on SIGTERM
  INFO(slurp(export_log));
  INFO(second.output());

  // Items 1..12 each appear; at most the one in flight when killed appears twice (written,
  // its checkpoint not yet committed); the second run is attempt 2 and starts past item 1.
  std::vector<int> count(13, 0);
  int first_of_attempt2 = 0;
  for (const std::string& l : lines_of(slurp(export_log))) {
    if (!l.starts_with("item ")) continue;
    const int item = std::stoi(l.substr(5));
    REQUIRE(item >= 1);
    REQUIRE(item <= 12);
    ++count[item];
    if (l.ends_with(" attempt 2") && first_of_attempt2 == 0) first_of_attempt2 = item;
  }
  int twice = 0;
  for (int i = 1; i <= 12; ++i) {
    CHECK(count[i] >= 1);
    CHECK(count[i] <= 2);
    twice += count[i] == 2 ? 1 : 0;
  }
  CHECK(twice <= 1);
  CHECK(first_of_attempt2 >= static_cast<int>(before));
  CHECK(first_of_attempt2 > 1);
  CHECK(second.output().find("export attempt 2 succeeded") != std::string::npos);
}

}  // namespace

namespace {

// "  STEP STATE[ REASON][ run ID]" lines of pipeline_service's output, by step.
std::map<std::string, std::string> pipeline_steps(const std::string& out) {
  std::map<std::string, std::string> steps;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  ", 0) != 0) continue;
    const std::size_t space = line.find(' ', 2);
    steps[line.substr(2, space - 2)] = line.substr(space + 1);
  }
  return steps;
}

}  // namespace

TEST_CASE("examples/pipeline_service fails validation, is retried from validate, outputs kept",
          "[embed]") {
  skedd::test::TempDir dir;
  const std::string state = dir / "state";
  const skedd::test::CommandResult first =
      skedd::test::run_command({PIPELINE_SERVICE_BINARY, state, "run"});
  SHOW(first);
  CHECK(first.exit_code == 1);
  auto steps = pipeline_steps(first.out);
  const std::string extract = steps["extract"];
  CHECK(extract.rfind("succeeded run ", 0) == 0);
  CHECK(steps["validate"].rfind("failed run ", 0) == 0);
  CHECK(steps["store"] == "skipped upstream_failed");
  CHECK(steps["alert"].rfind("succeeded run ", 0) == 0);
  CHECK(slurp(dir / "state/paged.log") == "paged\n");
  const std::size_t at = first.out.find(": failed\n");
  REQUIRE(first.out.rfind("workflow run ", 0) == 0);
  REQUIRE(at != std::string::npos);
  const std::string id = first.out.substr(13, at - 13);

  // Approved now: retried from validate by another process on the same state, the extract
  // and transform of the first run are kept, and their outputs reach validate and store.
  dir.write("state/approved", "");
  const skedd::test::CommandResult retried =
      skedd::test::run_command({PIPELINE_SERVICE_BINARY, state, "retry", id, "validate"});
  SHOW(retried);
  CHECK(retried.exit_code == 0);
  CHECK(retried.out.rfind("workflow run " + id + ": succeeded\n", 0) == 0);
  steps = pipeline_steps(retried.out);
  CHECK(steps["extract"] == extract);
  CHECK(steps["alert"] == "skipped condition_false");
  const std::string extract_run = extract.substr(std::string("succeeded run ").size());
  CHECK(slurp(dir / "state/stored.log") ==
        "stored 1197 of 1200 rows from orders-" + extract_run + ".csv\n");
  const skedd::test::CommandResult bad =
      skedd::test::run_command({PIPELINE_SERVICE_BINARY, state, "retry", id, "nope"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err ==
        "pipeline_service: workflow pipeline has no step \"nope\" (its steps: extract, "
        "transform, validate, store, alert)\n");
}
