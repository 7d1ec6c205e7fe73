#include "skedd/control/protocol.h"

#include <algorithm>

#include "skedd/time/timestamp.h"

namespace skedd::control {
namespace {

using nlohmann::json;

// Reads the request's fields, remembering the first one that is missing or of the wrong type.
class Fields {
 public:
  explicit Fields(const json& object) : object_(object) {}

  std::string string(const char* name, bool required = true) {
    const auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) {
      if (required) fail(std::string("missing field \"") + name + "\"");
      return {};
    }
    if (!it->is_string()) {
      fail(std::string("field \"") + name + "\" must be a string");
      return {};
    }
    return it->get<std::string>();
  }
  bool boolean(const char* name) {
    const auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) return false;
    if (!it->is_boolean()) {
      fail(std::string("field \"") + name + "\" must be true or false");
      return false;
    }
    return it->get<bool>();
  }
  // A non-negative integer no larger than `max`, or `fallback` when absent.
  std::uint64_t count(const char* name, std::uint64_t fallback, std::uint64_t max,
                      bool required = false) {
    const auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) {
      if (required) fail(std::string("missing field \"") + name + "\"");
      return fallback;
    }
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() > max) {
      fail(std::string("field \"") + name + "\" must be an integer from 0 to " +
           std::to_string(max));
      return fallback;
    }
    return it->get<std::uint64_t>();
  }
  std::optional<Failure> failure() const { return failure_; }

 private:
  void fail(std::string message) {
    if (!failure_) failure_ = Failure{kInvalidArgument, std::move(message)};
  }
  const json& object_;
  std::optional<Failure> failure_;
};

