// skedd.toml + jobs.d/*.toml -> Config. Every error of every file is collected and reported
// together; nothing is applied unless the whole configuration is valid.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <unordered_map>

#include <toml++/toml.h>

#include "config/definition_tree.h"
#include "config/diagnostics.h"
#include "config/file_safety.h"
#include "config/job_table.h"
#include "config/workflow_table.h"
#include "skedd/config/config.h"
#include "skedd/time/duration.h"
#include "skedd/util/random.h"
#include "skedd/util/size.h"
#include "util/suggest.h"

namespace skedd {
namespace {

namespace fs = std::filesystem;
using config::Diagnostics;

// toml::parse_file, but a file that cannot be read says why (toml++ says only that it could
// not be opened, at line 0).
std::optional<toml::table> read_toml(const std::string& path, Diagnostics& diag) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    diag.add(path, std::string("cannot be read: ") +
                       (errno != 0 ? std::strerror(errno) : "the read failed"));
    return std::nullopt;
  }
  try {
    return toml::parse(text.str(), path);
  } catch (const toml::parse_error& e) {
    diag.add(path, e.source(), std::string(e.description()));
  }
  return std::nullopt;
}

std::optional<toml::table> parse_file(const std::string& path, const LoadOptions& options,
                                      Diagnostics& diag) {
  if (options.check_file_safety) {
    if (auto safe = config::check_file_safety(path); !safe) {
      diag.add(path, safe.error().message.substr(safe.error().message.find(": ") + 2));
      return std::nullopt;
    }
  }
  return read_toml(path, diag);
}

std::string resolve(const fs::path& base, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (base / p).lexically_normal().string();
}

// Reads a string/int/duration/enum value of a settings table, reporting misfits.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string file, std::string name, Diagnostics& diag)
      : table_(table), file_(std::move(file)), name_(std::move(name)), diag_(diag) {}

  void string(const char* key, std::string& out) {
    if (const toml::node* n = use(key)) {
      if (auto v = n->value_exact<std::string>(); v && !v->empty())
        out = *v;
      else
        bad(*n, key, "must be a non-empty string");
    }
  }
  void boolean(const char* key, bool& out) {
    if (const toml::node* n = use(key)) {
      if (auto v = n->value_exact<bool>())
        out = *v;
      else
        bad(*n, key, "must be true or false");
    }
  }
  void integer(const char* key, long long lo, long long hi, int& out) {
    if (const toml::node* n = use(key)) {
      auto v = n->value_exact<std::int64_t>();
      if (v && *v >= lo && *v <= hi)
        out = static_cast<int>(*v);
      else
        bad(*n, key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
  }
  // A byte count ("64M", or a number) of at least `lo`.
  void size(const char* key, std::uint64_t lo, std::uint64_t& out) {
    if (const toml::node* n = use(key)) {
      std::optional<std::uint64_t> v;
      if (auto i = n->value_exact<std::int64_t>(); i && *i >= 0) v = static_cast<std::uint64_t>(*i);
      if (auto text = n->value_exact<std::string>()) {
        if (auto s = parse_size(*text)) v = s.value();
      }
      if (v && *v >= lo)
        out = *v;
      else
        bad(*n, key, "must be a size such as \"64M\" of at least " + std::to_string(lo) + " bytes");
    }
  }
  void duration(const char* key, Duration& out) {
    if (const toml::node* n = use(key)) {
      auto text = n->value_exact<std::string>();
      if (!text) return bad(*n, key, "must be a duration string such as \"10s\"");
      auto d = parse_duration(*text);
      if (d)
        out = d.value();
      else
        bad(*n, key, d.error().message);
    }
  }
  // A duration of at most `hi`, whose text (`hi_text`) the message names.
  void duration(const char* key, Duration hi, const char* hi_text, Duration& out) {
    Duration d = out;
    const toml::node* n = table_.get(key);
    duration(key, d);
    if (n == nullptr || d == out) return;
    if (d > hi) return bad(*n, key, std::string("must be at most ") + hi_text);
    out = d;
  }
  template <typename E>
  void choice(const char* key, std::initializer_list<std::pair<const char*, E>> choices, E& out) {
    if (const toml::node* n = use(key)) {
      std::string names;
      auto v = n->value_exact<std::string>();
      for (const auto& [name, value] : choices) {
        if (v && *v == name) {
          out = value;
          return;
        }
        names += names.empty() ? name : std::string(" or ") + name;
      }
      bad(*n, key, "must be " + names);
    }
  }
  const toml::node* use(const char* key) {
    used_.push_back(key);
    return table_.get(key);
  }
  void bad(const toml::node& n, const char* key, const std::string& why) {
    diag_.add(file_, n.source(), name_ + "." + key + ": " + why);
  }
  void reject_unknown() {
    for (auto&& [key, node] : config::in_file_order(table_)) {
      if (std::find(used_.begin(), used_.end(), key.str()) == used_.end()) {
        Suggestion nearest(key.str());
        for (const std::string_view known : used_)
          nearest.offer(known);  // every key the table reads
        diag_.add(
            file_, key.source(),
            "unknown key \"" + std::string(key.str()) + "\" in [" + name_ + "]" + nearest.hint());
      }
    }
  }

 private:
  const toml::table& table_;
  std::string file_;
  std::string name_;
  Diagnostics& diag_;
  std::vector<std::string_view> used_;
};

const toml::table* sub_table(const toml::table& root, const char* key, const std::string& file,
                             Diagnostics& diag) {
  const toml::node* n = root.get(key);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) {
    diag.add(file, n->source(), std::string("\"") + key + "\" must be a table ([" + key + "])");
    return nullptr;
  }
  return n->as_table();
}

