// The control service on the runtime's fakes: every request type, asked by root, by the
// owner of what it touches and by another user (the authorization matrix of skedd(8)).
#include <pwd.h>

#include <nlohmann/json.hpp>

#include "control/control.h"
#include "runtime/runtime_rig.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using skedd::ControlReply;
using skedd::Peer;
using skedd::RunId;
using skedd::test::RuntimeRig;
namespace control = skedd::control;

uid_t uid_of(const char* name) {
  const passwd* pw = ::getpwnam(name);
  REQUIRE(pw != nullptr);
  return pw->pw_uid;
}

// Root, the owner of job "mine" (the `daemon` account, which every Debian system has) and a
// user who owns nothing of it (`nobody`).
struct Matrix {
  Matrix()
      : rig(R"([job.mine]
cron = "30 7 * * *"
command = ["/bin/sleep", "600"]
user = "daemon"
[job.roots]
cron = "0 3 * * *"
command = ["/bin/true"]
)"),
        root{0, 0, 1},
        owner{uid_of("daemon"), 1, 2},
        other{uid_of("nobody"), 65534, 3} {
    rig.start();
    control.emplace(*rig.engine, *rig.store, [this] {
      ++reloads;
      return skedd::Result<std::string>(std::string("reloaded"));
    });
    rig.advance(5s);  // "mine" runs
    REQUIRE(rig.spawns() == 1);
    run = rig.runs("mine").at(0).run;
  }

  ControlReply ask(const control::Request& request, const Peer& peer) {
    ControlReply reply = control->handle(request, peer);
    rig.settle();
    return reply;
  }
  // The failure's code, or "" when the request succeeded.
  std::string code(const control::Request& request, const Peer& peer) {
    const ControlReply reply = ask(request, peer);
    const auto* failure = std::get_if<control::Failure>(&reply);
    return failure ? failure->code : "";
  }
  json ok(const control::Request& request, const Peer& peer) {
    const ControlReply reply = ask(request, peer);
    const auto* failure = std::get_if<control::Failure>(&reply);
    INFO((failure ? failure->code + ": " + failure->message : std::string()));
    REQUIRE(failure == nullptr);
    return std::get<json>(reply);
  }
  std::vector<std::string> listed(const Peer& peer) {
    std::vector<std::string> names;
    const json reply = ok(control::ListRequest{}, peer);
    for (const json& j : reply["jobs"]) names.push_back(j["name"]);
    return names;
  }

  RuntimeRig rig;
  std::optional<skedd::Control> control;
  int reloads = 0;
  Peer root, owner, other;
  RunId run;
};

const std::string kDenied = control::kPermissionDenied;

control::RunsRequest runs_of(std::optional<std::string> job) {
  control::RunsRequest r;
  r.job = std::move(job);
  return r;
}
control::LogsRequest logs_of(RunId run) {
  control::LogsRequest r;
  r.run = run;
  return r;
}
control::AddRequest add(const std::string& definition, bool replace = false) {
  control::AddRequest r;
  r.definition = definition;
  r.replace = replace;
  return r;
}

}  // namespace

TEST_CASE("control: each user sees only the jobs and runs that are theirs", "[control]") {
  Matrix m;
  CHECK(m.listed(m.root) == std::vector<std::string>{"mine", "roots"});
  CHECK(m.listed(m.owner) == std::vector<std::string>{"mine"});
  CHECK(m.listed(m.other).empty());

  for (const Peer* p : {&m.root, &m.owner}) {
    CHECK(m.ok(control::ShowRequest{"mine"}, *p)["job"]["name"] == "mine");
    CHECK(m.ok(control::RunRequest{m.run}, *p)["run"]["run"] == m.run.value);
    CHECK(m.ok(runs_of("mine"), *p)["runs"].size() == 1);
    CHECK(m.code(logs_of(m.run), *p).empty());
  }
  CHECK(m.code(control::ShowRequest{"mine"}, m.other) == kDenied);
  CHECK(m.code(control::ShowRequest{"roots"}, m.owner) == kDenied);
  CHECK(m.code(control::ShowRequest{"nosuch"}, m.other) == control::kJobNotFound);
  CHECK(m.code(control::RunRequest{m.run}, m.other) == kDenied);
  CHECK(m.code(logs_of(m.run), m.other) == kDenied);
  CHECK(m.code(runs_of("mine"), m.other) == kDenied);
  // Without a job: the runs recorded as the caller's, and no others.
  CHECK(m.ok(runs_of(std::nullopt), m.root)["runs"].size() == 1);
  CHECK(m.ok(runs_of(std::nullopt), m.owner)["runs"].size() == 1);
  CHECK(m.ok(runs_of(std::nullopt), m.other)["runs"].empty());
  // Status answers everyone, with counts of their own jobs.
  for (const Peer* p : {&m.root, &m.owner, &m.other}) {
    CHECK(m.code(control::StatusRequest{}, *p).empty());
  }
}

