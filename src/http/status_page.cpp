#include "http/status_page.h"

#include <cmath>

#include "skedd/time/timestamp.h"

namespace skedd::http {
namespace {

using nlohmann::json;

constexpr const char* kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{font-weight:600;background:#f5f5f5}
.mark{font-weight:600;white-space:nowrap}
.ok{color:#1a7f37}.late,.stalled{color:#b35900}.failing{color:#c62828}.running{color:#1565c0}
.paused{color:#666}
.strip span{display:inline-block;width:8px;height:14px;margin-right:1px;border-radius:1px}
.s-succeeded{background:#2e7d32}.s-failed,.s-timed_out,.s-killed{background:#c62828}
.s-running,.s-scheduled{background:#1565c0}.s-cancelled,.s-interrupted,.s-paused{background:#999}
.s-skipped,.s-missed{background:#f0ad4e}
form{display:inline;margin:0}button{font-size:12px}
pre{background:#f7f7f7;padding:.6em;max-height:30em;overflow:auto}
.note{color:#666}
)";

std::optional<double> seconds_of(const json& j) {
  if (!j.is_string()) return std::nullopt;
  auto t = parse_rfc3339(j.get<std::string>());
  if (!t) return std::nullopt;
  return std::chrono::duration<double>(t->time_since_epoch()).count();
}

// "3m", "2h 5m", "4d": for ages and times to come.
std::string span(double s) {
  s = std::fabs(s);
  const long long v = static_cast<long long>(s);
  if (v < 60) return std::to_string(v) + "s";
  if (v < 3600) return std::to_string(v / 60) + "m";
  if (v < 86400) return std::to_string(v / 3600) + "h " + std::to_string(v % 3600 / 60) + "m";
  return std::to_string(v / 86400) + "d " + std::to_string(v % 86400 / 3600) + "h";
}

std::string relative(const json& t, double now) {
  const auto s = seconds_of(t);
  if (!s) return "";
  const std::string text = *s >= now ? "in " + span(*s - now) : span(now - *s) + " ago";
  return "<time datetime=\"" + html_escape(t.get<std::string>()) + "\">" + text + "</time>";
}

std::string head(const std::string& title) {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
         html_escape(title) + "</title><style>" + kStyle + "</style></head><body>\n";
}

std::string button(const std::string& action, const std::string& label) {
  return "<form method=\"post\" action=\"" + html_escape(action) + "\"><button type=\"submit\">" +
         html_escape(label) + "</button></form> ";
}

std::string job_path(const std::string& name) {
  std::string out = "/ui/jobs/";
  for (const unsigned char c : name) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string duration_of(const json& run) {
  const auto started = seconds_of(run.value("started", json()));
  const auto ended = seconds_of(run.value("ended", json()));
  if (!started || !ended) return "";
  return span(*ended - *started);
}

constexpr const char* kTailScript = R"((function () {
  var pre = document.getElementById("tail");
  if (!pre) return;
  var run = pre.getAttribute("data-run"), offset = 0;
  function poll() {
    fetch(location.origin + "/api/v1/runs/" + run + "/log?offset=" + offset, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (j.data) pre.textContent += j.data;
        offset = j.offset;
        if (!j.ended) setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  poll();
})();
)";

bool failed(const std::string& state) {
  return state == "failed" || state == "timed_out" || state == "killed";
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string status_of_job(const PageJob& row, bool paused_all, double now) {
  if (paused_all || row.job.value("paused", false)) return "paused";
  if (row.job.value("stalled", 0) > 0) return "stalled";
  if (row.job.value("running", 0) > 0) return "running";
  for (const json& run : row.runs) {
    if (run.value("ended", json()).is_null()) continue;
    if (failed(run.value("state", ""))) return "failing";
    break;
  }
  if (row.deadline && now > *row.deadline) return "late";
  return "ok";
}

std::string render_overview(const std::vector<PageJob>& rows, bool paused_all, double now,
                            const std::string& user, bool can_act, std::size_t more,
                            const nlohmann::json& workflows) {
  std::string out = head("skedd");
  out += "<h1>skedd</h1>\n<p class=\"note\" id=\"summary\">" + std::to_string(rows.size()) +
         " job(s) of " + html_escape(user) + (paused_all ? "; every job is paused" : "") +
         "</p>\n<table id=\"jobs\"><thead><tr><th>Status</th><th>Job</th><th>Schedule</th>"
         "<th>Last run</th><th>Succeed by</th><th>Next</th><th>Recent</th>" +
         (can_act ? "<th></th>" : "") + "</tr></thead><tbody>\n";
  for (const PageJob& row : rows) {
    const std::string name = row.job.value("name", "");
    const std::string status = status_of_job(row, paused_all, now);
    out += "<tr data-job=\"" + html_escape(name) + "\" data-status=\"" + status + "\">";
    out += "<td class=\"mark " + status + "\">" + status + "</td>";
    out += "<td><a href=\"" + job_path(name) + "\">" + html_escape(name) + "</a></td>";
    out += "<td>" + html_escape(row.job.value("schedule", "")) + " <span class=\"note\">" +
           html_escape(row.job.value("zone", "")) + "</span></td>";
    out += "<td class=\"last\">";
    for (const json& run : row.runs) {
      if (run.value("ended", json()).is_null()) {
        if (run.contains("progress")) {
          out += "<progress max=\"100\" value=\"" + std::to_string(run["progress"].get<double>()) +
                 "\"></progress> ";
        }
        continue;
      }
      out += "<span class=\"s-text " + html_escape(run.value("state", "")) + "\">" +
             html_escape(run.value("state", "")) + "</span> " + duration_of(run) + ", " +
             relative(run["ended"], now);
      break;
    }
    out += "</td><td>";
    if (row.deadline) {
      out += *row.deadline >= now
                 ? "in " + span(*row.deadline - now)
                 : "<span class=\"late\">" + span(now - *row.deadline) + " overdue</span>";
    }
    out += "</td><td>" + relative(row.job.value("next", json()), now) + "</td>";
    out += "<td class=\"strip\">";
    for (auto it = row.runs.rbegin(); it != row.runs.rend(); ++it) {
      const std::string state = it->value("state", "");
      out += "<span class=\"s-" + html_escape(state) + "\" title=\"" + html_escape(state) + " " +
             html_escape(it->value("started", "")) + "\"></span>";
    }
    out += "</td>";
    if (can_act) {
      const std::string path = job_path(name);
      out += "<td>" + button(path + "/trigger", "Run now") +
             (row.job.value("paused", false) ? button(path + "/resume", "Resume")
                                             : button(path + "/pause", "Pause")) +
             "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody></table>\n";
  if (more > 0) {
    out += "<p class=\"note\">" + std::to_string(more) +
           " more job(s) not shown ([http] metrics_max_jobs).</p>\n";
  }
  if (!workflows.empty()) {
    // Which step of each workflow's latest run is going on, since when, and how long it
    // usually takes: the troubleshooting guide's first question.
    out +=
        "<h2>Workflows</h2>\n<table id=\"workflows\"><thead><tr><th>Workflow</th>"
        "<th>Schedule</th><th>Latest run</th><th>Steps</th><th>Going on</th><th>Next</th>"
        "</tr></thead><tbody>\n";
    for (const json& w : workflows) {
      const std::string name = w.value("name", "");
      out += "<tr data-workflow=\"" + html_escape(name) + "\"><td>" + html_escape(name) +
             "</td><td>" + html_escape(w["schedule"].is_string() ? w.value("schedule", "") : "") +
             "</td>";
      const json latest = w.value("latest", json());
      if (latest.is_object()) {
        const std::string state = latest.value("state", "");
        out += "<td><span class=\"s-text " + html_escape(state) + "\">" + html_escape(state) +
               "</span> " + html_escape(std::to_string(latest.value("run", 0ULL))) + ", " +
               relative(latest.value("started", json()), now) + "</td><td>" +
               std::to_string(latest.value("settled", 0)) + "/" +
               std::to_string(latest.value("total", 0)) + "</td><td>";
        for (const json& step : latest.value("steps", json::array())) {
          if (step.value("state", "") != "running") continue;
          out += html_escape(step.value("step", "")) + " since " +
                 relative(step.value("started", json()), now);
          if (step.contains("usual_s")) {
            out += " (usually " + span(step["usual_s"].get<double>()) + ")";
          }
          out += "<br>";
        }
        out += "</td>";
      } else {
        out += "<td>none yet</td><td></td><td></td>";
      }
      out += "<td>" +
             (w.value("paused", false) ? std::string("paused")
                                       : relative(w.value("next", json()), now)) +
             "</td></tr>\n";
    }
    out += "</tbody></table>\n";
  }
  out += "</body></html>\n";
  return out;
}

std::string render_job_page(const json& show, const json& runs, double now, bool can_act,
                            const std::string& nonce) {
  const json& job = show["job"];
  const std::string name = job.value("name", "");
  std::string out = head("skedd: " + name);
  out += "<p><a href=\"/ui\">&larr; all jobs</a></p>\n<h1>" + html_escape(name) + "</h1>\n";
  out += "<p id=\"definition\">" + html_escape(job.value("schedule", "")) + " (" +
         html_escape(job.value("zone", "")) + "), as " + html_escape(job.value("user", "")) +
         ", overlap " + html_escape(job.value("overlap", "")) +
         (show.value("paused", false) ? "; <span class=\"paused\">paused</span>" : "") + "</p>\n";
  if (can_act) {
    const std::string path = job_path(name);
    out += "<div class=\"actions\">" + button(path + "/trigger", "Run now") +
           (show.value("paused", false) ? button(path + "/resume", "Resume")
                                        : button(path + "/pause", "Pause")) +
           "</div>\n";
  }
  out +=
      "<h2>Runs</h2>\n<table id=\"runs\"><thead><tr><th>Run</th><th>State</th><th>Scheduled"
      "</th><th>Started</th><th>Took</th><th>Exit</th><th>Message</th></tr></thead><tbody>\n";
  std::string tail;
  for (const json& run : runs) {
    const std::string state = run.value("state", "");
    const std::string id = std::to_string(run.value("run", std::uint64_t{0}));
    out += "<tr data-run=\"" + id + "\" data-state=\"" + html_escape(state) + "\"><td>" + id +
           "</td><td class=\"s-text\">" + html_escape(state);
    if (run.contains("progress")) {
      out += " <progress max=\"100\" value=\"" + std::to_string(run["progress"].get<double>()) +
             "\"></progress>";
    }
    out += "</td><td>" + html_escape(run.value("scheduled", "")) + "</td><td>" +
           relative(run["started"], now) + "</td><td>" + duration_of(run) + "</td><td>" +
           (run.contains("exit_code") ? std::to_string(run["exit_code"].get<int>()) : "") +
           "</td><td>" + html_escape(run.value("message", "")) + "</td></tr>\n";
    if (tail.empty() && run.value("ended", json()).is_null() && state == "running") tail = id;
  }
  out += "</tbody></table>\n";
  out +=
      "<h2>Fires not run</h2>\n<table id=\"not-run\"><thead><tr><th>State</th><th>Reason"
      "</th><th>First</th><th>Last</th><th>Count</th></tr></thead><tbody>\n";
  for (const json& nr : show.value("not_run", json::array())) {
    out += "<tr><td>" + html_escape(nr.value("state", "")) + "</td><td>" +
           html_escape(nr.value("reason", "")) + "</td><td>" + html_escape(nr.value("first", "")) +
           "</td><td>" + html_escape(nr.value("last", "")) + "</td><td>" +
           std::to_string(nr.value("count", 0)) + "</td></tr>\n";
  }
  out += "</tbody></table>\n";
  if (!tail.empty()) {
    out += "<h2>Log of run " + tail + " (live)</h2>\n<pre id=\"tail\" data-run=\"" + tail +
           "\"></pre>\n<script nonce=\"" + html_escape(nonce) + "\">" + kTailScript + "</script>\n";
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace skedd::http
