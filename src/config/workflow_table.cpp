#include "config/workflow_table.h"

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_map>

#include "config/toml_values.h"
#include "skedd/time/duration.h"

namespace skedd::config {
namespace {

std::string in_quotes(const std::string& s) {
  return "\"" + s + "\"";
}

std::string user_text(const std::optional<std::string>& user) {
  return user ? "user " + in_quotes(*user) : std::string("skedd's own user");
}

// A step as read, before its needs are resolved to indices.
struct PendingStep {
  StepSpec spec;
  std::vector<std::pair<std::string, toml::source_region>> needs;
  toml::source_region where;
  bool when_set = false;
  toml::source_region when_at;
};

// Reads one step's table; false on an error (reported).
bool read_step(const std::string& name, const toml::node& node, const std::string& file,
               const std::string& prefix, PendingStep& step, Diagnostics& diag) {
  const std::size_t errors_before = diag.size();
  step.spec.name = name;
  step.where = node.source();
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    diag.add(file, node.source(),
             prefix + "must be a table such as { job = \"" + name + "\", needs = [...] }");
    return false;
  }
  for (auto&& [key, value] : in_file_order(*t)) {
    const std::string k(key.str());
    if (k == "job") {
      if (want_string(value, step.spec.job) || step.spec.job.empty()) {
        diag.add(file, value.source(), prefix + "job: must be the name of a job");
      }
    } else if (k == "needs") {
      const toml::array* a = value.as_array();
      if (a == nullptr) {
        diag.add(file, value.source(), prefix + "needs: must be an array of step names");
        continue;
      }
      if (a->size() > kMaxStepNeeds) {
        diag.add(file, value.source(),
                 prefix + "needs: at most " + std::to_string(kMaxStepNeeds) + " steps");
        continue;
      }
      for (const toml::node& n : *a) {
        std::string need;
        if (want_string(n, need)) {
          diag.add(file, n.source(), prefix + "needs: must be an array of step names");
          continue;
        }
        const bool twice = std::any_of(step.needs.begin(), step.needs.end(),
                                       [&](const auto& other) { return other.first == need; });
        if (twice) {
          diag.add(file, n.source(), prefix + "needs: " + in_quotes(need) + " is listed twice");
          continue;
        }
        step.needs.emplace_back(need, n.source());
      }
    } else if (k == "when") {
      if (auto problem =
              want_enum(value, step_when_from_string, "success, failure, always", step.spec.when)) {
        diag.add(file, value.source(), prefix + "when: " + *problem);
      }
      step.when_set = true;
      step.when_at = value.source();
    } else {
      diag.add(file, key.source(),
               prefix + "unknown key " + in_quotes(k) + " (a step takes job, needs and when)");
    }
  }
  if (step.spec.job.empty() && diag.size() == errors_before) {
    diag.add(file, node.source(), prefix + "no job: set job = \"NAME\"");
  }
  return diag.size() == errors_before;
}

// Orders `steps` so that every step comes after the steps it needs, keeping file order where
// the needs allow (Kahn's algorithm, lowest index first). nullopt when they form a cycle;
// `cycle` then holds one, its first step again at its end.
std::optional<std::vector<std::size_t>> dag_order(
    const std::vector<PendingStep>& steps, const std::vector<std::vector<std::size_t>>& needs,
    std::vector<std::size_t>& cycle) {
  const std::size_t n = steps.size();
  std::vector<std::size_t> waiting(n, 0);
  std::vector<std::vector<std::size_t>> needed_by(n);
  for (std::size_t i = 0; i < n; ++i) {
    waiting[i] = needs[i].size();
    for (std::size_t need : needs[i]) needed_by[need].push_back(i);
  }
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < n; ++i) {
    if (waiting[i] == 0) ready.insert(i);
  }
  std::vector<std::size_t> order;
  while (!ready.empty()) {
    const std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (std::size_t after : needed_by[i]) {
      if (--waiting[after] == 0) ready.insert(after);
    }
  }
  if (order.size() == n) return order;
  // Every step left waits for another step left: follow its first such need until a step
  // comes round again.
  std::size_t at = 0;
  while (waiting[at] == 0) ++at;
  std::vector<std::size_t> path;
  std::vector<int> seen_at(n, -1);
  while (seen_at[at] < 0) {
    seen_at[at] = static_cast<int>(path.size());
    path.push_back(at);
    for (std::size_t need : needs[at]) {
      if (waiting[need] != 0) {
        at = need;
        break;
      }
    }
  }
  cycle.assign(path.begin() + seen_at[at], path.end());
  cycle.push_back(at);
  return std::nullopt;
}