std::variant<Request, Failure> decode_op(const std::string& op, Fields& f) {
  auto run_id = [&f] { return RunId{f.count("run", 0, UINT64_MAX, true)}; };
  if (op == "status") return StatusRequest{};
  if (op == "list") return ListRequest{};
  if (op == "show") return ShowRequest{f.string("job")};
  if (op == "pause" || op == "resume") {
    PauseRequest r;
    r.pause = op == "pause";
    r.all = f.boolean("all");
    if (const std::uint64_t run = f.count("run", 0, UINT64_MAX); run != 0) r.run = RunId{run};
    r.job = f.string("job", !r.all && !r.run);
    if (static_cast<int>(r.all) + static_cast<int>(r.run.has_value()) +
            static_cast<int>(!r.job.empty()) !=
        1) {
      return Failure{kInvalidArgument, "give one of \"job\", \"all\" and \"run\""};
    }
    return r;
  }
  if (op == "trigger") return TriggerRequest{f.string("job"), f.boolean("force")};
  if (op == "cancel") return CancelRequest{run_id()};
  if (op == "send") {
    SendRequest r;
    if (const std::uint64_t run = f.count("run", 0, UINT64_MAX); run != 0) r.run = RunId{run};
    r.job = f.string("job", !r.run);
    r.text = f.string("text");
    if (r.run && !r.job.empty())
      return Failure{kInvalidArgument, "give \"run\" or \"job\", not both"};
    return r;
  }
  if (op == "run") return RunRequest{run_id()};
  if (op == "runs") {
    RunsRequest r;
    if (std::string job = f.string("job", false); !job.empty()) r.job = job;
    if (std::string state = f.string("state", false); !state.empty()) {
      r.state = run_state_from_string(state);
      if (!r.state) return Failure{kInvalidArgument, "unknown run state \"" + state + "\""};
    }
    if (std::string since = f.string("since", false); !since.empty()) {
      auto t = parse_rfc3339(since);
      if (!t) return Failure{kInvalidArgument, "field \"since\": " + t.error().message};
      r.since = t.value();
    }
    r.limit = f.count("limit", 20, 100'000);
    return r;
  }
  if (op == "logs") {
    LogsRequest r;
    r.run = run_id();
    r.offset = f.count("offset", 0, UINT64_MAX);
    r.max_bytes = f.count("max_bytes", r.max_bytes, 1024 * 1024);
    return r;
  }
  if (op == "workflow") {
    WorkflowRequest r;
    const std::string action = f.string("action");
    if (action == "list") {
      r.action = WorkflowRequest::Action::kList;
    } else if (action == "trigger") {
      r.action = WorkflowRequest::Action::kTrigger;
      r.workflow = f.string("workflow");
      r.force = f.boolean("force");
    } else if (action == "runs") {
      r.action = WorkflowRequest::Action::kRuns;
      r.workflow = f.string("workflow", false);
      if (const std::uint64_t run = f.count("run", 0, UINT64_MAX); run != 0) r.run = RunId{run};
      r.limit = f.count("limit", 20, 1000);
      r.tree = f.boolean("tree");
      if (r.tree) r.limit = std::min<std::size_t>(r.limit, 20);
    } else if (action == "cancel" || action == "pause" || action == "resume") {
      r.action = action == "cancel"  ? WorkflowRequest::Action::kCancel
                 : action == "pause" ? WorkflowRequest::Action::kPause
                                     : WorkflowRequest::Action::kResume;
      r.run = run_id();
    } else if (action == "retry") {
      r.action = WorkflowRequest::Action::kRetry;
      r.run = run_id();
      r.from = f.string("from");
    } else if (!f.failure()) {
      return Failure{kInvalidArgument,
                     "op \"workflow\": action must be list, trigger, runs, cancel, retry, pause "
                     "or resume"};
    }
    return r;
  }
  if (op == "reload") return ReloadRequest{};
  if (op == "drain") return DrainRequest{};
  if (op == "crontab") {
    CrontabRequest r;
    const std::string action = f.string("action");
    r.user = f.string("user", false);
    if (action == "get") {
      r.action = CrontabRequest::Action::kGet;
    } else if (action == "put") {
      r.action = CrontabRequest::Action::kPut;
      r.text = f.string("text");
    } else if (action == "remove") {
      r.action = CrontabRequest::Action::kRemove;
    } else if (!f.failure()) {
      return Failure{kInvalidArgument, "op \"crontab\": action must be get, put or remove"};
    }
    return r;
  }
  if (op == "add" || op == "update") {
    AddRequest r{f.string("definition"), op == "update"};
    r.merge = f.boolean("merge");
    if (r.merge && !r.replace) return Failure{kInvalidArgument, "\"merge\" is for update only"};
    return r;
  }
  if (op == "versions") return VersionsRequest{f.string("job")};
  if (op == "backfill") {
    BackfillRequest r;
    r.name = f.string("name");
    r.from = f.string("from");
    r.to = f.string("to");
    r.concurrency = static_cast<int>(f.count("concurrency", 1, 16));
    r.rerun = f.boolean("rerun");
    return r;
  }
  if (op == "remove") return RemoveRequest{f.string("job")};
  if (op == "set") {
    SetRequest r;
    r.max_concurrent_runs =
        static_cast<int>(f.count("max_concurrent_runs", 0, 1'000'000, /*required=*/true));
    if (!f.failure() && r.max_concurrent_runs < 1) {
      return Failure{kInvalidArgument, "max_concurrent_runs must be at least 1"};
    }
    return r;
  }
  return Failure{kInvalidArgument, "unknown op \"" + op + "\""};
}

std::string dump(const json& j) {
  // A job's output may be any bytes: invalid UTF-8 is replaced, not an exception.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::size_t nesting_depth(std::string_view line) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : line) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Decoded decode_request(std::string_view line) {
  Decoded out;
  // Checked before parsing: a value nested 100,000 deep is built, copied and written back by
  // recursion, which overflows the stack (a line of 200 kB did). No request needs more than
  // a few levels.
  if (nesting_depth(line) > kMaxRequestDepth) {
    out.request = Failure{kInvalidArgument, "the request nests deeper than " +
                                                std::to_string(kMaxRequestDepth) + " levels"};
    return out;
  }
  json object = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    out.request = Failure{kInvalidArgument, "the request is not valid JSON"};
    return out;
  }
  if (!object.is_object()) {
    out.request = Failure{kInvalidArgument, "the request must be a JSON object"};
    return out;
  }
  if (auto it = object.find("id"); it != object.end()) {
    // The id is echoed in the reply: a number or a short string, nothing a client could grow.
    const bool short_string = it->is_string() && it->get_ref<const std::string&>().size() <= 64;
    if (!it->is_number() && !it->is_null() && !short_string) {
      out.request = Failure{kInvalidArgument,
                            "field \"id\" must be a number or a string of 64 bytes at most"};
      return out;
    }
    out.id = *it;
  }
  Fields fields(object);
  const std::string op = fields.string("op");
  if (auto failure = fields.failure()) {
    out.request = *failure;
    return out;
  }
  auto request = decode_op(op, fields);
  if (auto failure = fields.failure()) {
    out.request = Failure{failure->code, "op \"" + op + "\": " + failure->message};
  } else {
    out.request = std::move(request);
  }
  return out;
}

