// The HTTP API end to end: the real skedd with [http] on a loopback port (0: a free one, read
// from its http_listening event), driven by a plain HTTP client; /metrics read back through
// the Prometheus client library's own parser of the text format.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "support/command.h"
#include "support/daemon.h"
#include "support/http_client.h"
#include "support/temp_dir.h"
#include "support/test_account.h"

#include "skedd/time/timestamp.h"
#include "skedd/version.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using skedd::test::Daemon;
using skedd::test::http_request;
using skedd::test::HttpReply;
using skedd::test::TempDir;

constexpr const char* kRootToken = "root-token-0123456789abcdef";

// skedd.toml with [http] `http` (listen on a free loopback port unless it says otherwise),
// root's token in DIR/root.token, and `jobs` as jobs.d/test.toml.
std::string write_http_config(const TempDir& dir, const std::string& jobs,
                              const std::string& http = "", const std::string& tokens = "") {
  const std::string token = dir.write("root.token", std::string(kRootToken) + "\n");
  ::chmod(token.c_str(), 0600);
  dir.write("jobs.d/test.toml", jobs);
  return dir.write(
      "skedd.toml",
      "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" + dir / "skedd.sock" +
          "\"\ntimezone = \"UTC\"\n[http]\n" +
          (http.find("listen") == std::string::npos ? "listen = \"127.0.0.1:0\"\n" : "") + http +
          "\n[http.tokens]\nroot = \"" + token + "\"\n" + tokens);
}

std::string http_address_of(Daemon& d) {
  return d.wait_for("http_listening").at("address").get<std::string>();
}

const std::vector<std::string> kRoot = {std::string("Authorization: Bearer ") + kRootToken};

HttpReply http_get(const std::string& address, const std::string& target,
                   const std::vector<std::string>& headers = kRoot) {
  return http_request(address, "GET", target, headers);
}

HttpReply http_post(const std::string& address, const std::string& target,
                    const std::vector<std::string>& headers = kRoot) {
  return http_request(address, "POST", target, headers);
}

// The scrape as the Prometheus client library parses it: {"name{labels}": value} for every
// sample (labels sorted, as k="v" joined by commas). Fails the test when it does not parse.
std::map<std::string, double> parsed_metrics(const TempDir& dir, const std::string& text) {
  const std::string in = dir.write("metrics.txt", text);
  const std::string script = dir.write("parse.py", R"(import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
        out[s.name + "{" + labels + "}"] = s.value
print(json.dumps(out))
)");
  const auto r = skedd::test::run_command({"/usr/bin/python3", script, in});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::map<std::string, double> out;
  const json samples = json::parse(r.out);  // items() of a temporary would dangle
  for (const auto& [k, v] : samples.items()) {
    INFO(k + " = " + v.dump());
    REQUIRE(v.is_number());
    out[k] = v.get<double>();
  }
  return out;
}

double metric_sample(const std::map<std::string, double>& m, const std::string& key) {
  const auto it = m.find(key);
  INFO(key);
  REQUIRE(it != m.end());
  return it->second;
}

// The run's state as the API reads it, once it is `state` (the record is committed soon after
// the event that says so) or 5 s have passed.
std::string run_state_soon(const std::string& a, const std::string& run, const std::string& state) {
  std::string got;
  skedd::test::wait_until(
      [&] {
        got = http_get(a, "/api/v1/runs/" + run).json()["run"].value("state", "");
        return got == state;
      },
      5000ms);
  return got;
}

// The events of a text/event-stream body: (event name, its data as JSON), in order.
std::vector<std::pair<std::string, json>> sse_events(const std::string& body) {
  std::vector<std::pair<std::string, json>> out;
  std::size_t at = 0;
  for (std::size_t end; (end = body.find("\n\n", at)) != std::string::npos; at = end + 2) {
    std::string name;
    json data;
    std::size_t line_at = at;
    while (line_at < end) {
      const std::size_t eol = std::min(body.find('\n', line_at), end);
      const std::string line = body.substr(line_at, eol - line_at);
      if (line.rfind("event: ", 0) == 0) name = line.substr(7);
      if (line.rfind("data: ", 0) == 0) data = json::parse(line.substr(6), nullptr, false);
      line_at = eol + 1;
    }
    if (!name.empty()) out.emplace_back(name, data);
  }
  return out;
}