struct Located {
  std::string text;
  toml::source_region where;
};

void read_workflow(const std::string& name, const toml::table& table, const std::string& file,
                   const TimeZone& default_zone,
                   const std::unordered_map<std::string_view, const JobSpec*>& job_by_name,
                   const std::function<bool(const std::string&)>& has_job_table,
                   std::vector<WorkflowSpec>& out, Diagnostics& diag) {
  const std::size_t errors_before = diag.size();
  const std::string prefix = "workflow " + in_quotes(name) + ": ";
  WorkflowSpec w;
  w.name = name;
  w.zone = default_zone;
  w.defined_at = {file, static_cast<int>(table.source().begin.line),
                  static_cast<int>(table.source().begin.column)};
  std::optional<Located> cron, every, at;
  std::optional<toml::source_region> user_at;
  std::vector<PendingStep> steps;
  const toml::node* steps_node = nullptr;
  for (auto&& [key, value] : in_file_order(table)) {
    const std::string k(key.str());
    // A named reference: clang 14 cannot capture a structured binding.
    const toml::node& node = value;
    const auto located = [&](std::optional<Located>& slot) {
      std::string text;
      if (auto problem = want_string(node, text)) {
        diag.add(file, node.source(), prefix + k + ": " + *problem);
      } else {
        slot = Located{text, node.source()};
      }
    };
    if (k == "cron") {
      located(cron);
    } else if (k == "every") {
      located(every);
    } else if (k == "at") {
      located(at);
    } else if (k == "timezone") {
      std::string zone_name;
      if (auto problem = want_string(value, zone_name)) {
        diag.add(file, value.source(), prefix + "timezone: " + *problem);
      } else if (auto zone = TimeZone::load(zone_name); !zone) {
        diag.add(file, value.source(), prefix + "timezone: " + zone.error().message);
      } else {
        w.zone = zone.value();
      }
    } else if (k == "overlap") {
      if (auto problem =
              want_enum(value, overlap_from_string, "skip, queue, replace, allow", w.overlap)) {
        diag.add(file, value.source(), prefix + "overlap: " + *problem);
      }
    } else if (k == "user") {
      std::string user;
      if (want_string(value, user) || user.empty()) {
        diag.add(file, value.source(), prefix + "user: must be a user name");
      } else {
        w.user = user;
        user_at = value.source();
      }
    } else if (k == "description") {
      std::string ignored;
      if (auto problem = want_string(value, ignored)) {
        diag.add(file, value.source(), prefix + "description: " + *problem);
      }
    } else if (k == "steps") {
      steps_node = &value;
      const toml::table* t = value.as_table();
      if (t == nullptr) {
        diag.add(file, value.source(),
                 prefix + "steps: must be a table of NAME = { job = \"...\", needs = [...] }");
        continue;
      }
      if (t->size() > kMaxWorkflowSteps) {
        diag.add(file, value.source(),
                 prefix + "steps: at most " + std::to_string(kMaxWorkflowSteps) + " steps");
        continue;
      }
      for (auto&& [step_key, step_node] : in_file_order(*t)) {
        const std::string step_name(step_key.str());
        if (auto valid = validate_name("step", step_name); !valid) {
          diag.add(file, step_key.source(), prefix + valid.error().message);
          continue;
        }
        PendingStep step;
        if (read_step(step_name, step_node, file, prefix + "step " + in_quotes(step_name) + ": ",
                      step, diag)) {
          steps.push_back(std::move(step));
        }
      }
    } else if (k == "requires") {
      const toml::array* a = value.as_array();
      if (a == nullptr || a->size() > kMaxRequirements) {
        diag.add(file, value.source(),
                 prefix + "requires: must be an array of at most " +
                     std::to_string(kMaxRequirements) +
                     " tables such as { job = \"dump\", succeeded_within = \"6h\" }");
        continue;
      }
      for (const toml::node& n : *a) {
        const toml::table* r = n.as_table();
        Requirement req;
        bool ok = r != nullptr;
        bool within_set = false;
        if (r != nullptr) {
          for (auto&& [rk, rv] : in_file_order(*r)) {
            const std::string rkey(rk.str());
            Problem problem;
            if (rkey == "job") {
              problem = want_string(rv, req.job);
              if (!problem && req.job.empty()) problem = "must be the name of a job";
            } else if (rkey == "succeeded_within") {
              problem = want_duration(rv, req.succeeded_within);
              if (!problem && req.succeeded_within <= Duration::zero()) problem = "must be > 0";
              within_set = true;
            } else if (rkey == "wait_up_to") {
              problem = want_duration(rv, req.wait_up_to);
            } else {
              diag.add(file, rk.source(),
                       prefix + "requires: unknown key " + in_quotes(rkey) +
                           " (a requirement takes job, succeeded_within and wait_up_to)");
              ok = false;
              continue;
            }
            if (problem) {
              diag.add(file, rv.source(), prefix + "requires: " + rkey + ": " + *problem);
              ok = false;
            }
          }
        }
        if (r == nullptr || (ok && (req.job.empty() || !within_set))) {
          diag.add(file, n.source(),
                   prefix +
                       "requires: each must be a table with job and succeeded_within, "
                       "such as { job = \"dump\", succeeded_within = \"6h\" }");
          continue;
        }
        if (!ok) continue;
        const auto it = job_by_name.find(req.job);
        if (it == job_by_name.end()) {
          diag.add(file, n.source(),
                   prefix + "requires: job " + in_quotes(req.job) + " is not defined");
          continue;
        }
        w.requirements.push_back(std::move(req));
      }
    } else {
      diag.add(file, key.source(),
               prefix + "unknown key " + in_quotes(k) +
                   " (a workflow takes cron, every, at, timezone, overlap, user, description, "
                   "steps and requires)");
    }
  }

  // The schedule, once the zone is known.
  const int schedules = (cron ? 1 : 0) + (every ? 1 : 0) + (at ? 1 : 0);
  if (schedules > 1) {
    const auto& second = at ? at : every;
    diag.add(file, second->where, prefix + "more than one of cron, every and at is set");
  } else if (cron) {
    if (auto s = parse_cron_schedule(cron->text, w.zone); !s) {
      diag.add(file, cron->where, prefix + "cron: " + s.error().message);
    } else {
      w.schedule = std::move(s.value());
    }
  } else if (every || at) {
    const Located& l = every ? *every : *at;
    auto s = every ? parse_every_schedule(l.text) : parse_at_schedule(l.text);
    if (!s) {
      diag.add(file, l.where, prefix + (every ? "every: " : "at: ") + s.error().message);
    } else {
      w.schedule = std::move(s.value());
    }
  }

  if (steps_node == nullptr) {
    diag.add(file, table.source(), prefix + "no steps: set steps.NAME = { job = \"...\" }");
  }
  // Steps: their jobs, one user's; their needs; names that give distinct variables.
  std::unordered_map<std::string, std::size_t> step_index;
  for (std::size_t i = 0; i < steps.size(); ++i) step_index.emplace(steps[i].spec.name, i);
  std::unordered_map<std::string, const PendingStep*> by_variable;
  const JobSpec* first_job = nullptr;
  for (const PendingStep& step : steps) {
    const std::string step_prefix = prefix + "step " + in_quotes(step.spec.name) + ": ";
    const std::string variable = step_variable_part(step.spec.name);
    if (auto [it, fresh] = by_variable.emplace(variable, &step); !fresh) {
      diag.add(file, step.where,
               prefix + "steps " + in_quotes(it->second->spec.name) + " and " +
                   in_quotes(step.spec.name) + " both give variables SKEDD_IN_" + variable +
                   "_*: rename one");
    }
    const auto job = job_by_name.find(step.spec.job);
    if (job == job_by_name.end()) {
      // A job whose table has errors: those are reported where it is.
      if (!has_job_table(step.spec.job)) {
        diag.add(file, step.where,
                 step_prefix + "job " + in_quotes(step.spec.job) + " is not defined");
      }
    } else {
      const std::optional<std::string>& user = job->second->options->user;
      if (!user_at && first_job == nullptr) {
        first_job = job->second;
        w.user = user;
      } else if (user != w.user) {
        diag.add(file, step.where,
                 step_prefix + "job " + in_quotes(step.spec.job) + " runs as " + user_text(user) +
                     ", and the workflow's steps as " + user_text(w.user) +
                     (user_at ? std::string(" (its user)")
                              : " (job " + in_quotes(first_job->name) + ")") +
                     ": a workflow's steps are one user's jobs");
      }
    }
    if (step.needs.empty() && step.when_set && step.spec.when == StepWhen::kFailure) {
      diag.add(file, step.when_at,
               step_prefix + "when = \"failure\" follows the steps it needs, and it needs none");
    }
    for (const auto& [need, where] : step.needs) {
      if (!step_index.contains(need)) {
        diag.add(file, where,
                 step_prefix + "needs " + in_quotes(need) + ", which is not a step of workflow " +
                     in_quotes(name));
      }
    }
  }
  for (const Requirement& req : w.requirements) {
    const std::optional<std::string>& user = job_by_name.at(req.job)->options->user;
    if (user != w.user) {
      diag.add(file, table.source(),
               prefix + "requires: job " + in_quotes(req.job) + " runs as " + user_text(user) +
                   ", the workflow's steps as " + user_text(w.user) +
                   ": a workflow may require only its own user's jobs");
    }
  }
  if (diag.size() != errors_before) return;

  std::vector<std::vector<std::size_t>> needs(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (const auto& [need, where] : steps[i].needs) needs[i].push_back(step_index.at(need));
  }
  std::vector<std::size_t> cycle;
  const auto order = dag_order(steps, needs, cycle);
  if (!order) {
    std::string path;
    for (std::size_t i : cycle)
      path += (path.empty() ? "" : " needs ") + in_quotes(steps[i].spec.name);
    diag.add(file, steps[cycle.front()].where, prefix + "its steps form a cycle: " + path);
    return;
  }
  std::vector<std::size_t> position(steps.size());
  for (std::size_t p = 0; p < order->size(); ++p) position[(*order)[p]] = p;
  for (std::size_t i : *order) {
    StepSpec spec = std::move(steps[i].spec);
    for (std::size_t need : needs[i]) spec.needs.push_back(position[need]);
    std::sort(spec.needs.begin(), spec.needs.end());
    w.steps.push_back(std::move(spec));
  }
  out.push_back(std::move(w));
}

}  // namespace