// An array of non-empty strings at `key` of [table], each described as `what`.
void read_strings(TableReader& r, const std::string& file, const char* table, const char* key,
                  const char* what, std::vector<std::string>& out, Diagnostics& diag) {
  const toml::node* n = r.use(key);
  if (n == nullptr) return;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    r.bad(*n, key, std::string("must be an array of ") + what + "s");
    return;
  }
  for (const toml::node& el : *arr) {
    if (auto s = el.value_exact<std::string>(); s && !s->empty()) {
      out.push_back(*s);
    } else {
      diag.add(file, el.source(),
               std::string(table) + "." + key + ": every entry must be a " + what + " string");
    }
  }
}

void read_daemon(const toml::table& t, const std::string& file, DaemonConfig& d,
                 Diagnostics& diag) {
  TableReader r(t, file, "daemon", diag);
  r.string("state_dir", d.state_dir);
  r.string("socket", d.socket);
  r.string("jobs_dir", d.jobs_dir);
  std::string zone;
  r.string("timezone", zone);
  if (!zone.empty()) {
    if (auto z = TimeZone::load(zone))
      d.timezone = z.value();
    else
      r.bad(*t.get("timezone"), "timezone", z.error().message);
  }
  r.integer("max_concurrent_runs", 1, 100000, d.max_concurrent_runs);
  r.duration("kill_grace", d.kill_grace);
  r.choice<OnShutdown>("on_shutdown", {{"leave", OnShutdown::kLeave}, {"stop", OnShutdown::kStop}},
                       d.on_shutdown);
  r.boolean("cgroups", d.use_cgroups);
  r.boolean("run_host", d.run_host);
  Duration idle_exit = d.run_host_idle_exit;
  r.duration("run_host_idle_exit", idle_exit);
  d.run_host_idle_exit = std::max(std::chrono::seconds(1),
                                  std::chrono::duration_cast<std::chrono::seconds>(idle_exit));
  r.duration("run_host_deadline", d.run_host_deadline);
  r.integer("user_max_priority", -1000, 1000, d.user_max_priority);
  r.duration("client_idle_timeout", d.client_idle_timeout);
  if (d.client_idle_timeout <= Duration::zero()) {
    r.bad(*t.get("client_idle_timeout"), "client_idle_timeout", "must be longer than 0s");
  }
  read_strings(r, file, "daemon", "user_pools", "pool name", d.user_pools, diag);
  r.integer("handler_threads", 0, 1024, d.handler_threads);
  r.integer("max_runs_per_user", 0, 100000, d.max_runs_per_user);
  r.boolean("allow_user_handlers", d.allow_user_handlers);
  r.size("max_log_size", 4096, d.max_log_size);
  r.integer("max_jobs_per_user", 0, 10000000, d.max_jobs_per_user);
  r.size("max_definition_size", 1024, d.max_definition_size);
  r.integer("max_connections", 32, 100000, d.max_connections);
  r.integer("max_connections_per_user", 1, 100000, d.max_connections_per_user);
  r.reject_unknown();
}

