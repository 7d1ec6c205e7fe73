#include "http/http_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <random>

#include <boost/asio/steady_timer.hpp>

#include "exec/run_setup.h"
#include "http/status_page.h"
#include "skedd/control/replies.h"
#include "skedd/time/duration.h"

namespace skedd::http {
namespace {

using control::Failure;
using nlohmann::json;

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

std::optional<int> hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

// Percent-decodes `s` ('+' as a space in a query); nullopt on a bad escape or a NUL.
std::optional<std::string> decode(std::string_view s, bool query) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const auto hi = hex_digit(s[i + 1]);
      const auto lo = hex_digit(s[i + 2]);
      if (!hi || !lo) return std::nullopt;
      c = static_cast<char>(*hi * 16 + *lo);
      i += 2;
    } else if (c == '+' && query) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out += c;
  }
  return out;
}

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t at = 1;
  while (at <= path.size()) {
    const std::size_t slash = path.find('/', at);
    const std::size_t end = slash == std::string::npos ? path.size() : slash;
    out.push_back(path.substr(at, end - at));
    at = end + 1;
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // a trailing slash
  return out;
}

std::optional<RunId> run_id_of(const std::string& s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v == 0) return std::nullopt;
  return RunId{v};
}

std::optional<std::uint64_t> number_of(const std::map<std::string, std::string>& q,
                                       const std::string& key, std::uint64_t fallback,
                                       std::uint64_t max) {
  const auto it = q.find(key);
  if (it == q.end()) return fallback;
  std::uint64_t v = 0;
  const auto [end, ec] =
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || v > max)
    return std::nullopt;
  return v;
}

bool flag_of(const std::map<std::string, std::string>& q, const std::string& key) {
  const auto it = q.find(key);
  return it != q.end() && (it->second == "1" || it->second == "true" || it->second.empty());
}

// 128 random bits, hex: a script nonce.
std::string random_nonce() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", rd());
    out += buf;
  }
  return out;
}

HttpResponse not_found() {
  return error_response(404, "NOT_FOUND", "no such path in skedd's HTTP API (see skedd(8))");
}

HttpResponse unauthenticated() {
  HttpResponse r = error_response(401, "UNAUTHENTICATED",
                                  "this path needs a bearer token ([http.tokens] in "
                                  "skedd.toml(5)): Authorization: Bearer TOKEN");
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"skedd\"");
  // A browser signed in to /ui answers this one with the credentials it has.
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"skedd\", charset=\"UTF-8\"");
  return r;
}

HttpResponse method_not_allowed(const char* allowed) {
  HttpResponse r =
      error_response(405, "METHOD_NOT_ALLOWED", std::string("this path takes ") + allowed);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

// Whether the request changes what runs (jobs' definitions, reload, the run-slot count):
// off unless [http] allow_definition_writes.
bool writes_definitions(const control::Request& r) {
  return std::holds_alternative<control::AddRequest>(r) ||
         std::holds_alternative<control::RemoveRequest>(r) ||
         std::holds_alternative<control::ReloadRequest>(r) ||
         std::holds_alternative<control::SetRequest>(r) ||
         (std::holds_alternative<control::CrontabRequest>(r) &&
          std::get<control::CrontabRequest>(r).action != control::CrontabRequest::Action::kGet);
}

}  // namespace

std::optional<std::pair<std::string, std::map<std::string, std::string>>> parse_target(
    std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  const std::size_t q = target.find('?');
  auto path = decode(target.substr(0, q), false);
  if (!path) return std::nullopt;
  std::map<std::string, std::string> query;
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const std::size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const std::size_t eq = pair.find('=');
      auto key = decode(pair.substr(0, eq), true);
      auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                                : decode(pair.substr(eq + 1), true);
      if (!key || !value) return std::nullopt;
      if (!key->empty()) query[*key] = *value;
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  return std::pair{std::move(*path), std::move(query)};
}