void collect_step_jobs(const toml::table& root, std::map<std::string, std::string>& out) {
  const toml::table* workflows = root["workflow"].as_table();
  if (workflows == nullptr) return;
  for (auto&& [name, node] : in_file_order(*workflows)) {
    const toml::table* steps = node.as_table() ? (*node.as_table())["steps"].as_table() : nullptr;
    if (steps == nullptr) continue;
    for (auto&& [step, step_node] : *steps) {
      const toml::table* t = step_node.as_table();
      if (t == nullptr) continue;
      if (auto job = (*t)["job"].value<std::string>()) out.emplace(*job, std::string(name.str()));
    }
  }
}

void read_workflow_tables(const toml::table& workflows, const std::string& file,
                          const TimeZone& default_zone, const std::vector<JobSpec>& jobs,
                          const std::function<bool(const std::string&)>& has_job_table,
                          std::vector<WorkflowSpec>& out, Diagnostics& diag) {
  std::unordered_map<std::string_view, const JobSpec*> job_by_name;
  job_by_name.reserve(jobs.size());
  for (const JobSpec& job : jobs) job_by_name.emplace(job.name, &job);
  for (auto&& [key, node] : in_file_order(workflows)) {
    const std::string name(key.str());
    if (auto valid = validate_name("workflow", name); !valid) {
      diag.add(file, key.source(), valid.error().message);
      continue;
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      diag.add(file, node.source(),
               "workflow " + in_quotes(name) + ": must be a table ([workflow." + name + "])");
      continue;
    }
    if (const auto job = job_by_name.find(name); job != job_by_name.end()) {
      diag.add(file, key.source(),
               "workflow " + in_quotes(name) + ": a job of that name is defined at " +
                   job->second->defined_at.to_string() +
                   " (workflows and jobs share one namespace)");
      continue;
    }
    const auto earlier =
        std::find_if(out.begin(), out.end(), [&](const WorkflowSpec& w) { return w.name == name; });
    if (earlier != out.end()) {
      diag.add(file, key.source(),
               "workflow " + in_quotes(name) + " is already defined at " +
                   earlier->defined_at.to_string());
      continue;
    }
    read_workflow(name, *table, file, default_zone, job_by_name, has_job_table, out, diag);
  }
}

}  // namespace skedd::config