void read_store(const toml::table& t, const std::string& file, StoreConfig& s, Diagnostics& diag) {
  TableReader r(t, file, "store", diag);
  r.choice<Synchronous>("synchronous",
                        {{"normal", Synchronous::kNormal}, {"full", Synchronous::kFull}},
                        s.synchronous);
  r.integer("keep_runs", 0, 100000000, s.keep_runs);
  r.integer("keep_days", 0, 100000, s.keep_days);
  r.integer("max_unwritten", 1, 100000000, s.max_unwritten);
  r.integer("keep_versions", 1, 1000000, s.keep_versions);
  r.duration("busy_timeout", std::chrono::minutes(10), "\"10m\"", s.busy_timeout);
  r.choice<StoreBackend>("backend",
                         {{"sqlite", StoreBackend::kSqlite}, {"postgres", StoreBackend::kPostgres}},
                         s.backend);
  r.string("url", s.url);
  r.string("passfile", s.passfile);
  r.string("schema", s.schema);
  // The url's own syntax (and that it holds no password) is libpq's to check: the daemon
  // checks it before it connects, naming [store] url.
  if (s.backend == StoreBackend::kPostgres && s.url.empty()) {
    diag.add(file, "store: backend = \"postgres\" needs url = \"postgresql://...\"");
  }
  if (!s.passfile.empty() && s.passfile.front() != '/') {
    r.bad(*t.get("passfile"), "passfile", "must be an absolute path");
  }
  static const std::regex kSchema("[a-z_][a-z0-9_]{0,62}");
  if (!std::regex_match(s.schema, kSchema)) {
    r.bad(*t.get("schema"), "schema", "must match [a-z_][a-z0-9_]{0,62}");
  }
  r.reject_unknown();
}

void read_pools(const toml::table& t, const std::string& file, std::map<std::string, int>& pools,
                Diagnostics& diag) {
  for (auto&& [key, node] : config::in_file_order(t)) {
    const std::string name(key.str());
    if (auto valid = validate_job_name(name); !valid) {
      diag.add(file, key.source(), "pools: invalid pool name \"" + name + "\"");
      continue;
    }
    auto size = node.value_exact<std::int64_t>();
    if (!size || *size < 1 || *size > 100000) {
      diag.add(file, node.source(), "pools." + name + ": must be an integer from 1 to 100000");
      continue;
    }
    pools[name] = static_cast<int>(*size);
  }
}

void read_cron(const toml::table& t, const std::string& file, CronConfig& c, Diagnostics& diag) {
  TableReader r(t, file, "cron", diag);
  read_strings(r, file, "cron", "sources", "path", c.sources, diag);
  r.string("allow", c.allow);
  r.string("deny", c.deny);
  r.string("sendmail", c.sendmail);
  r.reject_unknown();
}

// Whether `host` (as in [http] listen, brackets removed) names the loopback interface.
bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// [http] listen: an absolute Unix socket path, or HOST:PORT with an IPv4 literal, an IPv6
// literal in brackets or localhost. Empty when valid, else why not.
std::string parse_listen(HttpConfig& h) {
  const std::string& text = h.listen;
  if (text.front() == '/') {
    if (text.size() > 100) return "a Unix socket path must be at most 100 bytes";
    h.unix_path = text;
    return {};
  }
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return "must be HOST:PORT (such as \"127.0.0.1:9470\") or an absolute Unix socket path";
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos)
      return "\"" + host + "\" is not an IPv6 address";
  } else if (host != "localhost" &&
             (host.empty() || host.find_first_not_of("0123456789.") != std::string::npos)) {
    return "the host must be an IP address or localhost (\"" + host +
           "\" is not; an IPv6 address goes in brackets)";
  }
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return "the port must be a number from 0 to 65535";
  }
  h.host = host;
  h.port = std::stoi(port);
  return {};
}