int status_of(const std::string& code) {
  if (code == control::kJobNotFound || code == control::kRunNotFound) return 404;
  if (code == control::kPermissionDenied) return 403;
  if (code == control::kConflict) return 409;
  if (code == control::kInvalidArgument) return 400;
  if (code == control::kStoreUnavailable) return 503;
  return 500;
}

HttpResponse error_response(int status, const std::string& code, const std::string& message) {
  return json_response(status, {{"error", {{"code", code}, {"message", message}}}});
}

HttpService::HttpService(asio::io_context& io, Engine& engine, Store& store, Control& control,
                         const Metrics* metrics, EventFeed* feed, HttpConfig config, ReplyGate gate,
                         std::string version)
    : io_(io),
      engine_(engine),
      store_(store),
      control_(control),
      metrics_(metrics),
      feed_(feed),
      config_(std::move(config)),
      gate_(std::move(gate)),
      version_(std::move(version)),
      started_at_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                      .count()) {}

HttpResponse HttpService::readiness() {
  const StoreHealth health = store_.health();
  if (!health.ok) {
    return json_response(
        503, {{"ready", false}, {"reason", "the state database cannot commit: " + health.error}});
  }
  if (engine_.draining()) {
    return json_response(503, {{"ready", false}, {"reason", "skedd is draining"}});
  }
  return json_response(200, {{"ready", true}});
}

HttpResponse HttpService::metrics(const std::optional<Peer>& caller, double loop_lag) {
  if (metrics_ == nullptr) return not_found();
  Viewer viewer;
  if (caller) {
    viewer = control_.viewer_of(*caller);
  } else if (config_.metrics_public) {
    viewer.admin = true;
  } else {
    HttpResponse r = error_response(
        401, "UNAUTHENTICATED",
        "/metrics needs a bearer token ([http.tokens]) unless [http] metrics_public = true");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"skedd\"");
    return r;
  }
  ScrapeContext ctx{version_, started_at_, loop_lag, store_.health(),
                    static_cast<std::size_t>(config_.metrics_max_jobs)};
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_->render(engine_, viewer, ctx);
  return r;
}

void HttpService::wait_for_end(RunId run, Peer caller, std::chrono::steady_clock::time_point until,
                               json accepted, std::function<void(HttpResponse)> done) {
  // Not recorded yet (waiting for a slot) reads as RUN_NOT_FOUND: asked again until `until`.
  ControlReply reply = control_.handle(control::RunRequest{run}, caller);
  if (auto* j = std::get_if<json>(&reply)) {
    const auto state = run_state_from_string((*j)["run"].value("state", ""));
    if (state && is_final(*state)) return done(json_response(200, *j));
  }
  if (std::chrono::steady_clock::now() >= until) {
    accepted["waited"] = "the run has not ended yet";
    return done(json_response(202, accepted));
  }
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(200));
  timer->async_wait([this, timer, run, caller, until, accepted = std::move(accepted),
                     done = std::move(done)](const boost::system::error_code& ec) mutable {
    if (ec) return;
    wait_for_end(run, caller, until, std::move(accepted), std::move(done));
  });
}

