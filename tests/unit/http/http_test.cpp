// The HTTP API's pure parts: request targets, error statuses, token files and their table,
// and the Prometheus text's label escaping.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "fakes/recording_sink.h"
#include "http/event_feed.h"
#include "http/http_service.h"
#include "http/metrics.h"
#include "http/status_page.h"
#include "http/tokens.h"
#include "skedd/schedule/schedule.h"
#include "skedd/time/timestamp.h"
#include "support/temp_dir.h"

namespace {

using skedd::http::parse_target;

TEST_CASE("a request target is split into a decoded path and query", "[http]") {
  const auto t = parse_target("/api/v1/jobs/nightly%20backup?job=a%2Fb&limit=5&force&x=1+2");
  REQUIRE(t);
  CHECK(t->first == "/api/v1/jobs/nightly backup");
  CHECK(t->second.at("job") == "a/b");
  CHECK(t->second.at("limit") == "5");
  CHECK(t->second.at("force").empty());
  CHECK(t->second.at("x") == "1 2");
  CHECK_FALSE(parse_target("api/v1"));        // not origin-form
  CHECK_FALSE(parse_target("http://h/api"));  // absolute-form
  CHECK_FALSE(parse_target("/a%2"));          // a cut escape
  CHECK_FALSE(parse_target("/a%zz"));         // not hex
  CHECK_FALSE(parse_target("/a%00b"));        // a NUL
  CHECK_FALSE(parse_target("/a?k=%00"));
}

TEST_CASE("control failures map to HTTP statuses", "[http]") {
  using namespace skedd::control;
  CHECK(skedd::http::status_of(kJobNotFound) == 404);
  CHECK(skedd::http::status_of(kRunNotFound) == 404);
  CHECK(skedd::http::status_of(kPermissionDenied) == 403);
  CHECK(skedd::http::status_of(kConflict) == 409);
  CHECK(skedd::http::status_of(kInvalidArgument) == 400);
  CHECK(skedd::http::status_of(kStoreUnavailable) == 503);
  CHECK(skedd::http::status_of(kInternal) == 500);
  const auto r = skedd::http::error_response(404, kJobNotFound, "no job \"x\"");
  CHECK(r.body == "{\"error\":{\"code\":\"JOB_NOT_FOUND\",\"message\":\"no job \\\"x\\\"\"}}\n");
}

TEST_CASE("a token is 16 to 512 printable bytes, and a table finds its user", "[http]") {
  using skedd::http::token_of;
  CHECK(token_of("abcdefghijklmnop\n").value() == "abcdefghijklmnop");
  CHECK(token_of("short\n").error().message == "the token is shorter than 16 bytes");
  CHECK(token_of(std::string(513, 'a')).error().message == "the token is longer than 512 bytes");
  CHECK(token_of("abcdefgh ijklmnop").error().message ==
        "the token holds a space, a control character or a non-ASCII byte");
  skedd::http::TokenTable table;
  table.add("aaaaaaaaaaaaaaaa", {"root", 0, 0});
  table.add("bbbbbbbbbbbbbbbb", {"alice", 1000, 1000});
  CHECK(table.find("bbbbbbbbbbbbbbbb")->user == "alice");
  CHECK(table.find("aaaaaaaaaaaaaaaa")->uid == 0);
  CHECK_FALSE(table.find("aaaaaaaaaaaaaaa"));  // a prefix
  CHECK_FALSE(table.find("aaaaaaaaaaaaaaaaa"));
  CHECK_FALSE(table.find(""));
}

TEST_CASE("token files are refused unless private, regular and the user's", "[http]") {
  skedd::test::TempDir dir("skedd-http-test");
  const std::string good = dir.write("good", "0123456789abcdef0123\n");
  ::chmod(good.c_str(), 0600);
  const std::string open = dir.write("open", "0123456789abcdef0123\n");
  ::chmod(open.c_str(), 0640);
  const std::string link = dir / "link";
  REQUIRE(::symlink(good.c_str(), link.c_str()) == 0);
  const uid_t me = ::geteuid();
  const gid_t group = ::getegid();
  CHECK(skedd::http::read_token_file(good, me, group).value() == "0123456789abcdef0123\n");
  CHECK(skedd::http::read_token_file(open, me, group).error().message ==
        "readable or writable by group or others (chmod 600 it)");
  CHECK(skedd::http::read_token_file(link, me, group).error().message ==
        "cannot open it as the user: Too many levels of symbolic links");
  CHECK(skedd::http::read_token_file(dir / "missing", me, group).error().message ==
        "cannot open it as the user: No such file or directory");
  const auto loaded = skedd::http::load_tokens({{"root", good}, {"nosuchuser-skedd", good}});
  REQUIRE(loaded.errors.size() == (me == 0 ? 1u : 2u));
  CHECK(loaded.errors.back().find("http.tokens.nosuchuser-skedd: " + good + ": ") == 0);
  if (me == 0) {
    CHECK(loaded.table.find("0123456789abcdef0123")->user == "root");
    // The same token for two users: neither's. (The file is read as its user: "daemon" must
    // reach it.)
    const passwd* daemon = ::getpwnam("daemon");
    REQUIRE(daemon != nullptr);
    REQUIRE(::chmod(dir.path().c_str(), 0711) == 0);
    const std::string theirs = dir.write("theirs", "0123456789abcdef0123\n");
    REQUIRE(::chown(theirs.c_str(), daemon->pw_uid, daemon->pw_gid) == 0);
    ::chmod(theirs.c_str(), 0600);
    CHECK(skedd::http::load_tokens({{"daemon", theirs}}).table.find("0123456789abcdef0123")->user ==
          "daemon");
    const auto twice = skedd::http::load_tokens({{"root", good}, {"daemon", theirs}});
    CHECK(twice.table.size() == 0);
    REQUIRE(twice.errors.size() == 2);
    CHECK(twice.errors[0] == "http.tokens.daemon: " + theirs +
                                 ": the same token as another user's: neither is accepted");
  }
}

TEST_CASE("label values escape backslash, quote and newline", "[http]") {
  CHECK(skedd::http::label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}

}  // namespace

namespace {

skedd::Instant utc_at(const char* text) {
  return skedd::parse_rfc3339(text).value();
}

std::string deadline_of(const skedd::JobSpec& spec, const char* next, const char* since) {
  const auto d = skedd::http::success_deadline(spec, utc_at(next), utc_at(since));
  return d ? skedd::format_rfc3339_utc(*d) : "none";
}

}  // namespace

TEST_CASE("a job's success deadline is its first fire after the last success, plus slack",
          "[http]") {
  skedd::JobSpec nightly;
  nightly.schedule = skedd::parse_cron_schedule("0 2 * * *", skedd::TimeZone()).value();
  // Succeeded Monday 02:10: due again Tuesday 02:00, plus 1h (no hard timeout) and 5m.
  CHECK(deadline_of(nightly, "2026-03-03T02:00:00Z", "2026-03-02T02:10:00Z") ==
        "2026-03-03T03:05:00Z");
  // Tuesday's run failed: the deadline stays where it was, and passes.
  CHECK(deadline_of(nightly, "2026-03-04T02:00:00Z", "2026-03-02T02:10:00Z") ==
        "2026-03-03T03:05:00Z");
  nightly.options.edit().hard_timeout = std::chrono::hours(3);
  CHECK(deadline_of(nightly, "2026-03-03T02:00:00Z", "2026-03-02T02:10:00Z") ==
        "2026-03-03T05:05:00Z");
  nightly.options.edit().expect_duration = std::chrono::minutes(20);
  nightly.options.edit().expect_grace = std::chrono::minutes(10);
  CHECK(deadline_of(nightly, "2026-03-03T02:00:00Z", "2026-03-02T02:10:00Z") ==
        "2026-03-03T02:30:00Z");

  skedd::JobSpec every;
  every.schedule = skedd::parse_every_schedule("10m").value();
  every.options.edit().expect_duration = std::chrono::minutes(1);
  every.options.edit().expect_grace = std::chrono::seconds(0);
  // Fires on the grid of its next fire (12:05, 11:55, 11:45, ...): the first after 11:47.
  CHECK(deadline_of(every, "2026-03-03T12:05:00Z", "2026-03-03T11:47:00Z") ==
        "2026-03-03T11:56:00Z");
  CHECK(deadline_of(every, "2026-03-03T12:05:00Z", "2026-03-03T11:55:00Z") ==
        "2026-03-03T12:06:00Z");  // strictly after

  skedd::JobSpec once;
  once.schedule = skedd::parse_at_schedule("2026-03-03T12:00:00Z").value();
  CHECK(deadline_of(once, "2026-03-03T12:00:00Z", "2026-03-03T11:00:00Z") ==
        "2026-03-03T13:05:00Z");
  CHECK(deadline_of(once, "2026-03-03T12:00:00Z", "2026-03-03T12:30:00Z") == "none");
}

TEST_CASE("the status page marks each job and escapes what users wrote", "[http]") {
  using skedd::http::PageJob;
  using skedd::http::status_of_job;
  const double now = 1'800'000'000;
  PageJob row;
  row.job = {{"name", "a<b"}, {"paused", false}, {"running", 0}, {"schedule", "0 2 * * *"}};
  CHECK(status_of_job(row, false, now) == "ok");
  row.deadline = now - 1;
  CHECK(status_of_job(row, false, now) == "late");
  row.runs = nlohmann::json::array({{{"state", "running"}, {"ended", nullptr}},
                                    {{"state", "timed_out"}, {"ended", "2027-01-15T08:00:00Z"}}});
  CHECK(status_of_job(row, false, now) == "failing");  // the latest ended run
  row.job["running"] = 1;
  CHECK(status_of_job(row, false, now) == "running");
  row.job["stalled"] = 1;
  CHECK(status_of_job(row, false, now) == "stalled");
  CHECK(status_of_job(row, true, now) == "paused");
  row.job["stalled"] = 0;
  const std::string page = skedd::http::render_overview({row}, false, now, "root", true, 3);
  CHECK(page.find("<a href=\"/ui/jobs/a%3Cb\">a&lt;b</a>") != std::string::npos);
  CHECK(page.find("a<b") == std::string::npos);
  CHECK(page.find("3 more job(s) not shown") != std::string::npos);
  CHECK(page.find("<form method=\"post\" action=\"/ui/jobs/a%3Cb/trigger\">") != std::string::npos);
  CHECK(skedd::http::render_overview({row}, false, now, "root", false, 0).find("<form") ==
        std::string::npos);  // read-only: no buttons
  CHECK(skedd::http::html_escape("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
}

TEST_CASE("a response stream is bounded, ends once, and tells when the client has gone", "[http]") {
  skedd::http::ResponseStream stream(10);
  int woken = 0;
  CHECK(stream.push("abc"));
  stream.set_wake([&] { ++woken; });
  CHECK(woken == 1);  // something was queued already
  CHECK(stream.push("defgh"));
  CHECK(woken == 2);
  CHECK_FALSE(stream.push("ijk"));  // 11 bytes over a bound of 10: nothing queued
  CHECK(stream.queued() == 8);
  bool finished = true;
  CHECK(stream.take(finished) == "abcdefgh");
  CHECK_FALSE(finished);
  CHECK(stream.push("ijk"));
  stream.finish(" the end, over the bound");
  CHECK(stream.gone());
  CHECK_FALSE(stream.push("more"));
  CHECK(stream.take(finished) == "ijk the end, over the bound");
  CHECK(finished);
  skedd::http::ResponseStream left(10);
  left.close();
  CHECK(left.gone());
  CHECK_FALSE(left.push("x"));
}

TEST_CASE("the event feed sends each client what it sees, at info and above, on the loop",
          "[http]") {
  using skedd::EventKind;
  using skedd::Severity;
  boost::asio::io_context io;
  skedd::test::RecordingSink log;
  skedd::http::EventFeed feed(log, io);
  CHECK_FALSE(feed.wants(EventKind::kCheckpoint, Severity::kDebug));
  auto all = std::make_shared<skedd::http::ResponseStream>(1 << 20);
  auto only_a = std::make_shared<skedd::http::ResponseStream>(1 << 20);
  auto small = std::make_shared<skedd::http::ResponseStream>(100);
  feed.subscribe({all, [](const nlohmann::json&) { return true; }});
  feed.subscribe({only_a, [](const nlohmann::json& f) { return f.value("job", "") == "a"; }});
  feed.subscribe({small, [](const nlohmann::json&) { return true; }});
  CHECK(feed.subscribers() == 3);
  CHECK(feed.wants(EventKind::kRunStarted, Severity::kInfo));
  CHECK_FALSE(feed.wants(EventKind::kCheckpoint, Severity::kDebug));
  const skedd::Events events(&feed);
  // Off the loop's thread (the store's open and close): to the log only.
  events.emit(Severity::kInfo, EventKind::kRunStarted, {{"job", "a"}, {"run", 1}});
  CHECK(log.count(EventKind::kRunStarted) == 1);
  bool finished = false;
  CHECK(all->take(finished) == ": skedd events\n\n");
  boost::asio::post(io, [&] {
    events.emit(Severity::kInfo, EventKind::kRunStarted, {{"job", "a"}, {"run", 1}});
    events.emit(Severity::kWarn, EventKind::kRunStalled, {{"job", "b"}, {"run", 2}});
    events.emit(Severity::kDebug, EventKind::kCheckpoint, {{"job", "a"}, {"run", 1}});
  });
  io.run();
  CHECK(log.count(EventKind::kRunStarted) == 2);
  const std::string sent = all->take(finished);
  CHECK(sent.find("id: 1\nevent: run_started\ndata: {") == 0);
  CHECK(sent.find("\"event\":\"run_started\"") != std::string::npos);
  CHECK(sent.find("\"level\":\"info\"") != std::string::npos);
  CHECK(sent.find("id: 2\nevent: run_stalled\n") != std::string::npos);
  CHECK(sent.find("checkpoint") == std::string::npos);  // debug: the log's only
  const std::string a = only_a->take(finished);
  CHECK(a.find("run_started") != std::string::npos);
  CHECK(a.find("run_stalled") == std::string::npos);
  // A client 100 bytes behind: told so, and its stream ends.
  const std::string behind = small->take(finished);
  CHECK(finished);
  CHECK(behind.find("event: overflow\n") != std::string::npos);
  CHECK(feed.subscribers() == 2);
  all->close();
  feed.keepalive();
  CHECK(feed.subscribers() == 1);
  CHECK(only_a->take(finished).find(": keepalive\n\n") != std::string::npos);
}