void read_http(const toml::table& t, const std::string& file, HttpConfig& h, Diagnostics& diag) {
  TableReader r(t, file, "http", diag);
  r.string("listen", h.listen);
  r.boolean("allow_remote", h.allow_remote);
  r.boolean("metrics_public", h.metrics_public);
  r.boolean("read_only", h.read_only);
  r.boolean("allow_definition_writes", h.allow_definition_writes);
  read_strings(r, file, "http", "allowed_hosts", "host name", h.allowed_hosts, diag);
  r.integer("metrics_max_jobs", 0, 10000000, h.metrics_max_jobs);
  r.integer("max_connections", 1, 100000, h.max_connections);
  r.duration("idle_timeout", h.idle_timeout);
  if (h.idle_timeout <= Duration::zero()) {
    r.bad(*t.get("idle_timeout"), "idle_timeout", "must be longer than 0s");
  }
  if (const toml::node* n = r.use("tokens")) {
    if (const toml::table* tokens = n->as_table()) {
      for (auto&& [key, node] : config::in_file_order(*tokens)) {
        const std::string user(key.str());
        auto path = node.value_exact<std::string>();
        if (!path || path->empty() || path->front() != '/') {
          diag.add(file, node.source(),
                   "http.tokens." + user + ": must be the absolute path of a token file");
        } else {
          h.tokens[user] = *path;
        }
      }
    } else {
      r.bad(*n, "tokens", "must be a table of user = \"/path/of/token/file\"");
    }
  }
  if (!h.listen.empty()) {
    const toml::node& at = *t.get("listen");
    if (std::string why = parse_listen(h); !why.empty()) {
      r.bad(at, "listen", why);
    } else if (h.unix_path.empty() && !is_loopback(h.host) && !h.allow_remote) {
      r.bad(at, "listen",
            "\"" + h.host +
                "\" is not a loopback address: set http.allow_remote = true to serve other "
                "machines (only with tokens and a firewall; skedd does not speak TLS)");
    }
  }
  r.reject_unknown();
}

std::vector<std::string> list_job_files(const fs::path& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || entry.path().extension() != ".toml") continue;
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Jobs of one parsed file; `main` allows the settings tables too.
void read_jobs_of(const toml::table& root, const std::string& file, bool main,
                  const config::JobContext& ctx, std::vector<JobSpec>& out, Diagnostics& diag) {
  static constexpr const char* kMainKeys[] = {"daemon", "pools", "store", "defaults",
                                              "cron",   "http",  "job",   "workflow"};
  for (auto&& [key, node] : config::in_file_order(root)) {
    const bool known = key.str() == "job" || key.str() == "workflow" ||
                       (main && std::find(std::begin(kMainKeys), std::end(kMainKeys), key.str()) !=
                                    std::end(kMainKeys));
    if (!known) {
      diag.add(file, key.source(),
               "unknown table \"" + std::string(key.str()) + "\"" +
                   (main ? " (expected daemon, pools, store, defaults, cron, http, job or "
                           "workflow)"
                         : " (a jobs file holds only [job.NAME] and [workflow.NAME] tables)"));
    }
  }
  if (const toml::table* jobs = sub_table(root, "job", file, diag)) {
    config::read_job_tables(*jobs, file, ctx, out, diag);
  }
}

// The jobs of a definition's table, read against `base`'s daemon settings and pools.
std::vector<JobSpec> definition_jobs(const toml::table& root, const std::string& source,
                                     const Config& base, Diagnostics& diag) {
  std::vector<JobSpec> jobs;
  const config::JobContext ctx{base.daemon, base.pools, nullptr, source};
  read_jobs_of(root, source, false, ctx, jobs, diag);
  return jobs;
}