HttpResponse HttpService::ui(const HttpRequest& req, const std::optional<Peer>& caller) {
  if (!caller) {
    // A browser asks for the user name and the token (as the password) and sends them in the
    // Authorization header from then on.
    HttpResponse r = error_response(401, "UNAUTHENTICATED",
                                    "sign in with your user name and your token as password");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"skedd\", charset=\"UTF-8\"");
    return r;
  }
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const bool can_act = !config_.read_only;
  HttpResponse page;
  page.content_type = "text/html; charset=utf-8";
  // The one script is inline, allowed by a nonce of this response.
  const std::string nonce = random_nonce();
  page.headers.emplace_back("Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-" +
                                nonce +
                                "'; connect-src 'self'; form-action 'self'; frame-ancestors "
                                "'none'");
  const std::vector<std::string> seg = segments(req.path);
  const auto failure_page = [](const Failure& f) {
    HttpResponse r;
    r.status = status_of(f.code);
    r.content_type = "text/html; charset=utf-8";
    r.body = "<!doctype html><html><body><p>" + html_escape(f.message) +
             "</p><p><a href=\"/ui\">all jobs</a></p></body></html>\n";
    return r;
  };
  if (seg.size() == 4 && seg[1] == "jobs") {  // a button: POST, then back to the page
    if (req.method != "POST") return method_not_allowed("POST");
    if (!can_act) {
      return error_response(403, control::kPermissionDenied,
                            "skedd's HTTP API is read-only here ([http] read_only = true)");
    }
    control::Request action;
    if (seg[3] == "trigger") {
      action = control::TriggerRequest{seg[2], false};
    } else if (seg[3] == "pause" || seg[3] == "resume") {
      control::PauseRequest p;
      p.job = seg[2];
      p.pause = seg[3] == "pause";
      action = p;
    } else {
      return not_found();
    }
    ControlReply reply = control_.handle(action, *caller);
    if (auto* f = std::get_if<Failure>(&reply)) return failure_page(*f);
    HttpResponse r;
    r.status = 303;
    r.content_type = "text/plain";
    r.headers.emplace_back("Location", "/ui/jobs/" + req.path.substr(9, req.path.rfind('/') - 9));
    return r;
  }
  if (req.method != "GET" && req.method != "HEAD") return method_not_allowed("GET");
  if (seg.size() == 3 && seg[1] == "jobs") {
    ControlReply show = control_.handle(control::ShowRequest{seg[2]}, *caller);
    if (auto* f = std::get_if<Failure>(&show)) return failure_page(*f);
    control::RunsRequest runs_of;
    runs_of.job = seg[2];
    runs_of.limit = 50;
    ControlReply runs = control_.handle(runs_of, *caller);
    if (auto* f = std::get_if<Failure>(&runs)) return failure_page(*f);
    page.body =
        render_job_page(std::get<json>(show), std::get<json>(runs)["runs"], now, can_act, nonce);
    return page;
  }
  if (seg.size() != 1) return not_found();
  ControlReply list = control_.handle(control::ListRequest{}, *caller);
  if (auto* f = std::get_if<Failure>(&list)) return failure_page(*f);
  const json& jobs = std::get<json>(list)["jobs"];
  // Bounded as the metrics are: a row costs a read of the job's latest runs.
  const std::size_t shown =
      std::min(jobs.size(), static_cast<std::size_t>(std::max(config_.metrics_max_jobs, 0)));
  std::vector<PageJob> rows;
  for (std::size_t i = 0; i < shown; ++i) {
    PageJob& row = rows.emplace_back();
    row.job = jobs[i];
    const std::string name = row.job.value("name", "");
    control::RunsRequest recent;
    recent.job = name;
    recent.limit = 20;
    ControlReply runs = control_.handle(recent, *caller);
    if (auto* j = std::get_if<json>(&runs)) row.runs = (*j)["runs"];
    if (metrics_ != nullptr) {
      if (const auto info = engine_.job(name)) row.deadline = metrics_->deadline_of(engine_, *info);
    }
  }
  const Result<UserInfo> who = lookup_user(std::to_string(caller->uid));
  // The workflows the caller sees, each with its latest run (bounded: 100 at most).
  json workflows = json::array();
  ControlReply wlist = control_.handle(control::WorkflowRequest{}, *caller);
  if (auto* j = std::get_if<json>(&wlist)) {
    for (const json& w : (*j)["workflows"]) {
      if (workflows.size() >= 100) break;
      json row = w;
      control::WorkflowRequest latest;
      latest.action = control::WorkflowRequest::Action::kRuns;
      latest.workflow = w.value("name", "");
      latest.limit = 1;
      latest.tree = true;
      ControlReply runs = control_.handle(latest, *caller);
      if (auto* r = std::get_if<json>(&runs); r != nullptr && !(*r)["runs"].empty()) {
        row["latest"] = (*r)["runs"][0];
      }
      workflows.push_back(std::move(row));
    }
  }
  page.body = render_overview(rows, std::get<json>(list).value("paused_all", false), now,
                              who ? who->name : "uid " + std::to_string(caller->uid), can_act,
                              jobs.size() - shown, workflows);
  return page;
}

