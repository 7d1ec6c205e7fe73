// The status page (/ui): server-rendered HTML from the control service's replies, no build
// step and nothing loaded from elsewhere. Pure: the service gathers the replies, these
// functions turn them into a page.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace skedd::http {

/// One row of the overview: a job as `list` shows it, its latest runs (newest first, as
/// `runs` replies) and its success deadline (Unix seconds), if any.
struct PageJob {
  nlohmann::json job;
  nlohmann::json runs = nlohmann::json::array();
  std::optional<double> deadline;
};

/// The status mark of a row: paused, stalled (a run of it is silent for its stall_timeout),
/// running, failing (its latest ended run failed, timed out or was killed), late (its success
/// deadline passed) or ok.
std::string status_of_job(const PageJob& row, bool paused_all, double now);

/// The overview: one row per job. `can_act`: trigger and pause buttons (a caller with a
/// token, and not read-only). `more`: jobs beyond those shown.
/// `workflows`: the workflows the user sees (`skedctl workflow list --json`'s entries), each
/// with "latest", its newest run as `workflow runs --tree --json` gives it (or absent).
std::string render_overview(const std::vector<PageJob>& rows, bool paused_all, double now,
                            const std::string& user, bool can_act, std::size_t more,
                            const nlohmann::json& workflows = nlohmann::json::array());

/// A job's page: its definition (`show`'s reply), runs, fires not run, and a live tail of a
/// running run's log (an inline script, allowed by `nonce`, that asks the log API every 2 s).
std::string render_job_page(const nlohmann::json& show, const nlohmann::json& runs, double now,
                            bool can_act, const std::string& nonce);

/// `s` with &, <, >, " and ' escaped.
std::string html_escape(const std::string& s);

}  // namespace skedd::http