// The configuration that `root`, the main file `path` as parsed, and its jobs directory say.
Result<Config> config_from(const toml::table* root, const std::string& path,
                           const LoadOptions& options, Diagnostics& diag) {
  Config cfg;
  cfg.path = path;
  cfg.files.push_back(path);
  cfg.daemon.handlers = options.handlers;
  if (root == nullptr) return Error::invalid_argument(diag.joined());
  const fs::path base = fs::path(path).parent_path();

  if (const toml::table* t = sub_table(*root, "daemon", path, diag)) {
    read_daemon(*t, path, cfg.daemon, diag);
  }
  if (const toml::table* t = sub_table(*root, "pools", path, diag)) {
    read_pools(*t, path, cfg.pools, diag);
  }
  if (const toml::table* t = sub_table(*root, "store", path, diag)) {
    read_store(*t, path, cfg.store, diag);
  }
  if (const toml::table* t = sub_table(*root, "cron", path, diag))
    read_cron(*t, path, cfg.cron, diag);
  if (const toml::table* t = sub_table(*root, "http", path, diag))
    read_http(*t, path, cfg.http, diag);
  const toml::table* defaults = sub_table(*root, "defaults", path, diag);
  if (defaults != nullptr) config::check_defaults_table(*defaults, path, cfg.pools, diag);

  // Every file is parsed before any job is read: a job without a schedule is a workflow's
  // step, and the workflow may be in any file.
  const bool jobs_dir_explicit = root->at_path("daemon.jobs_dir").is_string();
  const fs::path jobs_dir = resolve(base, cfg.daemon.jobs_dir);
  struct JobFile {
    std::string file;
    std::optional<toml::table> root;
    config::Diagnostics parse_errors;  ///< reported in file order, with its jobs' errors
  };
  std::vector<JobFile> job_files;
  std::error_code ec;
  if (!options.read_jobs_dir) {
    // The main file alone (parse_config() of text that has no directory).
  } else if (fs::is_directory(jobs_dir, ec)) {
    for (const std::string& file : list_job_files(jobs_dir)) {
      cfg.files.push_back(file);
      JobFile& f = job_files.emplace_back();
      f.file = file;
      f.root = parse_file(file, options, f.parse_errors);
    }
  } else if (jobs_dir_explicit) {
    diag.add(path, root->at_path("daemon.jobs_dir").node()->source(),
             "daemon.jobs_dir: \"" + jobs_dir.string() + "\" is not a directory");
  }
  std::map<std::string, std::string> step_jobs;
  config::collect_step_jobs(*root, step_jobs);
  for (const JobFile& f : job_files) {
    if (f.root) config::collect_step_jobs(*f.root, step_jobs);
  }

  config::JobContext ctx{cfg.daemon, cfg.pools, defaults, path};
  ctx.step_jobs = &step_jobs;
  read_jobs_of(*root, path, true, ctx, cfg.jobs, diag);
  for (JobFile& f : job_files) {
    diag.append(std::move(f.parse_errors));
    if (f.root) read_jobs_of(*f.root, f.file, false, ctx, cfg.jobs, diag);
  }

  // A name is one job, wherever it is defined. Within a file names are unique (TOML keys are),
  // so a file's jobs are looked up among the earlier files' only, and the last file's are not
  // filed (a million jobs in one file: half a second less).
  std::unordered_map<std::string_view, const JobSpec*> seen;
  for (std::size_t begin = 0, end = 0; begin < cfg.jobs.size(); begin = end) {
    const std::string* file = &cfg.jobs[begin].defined_at.file();
    while (end < cfg.jobs.size() && &cfg.jobs[end].defined_at.file() == file) ++end;
    for (std::size_t i = begin; i < end && !seen.empty(); ++i) {
      const JobSpec& job = cfg.jobs[i];
      if (auto it = seen.find(job.name); it != seen.end()) {
        diag.add(job.defined_at.to_string(), "job \"" + job.name + "\" is already defined at " +
                                                 it->second->defined_at.to_string());
      }
    }
    if (end == cfg.jobs.size()) break;
    for (std::size_t i = begin; i < end; ++i) seen.emplace(cfg.jobs[i].name, &cfg.jobs[i]);
  }
  // Workflows, once every job is known.
  const auto has_job_table = [&](const std::string& name) {
    if (root->at_path("job").as_table() && (*root)["job"][name]) return true;
    return std::any_of(job_files.begin(), job_files.end(), [&](const JobFile& f) {
      return f.root && (*f.root)["job"].as_table() && (*f.root)["job"][name];
    });
  };
  if (const toml::table* t = sub_table(*root, "workflow", path, diag)) {
    config::read_workflow_tables(*t, path, cfg.daemon.timezone, cfg.jobs, has_job_table,
                                 cfg.workflows, diag);
  }
  for (const JobFile& f : job_files) {
    if (!f.root) continue;
    if (const toml::table* t = sub_table(*f.root, "workflow", f.file, diag)) {
      config::read_workflow_tables(*t, f.file, cfg.daemon.timezone, cfg.jobs, has_job_table,
                                   cfg.workflows, diag);
    }
  }
  if (!diag.empty()) return Error::invalid_argument(diag.joined());
  // Each workflow's version: a digest of its table, its steps' job tables and the main file's
  // [defaults], as TOML (so any change to what its steps run changes it).
  const auto job_table = [&](const std::string& name) -> const toml::node* {
    if (const toml::node* n =
            root->at_path("job").as_table() ? (*root)["job"][name].node() : nullptr) {
      return n;
    }
    for (const JobFile& f : job_files) {
      if (f.root && (*f.root)["job"].as_table()) {
        if (const toml::node* n = (*f.root)["job"][name].node()) return n;
      }
    }
    return nullptr;
  };
  const auto workflow_table = [&](const std::string& name) -> const toml::node* {
    if (const toml::node* n = (*root)["workflow"][name].node()) return n;
    for (const JobFile& f : job_files) {
      if (f.root) {
        if (const toml::node* n = (*f.root)["workflow"][name].node()) return n;
      }
    }
    return nullptr;
  };
  for (WorkflowSpec& w : cfg.workflows) {
    std::ostringstream text;
    const auto add = [&text](const toml::node* n) {
      if (const toml::table* t = n != nullptr ? n->as_table() : nullptr) {
        text << toml::toml_formatter(*t) << '\n';
      }
      text << '\x1e';
    };
    add(workflow_table(w.name));
    add((*root)["defaults"].node());
    for (const StepSpec& step : w.steps) add(job_table(step.job));
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(stable_hash(text.str())));
    w.version.assign(hex, 12);
  }
  // Steps fire only through their workflows: not among the scheduled jobs.
  if (!step_jobs.empty()) {
    const auto steps =
        std::stable_partition(cfg.jobs.begin(), cfg.jobs.end(),
                              [&](const JobSpec& job) { return !step_jobs.contains(job.name); });
    std::move(steps, cfg.jobs.end(), std::back_inserter(cfg.step_jobs));
    cfg.jobs.erase(steps, cfg.jobs.end());
  }

  cfg.daemon.state_dir = resolve(base, cfg.daemon.state_dir);
  cfg.daemon.socket = resolve(base, cfg.daemon.socket);
  cfg.daemon.jobs_dir = jobs_dir.string();
  return cfg;
}

}  // namespace