namespace {

// POST .../NAME/backfill?from=T&to=T[&concurrency=N][&rerun=1]: the backfill of job or
// workflow `name`.
std::variant<control::Request, HttpResponse> backfill_request(const HttpRequest& req,
                                                              const std::string& name) {
  control::BackfillRequest b;
  b.name = name;
  const auto from = req.query.find("from");
  const auto to = req.query.find("to");
  if (from == req.query.end() || to == req.query.end()) {
    return error_response(400, control::kInvalidArgument,
                          "backfill needs ?from=TIME&to=TIME (RFC 3339)");
  }
  b.from = from->second;
  b.to = to->second;
  const auto concurrency = number_of(req.query, "concurrency", 1, 16);
  if (!concurrency || *concurrency == 0) {
    return error_response(400, control::kInvalidArgument,
                          "concurrency: must be a number from 1 to 16");
  }
  b.concurrency = static_cast<int>(*concurrency);
  b.rerun = flag_of(req.query, "rerun");
  return b;
}

}  // namespace

std::variant<control::Request, HttpResponse> HttpService::api_request(const HttpRequest& req) {
  const std::vector<std::string> seg = segments(req.path);
  if (seg.size() < 3 || seg[0] != "api" || seg[1] != "v1") return not_found();
  const std::string& what = seg[2];
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (what == "status" && seg.size() == 3) {
    if (!get) return method_not_allowed("GET");
    return control::StatusRequest{};
  }
  if ((what == "pause" || what == "resume" || what == "drain" || what == "reload") &&
      seg.size() == 3) {
    if (!post) return method_not_allowed("POST");
    if (what == "drain") return control::DrainRequest{};
    if (what == "reload") return control::ReloadRequest{};
    control::PauseRequest p;
    p.all = true;
    p.pause = what == "pause";
    return p;
  }
  if (what == "jobs") {
    if (seg.size() == 3) {
      if (get) return control::ListRequest{};
      if (post || req.method == "PUT") return control::AddRequest{req.body, req.method == "PUT"};
      return method_not_allowed("GET, POST, PUT");
    }
    const std::string& job = seg[3];
    if (seg.size() == 4) {
      if (get) return control::ShowRequest{job};
      if (req.method == "DELETE") return control::RemoveRequest{job};
      return method_not_allowed("GET, DELETE");
    }
    if (seg.size() == 5) {
      if (!post) return method_not_allowed("POST");
      if (seg[4] == "trigger") return control::TriggerRequest{job, flag_of(req.query, "force")};
      if (seg[4] == "backfill") return backfill_request(req, job);
      if (seg[4] == "pause" || seg[4] == "resume") {
        control::PauseRequest p;
        p.job = job;
        p.pause = seg[4] == "pause";
        return p;
      }
    }
    return not_found();
  }
  if (what == "fires" && seg.size() == 3) {
    if (!get) return method_not_allowed("GET");
    const auto job = req.query.find("job");
    if (job == req.query.end() || job->second.empty()) {
      return error_response(400, control::kInvalidArgument,
                            "/api/v1/fires needs ?job=NAME (the job whose fires not run to list)");
    }
    return control::ShowRequest{job->second};
  }
  if (what == "runs") {
    if (seg.size() == 3) {
      if (!get) return method_not_allowed("GET");
      control::RunsRequest r;
      if (const auto job = req.query.find("job"); job != req.query.end()) r.job = job->second;
      if (const auto state = req.query.find("state"); state != req.query.end()) {
        r.state = run_state_from_string(state->second);
        if (!r.state) {
          return error_response(400, control::kInvalidArgument,
                                "state: no run state \"" + state->second + "\"");
        }
      }
      const auto limit = number_of(req.query, "limit", 20, 1000);
      if (!limit || *limit == 0) {
        return error_response(400, control::kInvalidArgument,
                              "limit: must be a number from 1 to 1000");
      }
      r.limit = *limit;
      return r;
    }
    const std::optional<RunId> run = run_id_of(seg[3]);
    if (!run) {
      return error_response(400, control::kInvalidArgument,
                            "\"" + seg[3] + "\" is not a run id (a positive number)");
    }
    if (seg.size() == 4) {
      if (!get) return method_not_allowed("GET");
      return control::RunRequest{*run};
    }
    if (seg.size() == 5 && seg[4] == "log") {
      if (!get) return method_not_allowed("GET");
      const auto offset = number_of(req.query, "offset", 0, UINT64_MAX);
      const auto max = number_of(req.query, "max_bytes", 256 * 1024, 1024 * 1024);
      if (!offset || !max) {
        return error_response(400, control::kInvalidArgument,
                              "offset and max_bytes must be numbers (max_bytes at most 1048576)");
      }
      return control::LogsRequest{*run, *offset, *max};
    }
    if (seg.size() == 5) {
      if (!post) return method_not_allowed("POST");
      if (seg[4] == "cancel") return control::CancelRequest{*run};
      if (seg[4] == "pause" || seg[4] == "resume") {
        control::PauseRequest p;
        p.run = *run;
        p.pause = seg[4] == "pause";
        return p;
      }
    }
    return not_found();
  }
  if (what == "workflows") {
    using Action = control::WorkflowRequest::Action;
    control::WorkflowRequest w;
    if (seg.size() == 3) {
      if (!get) return method_not_allowed("GET");
      return w;  // the list
    }
    if (seg.size() == 5 && seg[4] == "trigger") {
      if (!post) return method_not_allowed("POST");
      w.action = Action::kTrigger;
      w.workflow = seg[3];
      w.force = flag_of(req.query, "force");
      return w;
    }
    if (seg.size() == 5 && seg[4] == "backfill") {
      if (!post) return method_not_allowed("POST");
      return backfill_request(req, seg[3]);
    }
    return not_found();
  }
  if (what == "workflow-runs") {
    using Action = control::WorkflowRequest::Action;
    control::WorkflowRequest w;
    w.action = Action::kRuns;
    w.tree = true;
    if (seg.size() == 3) {
      if (!get) return method_not_allowed("GET");
      if (const auto name = req.query.find("workflow"); name != req.query.end()) {
        w.workflow = name->second;
      }
      const auto limit = number_of(req.query, "limit", 20, 20);
      if (!limit || *limit == 0) {
        return error_response(400, control::kInvalidArgument,
                              "limit: must be a number from 1 to 20");
      }
      w.limit = *limit;
      return w;
    }
    const std::optional<RunId> run = run_id_of(seg[3]);
    if (!run) {
      return error_response(400, control::kInvalidArgument,
                            "\"" + seg[3] + "\" is not a workflow run id (a positive number)");
    }
    w.run = *run;
    if (seg.size() == 4) {
      if (!get) return method_not_allowed("GET");
      return w;
    }
    if (seg.size() == 5) {
      if (!post) return method_not_allowed("POST");
      w.tree = false;
      if (seg[4] == "cancel") w.action = Action::kCancel;
      if (seg[4] == "pause") w.action = Action::kPause;
      if (seg[4] == "resume") w.action = Action::kResume;
      if (seg[4] == "retry") {
        const auto from = req.query.find("from");
        if (from == req.query.end() || from->second.empty()) {
          return error_response(400, control::kInvalidArgument, "retry needs ?from=STEP");
        }
        w.action = Action::kRetry;
        w.from = from->second;
      }
      if (w.action != Action::kRuns) return w;
    }
    return not_found();
  }
  if (what == "crontab" && seg.size() <= 4) {
    control::CrontabRequest c;
    if (seg.size() == 4) c.user = seg[3];
    if (get) {
      c.action = control::CrontabRequest::Action::kGet;
    } else if (req.method == "PUT") {
      c.action = control::CrontabRequest::Action::kPut;
      c.text = req.body;
    } else if (req.method == "DELETE") {
      c.action = control::CrontabRequest::Action::kRemove;
    } else {
      return method_not_allowed("GET, PUT, DELETE");
    }
    return c;
  }
  return not_found();
}

