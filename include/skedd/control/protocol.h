// The control protocol: one JSON object per line each way over the daemon's Unix socket.
// A request is {"id": ..., "op": "...", ...}; a reply {"id": ..., "ok": true, ...} or
// {"id": ..., "ok": false, "error": {"code": "JOB_NOT_FOUND", "message": "..."}}.
// Decoding turns a line into one typed request; nothing here does I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "skedd/core/run.h"
#include "skedd/time/types.h"

namespace skedd::control {

/// Requests larger than this (the line, without its newline) are refused.
constexpr std::size_t kMaxRequestBytes = 1024 * 1024;

/// The protocol's error codes.
inline constexpr const char* kInvalidArgument = "INVALID_ARGUMENT";
inline constexpr const char* kJobNotFound = "JOB_NOT_FOUND";
inline constexpr const char* kRunNotFound = "RUN_NOT_FOUND";
inline constexpr const char* kPermissionDenied = "PERMISSION_DENIED";
inline constexpr const char* kConflict = "CONFLICT";
inline constexpr const char* kInternal = "INTERNAL";
/// The state database could not be read (the request may succeed later).
inline constexpr const char* kStoreUnavailable = "STORE_UNAVAILABLE";

/// A refused request: one of the codes above and a message saying what and where.
struct Failure {
  std::string code;
  std::string message;
};

struct StatusRequest {};
struct ListRequest {};
struct ShowRequest {
  std::string job;
};
/// pause / resume of a job, of everything (`all`, the global flag) or of a running run.
struct PauseRequest {
  std::string job;  ///< empty when `all` or `run`
  bool all = false;
  std::optional<RunId> run;
  bool pause = true;  ///< false: resume
};
struct TriggerRequest {
  std::string job;
  bool force = false;  ///< start even when its overlap policy says no
};
struct CancelRequest {
  RunId run;
};
/// A line for a running run's input (its SKEDD_INPUT_FD): by run, or by job (its one running
/// run).
struct SendRequest {
  std::optional<RunId> run;
  std::string job;
  std::string text;
};
/// One run's record (what `wait` polls).
struct RunRequest {
  RunId run;
};
struct RunsRequest {
  std::optional<std::string> job;
  std::optional<RunState> state;
  std::optional<Instant> since;  ///< runs started at or after
  std::size_t limit = 20;
};
/// Up to `max_bytes` of a run's log from byte `offset` (`logs --follow` asks again from the
/// end it got).
struct LogsRequest {
  RunId run;
  std::uint64_t offset = 0;
  std::uint64_t max_bytes = 256 * 1024;
};
/// add / update of a job over the socket: TOML text with one [job.NAME] table.
struct AddRequest {
  std::string definition;
  bool replace = false;  ///< update
  /// update only: `definition` holds the keys to change; the job's other keys are kept.
  bool merge = false;
};
/// The recorded definitions of a job added over the socket, oldest first.
struct VersionsRequest {
  std::string job;
};
struct RemoveRequest {
  std::string job;
};
/// A user's crontab in the spool, as crontab(1) manages it: read, install or remove.
struct CrontabRequest {
  enum class Action : std::uint8_t { kGet, kPut, kRemove };
  Action action = Action::kGet;
  std::string user;  ///< empty: the caller's own (another user's: root only)
  std::string text;  ///< kPut
};
/// `skedctl workflow ...`: list the workflows, trigger one, read its runs, cancel a run.
struct WorkflowRequest {
  enum class Action : std::uint8_t { kList, kTrigger, kRuns, kCancel, kRetry, kPause, kResume };
  Action action = Action::kList;
  std::string workflow;      ///< trigger; runs (empty: every workflow's)
  std::optional<RunId> run;  ///< runs (that one only); cancel, retry, pause, resume
  std::string from;          ///< retry: the step to run again from
  bool tree = false;         ///< runs: each step's times and usual duration too (at most 20 runs)
  bool force = false;        ///< trigger: start even when a run of it goes on
  std::size_t limit = 20;    ///< runs
};
/// `skedctl backfill NAME --from T --to T`: the fires of a past interval of a job's or a
/// workflow's schedule (RFC 3339 instants, read by the daemon).
struct BackfillRequest {
  std::string name;
  std::string from;
  std::string to;
  int concurrency = 1;
  bool rerun = false;
};
struct ReloadRequest {};
/// Stop starting runs (global pause, queued fires held); the reply has the running count.
struct DrainRequest {};
/// `set max-concurrent-runs N`.
struct SetRequest {
  int max_concurrent_runs = 0;
};

using Request = std::variant<StatusRequest, ListRequest, ShowRequest, PauseRequest, TriggerRequest,
                             CancelRequest, RunRequest, RunsRequest, LogsRequest, ReloadRequest,
                             SetRequest, AddRequest, RemoveRequest, DrainRequest, CrontabRequest,
                             SendRequest, VersionsRequest, WorkflowRequest, BackfillRequest>;

/// A decoded line: the request id to echo (null when the line had none or was unreadable)
/// and the request, or why it was refused.
struct Decoded {
  nlohmann::json id;
  std::variant<Request, Failure> request;
};

/// How deep a request may nest arrays and objects (a definition is a string, so no request
/// needs more than a few levels).
inline constexpr std::size_t kMaxRequestDepth = 16;

/// The deepest nesting of arrays and objects in `line`, read as JSON text (brackets inside
/// strings do not count); no parse, no recursion.
std::size_t nesting_depth(std::string_view line);

/// Decodes one request line. Malformed JSON, a non-object, an unknown op, a field of the
/// wrong type, nesting deeper than kMaxRequestDepth or an id that is not a number, null or a
/// string of 64 bytes at most is an INVALID_ARGUMENT failure naming what is wrong (the id of
/// a refused request is then null).
Decoded decode_request(std::string_view line);

/// The request as a line (without the newline), for clients.
std::string encode_request(const nlohmann::json& id, const Request& request);

/// The op name of a request ("status", "pause", ...).
const char* op_name(const Request& request);

/// Reply lines (without the newline). `body`'s fields are merged into the reply. Text that is
/// not valid UTF-8 (a job's output) is replaced, never refused.
std::string encode_ok(const nlohmann::json& id, nlohmann::json body);
std::string encode_failure(const nlohmann::json& id, const Failure& failure);

}  // namespace skedd::control