Result<Config> load_config(const std::string& path, const LoadOptions& options) {
  Diagnostics diag;
  std::optional<toml::table> root = parse_file(path, options, diag);
  return config_from(root ? &*root : nullptr, path, options, diag);
}

Result<Config> parse_config(std::string_view text, const std::string& path,
                            const LoadOptions& options) {
  Diagnostics diag;
  std::optional<toml::table> root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    diag.add(path, e.source(), std::string(e.description()));
  }
  return config_from(root ? &*root : nullptr, path, options, diag);
}

Result<std::string> validate_config_file(const std::string& path,
                                         const std::set<std::string>& handlers) {
  toml::table root;
  {
    Diagnostics diag;
    auto read = read_toml(path, diag);
    if (!read) return Error::invalid_argument(diag.joined());
    root = std::move(*read);
  }
  const bool jobs_file = root.size() == 1 && root.contains("job");
  if (!jobs_file) {
    LoadOptions options;
    options.handlers = handlers;
    auto cfg = load_config(path, options);
    if (!cfg) return cfg.error();
    return path + ": OK, " + std::to_string(cfg->jobs.size()) + " job(s) in " +
           std::to_string(cfg->files.size()) + " file(s)";
  }
  std::ostringstream text;
  text << std::ifstream(path).rdbuf();
  Config base;
  base.daemon.handlers = handlers;
  auto jobs = parse_job_definitions(text.str(), path, base);
  if (!jobs) return jobs.error();
  return path + ": OK, a jobs file with " + std::to_string(jobs->size()) + " job(s)";
}