std::optional<HttpResponse> HttpService::refuse_stream(const Peer& caller) {
  std::erase_if(streams_, [](const Streaming& s) {
    const auto stream = s.stream.lock();
    return !stream || stream->gone();
  });
  const auto theirs = static_cast<std::size_t>(std::count_if(
      streams_.begin(), streams_.end(), [&](const Streaming& s) { return s.uid == caller.uid; }));
  const bool root = caller.uid == 0;
  if (!root && theirs >= kMaxStreamsPerUser) {
    return error_response(503, "BUSY",
                          "a user's streamed responses (events, followed logs) are at most " +
                              std::to_string(kMaxStreamsPerUser) + " at a time");
  }
  if (streams_.size() >= (root ? kMaxStreams : kMaxStreams - kRootStreams)) {
    return error_response(503, "BUSY",
                          "skedd streams " + std::to_string(kMaxStreams) +
                              " responses (events, followed logs) at most at a time");
  }
  return std::nullopt;
}

HttpResponse HttpService::events(const HttpRequest& req, const Peer& caller) {
  if (feed_ == nullptr) return not_found();
  if (req.method != "GET") return method_not_allowed("GET");
  if (auto refused = refuse_stream(caller)) return std::move(*refused);
  std::string only;
  if (const auto job = req.query.find("job"); job != req.query.end()) only = job->second;
  JobViewer viewer = control_.viewer_of(caller);
  HttpResponse r;
  r.content_type = "text/event-stream";
  r.stream = std::make_shared<ResponseStream>(kEventStreamQueue);
  count_stream(caller, r.stream);
  // Events name a job in `job`; those that name none (the daemon's own) are root's only.
  feed_->subscribe({r.stream, [this, viewer = std::move(viewer), only](const json& f) {
                      const auto job = f.find("job");
                      const bool named = job != f.end() && job->is_string();
                      if (!only.empty() && (!named || job->get_ref<const std::string&>() != only)) {
                        return false;
                      }
                      if (viewer.admin) return true;
                      if (!named || !viewer.sees) return false;
                      const auto info = engine_.job(job->get_ref<const std::string&>());
                      return info.has_value() && viewer.sees(*info->spec);
                    }});
  arm_keepalive();
  return r;
}

