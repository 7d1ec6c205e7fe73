// Jobs added, replaced and removed over the socket, and what a user other than root may not
// put in one.
#include <grp.h>
#include <sys/resource.h>
#include <unistd.h>

#include "control/control.h"
#include "exec/run_setup.h"
#include "skedd/config/config.h"

namespace skedd {

using control::Failure;
using nlohmann::json;

std::optional<Failure> Control::refuse_for_user(const JobSpec& spec, const Caller& caller) const {
  const JobOptions& options = *spec.options;
  auto denied = [&](const std::string& why) {
    return Failure{control::kPermissionDenied, "job \"" + spec.name + "\": " + why};
  };
  if (options.user && *options.user != caller.user && *options.user != caller.uid) {
    return denied("it would run as " + *options.user + "; a job you add runs as you (" +
                  caller.user + ")");
  }
  if (options.group) {
    int n = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    if (::getgrouplist(caller.user.c_str(), caller.gid, groups.data(), &n) < 0) {
      groups.resize(static_cast<std::size_t>(n));
      ::getgrouplist(caller.user.c_str(), caller.gid, groups.data(), &n);
    }
    groups.resize(static_cast<std::size_t>(std::max(n, 0)));
    bool member = false;
    for (gid_t g : groups) {
      const group* gr = ::getgrgid(g);
      if (std::to_string(g) == *options.group || (gr != nullptr && *options.group == gr->gr_name)) {
        member = true;
      }
    }
    if (!member) return denied("group " + *options.group + " is not one of " + caller.user + "'s");
  }
  if (options.nice && *options.nice < 0) return denied("a negative nice is for root only");
  if (options.limit_nofile) {
    // Against the limit runs get by default, not the daemon's own (raised at start).
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    const rlim_t cap = std::min(lim.rlim_max, user_max_nofile_);
    if (cap != RLIM_INFINITY && *options.limit_nofile > cap) {
      return denied("limit_nofile " + std::to_string(*options.limit_nofile) +
                    " raises the limit (" + std::to_string(cap) + ")");
    }
  }
  const DaemonConfig& daemon = engine_.config().daemon;
  if (is_handler_job(spec) && !daemon.allow_user_handlers) {
    return denied(
        "in-process handlers run inside the daemon: for root only, unless [daemon] "
        "allow_user_handlers = true");
  }
  if (options.log_max_size > daemon.max_log_size) {
    return denied("log_max_size " + std::to_string(options.log_max_size) +
                  " is above [daemon] max_log_size (" + std::to_string(daemon.max_log_size) + ")");
  }
  if (options.priority > daemon.user_max_priority) {
    return denied("priority " + std::to_string(options.priority) + " is above user_max_priority (" +
                  std::to_string(daemon.user_max_priority) + ")");
  }
  if (!options.pool.empty() && std::find(daemon.user_pools.begin(), daemon.user_pools.end(),
                                         options.pool) == daemon.user_pools.end()) {
    return denied("pool " + options.pool + " is not one of [daemon] user_pools");
  }
  return std::nullopt;
}

control::Answer<control::AddReply> Control::put_job(const control::AddRequest& request,
                                                    const Caller& caller) {
  const DaemonConfig& daemon = engine_.config().daemon;
  if (!caller.admin && request.definition.size() > daemon.max_definition_size) {
    return Failure{control::kInvalidArgument, "the definition is " +
                                                  std::to_string(request.definition.size()) +
                                                  " bytes, above [daemon] max_definition_size (" +
                                                  std::to_string(daemon.max_definition_size) + ")"};
  }
  std::string text = request.definition;
  if (request.merge) {
    // The keys given over the job's recorded definition (the loaded version).
    auto named = definition_job_name(request.definition);
    if (!named) return Failure{control::kInvalidArgument, named.error().message};
    const std::string& name = named.value();
    const std::optional<int> version = engine_.api_version(name);
    if (!version) {
      return Failure{control::kJobNotFound,
                     "no job named \"" + name + "\" was added over the socket"};
    }
    auto versions = store_.job_versions(name);
    if (!versions) return Failure{control::kStoreUnavailable, versions.error().message};
    std::string base;
    for (const auto& [v, definition] : versions.value()) {
      if (v == *version) base = definition;
    }
    auto merged = merge_job_definition(base, request.definition);
    if (!merged) return Failure{control::kInvalidArgument, merged.error().message};
    text = std::move(merged.value());
  }
  auto parsed = parse_job_definition(text, "api", engine_.config());
  if (!parsed) return Failure{control::kInvalidArgument, parsed.error().message};
  JobSpec spec = std::move(parsed.value());
  std::string definition = text;
  if (!caller.admin) {
    if (!spec.options->user) {
      // It runs as its owner, also when the text is read again at a restart.
      spec.options.edit().user = caller.user;
      definition = with_job_user(definition, spec.name, caller.user);
    }
    if (auto refused = refuse_for_user(spec, caller)) return *refused;
    if (!request.replace && engine_.api_jobs_of(caller.user, caller.uid) >=
                                static_cast<std::size_t>(daemon.max_jobs_per_user)) {
      return Failure{control::kPermissionDenied,
                     caller.user + " has " + std::to_string(daemon.max_jobs_per_user) +
                         " jobs added over the socket already ([daemon] max_jobs_per_user)"};
    }
    if (request.replace) {
      const auto info = engine_.job(spec.name);
      const std::string owner =
          info && info->spec->options->user ? *info->spec->options->user : daemon_user_;
      if (info && owner != caller.user && owner != caller.uid) {
        return Failure{control::kPermissionDenied,
                       "job \"" + spec.name + "\" does not run as " + caller.user};
      }
    }
  }
  const std::string name = spec.name;
  auto version = engine_.put_api_job(std::move(spec), std::move(definition), request.replace);
  if (!version) {
    const Error& e = version.error();
    return Failure{e.code == ErrorCode::kNotFound   ? control::kJobNotFound
                   : e.code == ErrorCode::kConflict ? control::kConflict
                                                    : control::kInternal,
                   e.message};
  }
  return control::AddReply{name, version.value()};
}

control::Answer<control::VersionsReply> Control::on(const control::VersionsRequest& request,
                                                    const Caller& caller) {
  control::VersionsReply reply;
  reply.job = request.job;
  if (engine_.job(request.job)) {
    auto found = visible_job(caller, request.job);
    if (auto* failure = std::get_if<Failure>(&found)) return *failure;
    const std::optional<int> version = engine_.api_version(request.job);
    if (!version) {
      return Failure{control::kConflict,
                     "job \"" + request.job + "\" is defined in " +
                         std::get<Engine::JobInfo>(found).spec->defined_at.to_string() +
                         ": its versions are that file's"};
    }
    reply.current = *version;
  } else if (!caller.admin) {
    return job_not_found(caller, request.job);  // a removed job's definitions: root's only
  }
  auto versions = store_.job_versions(request.job);
  if (!versions) return Failure{control::kStoreUnavailable, versions.error().message};
  if (versions->empty() && reply.current == 0) return job_not_found(caller, request.job);
  for (auto& [version, definition] : versions.value()) {
    reply.versions.push_back({version, definition, normalized_definition(definition)});
  }
  return reply;
}

control::Answer<control::RemoveReply> Control::remove_job(const control::RemoveRequest& request,
                                                          const Caller& caller) {
  const auto info = engine_.job(request.job);
  if (info && !caller.admin) {
    const std::string owner = info->spec->options->user ? *info->spec->options->user : daemon_user_;
    if (owner != caller.user && owner != caller.uid) {
      return Failure{control::kPermissionDenied,
                     "job \"" + request.job + "\" does not run as " + caller.user};
    }
  }
  auto removed = engine_.remove_api_job(request.job);
  if (!removed) {
    return Failure{
        removed.error().code == ErrorCode::kNotFound ? control::kJobNotFound : control::kConflict,
        removed.error().message};
  }
  return control::RemoveReply{request.job};
}

}  // namespace skedd