std::string with_job_user(const std::string& text, const std::string& job,
                          const std::string& user) {
  toml::table root = toml::parse(text);
  if (toml::table* jobs = root["job"].as_table()) {
    if (toml::table* t = (*jobs)[job].as_table()) t->insert_or_assign("user", user);
  }
  std::ostringstream out;
  out << root << '\n';
  return out.str();
}

namespace {

// The only [job.NAME] table of `root`, and its name; nullptr when there is not exactly one.
toml::table* only_job(toml::table& root, std::string& name) {
  toml::table* jobs = root["job"].as_table();
  if (root.size() != 1 || jobs == nullptr || jobs->size() != 1) return nullptr;
  name = std::string(jobs->begin()->first.str());
  return jobs->begin()->second.as_table();
}

}  // namespace

std::string normalized_definition(const std::string& text) {
  try {
    const toml::table root = toml::parse(text, std::string_view("recorded"));
    std::ostringstream out;
    out << root << '\n';
    return out.str();
  } catch (const toml::parse_error&) {
    return text;
  }
}

Result<std::string> definition_job_name(const std::string& text) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view("api"));
  } catch (const toml::parse_error& e) {
    Diagnostics diag;
    diag.add("api", e.source(), std::string(e.description()));
    return Error::invalid_argument(diag.joined());
  }
  std::string name;
  if (only_job(root, name) == nullptr) {
    return Error::invalid_argument("a definition holds one [job.NAME] table");
  }
  return name;
}

Result<std::string> merge_job_definition(const std::string& base, const std::string& changes) {
  toml::table from, change;
  try {
    from = toml::parse(base, std::string_view("recorded"));
    change = toml::parse(changes, std::string_view("api"));
  } catch (const toml::parse_error& e) {
    Diagnostics diag;
    diag.add(std::string(e.source().path ? *e.source().path : "api"), e.source(),
             std::string(e.description()));
    return Error::invalid_argument(diag.joined());
  }
  std::string name, changed;
  toml::table* job = only_job(from, name);
  toml::table* keys = only_job(change, changed);
  if (job == nullptr) return Error::invalid_argument("the recorded definition is not one job");
  if (keys == nullptr) return Error::invalid_argument("an update holds one [job.NAME] table");
  if (changed != name) {
    return Error::invalid_argument("the update names job \"" + changed + "\", not \"" + name +
                                   "\"");
  }
  if (keys->contains("cron") || keys->contains("every") || keys->contains("at")) {
    for (const char* schedule : {"cron", "every", "at"}) job->erase(schedule);
  }
  for (auto&& [key, value] : *keys) job->insert_or_assign(key.str(), value);
  std::ostringstream out;
  out << from << '\n';
  return out.str();
}

Result<std::vector<JobSpec>> parse_job_definitions(const std::string& text,
                                                   const std::string& source, const Config& base) {
  Diagnostics diag;
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    diag.add(source, e.source(), std::string(e.description()));
    return Error::invalid_argument(diag.joined());
  }
  std::vector<JobSpec> jobs = definition_jobs(root, source, base, diag);
  if (!diag.empty()) return Error::invalid_argument(diag.joined());
  return jobs;
}

Result<JobSpec> parse_job_definition(const std::string& text, const std::string& source,
                                     const Config& base) {
  auto specs = parse_job_definitions(text, source, base);
  if (!specs) return specs.error();
  if (specs->size() != 1) {
    return Error::invalid_argument(
        "a definition holds exactly one [job.NAME] table; this one holds " +
        std::to_string(specs->size()));
  }
  return std::move(specs.value()[0]);
}

std::string definition_tree(const std::string& text) {
  try {
    return config::encode_tree(toml::parse(text));
  } catch (const toml::parse_error&) {
    return {};
  }
}

Result<JobSpec> parse_job_definition(const std::string& text, std::string_view tree,
                                     const std::string& source, const Config& base) {
  if (std::optional<toml::table> root = config::decode_tree(tree)) {
    Diagnostics diag;
    std::vector<JobSpec> jobs = definition_jobs(*root, source, base, diag);
    if (diag.empty() && jobs.size() == 1) return std::move(jobs[0]);
  }
  return parse_job_definition(text, source, base);
}

}  // namespace skedd