// Whether `body` (an event stream) has an event `name` of job `job`.
bool has_event(const std::string& body, const std::string& name, const std::string& job) {
  for (const auto& [n, data] : sse_events(body)) {
    if (n == name && data.value("job", "") == job) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("HTTP: health and readiness without a token, the API only with one", "[http]") {
  TempDir dir("skedd-http-test");
  Daemon d(dir, write_http_config(dir, "[job.hello]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n"));
  const std::string a = http_address_of(d);
  CHECK(http_get(a, "/healthz", {}).status == 200);
  const HttpReply ready = http_get(a, "/readyz", {});
  CHECK(ready.status == 200);
  CHECK(ready.json() == json{{"ready", true}});
  for (const char* path : {"/api/v1/jobs", "/api/v1/status", "/api/v1/runs", "/metrics"}) {
    const HttpReply r = http_get(a, path, {});
    INFO(path);
    CHECK(r.status == 401);
    CHECK(r.headers.at("www-authenticate") == "Bearer realm=\"skedd\"");
  }
  CHECK(http_get(a, "/api/v1/jobs", {"Authorization: Bearer not-a-token-of-anyone"}).status == 401);
  // HTTP Basic, as a browser signs in: the user name and the token as the password.
  CHECK(http_get(a, "/api/v1/status",
                 {"Authorization: Basic cm9vdDpyb290LXRva2VuLTAxMjM0NTY3ODlhYmNkZWY="})
            .status == 200);
  // The user name must be the token's.
  CHECK(http_get(a, "/api/v1/status",
                 {"Authorization: Basic YWxpY2U6cm9vdC10b2tlbi0wMTIzNDU2Nzg5YWJjZGVm"})
            .status == 401);
  CHECK(http_get(a, "/api/v1/jobs?token=x", {}).status == 400);  // never in the URL
  const HttpReply jobs = http_get(a, "/api/v1/jobs");
  REQUIRE(jobs.status == 200);
  CHECK(jobs.json()["jobs"][0]["name"] == "hello");
  // DNS rebinding: another site's name, resolved to 127.0.0.1, is refused.
  CHECK(http_request(a, "GET", "/api/v1/jobs", kRoot, "", "evil.example").status == 421);
  // Draining: not ready.
  REQUIRE(http_post(a, "/api/v1/drain").status == 200);
  const HttpReply draining = http_get(a, "/readyz", {});
  CHECK(draining.status == 503);
  CHECK(draining.json()["reason"] == "skedd is draining");
  // Stopped, it closes the listener and exits cleanly.
  d.signal(SIGTERM);
  CHECK(d.wait_exit(10000ms) == 0);
  CHECK(http_get(a, "/healthz", {}).status == 0);
}

TEST_CASE("HTTP: jobs, trigger (202), pause, runs, a run, its log, cancel and fires", "[http]") {
  TempDir dir("skedd-http-test");
  Daemon d(dir, write_http_config(dir, R"([job.hello]
every = "1h"
command = ["/bin/sh", "-c", "echo hello-from-http"]

[job.slow]
every = "1h"
command = ["/bin/sleep", "30"]
)"));
  const std::string a = http_address_of(d);
  CHECK(http_get(a, "/api/v1/jobs/nosuch").status == 404);
  CHECK(http_get(a, "/api/v1/jobs/nosuch").json()["error"]["code"] == "JOB_NOT_FOUND");
  CHECK(http_get(a, "/api/v1/jobs/hello").json()["job"]["schedule"] == "every 1h");
  const HttpReply triggered = http_post(a, "/api/v1/jobs/hello/trigger");
  REQUIRE(triggered.status == 202);
  const std::string run = triggered.json()["run"].dump();
  d.wait_for("run_finished", [&](const json& e) { return e.value("job", "") == "hello"; });
  CHECK(run_state_soon(a, run, "succeeded") == "succeeded");
  CHECK(http_get(a, "/api/v1/runs/" + run + "/log").json()["data"] == "hello-from-http\n");
  CHECK(http_get(a, "/api/v1/runs/" + run + "/log", {}).status == 401);  // no token, no log
  CHECK(http_get(a, "/api/v1/runs?job=hello").json()["runs"].size() == 1);
  CHECK(http_get(a, "/api/v1/runs?state=nosuch").status == 400);
  // The limit is 1 to 1000, as skedd(8) says (0 read no run at all).
  CHECK(http_get(a, "/api/v1/runs?limit=0").status == 400);
  CHECK(http_get(a, "/api/v1/runs?limit=1001").status == 400);
  CHECK(http_get(a, "/api/v1/runs?limit=1").json()["runs"].size() == 1);
  CHECK(http_get(a, "/api/v1/runs/12").status == 404);
  CHECK(http_get(a, "/api/v1/runs/abc").status == 400);
  // Methods are checked per path.
  CHECK(http_get(a, "/api/v1/jobs/hello/trigger").status == 405);
  CHECK(http_get(a, "/api/v1/nosuch").status == 404);
  // Pause and resume record before the reply.
  CHECK(http_post(a, "/api/v1/jobs/hello/pause").json()["paused"] == true);
  CHECK(http_get(a, "/api/v1/jobs/hello").json()["paused"] == true);
  CHECK(http_post(a, "/api/v1/jobs/hello/resume").json()["paused"] == false);
  // A running run is cancelled.
  // trigger?wait: the run's record once it has ended, or 202 when it has not by then.
  const HttpReply waited = http_post(a, "/api/v1/jobs/hello/trigger?wait=10s");
  CHECK(waited.status == 200);
  CHECK(waited.json()["run"]["state"] == "succeeded");
  CHECK(http_post(a, "/api/v1/jobs/hello/trigger?wait=forever").status == 400);
  const HttpReply not_yet = http_post(a, "/api/v1/jobs/slow/trigger?wait=1s");
  CHECK(not_yet.status == 202);
  CHECK(not_yet.json()["waited"] == "the run has not ended yet");
  const std::string slow = not_yet.json()["run"].dump();
  d.wait_for("run_started", [&](const json& e) { return e.value("job", "") == "slow"; });
  CHECK(http_post(a, "/api/v1/runs/" + slow + "/cancel").status == 200);
  d.wait_for("run_finished", [&](const json& e) { return e.value("job", "") == "slow"; });
  CHECK(run_state_soon(a, slow, "cancelled") == "cancelled");
  // Triggered again while it runs: its overlap policy skips it; the ledger of fires not run.
  http_post(a, "/api/v1/jobs/slow/trigger");
  d.wait_for("run_started", 2, [&](const json& e) { return e.value("job", "") == "slow"; });
  const HttpReply skipped = http_post(a, "/api/v1/jobs/slow/trigger");
  CHECK(skipped.status == 409);
  CHECK(skipped.json()["error"]["code"] == "CONFLICT");
  // Recorded by the store's writer, soon after the reply.
  HttpReply fires;
  CHECK(skedd::test::wait_until(
      [&] {
        fires = http_get(a, "/api/v1/fires?job=slow");
        return fires.status != 200 || !fires.json()["not_run"].empty();
      },
      5000ms));
  REQUIRE(fires.status == 200);
  REQUIRE(fires.json()["not_run"].size() == 1);
  CHECK(fires.json()["not_run"][0]["reason"] == "overlap");
  CHECK(http_get(a, "/api/v1/fires").status == 400);
}

TEST_CASE("HTTP: writes are refused cross-origin, read-only, and for definitions by default",
          "[http]") {
  TempDir dir("skedd-http-test");
  {
    Daemon d(dir,
             write_http_config(dir, "[job.hello]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n"));
    const std::string a = http_address_of(d);
    std::vector<std::string> cross = kRoot;
    cross.push_back("Origin: http://evil.example");
    const HttpReply r = http_post(a, "/api/v1/jobs/hello/pause", cross);
    CHECK(r.status == 403);
    CHECK(r.json()["error"]["code"] == "CROSS_ORIGIN");
    std::vector<std::string> site = kRoot;
    site.push_back("Sec-Fetch-Site: cross-site");
    CHECK(http_post(a, "/api/v1/jobs/hello/pause", site).status == 403);
    std::vector<std::string> same = kRoot;
    same.push_back("Origin: http://" + a);
    CHECK(http_post(a, "/api/v1/jobs/hello/pause", same).status == 200);
    // Definitions: off unless allow_definition_writes.
    CHECK(http_post(a, "/api/v1/reload").status == 403);
    CHECK(http_request(a, "POST", "/api/v1/jobs", kRoot,
                       "[job.added]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n")
              .status == 403);
    CHECK(http_request(a, "DELETE", "/api/v1/jobs/hello", kRoot).status == 403);
  }
  {
    Daemon d(dir, write_http_config(dir, "[job.hello]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n",
                                    "read_only = true\n"));
    const std::string a = http_address_of(d);
    const HttpReply r = http_post(a, "/api/v1/jobs/hello/trigger");
    CHECK(r.status == 403);
    CHECK(r.json()["error"]["message"] ==
          "skedd's HTTP API is read-only here ([http] read_only = true)");
    CHECK(http_get(a, "/api/v1/jobs/hello").status == 200);
  }
  {
    Daemon d(dir, write_http_config(dir, "[job.hello]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n",
                                    "allow_definition_writes = true\n"));
    const std::string a = http_address_of(d);
    const HttpReply added =
        http_request(a, "POST", "/api/v1/jobs", kRoot,
                     "[job.added]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n");
    CHECK(added.status == 200);
    CHECK(http_get(a, "/api/v1/jobs/added").status == 200);
    CHECK(http_request(a, "DELETE", "/api/v1/jobs/added", kRoot).status == 200);
    CHECK(http_get(a, "/api/v1/jobs/added").status == 404);
  }
}

TEST_CASE("HTTP: a user's token sees and manages only that user's jobs, and their metrics",
          "[http][root]") {
  const auto& account = skedd::test::test_account_or_skip();
  TempDir dir("skedd-http-test");
  const std::string token_path = account.home + "/skedd.token";
  { std::ofstream(token_path) << "user-token-0123456789abcdef\n"; }
  REQUIRE(::chown(token_path.c_str(), account.uid, account.gid) == 0);
  ::chmod(token_path.c_str(), 0600);
  Daemon d(dir, write_http_config(dir,
                                  "[job.roots]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n"
                                  "[job.theirs]\nevery = \"1h\"\nuser = \"" +
                                      account.name + "\"\ncommand = [\"/bin/true\"]\n",
                                  "", account.name + " = \"" + token_path + "\"\n"));
  const std::string a = http_address_of(d);
  const std::vector<std::string> user = {"Authorization: Bearer user-token-0123456789abcdef"};
  const json jobs = http_get(a, "/api/v1/jobs", user).json();
  REQUIRE(jobs["jobs"].size() == 1);
  CHECK(jobs["jobs"][0]["name"] == "theirs");
  CHECK(http_get(a, "/api/v1/jobs/roots", user).status == 403);
  CHECK(http_post(a, "/api/v1/jobs/roots/trigger", user).status == 403);
  // Their event stream: their jobs' events only, none of root's nor the daemon's own.
  skedd::test::HttpStream events(a, "/api/v1/events", user);
  REQUIRE(events.read_until([](const std::string& b) { return !b.empty(); }, 5000ms));
  const std::string root_run = http_post(a, "/api/v1/jobs/roots/trigger").json()["run"].dump();
  d.wait_for("run_finished", [&](const json& e) { return e.value("job", "") == "roots"; });
  REQUIRE(run_state_soon(a, root_run, "succeeded") == "succeeded");
  CHECK(http_get(a, "/api/v1/runs/" + root_run + "/log", user).status == 403);  // no root's log
  CHECK(http_post(a, "/api/v1/drain", user).status == 403);
  CHECK(http_post(a, "/api/v1/jobs/theirs/trigger", user).status == 202);
  REQUIRE(events.read_until(
      [](const std::string& b) { return has_event(b, "run_finished", "theirs"); }, 5000ms));
  for (const auto& [name, data] : sse_events(events.reply().body)) {
    CHECK(data.value("job", "") == "theirs");
  }
  const HttpReply metrics = http_get(a, "/metrics", user);
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("job=\"theirs\"") != std::string::npos);
  CHECK(metrics.body.find("job=\"roots\"") == std::string::npos);
  CHECK(metrics.body.find("skedd_ready_queue_depth") == std::string::npos);  // daemon-wide
  CHECK(http_get(a, "/metrics").body.find("job=\"roots\"") != std::string::npos);
  // Streams: 8 a user (one open above), and root keeps its own.
  std::vector<std::unique_ptr<skedd::test::HttpStream>> more;
  const auto opened = [](const std::string& b) { return b.rfind(": skedd events", 0) == 0; };
  for (int i = 0; i < 7; ++i) {
    more.push_back(std::make_unique<skedd::test::HttpStream>(a, "/api/v1/events", user));
    REQUIRE(more.back()->read_until(opened, 5000ms));
  }
  const HttpReply ninth = http_get(a, "/api/v1/events", user);
  CHECK(ninth.status == 503);
  CHECK(ninth.json()["error"]["message"] ==
        "a user's streamed responses (events, followed logs) are at most 8 at a time");
  skedd::test::HttpStream roots(a, "/api/v1/events", kRoot);
  CHECK(roots.read_until(opened, 5000ms));
  more.pop_back();  // one closed: room for another, once skedd has seen it go
  bool reopened = false;
  for (int i = 0; i < 50 && !reopened; ++i) {
    skedd::test::HttpStream again(a, "/api/v1/events", user);
    reopened = again.read_until(opened, 5000ms);
    if (!reopened) std::this_thread::sleep_for(100ms);
  }
  CHECK(reopened);
}

TEST_CASE("HTTP: /metrics counts failures, skips, pauses and missed fires with their reasons",
          "[http]") {
  TempDir dir("skedd-http-test");
  const std::string jobs = R"([job.bad]
every = "1h"
command = ["/bin/false"]
on_failure = ["/bin/true"]

[job.good]
every = "1h"
command = ["/bin/true"]
expect_duration = "10m"
expect_grace = "1m"

[job.busy]
every = "1h"
command = ["/bin/sleep", "30"]

[job.tick]
every = "1s"
command = ["/bin/true"]
)";
  const std::string config = write_http_config(dir, jobs, "metrics_public = true\n");
  {
    Daemon d(dir, config);
    d.wait_for("run_finished", [&](const json& e) { return e.value("job", "") == "tick"; });
  }
  // Down for 2.5 s: `tick` (catch_up = "none") misses fires, recorded as such at the start.
  std::this_thread::sleep_for(2500ms);
  Daemon d(dir, config);
  const std::string a = http_address_of(d);
  http_post(a, "/api/v1/jobs/bad/trigger");
  http_post(a, "/api/v1/jobs/good/trigger");
  http_post(a, "/api/v1/jobs/busy/trigger");
  d.wait_for("run_started", [&](const json& e) { return e.value("job", "") == "busy"; });
  CHECK(http_post(a, "/api/v1/jobs/busy/trigger").status == 409);  // skipped: overlap
  http_post(a, "/api/v1/jobs/tick/pause");
  d.wait_for(
      "fire_not_run", [&](const json& e) { return e.value("reason", "") == "paused"; }, 5000ms);
  d.wait_for("run_finished", [&](const json& e) { return e.value("job", "") == "bad"; });
  d.wait_for("run_finished", [&](const json& e) { return e.value("job", "") == "good"; });
  const json bad_started =
      d.wait_for("run_started", [&](const json& e) { return e.value("job", "") == "bad"; });
  d.wait_for("run_finished", [&](const json& e) { return e.value("job", "") == "bad:on_failure"; });
  const HttpReply scraped = http_get(a, "/metrics", {});  // metrics_public
  REQUIRE(scraped.status == 200);
  CHECK(scraped.headers.at("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  const auto m = parsed_metrics(dir, scraped.body);
  CHECK(metric_sample(m, "skedd_runs_total{job=\"bad\",result=\"failed\"}") == 1);
  CHECK(metric_sample(m, "skedd_runs_total{job=\"good\",result=\"succeeded\"}") == 1);
  CHECK(metric_sample(
            m, "skedd_fires_total{job=\"busy\",outcome=\"skipped\",reason=\"overlap\"}") == 1);
  CHECK(metric_sample(m, "skedd_fires_total{job=\"tick\",outcome=\"skipped\",reason=\"paused\"}") >=
        1);
  CHECK(metric_sample(
            m, "skedd_fires_total{job=\"tick\",outcome=\"missed\",reason=\"missed_while_down\"}") >=
        1);
  CHECK(metric_sample(m, "skedd_job_paused{job=\"tick\"}") == 1);
  CHECK(metric_sample(m, "skedd_job_paused{job=\"bad\"}") == 0);
  CHECK(metric_sample(m, "skedd_runs_running{pool=\"\"}") == 1);  // busy
  CHECK(metric_sample(m, "skedd_ready_queue_depth{pool=\"\"}") == 0);
  CHECK(metric_sample(m, "skedd_run_queue_wait_seconds_count{pool=\"\"}") >= 4);
  CHECK(metric_sample(m, "skedd_store_commit_seconds_count{}") >= 1);  // its runs committed
  CHECK(metric_sample(m, "skedd_store_commit_seconds_sum{}") > 0);
  CHECK(metric_sample(m, "skedd_hooks_total{hook=\"on_failure\",job=\"bad\",outcome=\"fired\"}") ==
        1);
  CHECK(metric_sample(m, "skedd_runs_total{job=\"bad:on_failure\",result=\"succeeded\"}") == 1);
  CHECK(metric_sample(m, "skedd_job_last_failure_timestamp_seconds{job=\"bad\"}") > 1.7e9);
  CHECK(metric_sample(m, "skedd_job_last_success_timestamp_seconds{job=\"good\"}") > 1.7e9);
  // `tick`'s last success is from the first skedd: read back from the history.
  CHECK(metric_sample(m, "skedd_job_last_success_timestamp_seconds{job=\"tick\"}") > 1.7e9);
  CHECK(metric_sample(m, "skedd_run_duration_seconds_count{job=\"good\"}") == 1);
  CHECK(metric_sample(m, "skedd_fire_lateness_seconds_count{job=\"good\"}") == 1);
  CHECK(
      metric_sample(m,
                    "skedd_job_info{job=\"tick\",overlap=\"skip\",pool=\"\",schedule=\"every 1s\","
                    "timezone=\"UTC\"}") == 1);
  // Succeeded just now: due again at its next fire, plus 10m and 1m.
  CHECK(metric_sample(m, "skedd_job_success_deadline_timestamp_seconds{job=\"good\"}") ==
        Approx(metric_sample(m, "skedd_job_next_fire_timestamp_seconds{job=\"good\"}") + 660)
            .epsilon(0)
            .margin(0.01));
  // Never succeeded: counted from its first fire (the trigger), plus 1h (the default) and 5m.
  const double bad_fired =
      std::chrono::duration<double>(
          skedd::parse_rfc3339(bad_started.at("scheduled").get<std::string>())->time_since_epoch())
          .count();
  CHECK(metric_sample(m, "skedd_job_success_deadline_timestamp_seconds{job=\"bad\"}") ==
        Approx(bad_fired + 3900).epsilon(0).margin(0.01));
  CHECK_FALSE(m.contains("skedd_job_success_deadline_timestamp_seconds{job=\"tick\"}"));  // paused
  CHECK(metric_sample(m, "skedd_build_info{version=\"" + std::string(skedd::kVersion) + "\"}") ==
        1);
  CHECK(metric_sample(m, "skedd_store_healthy{}") == 1);
}

namespace {

// What headless Chromium shows of `url` after 3 s of the page's own time (scripts run): the
// DOM, serialized. With `screenshot`, also a PNG of the page there.
std::string chromium_dom(const std::string& url, const std::string& screenshot = "") {
  const char* chromium = "/usr/bin/chromium";
  INFO("the status page test needs Debian's chromium (scripts/install-deps installs it)");
  REQUIRE(::access(chromium, X_OK) == 0);
  std::vector<std::string> argv = {chromium,
                                   "--headless=new",
                                   "--no-sandbox",  // as root; the page is our own
                                   "--disable-gpu",
                                   "--no-first-run",
                                   "--disable-extensions",
                                   "--disable-background-networking",
                                   "--virtual-time-budget=3000",
                                   "--window-size=1280,800"};
  if (!screenshot.empty()) {
    argv.push_back("--screenshot=" + screenshot);
  } else {
    argv.push_back("--dump-dom");
  }
  argv.push_back(url);
  const auto r = skedd::test::run_command(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

}  // namespace

TEST_CASE("HTTP: the status page in headless Chromium shows each job's state", "[http][ui]") {
  TempDir dir("skedd-http-test");
  Daemon d(dir, write_http_config(dir, R"([job.good]
every = "1h"
command = ["/bin/true"]

[job.bad]
every = "1h"
command = ["/bin/false"]

[job.sleepy]
every = "1h"
command = ["/bin/sh", "-c", "echo sleepy-out; echo progress 40 copying >&3; exec sleep 30"]

[job.held]
every = "1h"
command = ["/bin/true"]
)"));
  const std::string a = http_address_of(d);
  std::map<std::string, std::string> runs;
  for (const char* job : {"good", "bad", "sleepy"}) {
    const HttpReply r = http_post(a, std::string("/api/v1/jobs/") + job + "/trigger");
    REQUIRE(r.status == 202);
    runs[job] = r.json()["run"].dump();
  }
  REQUIRE(http_post(a, "/api/v1/jobs/held/pause").status == 200);
  d.wait_for("run_finished", [&](const json& e) { return e.value("job", "") == "bad"; });
  d.wait_for("run_finished", [&](const json& e) { return e.value("job", "") == "good"; });
  d.wait_for("progress", [&](const json& e) { return e.value("job", "") == "sleepy"; });
  // The records committed (the page reads them).
  REQUIRE(run_state_soon(a, runs["good"], "succeeded") == "succeeded");
  REQUIRE(run_state_soon(a, runs["bad"], "failed") == "failed");
  REQUIRE(run_state_soon(a, runs["sleepy"], "running") == "running");
  CHECK(http_get(a, "/ui", {}).status == 401);  // a browser is asked to sign in
  CHECK(http_get(a, "/ui", {}).headers.at("www-authenticate").rfind("Basic", 0) == 0);
  const std::string base = std::string("http://root:") + kRootToken + "@" + a;
  const std::string dom = chromium_dom(base + "/ui");
  INFO(dom);
  CHECK(dom.find("<h1>skedd</h1>") != std::string::npos);
  CHECK(dom.find("data-job=\"good\" data-status=\"ok\"") != std::string::npos);
  CHECK(dom.find("data-job=\"bad\" data-status=\"failing\"") != std::string::npos);
  CHECK(dom.find("data-job=\"sleepy\" data-status=\"running\"") != std::string::npos);
  CHECK(dom.find("data-job=\"held\" data-status=\"paused\"") != std::string::npos);
  CHECK(dom.find("<progress max=\"100\" value=\"40") != std::string::npos);
  CHECK(dom.find("<span class=\"s-failed\"") != std::string::npos);  // the strip
  CHECK(dom.find("Run now") != std::string::npos);
  // A job's page: its runs, and the running run's log tailed by the page's script.
  const std::string job = chromium_dom(base + "/ui/jobs/sleepy");
  INFO(job);
  CHECK(job.find("data-state=\"running\"") != std::string::npos);
  CHECK(job.find("sleepy-out") != std::string::npos);
  // Kept for a person to look at: build/artifacts/status_page.png.
  std::filesystem::create_directories("artifacts");
  const std::string shot = std::filesystem::absolute("artifacts/status_page.png");
  std::filesystem::remove(shot);
  chromium_dom(base + "/ui", shot);
  CHECK(std::filesystem::file_size(shot) > 10000);
}

TEST_CASE("HTTP: a run silent for its stall_timeout is stalled, and ended with on_stall_kill",
          "[http]") {
  TempDir dir("skedd-http-test");
  Daemon d(dir, write_http_config(dir, R"([job.quiet]
every = "1h"
stall_timeout = "1s"
command = ["/bin/sleep", "30"]

[job.hung]
every = "1h"
stall_timeout = "1s"
on_stall_kill = true
command = ["/bin/sleep", "30"]

[job.chatty]
every = "1h"
stall_timeout = "1s"
command = ["/bin/sh", "-c", "for i in 1 2 3 4 5 6; do echo heartbeat >&3; sleep 0.4; done"]

[job.talky]
every = "1h"
stall_timeout = "1s"
command = ["/bin/sh", "-c", "for i in 1 2 3 4 5 6; do echo out $i; sleep 0.4; done"]
)"));
  const std::string a = http_address_of(d);
  for (const char* job : {"quiet", "hung", "chatty", "talky"}) {
    REQUIRE(http_post(a, std::string("/api/v1/jobs/") + job + "/trigger").status == 202);
  }
  const json quiet =
      d.wait_for("run_stalled", [](const json& e) { return e.value("job", "") == "quiet"; });
  CHECK(quiet.at("effect") == "marked stalled; it goes on");
  CHECK(quiet.at("silent_s").get<double>() >= 1.0);
  // Marked in list and show (and so in skedctl's and the page's).
  CHECK(http_get(a, "/api/v1/jobs/quiet").json()["stalled"] == 1);
  const json listed_jobs = http_get(a, "/api/v1/jobs").json();  // a temporary's items dangle
  for (const json& j : listed_jobs["jobs"]) {
    // hung stalls at the same instant and is stalled until its kill has ended it.
    if (j["name"] != "hung") {
      CHECK(j["stalled"] == (j["name"] == "quiet" ? 1 : 0));
    }
  }
  const auto listed = skedd::test::skedctl(dir, {"list"});
  CHECK(listed.out.find("stalled") != std::string::npos);
  const auto shown = skedd::test::skedctl(dir, {"show", "quiet"});
  CHECK(shown.out.find("\nrunning:            1 (1 stalled: silent for its stall_timeout)\n") !=
        std::string::npos);
  const json hung =
      d.wait_for("run_finished", [](const json& e) { return e.value("job", "") == "hung"; });
  CHECK(hung.at("state") == "stalled");
  CHECK(hung.at("message") == "stalled: no control line or output for 1s (on_stall_kill)");
  // Heartbeats and output keep the others going: they end by themselves, never stalled.
  for (const char* job : {"chatty", "talky"}) {
    const json ended = d.wait_for(
        "run_finished", [&](const json& e) { return e.value("job", "") == job; }, 10000ms);
    CHECK(ended.at("state") == "succeeded");
    CHECK(d.events_named("run_stalled", [&](const json& e) {
             return e.value("job", "") == job;
           }).empty());
  }
  const HttpReply scraped = http_get(a, "/metrics");
  CHECK(scraped.body.find("\nskedd_runs_stalled 1\n") != std::string::npos);  // quiet, still on
  CHECK(scraped.body.find("skedd_runs_total{job=\"hung\",result=\"stalled\"} 1") !=
        std::string::npos);
}

TEST_CASE("HTTP: /api/v1/events streams events, and log?follow=1 a log until its run ends",
          "[http]") {
  using skedd::test::HttpStream;
  TempDir dir("skedd-http-test");
  Daemon d(dir, write_http_config(dir, R"([job.ticker]
every = "1h"
command = ["/bin/sh", "-c", "echo one; sleep 2; echo two; sleep 1; echo three"]

[job.other]
every = "1h"
command = ["/bin/true"]
)"));
  const std::string a = http_address_of(d);
  CHECK(http_get(a, "/api/v1/events", {}).status == 401);  // no token, no events
  CHECK(http_post(a, "/api/v1/events").status == 405);
  HttpStream events(a, "/api/v1/events", kRoot);
  HttpStream others(a, "/api/v1/events?job=other", kRoot);
  // The comment line each stream starts with: subscribed from then on.
  const auto opened = [](const std::string& b) { return b.rfind(": skedd events", 0) == 0; };
  REQUIRE(events.read_until(opened, 5000ms));
  REQUIRE(others.read_until(opened, 5000ms));
  CHECK(events.reply().status == 200);
  CHECK(events.reply().headers.at("content-type") == "text/event-stream");
  CHECK(events.reply().headers.at("transfer-encoding") == "chunked");

  const std::string run = http_post(a, "/api/v1/jobs/ticker/trigger").json()["run"].dump();
  d.wait_for("run_started", [](const json& e) { return e.value("job", "") == "ticker"; });
  HttpStream follow(a, "/api/v1/runs/" + run + "/log?follow=1", kRoot);
  // The log as it is written: its first line while the run still runs.
  REQUIRE(follow.read_until([](const std::string& b) { return b == "one\n"; }, 5000ms));
  CHECK(follow.reply().status == 200);
  CHECK(follow.reply().headers.at("content-type") == "text/plain; charset=utf-8");
  CHECK_FALSE(follow.ended());
  // Then the rest, and the response ends once the run has ended.
  follow.read_until([](const std::string&) { return false; }, 15000ms);
  CHECK(follow.ended());
  CHECK(follow.reply().body == "one\ntwo\nthree\n");
  // A run that has ended: its whole log, and the end at once.
  const HttpReply again = http_get(a, "/api/v1/runs/" + run + "/log?follow=1");
  CHECK(again.status == 200);
  CHECK(again.body == "one\ntwo\nthree\n");
  CHECK(http_get(a, "/api/v1/runs/" + run + "/log?follow=1", {}).status == 401);
  CHECK(http_get(a, "/api/v1/runs/99999/log?follow=1").status == 404);

  // The events of the run, in order, with the fields the JSON log has.
  REQUIRE(events.read_until(
      [](const std::string& b) { return has_event(b, "run_finished", "ticker"); }, 5000ms));
  std::vector<std::string> order;
  for (const auto& [name, data] : sse_events(events.reply().body)) {
    if (data.value("job", "") != "ticker") continue;
    order.push_back(name);
    CHECK(data.at("event") == name);
    CHECK(data.contains("time"));
    if (name == "run_finished") {
      CHECK(data.at("run").dump() == run);
      CHECK(data.at("state") == "succeeded");
    }
  }
  const auto started = std::find(order.begin(), order.end(), "run_started");
  const auto finished = std::find(order.begin(), order.end(), "run_finished");
  CHECK(started < finished);
  CHECK(finished != order.end());
  // ?job=other: that job's events only.
  REQUIRE(http_post(a, "/api/v1/jobs/other/trigger").status == 202);
  REQUIRE(others.read_until(
      [](const std::string& b) { return has_event(b, "run_finished", "other"); }, 5000ms));
  for (const auto& [name, data] : sse_events(others.reply().body)) {
    CHECK(data.value("job", "") == "other");
  }
  CHECK_FALSE(others.ended());
}

TEST_CASE("HTTP: workflows, their runs as trees, retry, metrics and the status page",
          "[http][workflow]") {
  TempDir dir("skedd-http-test");
  Daemon d(dir, write_http_config(dir, R"([job.first]
command = ["/bin/sh", "-c", "echo output n 3 >&3"]
[job.second]
command = ["/bin/sh", "-c", "test -e \")" + dir / "ok" +
                                           R"(\""]
[workflow.flow]
steps.a = { job = "first" }
steps.b = { job = "second", needs = ["a"] }
)"));
  const std::string a = http_address_of(d);
  const HttpReply list = http_get(a, "/api/v1/workflows");
  REQUIRE(list.status == 200);
  CHECK(list.json()["workflows"][0]["name"] == "flow");

  const HttpReply triggered = http_post(a, "/api/v1/workflows/flow/trigger");
  REQUIRE(triggered.status == 200);
  const std::string id = triggered.json()["run"].dump();
  d.wait_for("workflow_run_finished");
  const HttpReply run = http_get(a, "/api/v1/workflow-runs/" + id);
  REQUIRE(run.status == 200);
  const json failed = run.json()["runs"][0];
  CHECK(failed["state"] == "failed");
  CHECK(failed["steps"][0]["duration_s"].is_number());
  CHECK(failed["steps"][1]["run_state"] == "failed");
  CHECK(http_get(a, "/api/v1/workflow-runs/12345").status == 404);

  dir.write("ok", "");
  CHECK(http_post(a, "/api/v1/workflow-runs/" + id + "/retry").status == 400);  // no ?from
  REQUIRE(http_post(a, "/api/v1/workflow-runs/" + id + "/retry?from=b").status == 200);
  d.wait_for("workflow_run_finished", 2);
  CHECK(http_get(a, "/api/v1/workflow-runs?workflow=flow").json()["runs"][0]["state"] ==
        "succeeded");

  const auto m = parsed_metrics(dir, http_get(a, "/metrics").body);
  CHECK(m.at("skedd_workflow_runs_total{state=\"failed\",workflow=\"flow\"}") == 1);
  CHECK(m.at("skedd_workflow_runs_total{state=\"succeeded\",workflow=\"flow\"}") == 1);
  CHECK(m.at("skedd_workflow_runs_going_on{workflow=\"flow\"}") == 0);
  CHECK(m.count("skedd_workflow_last_success_timestamp_seconds{workflow=\"flow\"}") == 1);
  const HttpReply page = http_get(a, "/ui");
  REQUIRE(page.status == 200);
  CHECK(page.body.find("<tr data-workflow=\"flow\"><td>flow</td>") != std::string::npos);
  CHECK(page.body.find(">succeeded</span> " + id + ", ") != std::string::npos);
}