TEST_CASE("control: a job and its runs are managed by root and their owner only", "[control]") {
  Matrix m;
  // Another user changes nothing.
  CHECK(m.code(control::PauseRequest{"mine", false, std::nullopt, true}, m.other) == kDenied);
  CHECK(m.code(control::TriggerRequest{"mine", true}, m.other) == kDenied);
  CHECK(m.code(control::PauseRequest{"", false, m.run, true}, m.other) == kDenied);
  CHECK(m.code(control::CancelRequest{m.run}, m.other) == kDenied);
  CHECK(m.code(control::SendRequest{m.run, "", "stop"}, m.other) == kDenied);
  CHECK(m.rig.spawned(0).input.empty());
  CHECK(m.rig.spawns() == 1);
  CHECK(m.rig.spawned(0).signals.empty());
  CHECK_FALSE(m.rig.engine->job("mine")->paused);

  // The owner does; so does root.
  CHECK(m.code(control::PauseRequest{"mine", false, std::nullopt, true}, m.owner).empty());
  CHECK(m.rig.engine->job("mine")->paused);
  CHECK(m.code(control::PauseRequest{"mine", false, std::nullopt, false}, m.root).empty());
  CHECK_FALSE(m.rig.engine->job("mine")->paused);
  CHECK(m.code(control::PauseRequest{"", false, m.run, true}, m.owner).empty());
  CHECK(m.rig.engine->counts().running == 1);
  CHECK(m.code(control::PauseRequest{"", false, m.run, false}, m.owner).empty());
  // A line for its input: whole, one line, at most 20 a second (the fake clock stands still).
  CHECK(m.code(control::SendRequest{m.run, "", "batch=5"}, m.owner).empty());
  CHECK(m.code(control::SendRequest{m.run, "", std::string(4096, 'x')}, m.owner) ==
        control::kInvalidArgument);
  int taken = 1;
  for (int i = 0; i < 30; ++i)
    taken += m.code(control::SendRequest{m.run, "", "more"}, m.root).empty();
  CHECK(taken == 20);
  CHECK(m.rig.spawned(0).input.front() == "batch=5");
  CHECK(m.code(control::CancelRequest{m.run}, m.owner).empty());
  CHECK(m.rig.spawned(0).exited);
  CHECK(m.code(control::SendRequest{m.run, "", "late"}, m.owner) == control::kConflict);
  CHECK(m.rig.runs("mine")[0].state == skedd::RunState::kCancelled);
  CHECK(m.code(control::TriggerRequest{"mine", true}, m.owner).empty());
  CHECK(m.code(control::TriggerRequest{"roots", true}, m.owner) == kDenied);
  CHECK(m.code(control::TriggerRequest{"roots", true}, m.root).empty());
  CHECK(m.rig.spawns() == 3);
}

TEST_CASE("control: what acts on the whole daemon is root's alone", "[control]") {
  Matrix m;
  for (const Peer* p : {&m.owner, &m.other}) {
    CHECK(m.code(control::ReloadRequest{}, *p) == kDenied);
    CHECK(m.code(control::SetRequest{1}, *p) == kDenied);
    CHECK(m.code(control::DrainRequest{}, *p) == kDenied);
    CHECK(m.code(control::PauseRequest{"", true, std::nullopt, true}, *p) == kDenied);
  }
  CHECK(m.reloads == 0);
  CHECK_FALSE(m.rig.engine->paused_all());
  CHECK(m.rig.engine->counts().max_concurrent_runs == 64);

  CHECK(m.code(control::SetRequest{3}, m.root).empty());
  CHECK(m.rig.engine->counts().max_concurrent_runs == 3);
  CHECK(m.code(control::ReloadRequest{}, m.root).empty());
  CHECK(m.reloads == 1);
  CHECK(m.code(control::PauseRequest{"", true, std::nullopt, true}, m.root).empty());
  CHECK(m.rig.engine->paused_all());
  CHECK(m.code(control::DrainRequest{}, m.root).empty());
  CHECK(m.rig.engine->draining());
}

TEST_CASE("control: a user adds jobs that run as themselves, and removes only their own",
          "[control]") {
  Matrix m;
  const std::string job = "[job.added]\ncron = \"0 4 * * *\"\ncommand = [\"/bin/true\"]\n";
  // Added by a user, the job runs as that user, whatever it said.
  CHECK(m.code(add(job + "user = \"root\"\n"), m.other) == kDenied);
  CHECK(m.code(add(job), m.other).empty());
  const auto added = m.rig.engine->job("added");
  REQUIRE(added);
  CHECK(added->spec->options->user == "nobody");
  CHECK(m.listed(m.other) == std::vector<std::string>{"added"});
  CHECK(m.code(control::RemoveRequest{"added"}, m.owner) == kDenied);
  CHECK(m.code(add(job, true), m.owner) == kDenied);  // replace: not theirs
  CHECK(m.code(control::RemoveRequest{"mine"}, m.owner) == control::kConflict);  // a file job
  CHECK(m.code(control::RemoveRequest{"added"}, m.other).empty());
  CHECK_FALSE(m.rig.engine->job("added"));
  // Root adds a job as anyone.
  CHECK(m.code(add(job + "user = \"daemon\"\n"), m.root).empty());
  CHECK(m.rig.engine->job("added")->spec->options->user == "daemon");
  CHECK(m.code(control::RemoveRequest{"added"}, m.owner).empty());
}

TEST_CASE("control: a user may not read another user's crontab", "[control]") {
  Matrix m;
  control::CrontabRequest get;
  get.action = control::CrontabRequest::Action::kGet;
  get.user = "daemon";
  CHECK(m.code(get, m.other) == kDenied);
}