void HttpService::arm_keepalive() {
  if (keepalive_) return;
  keepalive_ = std::make_unique<asio::steady_timer>(io_, kKeepalive);
  keepalive_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    keepalive_.reset();
    if (feed_->subscribers() == 0) return;
    feed_->keepalive();
    arm_keepalive();
  });
}

HttpResponse HttpService::follow(RunId run, const Peer& caller, const json& first) {
  if (auto refused = refuse_stream(caller)) return std::move(*refused);
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.stream = std::make_shared<ResponseStream>(kFollowQueue);
  count_stream(caller, r.stream);
  follow_read(run, caller, r.stream, first);
  return r;
}

void HttpService::follow_read(RunId run, const Peer& caller,
                              const std::shared_ptr<ResponseStream>& stream, const json& read) {
  const std::string& data = read["data"].get_ref<const std::string&>();
  if (!data.empty()) stream->push(data);
  if (read.value("ended", false) && data.empty()) return stream->finish();
  // A full read: more is there already.
  follow_next(run, caller, read.value("offset", std::uint64_t{0}), stream,
              data.size() >= kFollowQueue / 4 ? std::chrono::milliseconds(0) : kFollowInterval);
}

void HttpService::follow_next(RunId run, Peer caller, std::uint64_t offset,
                              std::shared_ptr<ResponseStream> stream,
                              std::chrono::milliseconds after) {
  auto timer = std::make_shared<asio::steady_timer>(io_, after);
  timer->async_wait([this, timer, run, caller, offset,
                     stream = std::move(stream)](const boost::system::error_code& ec) mutable {
    if (ec || stream->gone()) return;
    // A client that reads slowly is read for when it has caught up.
    if (stream->queued() > kFollowQueue / 2) {
      return follow_next(run, caller, offset, std::move(stream), kFollowInterval);
    }
    ControlReply reply =
        control_.handle(control::LogsRequest{run, offset, kFollowQueue / 4}, caller);
    if (auto* failure = std::get_if<Failure>(&reply)) {
      return stream->finish("\n[skedd: " + failure->message + "]\n");
    }
    follow_read(run, caller, stream, std::get<json>(reply));
  });
}