const char* op_name(const Request& request) {
  struct Visitor {
    const char* operator()(const StatusRequest&) const { return "status"; }
    const char* operator()(const ListRequest&) const { return "list"; }
    const char* operator()(const ShowRequest&) const { return "show"; }
    const char* operator()(const PauseRequest& r) const { return r.pause ? "pause" : "resume"; }
    const char* operator()(const TriggerRequest&) const { return "trigger"; }
    const char* operator()(const CancelRequest&) const { return "cancel"; }
    const char* operator()(const RunRequest&) const { return "run"; }
    const char* operator()(const RunsRequest&) const { return "runs"; }
    const char* operator()(const LogsRequest&) const { return "logs"; }
    const char* operator()(const ReloadRequest&) const { return "reload"; }
    const char* operator()(const SetRequest&) const { return "set"; }
    const char* operator()(const AddRequest& r) const { return r.replace ? "update" : "add"; }
    const char* operator()(const RemoveRequest&) const { return "remove"; }
    const char* operator()(const DrainRequest&) const { return "drain"; }
    const char* operator()(const CrontabRequest&) const { return "crontab"; }
    const char* operator()(const SendRequest&) const { return "send"; }
    const char* operator()(const VersionsRequest&) const { return "versions"; }
    const char* operator()(const BackfillRequest&) const { return "backfill"; }
    const char* operator()(const WorkflowRequest&) const { return "workflow"; }
  };
  return std::visit(Visitor{}, request);
}

std::string encode_request(const json& id, const Request& request) {
  json j{{"id", id}, {"op", op_name(request)}};
  struct Visitor {
    json& j;
    void operator()(const StatusRequest&) const {}
    void operator()(const ListRequest&) const {}
    void operator()(const ReloadRequest&) const {}
    void operator()(const DrainRequest&) const {}
    void operator()(const CrontabRequest& r) const {
      static constexpr const char* kActions[] = {"get", "put", "remove"};
      j["action"] = kActions[static_cast<int>(r.action)];
      if (!r.user.empty()) j["user"] = r.user;
      if (r.action == CrontabRequest::Action::kPut) j["text"] = r.text;
    }
    void operator()(const ShowRequest& r) const { j["job"] = r.job; }
    void operator()(const PauseRequest& r) const {
      if (r.all) {
        j["all"] = true;
      } else if (r.run) {
        j["run"] = r.run->value;
      } else {
        j["job"] = r.job;
      }
    }
    void operator()(const TriggerRequest& r) const {
      j["job"] = r.job;
      if (r.force) j["force"] = true;
    }
    void operator()(const CancelRequest& r) const { j["run"] = r.run.value; }
    void operator()(const SendRequest& r) const {
      if (r.run) j["run"] = r.run->value;
      if (!r.job.empty()) j["job"] = r.job;
      j["text"] = r.text;
    }
    void operator()(const RunRequest& r) const { j["run"] = r.run.value; }
    void operator()(const RunsRequest& r) const {
      if (r.job) j["job"] = *r.job;
      if (r.state) j["state"] = to_string(*r.state);
      if (r.since) j["since"] = format_rfc3339_utc(*r.since);
      j["limit"] = r.limit;
    }
    void operator()(const LogsRequest& r) const {
      j["run"] = r.run.value;
      j["offset"] = r.offset;
      j["max_bytes"] = r.max_bytes;
    }
    void operator()(const SetRequest& r) const { j["max_concurrent_runs"] = r.max_concurrent_runs; }
    void operator()(const AddRequest& r) const {
      j["definition"] = r.definition;
      if (r.merge) j["merge"] = true;
    }
    void operator()(const VersionsRequest& r) const { j["job"] = r.job; }
    void operator()(const BackfillRequest& r) const {
      j["name"] = r.name;
      j["from"] = r.from;
      j["to"] = r.to;
      j["concurrency"] = r.concurrency;
      if (r.rerun) j["rerun"] = true;
    }
    void operator()(const WorkflowRequest& r) const {
      static constexpr const char* kActions[] = {"list",  "trigger", "runs",  "cancel",
                                                 "retry", "pause",   "resume"};
      j["action"] = kActions[static_cast<int>(r.action)];
      if (!r.workflow.empty()) j["workflow"] = r.workflow;
      if (r.run) j["run"] = r.run->value;
      if (r.force) j["force"] = true;
      if (!r.from.empty()) j["from"] = r.from;
      if (r.tree) j["tree"] = true;
      if (r.action == WorkflowRequest::Action::kRuns) j["limit"] = r.limit;
    }
    void operator()(const RemoveRequest& r) const { j["job"] = r.job; }
  };
  std::visit(Visitor{j}, request);
  return dump(j);
}

std::string encode_ok(const json& id, json body) {
  json j{{"id", id}, {"ok", true}};
  if (body.is_object()) j.update(body);
  return dump(j);
}

std::string encode_failure(const json& id, const Failure& failure) {
  return dump(json{{"id", id},
                   {"ok", false},
                   {"error", {{"code", failure.code}, {"message", failure.message}}}});
}

}  // namespace skedd::control