void HttpService::handle(const HttpRequest& req, const std::optional<Peer>& caller, double loop_lag,
                         std::function<void(HttpResponse)> done) {
  if (req.path == "/metrics") {
    if (req.method != "GET" && req.method != "HEAD") return done(method_not_allowed("GET"));
    return done(metrics(caller, loop_lag));
  }
  if (req.path == "/readyz") return done(readiness());
  if (req.path == "/ui" || req.path.rfind("/ui/", 0) == 0) return done(ui(req, caller));
  if (req.path == "/api/v1/events") return done(caller ? events(req, *caller) : unauthenticated());
  auto routed = api_request(req);
  if (auto* refused = std::get_if<HttpResponse>(&routed)) return done(std::move(*refused));
  control::Request& request = std::get<control::Request>(routed);
  const bool follow_log =
      std::holds_alternative<control::LogsRequest>(request) && flag_of(req.query, "follow");
  if (follow_log) {
    auto& logs = std::get<control::LogsRequest>(request);
    logs.max_bytes = std::min<std::uint64_t>(logs.max_bytes, kFollowQueue / 4);  // a first read
  }
  if (!caller) return done(unauthenticated());
  const bool reads_only =
      std::holds_alternative<control::StatusRequest>(request) ||
      std::holds_alternative<control::ListRequest>(request) ||
      std::holds_alternative<control::ShowRequest>(request) ||
      std::holds_alternative<control::RunRequest>(request) ||
      std::holds_alternative<control::RunsRequest>(request) ||
      std::holds_alternative<control::LogsRequest>(request) ||
      (std::holds_alternative<control::CrontabRequest>(request) &&
       std::get<control::CrontabRequest>(request).action == control::CrontabRequest::Action::kGet);
  if (!reads_only && config_.read_only) {
    return done(error_response(403, control::kPermissionDenied,
                               "skedd's HTTP API is read-only here ([http] read_only = true)"));
  }
  if (writes_definitions(request) && !config_.allow_definition_writes) {
    return done(error_response(
        403, control::kPermissionDenied,
        "adding, changing and removing jobs, crontabs, reload and set are off over HTTP "
        "([http] allow_definition_writes = false): use skedctl"));
  }
  const bool fires = req.path.rfind("/api/v1/fires", 0) == 0;
  const bool trigger = std::holds_alternative<control::TriggerRequest>(request);
  std::optional<Duration> wait;
  if (const auto w = req.query.find("wait"); trigger && w != req.query.end()) {
    auto d = parse_duration(w->second);
    if (!d || *d <= Duration::zero() || *d > std::chrono::hours(1)) {
      return done(error_response(400, control::kInvalidArgument,
                                 "wait: must be a duration from 1s to 1h, such as \"60s\""));
    }
    wait = *d;
  }
  ControlReply reply = control_.handle(request, *caller);
  HttpResponse response;
  if (auto* failure = std::get_if<Failure>(&reply)) {
    response = error_response(status_of(failure->code), failure->code, failure->message);
  } else {
    json& body = std::get<json>(reply);
    if (fires) {
      body = json{{"job", body["job"]["name"]}, {"not_run", body["not_run"]}};
    }
    if (follow_log) {
      return done(follow(std::get<control::LogsRequest>(request).run, *caller, body));
    }
    if (trigger && wait) {
      const RunId run{body.value("run", std::uint64_t{0})};
      return wait_for_end(run, *caller, std::chrono::steady_clock::now() + *wait, body,
                          std::move(done));
    }
    response = json_response(trigger ? 202 : 200, body);
  }
  if (!gate_) return done(std::move(response));
  gate_(request, [done = std::move(done), response = std::move(response)]() mutable {
    done(std::move(response));
  });
}

}  // namespace skedd::http
